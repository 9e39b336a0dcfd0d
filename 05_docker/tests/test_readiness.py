"""/health and /ready while the database comes and goes.

In compose, the API may start before PostgreSQL answers, and a database may restart
under a running API. The API must start anyway, say "not ready" (503) meanwhile, and
become ready by itself once the database answers.
"""

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

TIMEOUT = 10  # seconds, for every request
READY_WITHIN_SECONDS = 30


class DatabaseSwitch:
    """A local port that leads to PostgreSQL while switched on, and to nothing while off.

    Off, connections to it are refused, as when the database is down; turning it off
    also cuts the connections already made, as a database restart does.
    """

    def __init__(self, host: str, port: int) -> None:
        self.database = (host, port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.on = False
        self.accepting: threading.Thread | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def switch_on(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.1)  # so that the accepting thread notices when it is switched off
        self.on = True
        self.accepting = threading.Thread(target=self.accept, args=(listener,), daemon=True)
        self.accepting.start()

    def accept(self, listener: socket.socket) -> None:
        with listener:
            while self.on:
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                with self.lock:
                    if not self.on:  # switched off while this connection came in
                        close(client)
                        return
                    client.settimeout(None)
                    database = socket.create_connection(self.database)
                    self.sockets += [client, database]
                for source, target in ((client, database), (database, client)):
                    threading.Thread(target=forward, args=(source, target), daemon=True).start()

    def switch_off(self) -> None:
        with self.lock:
            self.on = False
            for connection in self.sockets:
                close(connection)
            self.sockets.clear()
        if self.accepting is not None:
            self.accepting.join()  # the listener is closed: connections are refused
            self.accepting = None


def forward(source: socket.socket, target: socket.socket) -> None:
    """Copies bytes from one socket to the other until either side closes."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        close(source)
        close(target)


def close(connection: socket.socket) -> None:
    """Closes a socket at once, telling the other side."""
    with suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()


@pytest.fixture
def database_switch(postgres_database: str) -> Iterator[tuple[DatabaseSwitch, str]]:
    """A switch in front of the test database, off at first, and the DATABASE_URL through it."""
    parts = urlsplit(postgres_database)
    switch = DatabaseSwitch(parts.hostname or "127.0.0.1", parts.port or 5432)
    user_info = parts.netloc.rpartition("@")[0]
    netloc = f"{user_info}@127.0.0.1:{switch.port}"
    yield switch, urlunsplit(parts._replace(netloc=netloc))
    switch.switch_off()


def assert_unavailable(response: requests.Response) -> None:
    """A 503 problem document that tells the client to retry: never a 500 or a traceback."""
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    assert response.json()["status"] == 503
    assert "Traceback" not in response.text


def wait_until_ready(base_url: str) -> requests.Response:
    """Polls /ready until it says 200, or fails after READY_WITHIN_SECONDS."""
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while True:
        response = requests.get(f"{base_url}/ready", timeout=TIMEOUT)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_starts_while_the_database_is_down_and_gets_ready_when_it_answers(
    start_server, database_switch
):
    """Down at start: serving but not ready; up: ready; down again: not ready again."""
    switch, database_url = database_switch
    server = start_server(DATABASE_URL=database_url, WEB_CONCURRENCY="2")

    health = requests.get(f"{server.url}/health", timeout=TIMEOUT)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    # Each answer waits 3 s for the database first (WAIT_SECONDS in repository.py): sent
    # at once, these two go to the two workers and wait together.
    with ThreadPoolExecutor(max_workers=2) as pool:
        ready, todos = pool.map(
            lambda path: requests.get(f"{server.url}{path}", timeout=TIMEOUT), ["/ready", "/todos"]
        )
    assert_unavailable(ready)
    assert_unavailable(todos)

    switch.switch_on()
    ready = wait_until_ready(server.url)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    created = requests.post(f"{server.url}/todos", json={"title": "at last"}, timeout=TIMEOUT)
    assert created.status_code == 201

    switch.switch_off()  # the database restarts: the pooled connections break
    assert_unavailable(requests.get(f"{server.url}/ready", timeout=TIMEOUT))
    assert requests.get(f"{server.url}/health", timeout=TIMEOUT).status_code == 200

    switch.switch_on()
    assert wait_until_ready(server.url).status_code == 200
    listed = requests.get(f"{server.url}/todos", timeout=TIMEOUT)
    assert [todo["title"] for todo in listed.json()] == ["at last"]


def test_ready_with_sqlite(client):
    """A SQLite file is always at hand: ready as soon as the app is."""
    response = client.get("/ready")
    assert (response.status_code, response.json) == (200, {"status": "ready"})
