"""Why step 05 needs a database: a server's workers share no memory.

granian (like gunicorn) runs several worker processes, and any of them may take the next
connection. Step 03 keeps todos in the memory of the process that created them, so behind
several workers each worker has its own todos. Step 05's image keeps them in a database
that every worker reaches, and every request sees every todo.

Which worker takes a connection is up to the operating system. So the first test sends
todos on new connections until two workers have answered: each counts from 1 in its own
memory, so the same id comes back twice, for two different todos.
"""

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
STEP_03_SERVER = ROOT / "03_todo_rest" / "server"
STEP_05 = ROOT / "05_docker"
WORKERS = 4
TIMEOUT = 10  # seconds, for every request
OUTER_SETTINGS = ("DATABASE_URL", "API_TOKEN", "API_READ_TOKEN", "HOST", "WEB_CONCURRENCY")

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="granian runs one worker on Windows; these tests need four"
)


@pytest.fixture
def start_server(
    tmp_path: Path,
    free_port: Callable[[], int],
    serving: Callable[..., AbstractContextManager[str]],
) -> Iterator[Callable[..., str]]:
    """Starts a server in a step's server folder; yields a function that returns its URL.

    Every server started is stopped, with all its workers, after the test.
    """
    with ExitStack() as servers:

        def start(server_dir: Path, command: list[str], variables: dict[str, str]) -> str:
            port = free_port()
            # Settings left in the outer shell (FLASK_DEBUG, API_TOKEN...) would change it.
            environment = {
                name: value
                for name, value in os.environ.items()
                if not name.startswith("FLASK_") and name not in OUTER_SETTINGS
            }
            environment.update(variables, PORT=str(port), PYTHONUNBUFFERED="1")
            command = [part.replace("{port}", str(port)) for part in command]
            log_path = tmp_path / f"server-{port}.log"
            # granian accepts connections before its workers run, and each worker says
            # "Started worker" once it does: the test needs all of them.
            return servers.enter_context(
                serving(
                    [sys.executable, *command],
                    port,
                    log_path,
                    f"{' '.join(command)} in {server_dir}",
                    cwd=server_dir,
                    env=environment,
                    ready=lambda: (
                        log_path.read_text(errors="replace").count("Started worker") >= WORKERS
                    ),
                )
            )

        yield start


def post_todo(base_url: str, title: str) -> dict:
    """Creates a todo on a new connection, which any worker may take."""
    response = requests.post(f"{base_url}/todos", json={"title": title}, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    return response.json()


def titles_listed(base_url: str) -> set[str]:
    """The titles GET /todos answers, asked on a new connection."""
    return {todo["title"] for todo in requests.get(f"{base_url}/todos", timeout=TIMEOUT).json()}


def test_in_memory_todos_differ_from_worker_to_worker(start_server):
    """Step 03 behind four workers: two todos get the same id, and no list shows both."""
    url = start_server(
        STEP_03_SERVER,
        # As a learner would type it: granian --interface wsgi --factory --workers 4 ...
        [
            *("-m", "granian", "--interface", "wsgi", "--factory", "--workers", str(WORKERS)),
            *("--port", "{port}", "app:create_app"),
        ],
        {},
    )
    first_with_id: dict[int, dict] = {}
    for number in range(1, 41):
        todo = post_todo(url, f"todo {number}")
        if todo["id"] in first_with_id:
            break
        first_with_id[todo["id"]] = todo
    else:
        pytest.fail("40 todos in a row were created by one worker")
    # Two workers each counted from 1 in their own memory: one id, two different todos.
    twin = first_with_id[todo["id"]]
    assert twin["title"] != todo["title"]
    for _ in range(12):
        assert not {twin["title"], todo["title"]} <= titles_listed(url), "no worker has both"


def test_a_database_gives_every_worker_the_same_todos(start_server, tmp_path):
    """Step 05's image command behind four workers: every request sees every todo."""
    dockerfile = (STEP_05 / "Dockerfile").read_text(encoding="utf-8")
    (command,) = [
        json.loads(line[4:]) for line in dockerfile.splitlines() if line.startswith("CMD ")
    ]
    assert command[0] == "python"
    url = start_server(
        STEP_05 / "server",
        command[1:],
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'todos.sqlite3'}",
            "WEB_CONCURRENCY": str(WORKERS),
        },
    )
    titles = {f"saved by any worker {number}" for number in range(12)}
    ids = [post_todo(url, title)["id"] for title in sorted(titles)]
    assert ids == list(range(1, 13)), "one count of ids, whichever worker answers"
    for _ in range(12):
        assert titles_listed(url) == titles
