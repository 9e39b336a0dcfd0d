"""The benchmark's servers: what each setup runs, how it is started on a fresh database
and stopped for sure, and PostgreSQL schemas of its own.
"""

import argparse
import ast
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from workshop.bench_load import BenchError, seed
from workshop.steps import find_step

GTHREAD_THREADS = 4
STARTUP_SECONDS = 30
ON_WINDOWS = sys.platform == "win32"
# gunicorn is a contributor's package (requirements-dev.txt); the benchmark runs without it.
NO_GUNICORN = "gunicorn is not installed (pip install -r requirements-dev.txt)"
# So is the FastAPI peer, which answers "why not FastAPI?" with a measurement.
PEER = "FastAPI + uvicorn (peer)"
NO_PEER = "fastapi or uvicorn is not installed (pip install -r requirements-dev.txt)"
# Variables of the outer shell that would change what a server does (a token, say, would
# turn every request of the benchmark into a 401).
SERVER_VARIABLES = re.compile(
    r"FLASK_\w+|DATABASE_URL|API_TOKEN|API_READ_TOKEN|HOST|PORT|WEB_CONCURRENCY|"
    r"GUNICORN_CMD_ARGS|GRANIAN_\w+"
)


@dataclass(frozen=True)
class Setup:
    """One way of serving the todo API: a server, its worker processes, a database."""

    server: str  # "flask run", IMAGE, "gunicorn sync", "gunicorn gthread" or PEER
    workers: int
    database: str  # "memory", "sqlite" or "postgres"
    step: str = "05"

    @property
    def name(self) -> str:
        """The server, as the tables name it."""
        return f"flask run ({self.step})" if self.server == "flask run" else self.server


BASELINE = Setup("flask run", 1, "memory", step="03")


# Step 05's image: `python serve.py`, which runs granian (see 05_docker/server/serve.py).
IMAGE = "serve.py (granian)"
# The server the scaling run (--scaling) measures, and with how many workers.
SCALING_SERVER, SCALING_WORKERS = IMAGE, 2
SERVER_KINDS = {
    "image": IMAGE,
    "sync": "gunicorn sync",
    "gthread": "gunicorn gthread",
    "fastapi": PEER,
}


def server_command(setup: Setup, port: int, logging_file: Path) -> list[str]:
    """The command that starts this setup's server on 127.0.0.1:port, in the step's server/.

    The port and the number of workers also reach the server as PORT and WEB_CONCURRENCY
    (see `serving`): that is how the image's `python serve.py` takes them.
    """
    if setup.server == "flask run":
        return [sys.executable, "-m", "flask", "run", "--port", str(port)]
    if setup.server == IMAGE:
        return [sys.executable, "serve.py"]  # HOST is unset: it listens on 127.0.0.1
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    # The same JSON line per request as serve.py writes, so that both do the same work.
    command += ["--workers", str(setup.workers), "--log-config-json", str(logging_file)]
    # No control socket: its path is one per user, and two gunicorns would both claim it.
    command += ["--no-control-socket"]
    if setup.server == "gunicorn gthread":
        command += ["--threads", str(GTHREAD_THREADS)]
    return [*command, "app:create_app()"]


def peer_command(setup: Setup, port: int) -> list[str]:
    """The command that starts the FastAPI peer, with as many workers as the others get."""
    # No access log: the peer is the framework alone, and cheaper than step 05 by that line.
    command = [sys.executable, "-m", "uvicorn", "workshop.bench_peer:app", "--no-access-log"]
    return [*command, "--host", "127.0.0.1", "--port", str(port), "--workers", str(setup.workers)]


def free_port() -> int:
    """A TCP port nobody listens on right now: the system picks one for a socket we close."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(**variables: str) -> dict[str, str]:
    """This environment, minus the shell's server settings, plus `variables`."""
    environment = {
        name: value for name, value in os.environ.items() if not SERVER_VARIABLES.fullmatch(name)
    }
    # A .env file (05's, written for compose) would change the database under `flask run`.
    environment["FLASK_SKIP_DOTENV"] = "1"
    return {**environment, **variables}


@contextmanager
def running(command: list[str], cwd: Path, environment: dict[str, str], ready_path: str, port: int):
    """Runs a server until the block ends, even on Ctrl+C; waits until `ready_path` is 200."""
    with tempfile.TemporaryFile() as log:  # a pipe nobody reads would fill and block it
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # A group of its own: the server and its workers are stopped together, and
            # the terminal's Ctrl+C reaches only this command, which then stops them.
            **(
                {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
                if ON_WINDOWS
                else {"start_new_session": True}
            ),
        )
        try:
            wait_until_ready(process, port, ready_path, log)
            yield process
        finally:
            stop_server(process)


def wait_until_ready(process: subprocess.Popen, port: int, path: str, log) -> None:
    """Polls `path` until it answers 200; else BenchError with the server's output."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        connection = HTTPConnection("127.0.0.1", port, timeout=5)
        with suppress(OSError):
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        connection.close()
        time.sleep(0.1)
    log.seek(0)
    output = log.read().decode("utf-8", "replace")[-2000:]
    raise BenchError(f"The server did not answer GET {path}. Its last output:\n{output}")


def stop_server(process: subprocess.Popen) -> None:
    """Stops the server and its workers: politely first, then for sure."""
    if process.poll() is None:
        if ON_WINDOWS:
            # /T: the worker processes too.
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(process.pid)], capture_output=True)
        else:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            if not ON_WINDOWS:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.kill()
            process.wait()


def with_search_path(url: str, schema: str) -> str:
    """The URL, with `schema` as the place where tables are looked for and created."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def postgres_problem(url: str | None) -> str | None:
    """Why PostgreSQL cannot be used (one sentence), or None when it answers at `url`."""
    if not url:
        return "no PostgreSQL (give --database-url or set TEST_DATABASE_URL)"
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL answers ({str(error).strip().splitlines()[0]})"


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A DATABASE_URL whose todos live in a new, empty schema, dropped afterwards."""
    import psycopg
    from psycopg import sql

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_search_path(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def logging_of(server_folder: Path) -> dict:
    """serve.py's LOGGING, read from its source: running serve.py would build the app."""
    tree = ast.parse((server_folder / "serve.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "LOGGING":
            return ast.literal_eval(node.value)
    raise BenchError(f"{server_folder / 'serve.py'} has no LOGGING")


@contextmanager
def serving(setup: Setup, options: argparse.Namespace, folder: Path) -> Iterator[tuple[int, str]]:
    """Starts `setup` on a new, empty database; yields its port and DATABASE_URL."""
    with ExitStack() as stack:
        if setup.database == "postgres":
            database_url = stack.enter_context(postgres_schema(options.database_url))
        elif setup.database == "sqlite":
            database_url = f"sqlite:///{folder / f'todos-{uuid.uuid4().hex[:8]}.sqlite3'}"
        else:
            database_url = ""  # step 03 keeps its todos in memory
        port = free_port()
        server_folder = find_step(setup.step).path / "server"
        logging_file = folder / "logging.json"
        if setup.server.startswith("gunicorn"):  # serve.py's logging: JSON lines on stdout
            logging_file.write_text(json.dumps(logging_of(server_folder)), encoding="utf-8")
        stack.enter_context(
            running(
                server_command(setup, port, logging_file),
                server_folder,
                server_environment(
                    DATABASE_URL=database_url,
                    PORT=str(port),
                    WEB_CONCURRENCY=str(setup.workers),
                    PYTHONUNBUFFERED="1",
                ),
                "/ready" if database_url else "/todos",  # /ready: the database answers too
                port,
            )
        )
        yield port, database_url


@contextmanager
def seeded(
    setup: Setup, options: argparse.Namespace, folder: Path
) -> Iterator[tuple[int, list[int]]]:
    """Starts `setup` with the todos it is measured on; yields its port and their ids.

    The peer cannot create todos: step 05, on its development server, creates the database
    and the todos as for every other setup, then stays idle while the peer reads them.
    """
    writer = Setup("flask run", 1, setup.database) if setup.server == PEER else setup
    with serving(writer, options, folder) as (port, database_url):
        ids = seed(port, options.todos, options.connections)
        if setup.server == PEER:
            peer_port = free_port()
            environment = server_environment(DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
            server_folder = find_step(setup.step).path / "server"
            command = peer_command(setup, peer_port)
            with running(command, server_folder, environment, "/todos", peer_port):
                yield peer_port, ids
        else:
            yield port, ids


def peer_installed() -> bool:
    """Whether the FastAPI peer's two packages are installed."""
    return all(importlib.util.find_spec(package) for package in ("fastapi", "uvicorn"))
