"""python -m workshop: prepare, run, check and compare the workshop's steps.

Run `python -m workshop --help`, or `--help` after any subcommand.
"""

# Annotations stay unevaluated, so that this file loads on an old Python and main() can
# say that it is too old, instead of a TypeError about `list[str] | None`.
from __future__ import annotations

import argparse
import importlib.util
import platform
import signal
import subprocess
import sys

from workshop.steps import STEPS, find_step


def require(*modules: str) -> None:
    """Raises ModuleNotFoundError for the first module that is not installed.

    For what a command runs in another process, which would fail there with a traceback;
    main() turns the error into one sentence.
    """
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def show_steps(args: argparse.Namespace) -> int:
    """Lists the steps, what each teaches, and how to run it."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="The steps", show_lines=True)
    table.add_column("step")
    table.add_column("teaches")
    table.add_column("run the server")
    table.add_column("run the client")
    for step in STEPS:
        client = f"python -m workshop client {step.number} {step.client_example}".strip()
        table.add_row(step.folder, step.teaches, f"python -m workshop run {step.number}", client)
    Console().print(table)
    return 0


def run_server(args: argparse.Namespace) -> int:
    """Starts a step's server the way its README does: `flask run` in its server folder."""
    step = find_step(args.step)
    require("flask")
    command = [sys.executable, "-m", "flask", "run", "--host", args.host, "--port", str(args.port)]
    print(f"Starting {step.folder} on http://{args.host}:{args.port} (stop it with Ctrl+C)")
    return run_until_interrupted(command, cwd=step.path / "server")


def run_client(args: argparse.Namespace) -> int:
    """Runs a step's client with the arguments given after the step number."""
    step = find_step(args.step)
    require("requests", "rich")
    return run_until_interrupted(
        [sys.executable, "client.py", *args.args], cwd=step.path / "client"
    )


def run_until_interrupted(command: list[str], cwd) -> int:
    """Runs a command in the foreground until it ends, and stops it with `workshop` itself.

    Ctrl+C (SIGINT), and SIGTERM as `kill`, a process manager or a test sends it, stop the
    command too, and `workshop` waits for it to end: no server is left holding its port.
    """
    process = subprocess.Popen(command, cwd=cwd)
    stopped_by = []

    def stop(signal_number: int, _frame) -> None:
        stopped_by.append(signal_number)
        # On Windows this ends the process at once; elsewhere it sends SIGTERM, which
        # servers take as "finish and exit".
        process.terminate()

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    # The shell's convention: 128 plus the signal's number (130 after Ctrl+C).
    return 128 + stopped_by[0] if stopped_by else process.returncode


def run_verify(args: argparse.Namespace) -> int:
    """Runs a step's checks; verify imports pytest, so it is loaded only now."""
    from workshop import verify

    return verify.main(args)


def missing_requirements(module: str) -> str:
    """What to say when a command needs a package that is not installed."""
    from workshop.doctor import in_virtualenv, install_command

    how = "Install them with:"
    if not in_virtualenv():
        how = "Install them in a virtual environment (python -m workshop doctor says how):"
    return (
        f"This needs the workshop's requirements, and {module} is not installed. {how}\n"
        f"    {install_command()}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workshop",
        description="The companion command of the RESTful microservices workshop.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # Imported here, once main() has checked the Python version. They import only the
    # standard library when loaded, so that `doctor` runs before anything is installed;
    # what the commands need beyond it (rich, pytest, ...) they import when they run.
    from workshop import bench, diff, doctor, web

    doctor_parser = commands.add_parser("doctor", help="check this laptop before the workshop")
    doctor_parser.set_defaults(handler=doctor.main)

    steps_parser = commands.add_parser("steps", help="list the steps and how to run each")
    steps_parser.set_defaults(handler=show_steps)

    run_parser = commands.add_parser("run", help="start a step's server")
    run_parser.add_argument("step", help="the step's number, such as 03")
    run_parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    run_parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    run_parser.set_defaults(handler=run_server)

    client_parser = commands.add_parser(
        "client", help="run a step's client", description="Runs NN_step/client/client.py."
    )
    client_parser.add_argument("step", help="the step's number, such as 03")
    client_parser.add_argument(
        "args", nargs=argparse.REMAINDER, help="passed to the client, e.g. add 'walk the dog'"
    )
    client_parser.set_defaults(handler=run_client)

    verify_parser = commands.add_parser(
        "verify",
        help="run a step's checks, against its reference server or yours",
        description=(
            "Runs a step's checks. With no --base-url it starts the step's reference server "
            "(steps 03 and 04: the core todo API contract; step 05: the core and the "
            "production additions). With --base-url it checks the server you wrote against "
            "the core contract; add --production for the production additions too (hostile "
            "input: control characters, deep JSON, chunked bodies past 64 KiB, a forged Host). "
            "The checks delete every todo: a server that holds todos is left alone unless "
            "you add --allow-delete."
        ),
    )
    verify_parser.add_argument("step", help="the step's number, such as 03")
    verify_parser.add_argument(
        "--base-url", metavar="URL", help="check the server at this URL instead (the core contract)"
    )
    verify_parser.add_argument(
        "--production",
        action="store_true",
        help="with --base-url, also run the tests of the production additions (step 05's)",
    )
    verify_parser.add_argument(
        "--token",
        help="with --base-url, the token of a server started with API_TOKEN "
        "(or set the environment variable TODO_API_TOKEN)",
    )
    verify_parser.add_argument(
        "--allow-delete",
        action="store_true",
        help="with --base-url, check a server that holds todos: the checks delete every todo",
    )
    verify_parser.set_defaults(handler=run_verify)

    web_parser = commands.add_parser(
        "web",
        help="serve a todo step's web page, from another origin than the API",
        description=(
            "Serves NN_step/client/web on http://127.0.0.1:8080: a page that calls the todo "
            "API at http://127.0.0.1:8000, from another origin, so CORS is at work. Start "
            "the API in another terminal with `python -m workshop run NN`."
        ),
    )
    web.add_arguments(web_parser)
    web_parser.set_defaults(handler=web.main)

    diff_parser = commands.add_parser(
        "diff", help="show what a step changed from another, for instructors"
    )
    diff_parser.add_argument("old", help="the earlier step, such as 03")
    diff_parser.add_argument("new", help="the later step, such as 04")
    diff_parser.add_argument("--stat", action="store_true", help="only the summary")
    diff_parser.set_defaults(handler=diff.main)

    bench_parser = commands.add_parser(
        "bench",
        help="measure how fast each server answers the todo API, on this laptop",
        description=(
            "Starts step 03's dev server and step 05's app as its image runs it (serve.py: "
            "granian) and on gunicorn (sync and threaded workers), with 1, 2 and 4 workers, "
            "on SQLite and PostgreSQL, beside a FastAPI peer; sends each the same load and "
            "prints requests per second, p50 and p99 latency, and the ratios to step 03's dev "
            "server and to the peer. About 10 minutes on a 2-core laptop; --quick, about 2."
        ),
    )
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(handler=bench.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    if sys.version_info < (3, 10):  # noqa: UP036 (a learner may run it with an old Python)
        print(
            f"This is Python {platform.python_version()}, and the workshop needs 3.10 or newer: "
            "install one from https://www.python.org/downloads/ and make the virtual "
            "environment with it, as the README's Set up says.",
            file=sys.stderr,
        )
        return 1
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:  # an unknown step number, said as one sentence
        print(error, file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("workshop"):
            raise  # a mistake in this command's own code, not a missing package
        print(missing_requirements(error.name or "a package"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl+C while a command works: stop without a traceback
        return 130


if __name__ == "__main__":
    sys.exit(main())
