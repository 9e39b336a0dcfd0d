"""Fixtures shared by this step's tests, one set per layer.

- transport: `app` and `client` (Flask's test client, SQLite in a temporary folder);
- service: `service`, a TodoService on `fake_repository` (a dict: no Flask, no database);
- repository: `repository`, once per kind of storage, so that one suite checks them all;
- the whole server, started as a learner does: `live_server`, `server_url`, `fresh_server`,
  and `server_on` to start it on a given SQLite file (twice, for the restart test).
"""

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

STEP = Path(__file__).resolve().parent.parent
SERVER_DIR = STEP / "server"
CLIENT_DIR = STEP / "client"
STARTUP_SECONDS = 30


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A SQLite file in this test's own temporary folder (created on first use)."""
    return tmp_path / "todos.sqlite3"


@pytest.fixture
def app(db_path: Path):
    """A fresh app with an empty store for each test, keeping its todos in `db_path`."""
    from app import create_app

    return create_app({"TESTING": True, "TODO_DB": str(db_path)})


@pytest.fixture
def client(app):
    """Flask's test client: requests go straight to the app, no network."""
    return app.test_client()


def free_port() -> int:
    """A TCP port nobody listens on right now: the system picks one for a socket we close."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_todo_server(todo_db: Path) -> Iterator[str]:
    """Starts this step's server as a learner does (`flask run` in server/) on the SQLite
    file `todo_db`; yields its URL."""
    port = free_port()
    environment = dict(os.environ, TODO_DB=str(todo_db))
    # A FLASK_APP or FLASK_DEBUG left in the shell would start another app or the reloader.
    for name in ("FLASK_APP", "FLASK_DEBUG"):
        environment.pop(name, None)
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
CLIENT_VARIABLES_TO_REMOVE = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


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


def memory_repository(db_path: Path):
    """Todos in a dict, for this process only."""
    from repository import InMemoryTodoRepository

    return InMemoryTodoRepository()


def sqlite_repository(db_path: Path):
    """Todos in a SQLite file."""
    from repository import SqliteTodoRepository

    return SqliteTodoRepository(db_path)


# One row per kind of storage: the repository suite runs once for each, and its name shows
# in the test's name, as in test_add_then_get[sqlite]. A new storage needs only a new row.
REPOSITORIES = {
    "memory": memory_repository,
    "sqlite": sqlite_repository,
}


@pytest.fixture(params=list(REPOSITORIES))
def repository(request: pytest.FixtureRequest, db_path: Path):
    """An empty repository of each kind in turn."""
    return REPOSITORIES[request.param](db_path)
