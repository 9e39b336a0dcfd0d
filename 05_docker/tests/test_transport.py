"""The transport layer through Flask's test client: routes, statuses, headers and problems.

The app is the real one (its service, and SQLite in a temporary folder), driven without a
network. What is checked here is what HTTP adds: status codes, the headers that matter,
problem documents, and how each of the service's errors, and a database that does not
answer, becomes a status.
"""

import logging

import pytest

from repository import StorageUnavailable
from service import InvalidTodo, PreconditionFailed, StaleVersion, TodoError, TodoNotFound

ALL_TODOS_METHODS = "DELETE, GET, HEAD, OPTIONS, POST"
ONE_TODO_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
CORS_REQUEST_HEADERS = "Content-Type, If-Match, If-None-Match, Authorization"
CORS_EXPOSED_HEADERS = "Location, ETag, Link, X-Total-Count"


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
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert [error["field"] for error in body.get("errors", [])] == list(fields)
    return body


# --- The routes ---------------------------------------------------------------------------


def test_health_says_ok(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_options_on_health_and_ready_lists_their_methods(client, path):
    """The contract: OPTIONS on any path says which methods it allows."""
    response = client.options(path)

    assert response.status_code in (200, 204), response.get_data(as_text=True)
    allowed = {method.strip() for method in response.headers.get("Allow", "").split(",")}
    assert {"GET", "HEAD", "OPTIONS"} <= allowed


def test_post_creates_a_todo_with_location_and_etag(client):
    response = client.post("/todos", json={"title": "  walk the dog  ", "order": 3})

    assert response.status_code == 201
    assert response.content_type == "application/json"
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


def test_the_url_follows_the_host_the_client_used(client):
    todo = client.post(
        "/todos", json={"title": "walk the dog"}, base_url="https://todos.example:8443"
    ).json

    assert todo["url"] == "https://todos.example:8443/todos/1"


def test_titles_are_sent_as_utf8_not_escaped(client):
    create(client, "café 🐶")

    assert "café 🐶".encode() in client.get("/todos/1").data


def test_get_one_answers_it_with_its_etag(client):
    created = create(client)

    response = client.get("/todos/1")

    assert response.status_code == 200
    assert response.json == created
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize("if_none_match", ['"1"', 'W/"1"', '"7", "1"', "*"])
def test_get_with_the_current_etag_is_304_without_a_body(client, if_none_match):
    create(client)

    response = client.get("/todos/1", headers={"If-None-Match": if_none_match})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == '"1"'


def test_get_with_an_old_etag_answers_the_todo(client):
    create(client)
    client.patch("/todos/1", json={"completed": True})

    response = client.get("/todos/1", headers={"If-None-Match": '"1"'})

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'


@pytest.mark.parametrize("path", ["/todos", "/todos/1", "/health", "/ready"])
def test_head_has_the_headers_of_get_and_no_body(client, path):
    create(client)

    got, head = client.get(path), client.head(path)

    assert head.status_code == got.status_code == 200
    assert head.data == b""
    for name in ("Content-Type", "Content-Length", "ETag", "X-Total-Count"):
        assert head.headers.get(name) == got.headers.get(name)


def test_list_answers_todos_by_id_with_the_total(client):
    for title in ("one", "two", "three"):
        create(client, title)

    response = client.get("/todos")

    assert response.status_code == 200
    assert [todo["title"] for todo in response.json] == ["one", "two", "three"]
    assert response.headers["X-Total-Count"] == "3"
    assert "Link" not in response.headers, "one page: no next, no prev"


@pytest.mark.parametrize(("completed", "titles"), [("true", ["two"]), ("false", ["one", "three"])])
def test_list_filters_by_completed(client, completed, titles):
    for title in ("one", "two", "three"):
        create(client, title, completed=title == "two")

    response = client.get(f"/todos?completed={completed}")

    assert [todo["title"] for todo in response.json] == titles
    assert response.headers["X-Total-Count"] == str(len(titles))


@pytest.mark.parametrize(
    ("query", "ids", "link"),
    [
        pytest.param(
            "limit=2", [1, 2], '<http://localhost/todos?limit=2&offset=2>; rel="next"', id="first"
        ),
        pytest.param(
            "limit=2&offset=2",
            [3, 4],
            '<http://localhost/todos?limit=2&offset=4>; rel="next", '
            '<http://localhost/todos?limit=2&offset=0>; rel="prev"',
            id="middle",
        ),
        pytest.param(
            "limit=2&offset=4",
            [5],
            '<http://localhost/todos?limit=2&offset=2>; rel="prev"',
            id="last",
        ),
        pytest.param(
            "limit=2&offset=9",
            [],
            '<http://localhost/todos?limit=2&offset=7>; rel="prev"',
            id="past the end",
        ),
        pytest.param(
            "completed=false&limit=1&offset=1",
            [3],
            '<http://localhost/todos?completed=false&limit=1&offset=2>; rel="next", '
            '<http://localhost/todos?completed=false&limit=1&offset=0>; rel="prev"',
            id="keeps the filter",
        ),
    ],
)
def test_list_pages_with_link_headers(client, query, ids, link):
    for number in range(1, 6):
        create(client, f"todo {number}", completed=number % 2 == 0)

    response = client.get(f"/todos?{query}")

    assert response.status_code == 200
    assert [todo["id"] for todo in response.json] == ids
    assert response.headers["Link"] == link


def test_an_offset_beyond_64_bits_is_past_the_end(client):
    """offset has no upper bound in the contract: any whole number past the end gives []."""
    create(client)

    response = client.get("/todos?offset=9223372036854775808")

    assert response.status_code == 200, response.json
    assert response.json == []
    assert response.headers["X-Total-Count"] == "1"


def test_put_replaces_the_todo_and_clears_an_absent_order(client):
    create(client, order=5)

    response = client.put("/todos/1", json={"title": "feed the cat", "completed": True})

    assert response.status_code == 200
    assert response.json["title"] == "feed the cat"
    assert response.json["completed"] is True
    assert response.json["order"] is None
    assert response.json["version"] == 2
    assert response.headers["ETag"] == '"2"'


@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json"])
def test_patch_changes_only_the_fields_given(client, content_type):
    create(client, order=3)

    response = client.patch(
        "/todos/1", data='{"completed": true}', headers={"Content-Type": content_type}
    )

    assert response.status_code == 200
    assert (response.json["title"], response.json["completed"]) == ("walk the dog", True)
    assert response.json["order"] == 3
    assert response.headers["ETag"] == '"2"'


def test_patch_with_an_empty_object_changes_nothing(client):
    create(client)

    response = client.patch("/todos/1", json={})

    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'


def test_delete_one_is_204_and_then_it_is_gone(client):
    create(client)

    response = client.delete("/todos/1")

    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers
    assert client.get("/todos/1").status_code == 404


def test_delete_all_is_204_and_ids_are_not_reused(client):
    create(client)
    create(client)

    response = client.delete("/todos")

    assert response.status_code == 204
    assert client.get("/todos").json == []
    assert create(client)["id"] == 3


@pytest.mark.parametrize(("path", "methods"), [("/todos", ALL_TODOS_METHODS), ("/todos/1", None)])
def test_options_answers_allow_and_the_cors_preflight(client, path, methods):
    create(client)
    preflight = {"Origin": "http://example.com", "Access-Control-Request-Method": "PUT"}

    response = client.options(path, headers=preflight)

    assert response.status_code == 204
    allowed = sorted(method.strip() for method in response.headers["Allow"].split(","))
    assert ", ".join(allowed) == (methods or ONE_TODO_METHODS)
    assert response.headers["Access-Control-Allow-Methods"] == response.headers["Allow"]
    assert response.headers["Access-Control-Allow-Headers"] == CORS_REQUEST_HEADERS
    assert response.headers["Access-Control-Max-Age"] == "86400"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/todos"), ("POST", "/todos"), ("GET", "/todos/9"), ("PATCH", "/todos")],
)
def test_every_response_allows_any_origin(client, method, path):
    response = client.open(path, method=method, json={"title": "walk the dog"})

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Expose-Headers"] == CORS_EXPOSED_HEADERS


# --- The service's errors become statuses -------------------------------------------------

# Each of the service's own errors, and the status the transport must give it.
SERVICE_ERRORS = [
    pytest.param(TodoNotFound(7), 404, id="TodoNotFound"),
    pytest.param(InvalidTodo([("title", "must be a non-empty string")]), 400, id="InvalidTodo"),
    pytest.param(StaleVersion(7, sent=1, current=2), 409, id="StaleVersion"),
    pytest.param(PreconditionFailed(7, current=2), 412, id="PreconditionFailed"),
]


def test_the_table_covers_every_error_of_the_service():
    """A new error in service.py needs a row above, and a status in transport.py."""
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
    assert body["detail"] == str(error)


@pytest.mark.parametrize(
    ("method_of_the_service", "path"), [("list_todos", "/todos"), ("check_storage", "/ready")]
)
def test_a_database_that_does_not_answer_is_503_with_retry_after(
    app, client, monkeypatch, method_of_the_service, path
):
    """The repository's StorageUnavailable: try again later, and nothing about the database."""

    def unavailable(*args, **kwargs):
        raise StorageUnavailable("PostgreSQL does not answer: connection to db:5432 refused")

    monkeypatch.setattr(app.extensions["todo_service"], method_of_the_service, unavailable)

    response = client.get(path)

    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"
    assert "db:5432" not in response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "todo_id",
    ["2", "0", "9223372036854775807", "9223372036854775808", "99999999999999999999999"],
)
def test_a_todo_that_does_not_exist_is_404(client, method, todo_id):
    """TodoNotFound, however large the id: never a 500 from a number SQLite cannot hold."""
    create(client)

    response = client.open(f"/todos/{todo_id}", method=method, json={"title": "x"})

    assert_problem(response, 404)


def test_an_invalid_todo_is_400_with_the_fields_named(client):
    response = client.post("/todos", json={"title": "   "})

    body = assert_problem(response, 400, ["title"])
    assert body["detail"] == "title must be a non-empty string"
    assert body["errors"] == [{"field": "title", "message": "must be a non-empty string"}]


def test_every_invalid_field_is_named(client):
    create(client)

    response = client.patch("/todos/1", json={"completed": "yes", "order": 1.5, "colour": 1})

    assert_problem(response, 400, ["colour", "completed", "order"])


def test_a_stale_version_in_the_body_is_409_and_changes_nothing(client):
    create(client)
    client.patch("/todos/1", json={"completed": True})

    response = client.patch("/todos/1", json={"title": "mine", "version": 1})

    assert_problem(response, 409)
    assert client.get("/todos/1").json["title"] == "walk the dog"


@pytest.mark.parametrize("if_match", ['"1"', 'W/"2"', "abc", '"2'])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_without_the_current_etag_is_412_and_changes_nothing(client, method, if_match):
    create(client)
    current = client.patch("/todos/1", json={"completed": True}).json  # now at version 2

    response = client.open(
        "/todos/1",
        method=method,
        json={"title": "mine", "completed": False},
        headers={"If-Match": if_match},
    )

    assert_problem(response, 412)
    assert client.get("/todos/1").json == current


@pytest.mark.parametrize("if_match", ['"2"', '"1", "2"', "*"])
def test_if_match_with_the_current_etag_lets_the_change_through(client, if_match):
    create(client)
    client.patch("/todos/1", json={"completed": True})

    response = client.patch("/todos/1", json={"title": "mine"}, headers={"If-Match": if_match})

    assert response.status_code == 200
    assert response.headers["ETag"] == '"3"'


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


# --- Errors of HTTP itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "content_type"),
    [
        pytest.param("POST", None, id="POST without Content-Type"),
        pytest.param("POST", "text/plain", id="POST text/plain"),
        pytest.param("POST", "application/x-www-form-urlencoded", id="POST form"),
        pytest.param("POST", "application/merge-patch+json", id="POST merge-patch"),
        pytest.param("PUT", "application/merge-patch+json", id="PUT merge-patch"),
        pytest.param("PATCH", "text/plain", id="PATCH text/plain"),
    ],
)
def test_a_body_that_is_not_labelled_json_is_415(client, method, content_type):
    create(client)
    path = "/todos" if method == "POST" else "/todos/1"
    headers = {"Content-Type": content_type} if content_type else {}

    response = client.open(path, method=method, data='{"title": "x"}', headers=headers)

    assert_problem(response, 415)


def test_json_with_a_charset_parameter_is_fine(client):
    response = client.post(
        "/todos", data='{"title": "x"}', content_type="application/json; charset=utf-8"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("", id="empty"),
        pytest.param('{"title": ', id="cut short"),
        pytest.param('{"title": "x", "order": NaN}', id="NaN"),
        pytest.param('{"title": "x", "order": Infinity}', id="Infinity"),
        pytest.param('["walk the dog"]', id="an array"),
        pytest.param('"walk the dog"', id="a string"),
        pytest.param("null", id="null"),
        pytest.param("[" * 30_000 + "]" * 30_000, id="nested too deep"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(client, body):
    response = client.post("/todos", data=body, content_type="application/json")

    assert_problem(response, 400)


@pytest.mark.parametrize(
    "query",
    [
        "completed=yes",
        "completed=True",
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=1e3",
        "limit=",
        "limit=-1",
        "offset=-1",
        "offset=1.5",
    ],
)
def test_a_query_parameter_out_of_range_is_400_naming_it(client, query):
    response = client.get(f"/todos?{query}")

    assert_problem(response, 400, [query.split("=")[0]])


def test_a_body_over_64_kib_is_413(client):
    body = '{"title": "' + "x" * (64 * 1024) + '"}'

    response = client.post("/todos", data=body, content_type="application/json")

    assert_problem(response, 413)


def test_a_body_of_exactly_64_kib_is_read(client):
    """It is refused for its title, which shows that its size was accepted."""
    frame = '{"title": ""}'
    body = '{"title": "' + "x" * (64 * 1024 - len(frame)) + '"}'
    assert len(body.encode()) == 64 * 1024

    response = client.post("/todos", data=body, content_type="application/json")

    assert_problem(response, 400, ["title"])


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/todos", ALL_TODOS_METHODS),
        ("PUT", "/todos", ALL_TODOS_METHODS),
        ("POST", "/todos/1", ONE_TODO_METHODS),
    ],
)
def test_a_method_a_path_does_not_take_is_405_with_allow(client, method, path, allow):
    response = client.open(path, method=method)

    assert_problem(response, 405)
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_post_on_health_and_ready_is_405(client, path):
    response = client.post(path)

    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "path", ["/", "/nothing", "/todos/", "/todos/1/", "/todos/abc", "/todos/-1", "/todos/1.5"]
)
def test_an_unknown_path_is_404(client, path):
    create(client)

    assert_problem(client.get(path), 404)


def test_an_unexpected_error_is_a_500_problem_and_is_logged(app, client, monkeypatch, caplog):
    secret = "no such column: secret_column in /srv/data/todos.sqlite3"

    def crash(*args, **kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(app.extensions["todo_service"], "list_todos", crash)

    with caplog.at_level(logging.ERROR):
        response = client.get("/todos")

    body = assert_problem(response, 500)
    assert body["detail"] == "The server hit an unexpected error. It has been logged."
    text = response.get_data(as_text=True)
    for leak in ("secret", "sqlite3", "Traceback", ".py"):
        assert leak not in text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Unexpected error in GET /todos" in caplog.text
    assert secret in caplog.text, "the details are in the server's log"
