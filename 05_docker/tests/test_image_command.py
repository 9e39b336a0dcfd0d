"""The image's command, run on this machine: granian with several workers serves the API.

What runs in the container is the Dockerfile's CMD in server/. These tests start exactly
that command here, with SQLite and with PostgreSQL, and talk HTTP to it.
"""

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest
import requests

TIMEOUT = 10  # seconds, for every request
SERVER_DIR = Path(__file__).resolve().parent.parent / "server"


def post_todo(base_url: str, title: str) -> requests.Response:
    """Creates a todo on a new connection, as a new client would."""
    return requests.post(f"{base_url}/todos", json={"title": title}, timeout=TIMEOUT)


def child_processes(pid: int) -> list[bytes]:
    """The ids of a process's children."""
    return subprocess.run(["pgrep", "-P", str(pid)], capture_output=True).stdout.split()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def four_workers(request: pytest.FixtureRequest, start_module_server, tmp_path_factory):
    """The image's command with four workers, on each database the image supports.

    One server per database for the tests below, which starts and stops once: each test
    deletes every todo first (`server`), so no test sees another's todos.
    """
    if request.param == "postgres":
        database_url = request.getfixturevalue("module_postgres_database")
    else:
        database_url = f"sqlite:///{tmp_path_factory.mktemp('four-workers') / 'todos.sqlite3'}"
    return start_module_server(DATABASE_URL=database_url, WEB_CONCURRENCY="4")


@pytest.fixture
def server(four_workers):
    """The shared server with four workers, holding no todo."""
    requests.delete(f"{four_workers.url}/todos", timeout=TIMEOUT).raise_for_status()
    return four_workers


def test_serves_the_api_with_several_workers(server):
    """Every worker answers from the same database: each todo is seen by every request."""
    assert requests.get(f"{server.url}/health", timeout=TIMEOUT).json() == {"status": "ok"}
    ready = requests.get(f"{server.url}/ready", timeout=TIMEOUT)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

    created = [post_todo(server.url, f"todo {number}") for number in range(12)]
    assert [response.status_code for response in created] == [201] * 12
    ids = [response.json()["id"] for response in created]
    assert ids == sorted(ids) and len(set(ids)) == 12, "ids ascend and are never repeated"
    # Each request below is a new connection, which any of the four workers may take.
    for todo_id in ids:
        assert requests.get(f"{server.url}/todos/{todo_id}", timeout=TIMEOUT).status_code == 200
    for _ in range(8):
        listed = requests.get(f"{server.url}/todos", timeout=TIMEOUT)
        assert listed.headers["X-Total-Count"] == "12"
        assert [todo["id"] for todo in listed.json()] == ids


def test_listens_where_the_image_says_with_the_workers_asked_for(
    start_server, dockerfile, wait_for
):
    """The image's HOST=0.0.0.0 is what lets `docker run -p 8000:8000` reach the server."""
    (host,) = re.findall(r"\bHOST=(\S+)", " ".join(a for n, a in dockerfile if n == "ENV"))
    assert host == "0.0.0.0"
    server = start_server(HOST=host, WEB_CONCURRENCY="3")
    assert f"Listening at: http://0.0.0.0:{server.port}" in server.log()
    # The first worker answers before the last has started.
    wait_for(lambda: server.log().count("Started worker-") == 3)
    assert server.log().count("Started worker-") == 3


def test_on_a_laptop_it_listens_only_to_this_machine(start_server):
    """Without the image's HOST, `python serve.py` keeps to 127.0.0.1: not the Wi-Fi."""
    server = start_server()
    assert f"Listening at: http://127.0.0.1:{server.port}" in server.log()


def test_a_refused_request_whose_body_comes_late_keeps_its_connection(server):
    """A 415 answers before the body is read. On a slow network the body comes after the
    headers, and the connection must still serve the client's next request."""
    body = b'{"title": "late"}'
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    connection.putrequest("POST", "/todos")
    connection.putheader("Content-Type", "text/plain")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    time.sleep(0.2)  # the headers are in, the body is not
    connection.send(body)
    refused = connection.getresponse()
    refused.read()
    connection.request("GET", "/todos")  # on the same connection
    listed = connection.getresponse()
    connection.close()
    assert (refused.status, listed.status) == (415, 200)


def test_racing_writers_across_workers_one_wins(server):
    """Two clients editing the same version of a todo: one wins, the others get 409."""
    todo = post_todo(server.url, "race").json()

    def rename(number: int) -> requests.Response:
        body = {"title": f"renamed by {number}", "version": todo["version"]}
        return requests.patch(todo["url"], json=body, timeout=TIMEOUT)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(response.status_code for response in pool.map(rename, range(8)))
    assert statuses == [200] + [409] * 7
    assert requests.get(todo["url"], timeout=TIMEOUT).json()["version"] == 2


def test_writes_at_once_get_different_ids(server):
    """Workers creating todos at the same moment never hand out the same id."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda n: post_todo(server.url, f"at once {n}"), range(24)))
    assert [response.status_code for response in created] == [201] * 24
    assert len({response.json()["id"] for response in created}) == 24
    listed = requests.get(f"{server.url}/todos", timeout=TIMEOUT)
    assert listed.headers["X-Total-Count"] == "24"


def test_an_unsupported_database_url_stops_the_server(image_command, server_environment):
    """A typo in DATABASE_URL is a clear message at start-up, not a server that half works."""
    environment = {
        **server_environment,
        "DATABASE_URL": "mysql://todo:hunter2-secret@db/todo",
        "PORT": "0",
    }
    finished = subprocess.run(
        image_command,
        cwd=SERVER_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode != 0
    assert "DATABASE_URL must be sqlite:///<file> or postgresql://" in output
    assert "hunter2-secret" not in output, "the password must not reach the logs"


def test_debug_cannot_be_switched_on(start_server, tmp_path):
    """FLASK_DEBUG=1 changes nothing: a bug is a 500 problem document, never a debugger."""
    # A database whose todos table is not the one the server expects: inserting fails
    # with an error nobody planned for, as a bug would.
    broken = tmp_path / "broken.sqlite3"
    with sqlite3.connect(broken) as connection:
        connection.execute("CREATE TABLE todos (id INTEGER PRIMARY KEY, completed INTEGER)")
    server = start_server(DATABASE_URL=f"sqlite:///{broken}", FLASK_DEBUG="1")

    response = requests.post(f"{server.url}/todos", json={"title": "boom"}, timeout=TIMEOUT)
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (problem["title"], problem["status"]) == ("Internal Server Error", 500)
    assert "todos" not in problem["detail"], "no SQL, no table, no traceback for the client"
    # The Werkzeug debugger's console would be served here in debug mode.
    console = requests.get(f"{server.url}/console", timeout=TIMEOUT)
    assert console.status_code == 404
    assert console.headers["Content-Type"] == "application/problem+json"
    # The details went to the log instead, as one JSON line with the traceback inside.
    errors = [
        line
        for line in map(json.loads, server.log().splitlines())
        if line["level"] == "ERROR" and line.get("request_id") == response.headers["X-Request-ID"]
    ]
    assert len(errors) == 1 and "no column" not in response.text
    assert "has no column named title" in errors[0]["exception"]


def test_every_log_line_is_json_with_the_request_id(start_server):
    """Each request is one JSON line, with an id taken from X-Request-ID or made up."""
    server = start_server(WEB_CONCURRENCY="2")
    kept = requests.get(
        f"{server.url}/todos", headers={"X-Request-ID": "checkout-42.a:b_c"}, timeout=TIMEOUT
    )
    created = requests.post(
        f"{server.url}/todos",
        json={"title": "log me"},
        headers={"X-Request-ID": "not a sane id\u00e9"},
        timeout=TIMEOUT,
    )
    missing = requests.get(f"{server.url}/todos/999", timeout=TIMEOUT)
    assert kept.headers["X-Request-ID"] == "checkout-42.a:b_c"
    made_up = [created.headers["X-Request-ID"], missing.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in made_up)
    assert made_up[0] != made_up[1]
    server.stop()  # the server's last lines are written too

    lines = server.log().splitlines()
    assert lines, "the server wrote nothing"
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"This log line is not JSON: {line!r}")
    requests_logged = {record["request_id"]: record for record in records if "status" in record}
    kept_line = requests_logged["checkout-42.a:b_c"]
    assert (kept_line["method"], kept_line["path"], kept_line["status"]) == ("GET", "/todos", 200)
    assert kept_line["duration_ms"] >= 0
    assert requests_logged[made_up[0]]["status"] == 201
    assert requests_logged[made_up[1]]["status"] == 404
    for record in records:
        assert {"time", "level", "message"} <= record.keys()
    assert any(record["message"].startswith("Starting granian") for record in records)


def test_a_request_in_progress_finishes_after_sigterm(start_server):
    """`docker stop` sends SIGTERM: the todo being sent still gets its 201, then it stops."""
    server = start_server()
    body = json.dumps({"title": "sent while stopping"}).encode()
    head = (
        f"POST /todos HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as connection:
        connection.sendall(head.encode() + body[:10])  # the request has begun...
        time.sleep(0.2)
        server.process.send_signal(signal.SIGTERM)  # ...when the stop comes, as from Docker
        time.sleep(0.5)
        connection.sendall(body[10:])
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["title"] == "sent while stopping"
    assert server.process.wait(timeout=TIMEOUT) == 0, "it stops by itself, and cleanly"


def test_a_stop_while_the_workers_start_is_quick(image_command, server_environment, wait_for):
    """`docker stop` right after `docker run`: it stops at once, not after the 30 s allowed
    to requests in progress (there are none)."""
    process = subprocess.Popen(
        image_command,
        cwd=SERVER_DIR,
        env={**server_environment, "PORT": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: len(child_processes(process.pid)) >= 2)
        process.send_signal(signal.SIGTERM)  # the two workers are starting now
        assert process.wait(timeout=10) == 0
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_worker_that_dies_is_replaced(start_server, wait_for):
    """A worker killed by a bug or the kernel is started again, and every request is answered."""
    server = start_server()
    # worker-2 may answer first: kill worker-1 once it runs, not while it starts.
    wait_for(lambda: "Started worker-1" in server.log())
    (first_pid,) = re.findall(r"Spawning worker-1 with PID: (\d+)", server.log())
    os.kill(int(first_pid), signal.SIGKILL)
    wait_for(lambda: server.log().count("Started worker-1") == 2)
    assert server.log().count("Started worker-1") == 2, "worker-1 was started again"
    for _ in range(20):  # new connections, which either worker may take
        assert requests.get(f"{server.url}/health", timeout=TIMEOUT).status_code == 200
