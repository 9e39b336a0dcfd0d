"""The benchmark's load generator: keep-alive connections spoken by hand, a closed loop of
requests for a fixed time, and the todos every server is seeded with.

It is kept small so that it leaves the cores to the servers it measures; `IDLE_SERVER`, a
server that does no work, measures what it can reach at most on this machine.
"""

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field


class BenchError(Exception):
    """Something the benchmark cannot go on with, said in one sentence."""


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
