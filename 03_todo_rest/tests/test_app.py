"""The todo API through Flask's test client: requests go straight to the app, no network.

These tests show how to test a Flask app in-process, on a few rules of server/app.py. The
contract suite in the workshop's root tests/ checks the whole API over real HTTP; the tests
here look at what is easier to see from inside the process: a fresh store for each test,
threads sharing one app, a bug forced into a route.
"""

import threading

import pytest

import app as todo_app


def create(client, **fields):
    """Creates a todo and returns its JSON."""
    response = client.post("/todos", json={"title": "walk the dog", **fields})
    assert response.status_code == 201, response.json
    return response.json


def test_create_answers_the_todo_with_location_and_etag(client):
    response = client.post("/todos", json={"title": "  walk the dog  ", "order": 3})

    assert response.status_code == 201
    assert response.json == {
        "id": 1,
        "title": "walk the dog",
        "completed": False,
        "order": 3,
        "version": 1,
        "url": "http://localhost/todos/1",
    }
    assert response.headers["Location"] == "http://localhost/todos/1"
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "   "}, "title"),
        ({"title": 7}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "completed": "true"}, "completed"),
        ({"title": "ok", "order": True}, "order"),
        ({"title": "ok", "order": 2**31}, "order"),
        ({"title": "ok", "id": 1}, "id"),
        ({"title": "ok", "colour": "red"}, "colour"),
    ],
)
def test_create_refuses_a_bad_field_and_names_it(client, body, field):
    response = client.post("/todos", json=body)

    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert [error["field"] for error in response.json["errors"]] == [field]
    assert client.get("/todos").json == [], "a refused todo must not be stored"


def test_if_none_match_with_the_current_etag_is_304_without_a_body(client):
    create(client)

    response = client.get("/todos/1", headers={"If-None-Match": '"1"'})

    assert response.status_code == 304
    assert response.headers["ETag"] == '"1"'
    assert response.data == b""


def test_if_match_with_an_old_etag_changes_nothing(client):
    create(client)
    client.patch("/todos/1", json={"completed": True})

    response = client.patch("/todos/1", json={"title": "mine"}, headers={"If-Match": '"1"'})

    assert response.status_code == 412
    assert client.get("/todos/1").json["title"] == "walk the dog"


def test_concurrent_creates_get_distinct_ids(app):
    """The dev server runs requests in threads; the store's lock keeps ids unique."""
    ids = []

    def create_some():
        client = app.test_client()
        for _ in range(25):
            ids.append(client.post("/todos", json={"title": "race"}).json["id"])

    threads = [threading.Thread(target=create_some) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(ids) == list(range(1, 201))


def test_an_unexpected_error_is_a_500_problem_and_is_logged(app, client, monkeypatch, caplog):
    # With TESTING on, Flask hands a bug to the test instead: here we want what a client sees.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    create(client)

    def broken(todo):
        raise RuntimeError("secret detail from inside the server")

    monkeypatch.setattr(todo_app, "todo_json", broken)
    response = client.get("/todos/1")

    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    assert "secret detail" not in response.get_data(as_text=True)
    assert "secret detail from inside the server" in caplog.text
