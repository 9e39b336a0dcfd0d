"""A todo the server has acknowledged (201 Created) survives the server's sudden death.

The server says 201 only after the database has committed the todo. This test writes a
stream of todos from several clients, kills the server and all its workers with SIGKILL
in the middle of it (no chance to clean up, as in a crash or `docker kill`), starts the
server again on the same database, and looks for every acknowledged todo.
"""

import threading

import requests

WRITERS = 4
KILL_AFTER_ACKNOWLEDGED = 40
TIMEOUT = 10  # seconds, for every request


def test_acknowledged_writes_survive_kill_9(start_server, database_url, wait_for):
    """Every todo answered with 201 before the kill is there after the restart."""
    server = start_server(DATABASE_URL=database_url, WEB_CONCURRENCY="4")
    acknowledged: dict[int, str] = {}  # id -> title
    lock = threading.Lock()
    killed = threading.Event()

    def write(writer: int) -> None:
        """Creates todos one after the other until the server dies."""
        number = 0
        while not killed.is_set():
            number += 1
            title = f"writer {writer}, todo {number}"
            try:
                response = requests.post(
                    f"{server.url}/todos", json={"title": title}, timeout=TIMEOUT
                )
            except requests.RequestException:
                continue  # the server is gone: this write was never acknowledged
            if response.status_code == 201:
                with lock:
                    acknowledged[response.json()["id"]] = title

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in writers:
        thread.start()
    wait_for(lambda: len(acknowledged) >= KILL_AFTER_ACKNOWLEDGED, seconds=30)
    server.kill()  # SIGKILL to the server and every worker, with writes in flight
    killed.set()
    for thread in writers:
        thread.join()
    assert len(acknowledged) >= KILL_AFTER_ACKNOWLEDGED, server.log()

    restarted = start_server(DATABASE_URL=database_url, WEB_CONCURRENCY="2")
    listed = requests.get(f"{restarted.url}/todos", params={"limit": 1000}, timeout=TIMEOUT)
    stored = {todo["id"]: todo["title"] for todo in listed.json()}
    lost = {number: title for number, title in acknowledged.items() if stored.get(number) != title}
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged todos were lost: {lost}"
