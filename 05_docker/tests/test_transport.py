"""The transport layer through Flask's test client: what HTTP adds to the service.

The app is the real one (its service, and SQLite in a temporary folder), driven without a
network. The root contract suite checks every rule over real HTTP; here each test shows one
job of the transport: a route's status and headers, how a service error becomes a status,
how a header or a body is read before the service is called, and the two endpoints a
load balancer asks: /health and /ready.
"""

import logging

import pytest

from model import (
    InvalidTodo,
    PreconditionFailed,
    StaleVersion,
    StorageUnavailable,
    TodoError,
    TodoNotFound,
)

ALL_TODOS_METHODS = "DELETE, GET, HEAD, OPTIONS, POST"
ONE_TODO_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
CORS_REQUEST_HEADERS = "Content-Type, If-Match, If-None-Match, Authorization"


def create(client, title="walk the dog", **fields):
    """Creates a todo through the API and returns its JSON."""
    response = client.post("/todos", json={"title": title, **fields})
    assert response.status_code == 201, response.json
    return response.json


def assert_problem(response, status, fields=()):
    """The response is an RFC 9457 problem document of this status, naming these fields."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.json
    assert (body["type"], body["status"]) == ("about:blank", status)
    assert body["title"]
    assert body["detail"]
    assert [error["field"] for error in body.get("errors", [])] == list(fields)
    return body


# --- Each route: its status and the headers that matter -----------------------------------


def test_health_says_ok(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_ready_says_ready_when_the_database_answers(client):
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json == {"status": "ready"}


def test_post_creates_a_todo_with_location_and_etag(client):
    response = client.post("/todos", json={"title": "walk the dog", "order": 3})

    assert response.status_code == 201
    assert response.json == {
        "id": 1,
        "title": "walk the dog",
        "completed": False,
        "order": 3,
        "url": "http://localhost/todos/1",
        "version": 1,
    }
    assert response.headers["Location"] == "http://localhost/todos/1"
    assert response.headers["ETag"] == '"1"'


def test_list_answers_one_page_with_the_total_and_links(client):
    for number in range(1, 6):
        create(client, f"todo {number}", completed=number % 2 == 0)

    response = client.get("/todos?completed=false&limit=1&offset=1")

    assert response.status_code == 200
    assert [todo["id"] for todo in response.json] == [3]
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["Link"] == (
        '<http://localhost/todos?completed=false&limit=1&offset=2>; rel="next", '
        '<http://localhost/todos?completed=false&limit=1&offset=0>; rel="prev"'
    )


@pytest.mark.parametrize("if_none_match", ['"1"', 'W/"1"', '"7", "1"', "*"])
def test_get_with_the_current_etag_is_304_without_a_body(client, if_none_match):
    create(client)

    response = client.get("/todos/1", headers={"If-None-Match": if_none_match})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == '"1"'


def test_put_answers_the_new_state_with_its_etag(client):
    create(client, order=5)

    response = client.put("/todos/1", json={"title": "feed the cat", "completed": True})

    assert response.status_code == 200
    assert response.json["order"] is None
    assert response.headers["ETag"] == '"2"'


def test_patch_takes_merge_patch_json(client):
    create(client)

    response = client.patch(
        "/todos/1", data='{"completed": true}', content_type="application/merge-patch+json"
    )

    assert response.status_code == 200
    assert response.json["completed"] is True


@pytest.mark.parametrize("path", ["/todos/1", "/todos"])
def test_delete_is_204_with_no_body_and_no_content_type(client, path):
    create(client)

    response = client.delete(path)

    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers


@pytest.mark.parametrize(("path", "methods"), [("/todos", ALL_TODOS_METHODS), ("/todos/1", None)])
def test_options_answers_allow_and_the_cors_preflight(client, path, methods):
    create(client)
    preflight = {"Origin": "http://example.com", "Access-Control-Request-Method": "PUT"}

    response = client.options(path, headers=preflight)

    assert response.status_code == 200
    allowed = ", ".join(sorted(method.strip() for method in response.headers["Allow"].split(",")))
    assert allowed == (methods or ONE_TODO_METHODS)
    assert response.headers["Access-Control-Allow-Methods"] == response.headers["Allow"]
    assert response.headers["Access-Control-Allow-Headers"] == CORS_REQUEST_HEADERS


# --- The service's errors become statuses -------------------------------------------------

# Each of the service's own errors, and the status the transport must give it.
SERVICE_ERRORS = [
    pytest.param(TodoNotFound(7), 404, id="TodoNotFound"),
    pytest.param(InvalidTodo([("title", "must be a non-empty string")]), 400, id="InvalidTodo"),
    pytest.param(StaleVersion(sent=1, current=2), 409, id="StaleVersion"),
    pytest.param(PreconditionFailed(), 412, id="PreconditionFailed"),
    pytest.param(StorageUnavailable("connection to db:5432 refused"), 503, id="StorageUnavailable"),
]


def test_the_table_covers_every_error_of_the_service():
    """A new error in model.py needs a row above, and a status in transport.py."""
    tested = {type(param.values[0]) for param in SERVICE_ERRORS}

    assert tested == set(TodoError.__subclasses__())


@pytest.mark.parametrize(("error", "status"), SERVICE_ERRORS)
def test_each_service_error_becomes_its_status_as_a_problem(
    app, client, monkeypatch, error, status
):
    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(app.extensions["todo_service"], "get_todo", refuse)

    response = client.get("/todos/7")

    named = [field for field, _ in getattr(error, "errors", [])]
    body = assert_problem(response, status, named)
    if status != 503:
        assert body["detail"] == str(error)


@pytest.mark.parametrize(
    ("method_of_the_service", "path"), [("list_todos", "/todos"), ("check_storage", "/ready")]
)
def test_a_database_that_does_not_answer_is_503_with_retry_after(
    app, client, monkeypatch, method_of_the_service, path
):
    """Try again later, and nothing about the database: its address stays in the log."""

    def unavailable(*args, **kwargs):
        raise StorageUnavailable("PostgreSQL does not answer: connection to db:5432 refused")

    monkeypatch.setattr(app.extensions["todo_service"], method_of_the_service, unavailable)

    response = client.get(path)

    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"
    assert "db:5432" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("if_match", "status"),
    [('"2"', 200), ('"1", "2"', 200), ("*", 200), ('"1"', 412), ('W/"2"', 412), ("2", 412)],
)
def test_if_match_names_the_versions_a_change_is_allowed_at(client, if_match, status):
    """Strong comparison: only "2" names version 2; W/"2" and a bare 2 name no version."""
    create(client)
    client.patch("/todos/1", json={"completed": True})  # now at version 2

    response = client.patch("/todos/1", json={"title": "mine"}, headers={"If-Match": if_match})

    assert response.status_code == status


def test_checks_come_in_the_contracts_order(client):
    """404, then 415, then 400 for the body, then 412 for If-Match, then 409 for version."""
    create(client)
    client.patch("/todos/1", json={"completed": True})  # now at version 2
    stale = {"If-Match": '"1"'}

    assert client.put("/todos/5", data="x", content_type="text/plain").status_code == 404
    assert client.put("/todos/1", data="{", content_type="text/plain").status_code == 415
    assert client.put("/todos/1", json={"title": ""}, headers=stale).status_code == 400
    assert client.patch("/todos/1", json={"version": 1}, headers=stale).status_code == 412
    assert client.patch("/todos/1", json={"version": 1}).status_code == 409


# --- What is refused before the service is called -----------------------------------------


@pytest.mark.parametrize(
    ("method", "content_type"),
    [("POST", None), ("POST", "text/plain"), ("PUT", "application/merge-patch+json")],
)
def test_a_body_that_is_not_labelled_json_is_415(client, method, content_type):
    create(client)
    path = "/todos" if method == "POST" else "/todos/1"
    headers = {"Content-Type": content_type} if content_type else {}

    response = client.open(path, method=method, data='{"title": "x"}', headers=headers)

    assert_problem(response, 415)


@pytest.mark.parametrize("body", ["", '{"title": ', '["walk the dog"]', "null"])
def test_a_body_that_is_not_a_json_object_is_400(client, body):
    response = client.post("/todos", data=body, content_type="application/json")

    assert_problem(response, 400)


@pytest.mark.parametrize("query", ["completed=yes", "limit=0", "limit=abc", "offset=-1"])
def test_a_query_parameter_out_of_range_is_400_naming_it(client, query):
    response = client.get(f"/todos?{query}")

    assert_problem(response, 400, [query.split("=")[0]])


def test_a_body_over_64_kib_is_413(client):
    body = '{"title": "' + "x" * (64 * 1024) + '"}'

    response = client.post("/todos", data=body, content_type="application/json")

    assert_problem(response, 413)


def test_a_method_a_path_does_not_take_is_405_with_allow(client):
    response = client.put("/todos")

    assert_problem(response, 405)
    assert response.headers["Allow"] == ALL_TODOS_METHODS


@pytest.mark.parametrize("path", ["/nothing", "/todos/1/", "/todos/abc"])
def test_an_unknown_path_is_404(client, path):
    create(client)

    assert_problem(client.get(path), 404)


def test_an_unexpected_error_is_a_500_problem_and_is_logged(app, client, monkeypatch, caplog):
    secret = "no such column: secret_column in /srv/data/todos.sqlite3"

    def crash(*args, **kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(app.extensions["todo_service"], "list_todos", crash)
    app.testing = False  # in testing mode Flask hands the error to the test instead

    with caplog.at_level(logging.ERROR):
        response = client.get("/todos")

    assert_problem(response, 500)
    text = response.get_data(as_text=True)
    for leak in ("secret", "sqlite3", "Traceback", ".py"):
        assert leak not in text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert secret in caplog.text, "the details are in the server's log"
