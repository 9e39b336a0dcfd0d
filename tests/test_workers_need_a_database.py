"""Why step 05 needs a database: gunicorn's workers share no memory.

gunicorn runs several worker processes, and any of them may take the next connection.
Step 03 keeps todos in the memory of the process that created them, so behind several
workers each worker has its own todos. Step 05's image keeps them in a database that
every worker reaches, and every request sees every todo.

To make the workers' answers certain rather than a matter of luck, the test makes four
requests that each hold a different worker at the same time: gunicorn's default (sync)
worker handles one request at a time, and a POST sent with `Expect: 100-continue` gets
its "100 Continue" only from a worker that has taken it and now waits for the body.
"""

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
STEP_03_SERVER = ROOT / "03_todo_rest" / "server"
STEP_05 = ROOT / "05_docker"
WORKERS = 4
TIMEOUT = 10  # seconds, for every request
OUTER_SETTINGS = (
    "DATABASE_URL",
    "API_TOKEN",
    "API_READ_TOKEN",
    "WEB_CONCURRENCY",
    "GUNICORN_CMD_ARGS",
)

pytestmark = pytest.mark.skipif(
    sys.platform == "win32",
    reason="gunicorn does not run on Windows; step 05 runs it in a container.",
)


@pytest.fixture
def start_gunicorn(
    tmp_path: Path, free_port: Callable[[], int], wait_until_serving: Callable[..., None]
) -> Iterator[Callable[..., str]]:
    """Starts gunicorn in a step's server folder; yields a function that returns its URL.

    Every server started is stopped, with all its workers, after the test.
    """
    processes: list[subprocess.Popen] = []

    def start(server_dir: Path, arguments: list[str], variables: dict[str, str]) -> str:
        port = free_port()
        # Settings left in the outer shell (FLASK_DEBUG, API_TOKEN...) would change the server.
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("FLASK_") and name not in OUTER_SETTINGS
        }
        environment.update(variables, PORT=str(port), PYTHONUNBUFFERED="1")
        arguments = [part.replace("{port}", str(port)) for part in arguments]
        log_path = tmp_path / f"gunicorn-{len(processes)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *arguments],
                cwd=server_dir,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # gunicorn and its workers in one process group
            )
        processes.append(process)
        # gunicorn accepts connections before its workers run, and each worker says
        # "Booting worker" once it does: the test needs all of them.
        wait_until_serving(
            process,
            port,
            log_path,
            f"gunicorn {' '.join(arguments)} in {server_dir}",
            ready=lambda: log_path.read_text(errors="replace").count("Booting worker") >= WORKERS,
        )
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def post_on_every_worker(base_url: str, titles: list[str]) -> list[dict]:
    """Creates one todo per title, each on a different worker; returns the todos created.

    Each POST is sent up to its headers and waits for "100 Continue", which comes from a
    worker busy with it alone; only when every POST holds a worker are the bodies sent.
    """
    port = int(base_url.rsplit(":", 1)[1])
    connections = []
    for title in titles:
        body = json.dumps({"title": title}).encode()
        connection = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        connection.sendall(
            b"POST /todos HTTP/1.1\r\n"
            + f"Host: 127.0.0.1:{port}\r\n".encode()
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n".encode()
            + b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        connections.append((connection, body))
    for connection, _ in connections:
        interim = connection.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
    created = []
    for connection, body in connections:
        with connection:
            connection.sendall(body)
            response = b""
            while chunk := connection.recv(65536):
                response += chunk
        head, _, content = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 201"), response
        created.append(json.loads(content))
    return created


def titles_listed(base_url: str) -> list[str]:
    """The titles GET /todos answers, asked on a new connection."""
    return [todo["title"] for todo in requests.get(f"{base_url}/todos", timeout=TIMEOUT).json()]


def test_in_memory_todos_differ_from_worker_to_worker(start_gunicorn):
    """Step 03 behind four workers: four todos created, and no request sees more than one."""
    url = start_gunicorn(
        STEP_03_SERVER,
        ["--workers", str(WORKERS), "--bind", "127.0.0.1:{port}", "app:create_app()"],
        {},
    )
    titles = [f"kept by worker {number}" for number in range(1, WORKERS + 1)]
    created = post_on_every_worker(url, titles)

    # Each worker counted from 1 in its own memory: four different todos, all with id 1.
    assert [todo["id"] for todo in created] == [1] * WORKERS
    for _ in range(12):
        listed = titles_listed(url)
        assert len(listed) == 1 and listed[0] in titles
    # Todo 2 was never created anywhere, although four todos were.
    assert requests.get(f"{url}/todos/2", timeout=TIMEOUT).status_code == 404


def test_a_database_gives_every_worker_the_same_todos(start_gunicorn, tmp_path):
    """Step 05's image command behind four workers: every request sees all four todos."""
    dockerfile = (STEP_05 / "Dockerfile").read_text(encoding="utf-8")
    (command,) = [
        json.loads(line[4:]) for line in dockerfile.splitlines() if line.startswith("CMD ")
    ]
    assert command[0] == "gunicorn"
    url = start_gunicorn(
        STEP_05 / "server",
        command[1:],
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'todos.sqlite3'}",
            "WEB_CONCURRENCY": str(WORKERS),
        },
    )
    titles = [f"saved by worker {number}" for number in range(1, WORKERS + 1)]
    created = post_on_every_worker(url, titles)

    ids = sorted(todo["id"] for todo in created)
    assert ids == list(range(1, WORKERS + 1))
    for _ in range(12):
        assert sorted(titles_listed(url)) == titles
    for todo_id in ids:
        assert requests.get(f"{url}/todos/{todo_id}", timeout=TIMEOUT).status_code == 200
