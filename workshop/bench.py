"""python -m workshop bench: how fast each way of serving the todo API answers, on this machine.

It starts step 03's development server (`flask run`, todos in memory) and step 05's app on
the development server and behind production servers (granian as the image runs it, with
`python serve.py`; gunicorn's sync and threaded workers, the alternative) with 1, 2 and 4
worker processes, on SQLite and, when one is reachable, on PostgreSQL. Beside them runs a
peer that is not Flask: the same two reads written with FastAPI and served by uvicorn
(workshop/bench_peer.py), on SQLite. Each server gets the same 1,000 todos, then the same
load: several connections that each send a request as soon as the previous answer is back,
for a fixed time, after a warm-up that is not counted. This is done in rounds (each round
measures every server once), and the middle round counts, so that another program busy
for a while cannot spoil one server's numbers. The tables give requests per second, the
median (p50) and 99th percentile (p99) latency, and each server's speed relative to step
03's development server and to the peer.

The load generator runs on the same machine and shares its cores: it is measured too,
against a server that answers without doing any work, and that ceiling is printed beside
the results. Absolute numbers depend on the machine: compare the ratios.

`--scaling` measures something else: the first page of GET /todos with 100, 10,000 and
100,000 todos stored. Its latency should hardly change: the page is read through an
index and the total comes without counting every row.

This module runs it all; the rest is split by job: bench_load.py sends the requests and
times them, bench_servers.py starts and stops each server on its database, bench_report.py
prints the tables, and bench_peer.py is the FastAPI peer.
"""

import argparse
import importlib.util
import os
import signal
import sqlite3
import sys
import tempfile
from contextlib import ExitStack, closing
from pathlib import Path

from workshop.bench_load import (
    IDLE_SERVER,
    SCENARIOS,
    BenchError,
    Measurement,
    Scenario,
    drive,
    http_request,
)
from workshop.bench_report import Row, describe, print_results, print_scaling
from workshop.bench_servers import (
    BASELINE,
    NO_GUNICORN,
    NO_PEER,
    ON_WINDOWS,
    PEER,
    SCALING_SERVER,
    SCALING_WORKERS,
    SERVER_KINDS,
    Setup,
    free_port,
    peer_installed,
    postgres_problem,
    running,
    seeded,
    server_environment,
    serving,
)

SEEDED_TODOS = 1000
SCALING_SIZES = (100, 10_000, 100_000)
DEFAULT_SECONDS, QUICK_SECONDS = 2.0, 1.0
DEFAULT_ROUNDS = 3
DEFAULT_CONNECTIONS = 8
WORKER_COUNTS = (1, 2, 4)
# It only reads (see workshop/bench_peer.py), and only from SQLite.
PEER_SCENARIOS = ("read one todo", "list a page")

# --- What is measured -------------------------------------------------------------------


def all_setups(servers: list[str], workers: list[int], databases: list[str]) -> list[Setup]:
    """The baseline, step 05 on the dev server, then every production server chosen."""
    setups = [BASELINE]
    if "sqlite" in databases:
        setups.append(Setup("flask run", 1, "sqlite"))
    for server in servers:
        for database in databases:
            setups += [Setup(server, count, database) for count in workers]
    return setups


def scenarios_of(setup: Setup) -> list[Scenario]:
    """The scenarios a setup is measured on: all of them, but the peer only reads."""
    if setup.server == PEER:
        return [scenario for scenario in SCENARIOS if scenario.name in PEER_SCENARIOS]
    return SCENARIOS


# --- Running it all ---------------------------------------------------------------------


def skipped_setups(setups: list[Setup], options: argparse.Namespace) -> dict[Setup, str]:
    """The setups this machine cannot run, each with the reason."""
    no_postgres = (
        postgres_problem(options.database_url)
        if any(s.database == "postgres" for s in setups)
        else None
    )
    reasons = {}
    for setup in setups:
        if setup.server.startswith("gunicorn") and ON_WINDOWS:
            reasons[setup] = "gunicorn does not run on Windows"
        elif setup.server.startswith("gunicorn") and importlib.util.find_spec("gunicorn") is None:
            reasons[setup] = NO_GUNICORN
        elif setup.server == PEER and not peer_installed():
            reasons[setup] = NO_PEER
        elif setup.database == "postgres" and no_postgres:
            reasons[setup] = no_postgres
        elif setup.server == PEER and setup.database != "sqlite":
            reasons[setup] = "the FastAPI peer reads SQLite only"
    return reasons


def progress_bar(console):
    """A rich progress bar that disappears when the tables are printed."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def measure_setups(options: argparse.Namespace, console) -> tuple[list[Row], Measurement]:
    """Measures the ceiling, then every setup in rounds; returns the rows and the ceiling.

    Each round starts every setup in turn on a fresh database, seeds it and measures each
    scenario. Other programs on the machine come and go: rounds spread them over all the
    setups, instead of letting them spoil the measurements of one.
    """
    servers = [server for kind, server in SERVER_KINDS.items() if kind in options.only]
    setups = all_setups(servers, options.workers, options.databases)
    skipped = skipped_setups(setups, options)
    rows = [Row(setup, problem=skipped.get(setup)) for setup in setups]
    to_run = [row for row in rows if row.problem is None]
    steps = 1 + options.rounds * sum(len(scenarios_of(row.setup)) for row in to_run)

    with (
        progress_bar(console) as progress,
        tempfile.TemporaryDirectory(prefix="workshop-bench-", ignore_cleanup_errors=True) as folder,
    ):
        task = progress.add_task("load generator ceiling", total=steps)
        done = 0

        def measure(port: int, requests: list[bytes], status: int) -> Measurement:
            nonlocal done
            measurement = drive(
                port,
                requests,
                status,
                options.connections,
                options.warmup,
                options.duration,
                lambda fraction: progress.update(task, completed=done + fraction),
            )
            done += 1
            return measurement

        port = free_port()
        idle_server = [sys.executable, "-c", IDLE_SERVER, str(port)]
        with running(idle_server, Path(folder), server_environment(), "/", port):
            ceiling = measure(port, [http_request("GET", "/")], 200)

        for round_number in range(1, options.rounds + 1):
            for row in to_run:
                scenarios = scenarios_of(row.setup)
                if row.failed:
                    done += len(scenarios)
                    continue
                what = f"round {round_number}/{options.rounds}, {describe(row.setup)}"
                progress.update(task, description=f"{what}: starting")
                done_before = done
                try:
                    with seeded(row.setup, options, Path(folder)) as (port, ids):
                        for scenario in scenarios:
                            progress.update(task, description=f"{what}: {scenario.name}")
                            measurement = measure(
                                port, scenario.requests(ids), scenario.expected_status
                            )
                            row.runs.setdefault(scenario.name, []).append(measurement)
                except BenchError as error:
                    row.problem, row.failed = str(error), True
                    done = done_before + len(scenarios)
    return rows, ceiling


# --- The scaling run --------------------------------------------------------------------


def add_todos_directly(database_url: str, count: int) -> None:
    """Adds `count` todos straight into the table, in one transaction: through the API,
    100,000 todos would take minutes."""
    rows = [(f"todo {n}", n % 2 == 0, 1) for n in range(1, count + 1)]
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path, timeout=30)) as connection, connection:
            connection.executemany(
                "INSERT INTO todos (title, completed, version) VALUES (?, ?, ?)", rows
            )
    else:
        import psycopg

        # COPY: PostgreSQL's fastest way in; the connection commits when the block ends.
        with (
            psycopg.connect(database_url) as connection,
            connection.cursor() as cursor,
            cursor.copy("COPY todos (title, completed, version) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)


def measure_scaling(
    databases: list[str], options: argparse.Namespace, console
) -> list[tuple[str, int, list[Measurement]]]:
    """The first page of GET /todos on each database, as the table grows.

    One server per size, all running at once, so that each round can measure the sizes
    one after the other and the median of the rounds is taken, as in the main run.
    """
    results = []
    with (
        progress_bar(console) as progress,
        tempfile.TemporaryDirectory(prefix="workshop-bench-", ignore_cleanup_errors=True) as folder,
    ):
        steps = len(databases) * options.rounds * len(SCALING_SIZES)
        task = progress.add_task("starting", total=steps)
        done = 0
        for database in databases:
            setup = Setup(SCALING_SERVER, SCALING_WORKERS, database)
            with ExitStack() as servers:
                ports = {}
                for size in SCALING_SIZES:
                    progress.update(task, description=f"{database}: storing {size:,} todos")
                    port, database_url = servers.enter_context(
                        serving(setup, options, Path(folder))
                    )
                    add_todos_directly(database_url, size)
                    ports[size] = port
                runs: dict[int, list[Measurement]] = {size: [] for size in SCALING_SIZES}
                for round_number in range(1, options.rounds + 1):
                    for size, port in ports.items():
                        progress.update(
                            task,
                            description=f"round {round_number}/{options.rounds}, {database}: "
                            f"{size:,} todos stored",
                        )
                        runs[size].append(
                            drive(
                                port,
                                [http_request("GET", "/todos")],
                                200,
                                options.connections,
                                options.warmup,
                                options.duration,
                                lambda part, before=done: progress.update(
                                    task, completed=before + part
                                ),
                            )
                        )
                        done += 1
                results += [(database, size, runs[size]) for size in SCALING_SIZES]
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m workshop bench`."""
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_SECONDS,
        metavar="SECONDS",
        help=f"how long each measurement lasts, in each round (default {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        metavar="SECONDS",
        help="uncounted requests before each measurement (default: a fifth of --duration)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        metavar="N",
        help=f"times each configuration is measured; the middle one counts "
        f"(default {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"one round of {QUICK_SECONDS:g} s per measurement: rougher numbers, sooner",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=DEFAULT_CONNECTIONS,
        metavar="N",
        help=f"requests in flight at once (default {DEFAULT_CONNECTIONS})",
    )
    parser.add_argument(
        "--todos",
        type=int,
        default=SEEDED_TODOS,
        metavar="N",
        help=f"todos each server gets before it is measured (default {SEEDED_TODOS:,})",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SERVER_KINDS),
        default=list(SERVER_KINDS),
        metavar="SERVER",
        help="servers to measure: image (serve.py, granian), sync and gthread (gunicorn), "
        "and fastapi, the FastAPI peer "
        "(default: all four; step 03's dev server always runs, as the baseline)",
    )
    parser.add_argument(
        "--workers",
        nargs="+",
        type=int,
        default=list(WORKER_COUNTS),
        metavar="N",
        help="worker processes to try (default: 1 2 4)",
    )
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=["sqlite", "postgres"],
        default=["sqlite", "postgres"],
        help="databases for step 05 (default: both; postgres only when one answers)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL"),
        metavar="URL",
        help="a PostgreSQL database the benchmark may create and drop schemas in "
        "(default: TEST_DATABASE_URL)",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="instead: the first page of GET /todos with 100, 10,000 and 100,000 todos stored",
    )


def main(options: argparse.Namespace) -> int:
    """Runs the benchmark (or, with --scaling, the scaling run) and prints the tables."""
    from rich.console import Console

    console = Console(highlight=False)
    progress_console = Console(stderr=True)  # the bar on stderr, the tables on stdout
    if options.quick:
        options.duration, options.rounds = QUICK_SECONDS, 1
    if min(options.duration, options.connections, options.todos, options.rounds) <= 0:
        console.print("--duration, --connections, --todos and --rounds must be above 0.")
        return 2
    if options.warmup is None:
        options.warmup = options.duration / 5
    warn_if_busy(console)
    # `kill` stops the benchmark as Ctrl+C does, servers included.
    signal.signal(signal.SIGTERM, stop_as_on_ctrl_c)
    try:
        if options.scaling:
            return run_scaling(options, console, progress_console)
        rows, ceiling = measure_setups(options, progress_console)
    except KeyboardInterrupt:
        console.print("Stopped. Every server the benchmark started has been stopped.")
        return 130
    except BenchError as error:
        console.print(str(error), style="red")
        return 1
    print_results(rows, ceiling, options, console)
    failed = [row for row in rows if row.failed]
    for row in failed:
        console.print(f"{describe(row.setup)} failed: {row.problem}", style="red")
    return 1 if failed else 0


def stop_as_on_ctrl_c(signal_number: int, frame) -> None:
    """Turns a request to stop into what Ctrl+C raises, so the same clean-up runs."""
    raise KeyboardInterrupt


def warn_if_busy(console) -> None:
    """Says so when other programs keep the processor busy: the numbers will vary more."""
    if not hasattr(os, "getloadavg"):  # Windows has no load average
        return
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores / 2:
        console.print(
            f"This machine is busy already (load average {load:.1f} on {cores} cores): the "
            "numbers will vary more than usual. Close what you can.",
            style="yellow",
        )


def run_scaling(options: argparse.Namespace, console, progress_console) -> int:
    """The scaling run, on each database this machine has."""
    no_postgres = (
        postgres_problem(options.database_url) if "postgres" in options.databases else None
    )
    databases = [d for d in options.databases if not (d == "postgres" and no_postgres)]
    results = measure_scaling(databases, options, progress_console)
    print_scaling(results, console)
    if no_postgres:
        console.print(f"Skipped postgres: {no_postgres}.")
    return 0
