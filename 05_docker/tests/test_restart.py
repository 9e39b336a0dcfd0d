"""Todos survive a restart: the real server, started twice on the same SQLite file.

This is what step 03 could not do: its todos lived in the memory of one process. Here
`flask run` is started as a learner starts it, with DATABASE_URL naming the file.
"""

import requests

TIMEOUT = 10  # seconds; no request may wait forever


def test_todos_survive_a_restart_and_ids_go_on(server_on, db_path):
    with server_on(db_path) as first:
        for title in ("walk the dog", "feed the cat", "water the plants"):
            response = requests.post(f"{first}/todos", json={"title": title}, timeout=TIMEOUT)
            assert response.status_code == 201, response.text
        done = requests.patch(f"{first}/todos/1", json={"completed": True}, timeout=TIMEOUT)
        assert done.status_code == 200, done.text
        # Deleting the newest todo: its id, 3, must still not come back after the restart.
        assert requests.delete(f"{first}/todos/3", timeout=TIMEOUT).status_code == 204

    with server_on(db_path) as second:
        todos = requests.get(f"{second}/todos", timeout=TIMEOUT).json()
        created = requests.post(f"{second}/todos", json={"title": "new"}, timeout=TIMEOUT)

    assert [(t["id"], t["title"], t["completed"], t["version"]) for t in todos] == [
        (1, "walk the dog", True, 2),
        (2, "feed the cat", False, 1),
    ]
    assert todos[0]["url"] == f"{second}/todos/1", "urls follow the new server's address"
    assert created.status_code == 201, created.text
    assert created.json()["id"] == 4


def test_a_server_started_on_another_file_has_its_own_todos(server_on, tmp_path):
    """DATABASE_URL chooses the file: a second file starts empty."""
    with server_on(tmp_path / "first.sqlite3") as first:
        requests.post(f"{first}/todos", json={"title": "walk the dog"}, timeout=TIMEOUT)

        with server_on(tmp_path / "other.sqlite3") as other:
            assert requests.get(f"{other}/todos", timeout=TIMEOUT).json() == []
    assert (tmp_path / "other.sqlite3").is_file()
