"""Every endpoint of the todo API doing its job: list, create, read, replace, change, delete.

Also HEAD (the headers of GET, no body), OPTIONS (Allow), the todo's absolute `url`, and
ids that ascend and are never reused. Tests that count todos start with `empty_store`.
"""

import socket
from urllib.parse import urlsplit

import pytest

COLLECTION_METHODS = {"GET", "HEAD", "POST", "DELETE", "OPTIONS"}
ITEM_METHODS = {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}


def method_set(header: str | None) -> set[str]:
    """The methods named in an Allow-style header, upper case."""
    return {part.strip().upper() for part in (header or "").split(",") if part.strip()}


# --- GET /todos and POST /todos -----------------------------------------------------------


def test_list_answers_every_todo_ordered_by_id(api, empty_store):
    created = [api.create(title, order=order) for title, order in [("c", 3), ("a", 1), ("b", 2)]]
    response = api.get("/todos")
    api.expect(response, 200, json=created, headers={"X-Total-Count": "3", "Link": None})


def test_list_of_an_empty_store_is_an_empty_array(api, empty_store):
    api.expect(api.get("/todos"), 200, json=[], headers={"X-Total-Count": "0", "Link": None})


def test_create_answers_201_with_location_and_etag(api):
    response = api.post("/todos", json={"title": "walk the dog"})
    todo = api.expect(response, 201, headers={"ETag": '"1"'})
    api.expect(response, 201, headers={"Location": todo["url"]})


def test_created_todo_is_in_the_list(api, empty_store):
    todo = api.create("water the plants")
    api.expect(api.get("/todos"), 200, json=[todo])


def test_ids_ascend(api):
    first, second = api.create("first"), api.create("second")
    assert second["id"] > first["id"], f"ids must ascend: {first['id']} then {second['id']}"


# --- The url field ------------------------------------------------------------------------


def test_url_is_absolute_and_gets_the_todo(api, todo):
    assert todo["url"] == f"{api.base_url}/todos/{todo['id']}", (
        f"url should be {api.base_url}/todos/{todo['id']}, not {todo['url']}"
    )
    api.expect(api.get(todo["url"]), 200, json=todo)


def test_url_is_built_from_the_host_header(api):
    # Behind a proxy or in a container the server is reached by another name: the url
    # must use the name the client used, not one the server made up.
    host = "todo.example:8123"
    response = api.post("/todos", json={"title": "elsewhere"}, headers={"Host": host})
    todo = api.expect(response, 201)
    expected_url = f"{urlsplit(api.base_url).scheme}://{host}/todos/{todo['id']}"
    api.expect(response, 201, fields={"url": expected_url}, headers={"Location": expected_url})
    api.expect(
        api.get(f"/todos/{todo['id']}", headers={"Host": host}), 200, fields={"url": expected_url}
    )


# --- GET, PUT, PATCH and DELETE one todo --------------------------------------------------


def test_get_one_answers_the_todo_with_its_etag(api, todo):
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=todo, headers={"ETag": '"1"'})


def test_put_replaces_the_whole_todo(api, todo):
    # The todo fixture has order 3: a PUT without order sets it back to null.
    response = api.put(f"/todos/{todo['id']}", json={"title": "feed the cat", "completed": True})
    expected = {**todo, "title": "feed the cat", "completed": True, "order": None, "version": 2}
    api.expect(response, 200, json=expected, headers={"ETag": '"2"'})
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=expected, headers={"ETag": '"2"'})


def test_put_of_what_get_returned_is_accepted(api, todo):
    edited = {**api.fetch(todo["id"]), "title": "edited copy", "completed": True}
    response = api.put(f"/todos/{todo['id']}", json=edited)
    api.expect(response, 200, json={**edited, "version": 2})


def test_put_twice_gives_the_same_state_and_version(api, todo):
    body = {"title": "same again", "completed": True, "order": 1}
    first = api.expect(api.put(f"/todos/{todo['id']}", json=body), 200)
    second_response = api.put(f"/todos/{todo['id']}", json=body)
    api.expect(second_response, 200, json=first, headers={"ETag": f'"{first["version"]}"'})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"completed": True}, {"completed": True}),
        ({"title": "renamed"}, {"title": "renamed"}),
        ({"order": 9}, {"order": 9}),
        ({"order": None}, {"order": None}),
        ({"title": "both", "completed": True}, {"title": "both", "completed": True}),
    ],
    ids=["completed", "title", "order", "order-null-clears", "two-fields"],
)
def test_patch_changes_only_the_given_fields(api, todo, change, expected):
    response = api.patch(f"/todos/{todo['id']}", json=change)
    new_state = {**todo, **expected, "version": 2}
    api.expect(response, 200, json=new_state, headers={"ETag": '"2"'})
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=new_state)


def test_patch_with_an_empty_object_changes_nothing(api, todo):
    api.expect(api.patch(f"/todos/{todo['id']}", json={}), 200, json=todo, headers={"ETag": '"1"'})


def test_patch_accepts_merge_patch_json(api, todo):
    response = api.patch(
        f"/todos/{todo['id']}",
        data=b'{"completed": true, "order": null}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    api.expect(response, 200, json={**todo, "completed": True, "order": None, "version": 2})


def test_patch_of_what_get_returned_is_accepted(api, todo):
    edited = {**api.fetch(todo["id"]), "completed": True}
    response = api.patch(f"/todos/{todo['id']}", json=edited)
    api.expect(response, 200, json={**edited, "version": 2})


def test_delete_one_removes_only_that_todo(api):
    kept, deleted = api.create("keep me"), api.create("delete me")
    response = api.delete(f"/todos/{deleted['id']}")
    api.expect(response, 204)
    api.check(response.content == b"", response, "no body with 204")
    api.expect(api.get(f"/todos/{deleted['id']}"), 404)
    api.expect(api.delete(f"/todos/{deleted['id']}"), 404)
    api.expect(api.get(f"/todos/{kept['id']}"), 200, json=kept)


# --- DELETE /todos and ids that are never reused ------------------------------------------


def test_delete_all_empties_the_list(api, empty_store):
    old = [api.create("one"), api.create("two")]
    response = api.delete("/todos")
    api.expect(response, 204)
    api.check(response.content == b"", response, "no body with 204")
    api.expect(api.get("/todos"), 200, json=[], headers={"X-Total-Count": "0"})
    for todo in old:
        api.expect(api.get(f"/todos/{todo['id']}"), 404)


def test_ids_are_never_reused(api, empty_store):
    highest = api.create("highest so far")
    api.expect(api.delete(f"/todos/{highest['id']}"), 204)
    after_delete = api.create("after deleting the highest")
    assert after_delete["id"] > highest["id"], (
        f"id {after_delete['id']} after deleting id {highest['id']}: ids must never be reused"
    )
    api.clear()
    after_clear = api.create("after DELETE /todos")
    assert after_clear["id"] > after_delete["id"], (
        f"id {after_clear['id']} after DELETE /todos, but {after_delete['id']} was used before: "
        "ids must never be reused, not even after DELETE /todos"
    )


# --- HEAD ---------------------------------------------------------------------------------

HEAD_HEADERS = ("Content-Type", "Content-Length", "ETag", "X-Total-Count", "Link")


@pytest.mark.parametrize(
    "path", ["/todos/{id}", "/todos", "/todos?limit=1", "/todos?completed=false&limit=1&offset=1"]
)
def test_head_answers_the_headers_of_get(api, todo, path):
    path = path.format(id=todo["id"])
    head, get = api.head(path), api.get(path)
    api.expect(head, get.status_code)
    for name in HEAD_HEADERS:
        api.check(
            head.headers.get(name) == get.headers.get(name),
            head,
            f"{name}: {get.headers.get(name)} (as GET {path} answered)",
        )


def test_head_of_an_unknown_todo_is_404(api):
    api.expect(api.head("/todos/9223372036854775807"), 404)


def test_head_sends_no_body(api, todo):
    # requests never reads a body after HEAD, so this test reads the raw bytes itself.
    url = urlsplit(api.base_url)
    if url.scheme != "http":
        pytest.skip("reads raw bytes from the socket: needs a plain http:// base URL")
    headers = {"Host": url.netloc, "Connection": "close", **api.server.auth_headers()}
    lines = [f"HEAD /todos/{todo['id']} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    request = "\r\n".join(lines) + "\r\n\r\n"
    with socket.create_connection((url.hostname, url.port or 80), timeout=api.timeout) as conn:
        conn.sendall(request.encode("ascii"))
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), f"HEAD /todos/{todo['id']} answered {head[:40]!r}"
    assert body == b"", f"HEAD must send no body, but these bytes followed the headers: {body!r}"


# --- OPTIONS and paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/todos", COLLECTION_METHODS), ("/todos/{id}", ITEM_METHODS)],
    ids=["collection", "one-todo"],
)
def test_options_lists_the_allowed_methods(api, todo, path, allowed):
    response = api.options(path.format(id=todo["id"]))
    api.expect(response, (200, 204), headers={"Allow": ...})
    api.check(
        method_set(response.headers["Allow"]) == allowed,
        response,
        f"Allow: {', '.join(sorted(allowed))}",
    )


@pytest.mark.parametrize(
    "path", ["/", "/nope", "/todos/", "/todos/{id}/", "/todos/{id}/title", "/TODOS", "/todo"]
)
def test_unknown_paths_are_404_problems(api, todo, path):
    api.expect(api.get(path.format(id=todo["id"])), 404)
