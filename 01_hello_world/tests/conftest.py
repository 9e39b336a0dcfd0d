"""Fixtures for step 01: the app, Flask's test client, and a real server run by `flask run`."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

STEP_DIR = Path(__file__).resolve().parent.parent
SERVER_DIR = STEP_DIR / "server"
CLIENT_DIR = STEP_DIR / "client"
SECONDS_TO_START = 20


def find_free_port() -> int:
    """A port nobody listens on right now: the system picks one for a socket bound to 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# These make rich add colour codes to what the client prints, even into a pipe.
COLOUR_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def learner_environment() -> dict[str, str]:
    """This process's environment without settings that would change what a learner sees."""
    env = dict(os.environ)
    for name in list(env):
        # FLASK_APP or FLASK_RUN_PORT from outside would pick another app or port.
        if name.startswith("FLASK_"):
            del env[name]
    for name in COLOUR_VARIABLES:
        env.pop(name, None)
    env["PYTHONIOENCODING"] = "utf-8"  # the same output bytes on Windows as elsewhere
    return env


@pytest.fixture
def app() -> Flask:
    """The step's app, built by its factory in testing mode."""
    from app import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client: sends requests to the app without a network."""
    return app.test_client()


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment for processes started as a learner would start them."""
    return learner_environment()


@pytest.fixture
def unused_base_url() -> str:
    """A base URL where no server listens, to see what the client says then."""
    return f"http://127.0.0.1:{find_free_port()}"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Runs `flask run` in server/ on a free port, as a learner does; yields its base URL."""
    port = find_free_port()
    log_path = tmp_path_factory.mktemp("live_server") / "server.log"
    # The dev server logs every request: a file never fills up the way an unread pipe does.
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "run", "--port", str(port)],
            cwd=SERVER_DIR,
            env=learner_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_listening(process, port, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_listening(process: subprocess.Popen, port: int, log_path: Path) -> None:
    """Polls until the server accepts connections; fails with its output if it never does."""
    deadline = time.monotonic() + SECONDS_TO_START
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"`flask run` exited with code {process.returncode}:\n{log_path.read_text()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"`flask run` did not listen on port {port} within {SECONDS_TO_START} s:\n"
                    + log_path.read_text()
                )
            time.sleep(0.1)  # a short pause between attempts, not a guess at the start time


# Module-scoped, so that one run of the client, in a module-scoped fixture, can serve
# several tests.
@pytest.fixture(scope="module")
def run_client() -> Callable[..., subprocess.CompletedProcess]:
    """Runs `python client.py ARGS...` from client/, as a learner does, and returns the result."""
    environment = learner_environment()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "client.py", *args],
            cwd=CLIENT_DIR,
            env=environment,
            capture_output=True,
            encoding="utf-8",
            timeout=120,
        )

    return run


@pytest.fixture
def run_client_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., subprocess.CompletedProcess]:
    """Calls the client's main(ARGS) in this process and returns what `run_client` returns:
    the exit code and the output. Much faster than a new Python that imports requests and
    rich again; `run_client` is what proves the program itself."""
    for name in COLOUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> subprocess.CompletedProcess:
        # Imported here, not at the top: the root conftest.py swaps each step's modules in.
        from client import main

        capsys.readouterr()  # so that the result holds this run's output only
        try:
            returncode = main(list(args))
        except SystemExit as exiting:  # argparse exits with code 2 on a wrong command line
            returncode = exiting.code
        output = capsys.readouterr()
        return subprocess.CompletedProcess(["client.py", *args], returncode, output.out, output.err)

    return run


@pytest.fixture
def step_dir() -> Path:
    """The step's folder, 01_hello_world, wherever it was copied to."""
    return STEP_DIR
