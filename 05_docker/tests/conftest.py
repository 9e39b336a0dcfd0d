"""Fixtures shared by this step's tests, one set per layer.

- transport: `app` and `client` (Flask's test client, SQLite in a temporary folder);
- service: `service`, a TodoService on `fake_repository` (a dict: no Flask, no database);
- repository: `repository`, once per kind of storage, so that one suite checks them all;
- the whole server, started as a learner does: `live_server`, `server_url`, `fresh_server`,
  and `server_on` to start it on a given SQLite file (twice, for the restart test);
- PostgreSQL: `postgres_url`, `postgres_database` and `database_url` (see `postgres_url`),
  and `module_postgres_database` for a server that a whole test module shares;
- the image's command: `dockerfile`, `image_command`, `server_environment`, `start_server`,
  and `start_module_server` to share one server between the tests of a module.

Docker cannot be assumed on every machine that runs the tests, so the tests run what the
image runs, on this machine: the Dockerfile's CMD, in server/, with this virtualenv's
Python and granian. Tests that need PostgreSQL use TEST_DATABASE_URL; see `postgres_url`.
"""

import io
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests

STEP = Path(__file__).resolve().parent.parent
SERVER_DIR = STEP / "server"
CLIENT_DIR = STEP / "client"
STARTUP_SECONDS = 30
DOCKERFILE = STEP / "Dockerfile"
START_POSTGRES = (
    "Start one with `docker compose up db` in 05_docker and set TEST_DATABASE_URL, "
    "for example to postgresql://todo:<your POSTGRES_PASSWORD>@127.0.0.1:5432/todo."
)
# Variables of the outer shell that would change what the server does.
SERVER_VARIABLES = re.compile(
    r"FLASK_\w+|DATABASE_URL|API_TOKEN|API_READ_TOKEN|HOST|PORT|WEB_CONCURRENCY|GRANIAN_\w+"
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A SQLite file in this test's own temporary folder (created on first use)."""
    return tmp_path / "todos.sqlite3"


@pytest.fixture
def app(db_path: Path):
    """A fresh app with an empty store for each test, keeping its todos in `db_path`;
    without tokens, whatever the shell says."""
    from app import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "API_TOKEN": None,
            "API_READ_TOKEN": None,
        }
    )


@pytest.fixture
def client(app):
    """Flask's test client: requests go straight to the app, no network."""
    return app.test_client()


def free_port() -> int:
    """A TCP port nobody listens on right now: the system picks one for a socket we close."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment_without_shell_settings() -> dict[str, str]:
    """This process's environment, minus the variables that would change what a server does."""
    return {
        name: value for name, value in os.environ.items() if not SERVER_VARIABLES.fullmatch(name)
    }


def serve_todo_server(todo_db: Path) -> Iterator[str]:
    """Starts this step's server as a learner does (`flask run` in server/) on the SQLite
    file `todo_db`; yields its URL."""
    port = free_port()
    # A FLASK_APP or FLASK_DEBUG left in the shell would start another app or the reloader;
    # a DATABASE_URL or a token, another database or an API that asks for a token.
    environment = dict(environment_without_shell_settings(), DATABASE_URL=f"sqlite:///{todo_db}")
    # So would a learner's 05_docker/.env, written for compose, which `flask run` finds in
    # the folders above server/. This skips .flaskenv too: --port gives the port anyway.
    environment["FLASK_SKIP_DOTENV"] = "1"
    # The server logs every request: a file, unlike an unread pipe, never fills up and blocks it.
    with tempfile.TemporaryFile(mode="w+") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "flask", "run", "--port", str(port)],
            cwd=SERVER_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(
                        f"`flask run --port {port}` in {SERVER_DIR} did not start "
                        f"listening within {STARTUP_SECONDS} s. Its output:\n{log.read()}"
                    )
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server of this step on a free port, shared by one test module; yields its URL."""
    yield from serve_todo_server(tmp_path_factory.mktemp("live") / "todos.sqlite3")


@pytest.fixture
def server_url(live_server: str) -> str:
    """The live server's URL, with every todo deleted before the test."""
    requests.delete(f"{live_server}/todos", timeout=5).raise_for_status()
    return live_server


@pytest.fixture
def fresh_server(db_path: Path) -> Iterator[str]:
    """A real server started for this test alone, so that its ids start at 1; yields its URL."""
    yield from serve_todo_server(db_path)


@pytest.fixture
def server_on() -> Callable:
    """`with server_on(file) as url:` runs the real server on that SQLite file until the end."""
    return contextmanager(serve_todo_server)


@pytest.fixture
def unused_url() -> str:
    """The URL of a free port on which nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


# The client runs in these tests wide, so that rich never wraps a line or a table, and
# without the shell's variables that would change what it does (with FORCE_COLOR, say,
# rich prints colour codes even into a pipe).
CLIENT_COLUMNS = "200"
CLIENT_VARIABLES_TO_REMOVE = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "TODO_API_TOKEN")


@pytest.fixture
def run_client() -> Callable[..., subprocess.CompletedProcess]:
    """Runs `python client.py --base-url URL ARGS...` in client/, as a learner would."""
    environment = dict(os.environ)
    # Not a terminal, so rich prints plain text.
    environment.update(COLUMNS=CLIENT_COLUMNS, PYTHONIOENCODING="utf-8")
    for name in CLIENT_VARIABLES_TO_REMOVE:
        environment.pop(name, None)

    def run(base_url: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "client.py", "--base-url", base_url, *args],
            cwd=CLIENT_DIR,
            env=environment,
            stdin=subprocess.DEVNULL,  # not a terminal: nobody there to answer a question
            capture_output=True,
            encoding="utf-8",
            timeout=60,
        )

    return run


@pytest.fixture
def run_client_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., subprocess.CompletedProcess]:
    """Calls the client's main() in this process with what `run_client` passes to the
    program, and returns what `run_client` returns: the exit code and the output.

    Much faster than a new Python that imports requests and rich again for every case;
    test_client.py checks that both print exactly the same.
    """
    monkeypatch.setenv("COLUMNS", CLIENT_COLUMNS)
    for name in CLIENT_VARIABLES_TO_REMOVE:
        monkeypatch.delenv(name, raising=False)
    # Not a terminal, like run_client's stdin: nobody there to answer a question.
    monkeypatch.setattr("sys.stdin", io.StringIO())

    def run(base_url: str, *args: str) -> subprocess.CompletedProcess:
        # Imported here, not at the top: the root conftest.py swaps each step's modules in.
        from client import main

        argv = ["--base-url", base_url, *args]
        capsys.readouterr()  # so that the result holds this run's output only
        try:
            returncode = main(argv)
        except SystemExit as exiting:  # argparse exits with code 2 on a wrong command line
            returncode = exiting.code
        output = capsys.readouterr()
        return subprocess.CompletedProcess(["client.py", *argv], returncode, output.out, output.err)

    return run


# --- The service layer: a fake repository ------------------------------------------------


@pytest.fixture
def fake_repository():
    """A minimal repository for the service tests: todos in a dict, no database, no lock."""
    # Imported here, not at the top: the root conftest.py swaps each step's modules in.
    from model import Todo
    from repository import TodoRepository

    # It subclasses the interface, so Python refuses to create it if a method is missing.
    class FakeRepository(TodoRepository):
        def __init__(self) -> None:
            self.todos: dict[int, Todo] = {}
            self.last_id = 0

        def add(self, title: str, completed: bool, order: int | None) -> Todo:
            self.last_id += 1
            self.todos[self.last_id] = Todo(self.last_id, title, completed, order, version=1)
            return self.todos[self.last_id]

        def get(self, todo_id: int) -> Todo | None:
            return self.todos.get(todo_id)

        def list(self, completed: bool | None, limit: int, offset: int) -> tuple[list[Todo], int]:
            matching = [
                todo
                for todo in self.todos.values()
                if completed is None or todo.completed == completed
            ]
            return matching[offset : offset + limit], len(matching)

        def update(self, todo: Todo, expected_version: int) -> bool:
            stored = self.todos.get(todo.id)
            if stored is None or stored.version != expected_version:
                return False
            self.todos[todo.id] = todo
            return True

        def delete(self, todo_id: int, expected_version: int) -> bool:
            stored = self.todos.get(todo_id)
            if stored is None or stored.version != expected_version:
                return False
            del self.todos[todo_id]
            return True

        def delete_all(self) -> None:
            self.todos.clear()

    return FakeRepository()


@pytest.fixture
def service(fake_repository):
    """The service with the fake repository: its rules, tested without Flask or SQL."""
    from service import TodoService

    return TodoService(fake_repository)


# --- The repository layer: every implementation ------------------------------------------


def memory_repository(request: pytest.FixtureRequest):
    """Todos in a dict, for this process only."""
    from repository import InMemoryTodoRepository

    return InMemoryTodoRepository()


def sqlite_repository(request: pytest.FixtureRequest):
    """Todos in a SQLite file."""
    from repository import SqliteTodoRepository

    return SqliteTodoRepository(request.getfixturevalue("db_path"))


def postgres_repository(request: pytest.FixtureRequest):
    """Todos in a new, empty schema of a PostgreSQL database; skipped without one."""
    from repository import PostgresTodoRepository

    return PostgresTodoRepository(request.getfixturevalue("postgres_database"))


# One row per kind of storage: the repository suite runs once for each, and its name shows
# in the test's name, as in test_add_then_get[sqlite]. A new storage needs only a new row.
REPOSITORIES = {
    "memory": memory_repository,
    "sqlite": sqlite_repository,
    "postgres": postgres_repository,
}


@pytest.fixture(params=list(REPOSITORIES))
def repository(request: pytest.FixtureRequest) -> Iterator:
    """An empty repository of each kind in turn, closed after the test if it can be."""
    repository = REPOSITORIES[request.param](request)
    yield repository
    if hasattr(repository, "close"):  # PostgreSQL's pool holds connections open
        repository.close()


# --- PostgreSQL -------------------------------------------------------------------------


def without_password(url: str) -> str:
    """The URL with its password replaced by ***, fit for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a PostgreSQL database for tests: skips without one, fails in CI.

    The only place that decides: on a laptop, a test that needs PostgreSQL is skipped
    with a reason that says how to start one; with REQUIRE_POSTGRES=1 (CI) it fails.
    """
    import psycopg

    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        problem = "TEST_DATABASE_URL is not set."
    else:
        try:
            with psycopg.connect(url, connect_timeout=5):
                return url
        except psycopg.Error as error:
            reason = str(error).strip().splitlines()[0]
            problem = f"PostgreSQL is not reachable at {without_password(url)} ({reason})."
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{problem} REQUIRE_POSTGRES=1 asks for PostgreSQL.", pytrace=False)
    pytest.skip(f"{problem} {START_POSTGRES}")


def with_search_path(url: str, schema: str) -> str:
    """The URL, with `schema` as the place where tables are looked for and created."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextmanager
def new_schema(postgres_url: str) -> Iterator[str]:
    """A DATABASE_URL whose todos live in a new, empty schema, dropped when the block ends."""
    import psycopg
    from psycopg import sql

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_search_path(postgres_url, schema)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A DATABASE_URL whose todos live in a new, empty schema, dropped after the test.

    Every test gets its own schema, so tests never see each other's todos, and running
    them twice, or two runs at once, is safe.
    """
    with new_schema(postgres_url) as database_url:
        yield database_url


@pytest.fixture(scope="module")
def module_postgres_database(postgres_url: str) -> Iterator[str]:
    """Like `postgres_database`, for the tests of one module together: dropped after them."""
    with new_schema(postgres_url) as database_url:
        yield database_url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """A DATABASE_URL for each kind of database the image supports, empty at first."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_database")
    return f"sqlite:///{db_path}"


# --- The image's command, run on this machine -------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


@pytest.fixture(scope="session")
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, in order, as (INSTRUCTION, arguments)."""
    return dockerfile_instructions()


@pytest.fixture(scope="session")
def variables_to_set() -> set[str]:
    """The variables the server's code reads, minus those the image sets itself (HOST):
    what compose, Kubernetes or a person may have to set."""
    read = set()
    for source in SERVER_DIR.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        read |= set(re.findall(r"os\.environ(?:\.get\(|\[)\s*[\"'](\w+)[\"']", text))
    set_by_image = {
        setting.partition("=")[0]
        for name, arguments in dockerfile_instructions()
        if name == "ENV"
        for setting in arguments.split()
    }
    return read - set_by_image


@pytest.fixture(scope="session")
def image_command() -> list[str]:
    """The Dockerfile's CMD, with this virtualenv's Python: exactly what the image runs."""
    if sys.platform == "win32":
        pytest.skip("these tests stop the server with POSIX signals, as Docker does")
    (command,) = [
        json.loads(arguments) for name, arguments in dockerfile_instructions() if name == "CMD"
    ]
    assert command[0] == "python", f"the image's CMD should run a Python script, not {command[0]}"
    return [sys.executable, *command[1:]]


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """`wait_for(condition, seconds=20)`: checks the condition until it holds or the time is
    up. It does not fail: the test asserts the condition next, and says what it expected."""

    def wait(condition: Callable[[], bool], seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)

    return wait


@dataclass
class RunningServer:
    """A server started from the image's command, and what it wrote."""

    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        """Everything the server has written so far (standard output and error)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stops the server and its workers as `docker stop` does: SIGTERM, then SIGKILL."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process.wait()

    def kill(self) -> None:
        """Kills the server and every worker at once, as a power cut or `kill -9` would."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def wait_until_serving(server: RunningServer) -> None:
    """Polls /health until the server answers; fails with its output if it never does."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            problem = f"exited with code {server.process.returncode}"
            break
        with suppress(requests.RequestException):
            if requests.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    else:
        problem = f"did not answer /health within {STARTUP_SECONDS} s"
    pytest.fail(f"The image's command in {SERVER_DIR} {problem}. Its output:\n{server.log()}")


@pytest.fixture
def server_environment(tmp_path: Path) -> dict[str, str]:
    """The environment the server starts with: this one, minus settings of the outer shell."""
    environment = environment_without_shell_settings()
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


@contextmanager
def image_command_servers(
    image_command: list[str], server_environment: dict[str, str], folder: Path
) -> Iterator[Callable[..., RunningServer]]:
    """`start(**variables)` starts the image's command in server/ on a free port, its log
    in `folder`; every server it started stops when the block ends."""
    servers: list[RunningServer] = []

    def start(**variables: str) -> RunningServer:
        port = free_port()
        environment = {**server_environment, **variables, "PORT": str(port)}
        log_path = folder / f"server-{len(servers) + 1}.log"
        # The output goes to a file: a pipe nobody reads fills up and blocks the server.
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                image_command,
                cwd=SERVER_DIR,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                # A process group of its own: the server and its workers are stopped together.
                start_new_session=True,
            )
        server = RunningServer(f"http://127.0.0.1:{port}", port, process, log_path)
        servers.append(server)
        wait_until_serving(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def start_server(
    image_command: list[str], server_environment: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., RunningServer]]:
    """Starts the image's command in server/ on a free port; stops every server it started.

    `start_server(DATABASE_URL=..., WEB_CONCURRENCY="4")` sets environment variables; a
    server on a SQLite file in the test's temporary folder is the default.
    """
    with image_command_servers(image_command, server_environment, tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_server(
    image_command: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RunningServer]]:
    """Like `start_server`, for servers that the tests of one module share: they stop after
    the module's last test. A SQLite file in the module's temporary folder is the default."""
    folder = tmp_path_factory.mktemp("module-servers")
    environment = environment_without_shell_settings()
    environment["DATABASE_URL"] = f"sqlite:///{folder / 'server.sqlite3'}"
    environment["PYTHONUNBUFFERED"] = "1"
    with image_command_servers(image_command, environment, folder) as start:
        yield start
