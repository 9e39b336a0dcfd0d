"""Fixtures shared by this step's tests."""

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

STEP = Path(__file__).resolve().parent.parent
SERVER_DIR = STEP / "server"
CLIENT_DIR = STEP / "client"
STARTUP_SECONDS = 30


@pytest.fixture
def app():
    """A fresh app with an empty store for each test."""
    from app import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    """Flask's test client: requests go straight to the app, no network."""
    return app.test_client()


def free_port() -> int:
    """A TCP port nobody listens on right now: the system picks one for a socket we close."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_todo_server() -> Iterator[str]:
    """Starts this step's server as a learner does (`flask run` in server/); yields its URL."""
    port = free_port()
    environment = dict(os.environ)
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
def live_server() -> Iterator[str]:
    """The real server of this step on a free port, shared by one test module; yields its URL."""
    yield from serve_todo_server()


@pytest.fixture
def server_url(live_server: str) -> str:
    """The live server's URL, with every todo deleted before the test."""
    requests.delete(f"{live_server}/todos", timeout=5).raise_for_status()
    return live_server


@pytest.fixture
def fresh_server() -> Iterator[str]:
    """A real server started for this test alone, so that its ids start at 1; yields its URL."""
    yield from serve_todo_server()


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
