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
"""

import argparse
import ast
import importlib.util
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from workshop.steps import find_step

SEEDED_TODOS = 1000
SCALING_SIZES = (100, 10_000, 100_000)
DEFAULT_SECONDS, QUICK_SECONDS = 2.0, 1.0
DEFAULT_ROUNDS = 3
DEFAULT_CONNECTIONS = 8
WORKER_COUNTS = (1, 2, 4)
GTHREAD_THREADS = 4
STARTUP_SECONDS = 30
ON_WINDOWS = sys.platform == "win32"
# gunicorn is a contributor's package (requirements-dev.txt); the benchmark runs without it.
NO_GUNICORN = "gunicorn is not installed (pip install -r requirements-dev.txt)"
# So is the FastAPI peer, which answers "why not FastAPI?" with a measurement.
PEER = "FastAPI + uvicorn (peer)"
NO_PEER = "fastapi or uvicorn is not installed (pip install -r requirements-dev.txt)"
# It only reads (see workshop/bench_peer.py), and only from SQLite.
PEER_SCENARIOS = ("read one todo", "list a page")
# Variables of the outer shell that would change what a server does (a token, say, would
# turn every request of the benchmark into a 401).
SERVER_VARIABLES = re.compile(
    r"FLASK_\w+|DATABASE_URL|API_TOKEN|API_READ_TOKEN|HOST|PORT|WEB_CONCURRENCY|"
    r"GUNICORN_CMD_ARGS|GRANIAN_\w+"
)


# --- What is measured -------------------------------------------------------------------


def http_request(method: str, path: str, body: bytes | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request, built once and sent many times."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode("ascii") + b"\r\n" + (body or b"")


@dataclass(frozen=True)
class Scenario:
    name: str
    shown_as: str  # the request, as the table's title shows it
    expected_status: int
    requests: Callable[[list[int]], list[bytes]]  # the requests to cycle through, given ids


SCENARIOS = [
    Scenario(
        "read one todo",
        "GET /todos/{id}",
        200,
        lambda ids: [http_request("GET", f"/todos/{todo_id}") for todo_id in ids],
    ),
    Scenario("list a page", "GET /todos", 200, lambda ids: [http_request("GET", "/todos")]),
    # Last, so that the two reads above see exactly the seeded todos.
    Scenario(
        "create a todo",
        "POST /todos",
        201,
        lambda ids: [http_request("POST", "/todos", b'{"title": "benchmark"}')],
    ),
]


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


def all_setups(servers: list[str], workers: list[int], databases: list[str]) -> list[Setup]:
    """The baseline, step 05 on the dev server, then every production server chosen."""
    setups = [BASELINE]
    if "sqlite" in databases:
        setups.append(Setup("flask run", 1, "sqlite"))
    for server in servers:
        for database in databases:
            setups += [Setup(server, count, database) for count in workers]
    return setups


# Step 05's image: `python serve.py`, which runs granian (see 05_docker/server/serve.py).
IMAGE = "serve.py (granian)"
SERVER_KINDS = {
    "image": IMAGE,
    "sync": "gunicorn sync",
    "gthread": "gunicorn gthread",
    "fastapi": PEER,
}


def scenarios_of(setup: Setup) -> list[Scenario]:
    """The scenarios a setup is measured on: all of them, but the peer only reads."""
    if setup.server == PEER:
        return [scenario for scenario in SCENARIOS if scenario.name in PEER_SCENARIOS]
    return SCENARIOS


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


# --- The load generator -----------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection, spoken by hand.

    http.client parses every header into objects; this reads only the status, the body's
    length and whether the server closes the connection. That leaves the cores to the
    servers being measured. gunicorn's sync workers close the connection after each
    answer: then the next request opens a new one, as any client would.
    """

    TIMEOUT_SECONDS = 30

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Sends one request and returns the answer's status and body."""
        fresh = self.sock is None
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), self.TIMEOUT_SECONDS)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.sendall(request)
            return self._read_answer()
        except ConnectionError:
            self.close()
            if fresh:
                raise
            # The server closed a connection it had kept open (idle too long): once more.
            return self.exchange(request)

    def _read_answer(self) -> tuple[int, bytes]:
        """Reads one answer: the head up to its blank line, then as many bytes as it says."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._receive()
        head = self.buffer[:end].lower()
        self.buffer = self.buffer[end + 4 :]
        length = re.search(rb"\r\ncontent-length: *(\d+)", head)
        closes = b"\r\nconnection: close" in head
        if length:
            while len(self.buffer) < int(length[1]):
                self._receive()
            body, self.buffer = self.buffer[: int(length[1])], self.buffer[int(length[1]) :]
        elif head.startswith((b"http/1.1 204", b"http/1.1 304")):
            body = b""
        else:  # no length given: the body ends when the server closes the connection
            with suppress(ConnectionError):
                while True:
                    self._receive()
            body, closes = self.buffer, True
        if closes:
            self.close()
        return int(head[9:12]), body

    def _receive(self) -> None:
        """Adds what the server sent next to the buffer."""
        chunk = self.sock.recv(65536) if self.sock else b""
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        """Closes the connection; the next request opens a new one."""
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""


@dataclass
class Measurement:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # of successful requests, in s
    errors: int = 0  # answers with another status, and requests that got no answer
    client_cpu: float = 0.0  # the share of one core the load generator used meanwhile

    @property
    def per_second(self) -> float:
        """Successful requests per second."""
        return len(self.latencies) / self.seconds

    def percentile_ms(self, percent: float) -> float:
        """The latency that `percent` % of the requests stayed under, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))] * 1000


def drive(
    port: int,
    requests: list[bytes],
    expected_status: int,
    connections: int,
    warmup: float,
    seconds: float,
    tick: Callable[[float], None] = lambda done: None,
) -> Measurement:
    """Keeps `connections` requests in flight for warm-up + seconds; measures the last part.

    Each connection sends its next request as soon as the answer to the previous one is
    back (a closed loop), cycling through `requests`. `tick` hears the fraction done.
    """
    measurement = Measurement(seconds)
    lock = threading.Lock()
    stop = threading.Event()
    started, cpu_at_start = time.perf_counter(), time.process_time()
    measure_from, until = started + warmup, started + warmup + seconds

    def run(first: int) -> None:
        connection = Connection(port)
        latencies, errors, index = [], 0, first
        while not stop.is_set():
            begin = time.perf_counter()
            if begin >= until:
                break
            try:
                status, _ = connection.exchange(requests[index % len(requests)])
            except OSError:
                status = 0
                connection.close()
            end = time.perf_counter()
            index += connections
            if begin >= measure_from:
                if status == expected_status:
                    latencies.append(end - begin)
                else:
                    errors += 1
        connection.close()
        with lock:
            measurement.latencies += latencies
            measurement.errors += errors

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(connections)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)
                tick(min(1.0, (time.perf_counter() - started) / (warmup + seconds)))
    finally:
        stop.set()  # on Ctrl+C, the threads finish their request and stop
    wall = time.perf_counter() - started
    measurement.client_cpu = (time.process_time() - cpu_at_start) / wall
    return measurement


def seed(port: int, count: int, connections: int) -> list[int]:
    """Creates `count` todos through the API, a few at a time; returns their ids in order."""
    ids: list[int] = []
    lock = threading.Lock()
    failures: list[str] = []

    def create(numbers: range) -> None:
        connection = Connection(port)
        try:
            for number in numbers:
                body = json.dumps({"title": f"todo {number}", "completed": number % 2 == 0})
                request = http_request("POST", "/todos", body.encode())
                status, answer = connection.exchange(request)
                if status != 201:
                    failures.append(f"POST /todos answered {status}: {answer[:200]!r}")
                    return
                with lock:
                    ids.append(json.loads(answer)["id"])
        except OSError as error:
            failures.append(f"POST /todos got no answer: {error}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=create, args=(range(first, count, connections),), daemon=True)
        for first in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise BenchError(f"Seeding failed: {failures[0]}")
    return sorted(ids)


# --- Starting and stopping servers ------------------------------------------------------


class BenchError(Exception):
    """Something the benchmark cannot go on with, said in one sentence."""


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
        if setup.step == "05":  # serve.py's logging, for gunicorn: JSON lines on stdout
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


# --- The ceiling: a server that does no work --------------------------------------------

IDLE_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
# It answers every request it sees with the same bytes, so its cost is close to nothing.
IDLE_SERVER = f"""
import asyncio, sys

class AnswerEveryRequest(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.seen = transport, b""

    def data_received(self, data):
        self.seen += data
        requests = self.seen.count(b"\\r\\n\\r\\n")
        if requests:
            self.seen = self.seen[self.seen.rindex(b"\\r\\n\\r\\n") + 4 :]
            self.transport.write({IDLE_ANSWER!r} * requests)

async def main():
    server = await asyncio.get_running_loop().create_server(
        AnswerEveryRequest, "127.0.0.1", int(sys.argv[1])
    )
    await server.serve_forever()

asyncio.run(main())
"""


# --- Running it all ---------------------------------------------------------------------


@dataclass
class Row:
    setup: Setup
    runs: dict[str, list[Measurement]] = field(default_factory=dict)  # by scenario, by round
    problem: str | None = None  # why it has no results
    failed: bool = False  # it should have run, and could not

    def result(self, scenario: str) -> Measurement | None:
        """The middle round by requests per second: one disturbed round cannot move it."""
        return middle(self.runs.get(scenario, []))


def middle(runs: list[Measurement]) -> Measurement | None:
    """The median run by requests per second (the slower of two), or None."""
    ordered = sorted(runs, key=lambda run: run.per_second)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


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


def peer_installed() -> bool:
    """Whether the FastAPI peer's two packages are installed."""
    return all(importlib.util.find_spec(package) for package in ("fastapi", "uvicorn"))


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


def describe(setup: Setup) -> str:
    """A setup in words, for the progress bar and the messages."""
    workers = "1 worker" if setup.workers == 1 else f"{setup.workers} workers"
    return f"{setup.name}, {workers}, {setup.database}"


# --- The scaling run --------------------------------------------------------------------

SCALING_SERVER, SCALING_WORKERS = IMAGE, 2


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


# --- The tables -------------------------------------------------------------------------


def print_results(rows: list[Row], ceiling: Measurement, options, console) -> None:
    """One table per scenario, then the load generator's share, the settings, the skips."""
    from rich.table import Table

    measured = [row for row in rows if row.runs and not row.failed]
    caption = "vs dev: req/s divided by that of flask run (03), step 03's development server."
    if any(row.setup.server == "gunicorn gthread" for row in measured):
        caption += f" gunicorn gthread runs {GTHREAD_THREADS} threads in each worker."
    peer_note = (
        f" {PEER}: not step 05, but its reads in FastAPI (workshop/bench_peer.py). vs peer: "
        "req/s divided by that of the peer with as many workers, on the same database."
    )
    for scenario in SCENARIOS:
        # The peer's result by number of workers; it reads SQLite only.
        peers = {
            row.setup.workers: row.result(scenario.name)
            for row in measured
            if row.setup.server == PEER and row.result(scenario.name)
        }
        table = Table(
            title=f"{scenario.name}: {scenario.shown_as}",
            title_justify="left",
            caption=caption + (peer_note if peers else ""),
            caption_justify="left",
        )
        for column in ("server", "workers", "database"):
            table.add_column(column)
        for column in ("req/s", "p50 ms", "p99 ms", "vs dev", *(["vs peer"] if peers else [])):
            table.add_column(column, justify="right")
        baseline = rows[0].result(scenario.name)
        for row in measured:
            result = row.result(scenario.name)
            if result is None:  # the peer does not create todos
                continue
            ratio = "-"
            if baseline and baseline.per_second:
                ratio = f"{result.per_second / baseline.per_second:.2f}"
            cells = [row.setup.name, str(row.setup.workers), row.setup.database]
            cells += [*speed_cells(result), ratio]
            if peers:
                peer = peers.get(row.setup.workers) if row.setup.database == "sqlite" else None
                cells.append(f"{result.per_second / peer.per_second:.2f}" if peer else "-")
            table.add_row(*cells)
        console.print(table)
        for row in measured:
            warn_of_errors(row.runs.get(scenario.name, []), describe(row.setup), console)

    runs = [run for row in measured for scenario_runs in row.runs.values() for run in scenario_runs]
    fastest = max((run.per_second for run in runs), default=0.0)
    busiest = max((run.client_cpu for run in runs), default=0.0)
    console.print(
        f"Load generator: at most {busiest:.0%} of one core during these measurements. "
        f"Its ceiling, against a server that answers without doing any work: "
        f"{ceiling.per_second:,.0f} req/s; the fastest result above is "
        f"{fastest / ceiling.per_second:.0%} of it."
    )
    rounds = "one round" if options.rounds == 1 else f"the middle of {options.rounds} rounds"
    console.print(
        f"Each measurement: {options.connections} connections for {options.duration:g} s "
        f"after {options.warmup:g} s of warm-up, on {options.todos:,} todos; the tables show "
        f"{rounds}. Absolute numbers depend on this machine: compare the ratios."
    )
    reasons: dict[str, int] = {}
    for row in rows:
        if row.problem and not row.failed:
            reasons[row.problem] = reasons.get(row.problem, 0) + 1
    for reason, count in reasons.items():
        configurations = "configuration" if count == 1 else "configurations"
        console.print(f"Skipped {count} {configurations}: {reason}.")


def speed_cells(result: Measurement) -> list[str]:
    """Requests per second, p50 and p99 in milliseconds, as the tables show them."""
    return [
        f"{result.per_second:,.0f}",
        f"{result.percentile_ms(50):.1f}",
        f"{result.percentile_ms(99):.1f}",
    ]


def warn_of_errors(runs: list[Measurement], what: str, console) -> None:
    """Says so under the table when some requests failed: the numbers count only the others."""
    errors = sum(run.errors for run in runs)
    if errors:
        console.print(
            f"{what}: {errors:,} requests failed or got an unexpected status; "
            "the table counts only the others.",
            style="red",
        )


def print_scaling(results: list[tuple[str, int, list[Measurement]]], console) -> None:
    """The scaling table: the same request as the table grows, by database."""
    from rich.table import Table

    table = Table(
        title="GET /todos (the first page) as the table grows",
        title_justify="left",
        caption=(
            f"On {SCALING_SERVER} with {SCALING_WORKERS} workers. vs 100: p50 "
            "divided by that with 100 todos stored, on the same database."
        ),
        caption_justify="left",
    )
    table.add_column("database")
    for column in ("todos stored", "req/s", "p50 ms", "p99 ms", "vs 100"):
        table.add_column(column, justify="right")
    smallest: dict[str, float] = {}
    for database, size, runs in results:
        result = middle(runs)
        smallest.setdefault(database, result.percentile_ms(50))
        ratio = result.percentile_ms(50) / smallest[database]
        table.add_row(database, f"{size:,}", *speed_cells(result), f"{ratio:.2f}")
    console.print(table)
    for database, size, runs in results:
        warn_of_errors(runs, f"{database}, {size:,} todos", console)


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
