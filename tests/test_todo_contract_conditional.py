"""Versions and ETags: how clients cache a todo and avoid overwriting each other's changes.

`version` starts at 1 and grows by one with every change; the ETag is `"<version>"`.
If-None-Match gives 304 when nothing changed. If-Match, and `version` in a PUT or PATCH
body, refuse a write based on a stale copy (412 and 409) and then nothing changes.
"""

import pytest

# --- version and ETag ---------------------------------------------------------------------


def test_every_change_adds_one_to_the_version(api, todo):
    path = f"/todos/{todo['id']}"
    api.expect(api.patch(path, json={"title": "one"}), 200, fields={"version": 2})
    api.expect(api.patch(path, json={"completed": True}), 200, fields={"version": 3})
    replaced = {"title": "two", "completed": False}
    api.expect(api.put(path, json=replaced), 200, fields={"version": 4}, headers={"ETag": '"4"'})
    api.expect(api.get(path), 200, fields={"version": 4}, headers={"ETag": '"4"'})


@pytest.mark.parametrize(
    "same",
    [{"title": "walk the dog"}, {"order": 3}, {"completed": False}, {"title": " walk the dog "}],
)
def test_patch_that_changes_nothing_keeps_the_version(api, todo, same):
    response = api.patch(f"/todos/{todo['id']}", json=same)
    api.expect(response, 200, json=todo, headers={"ETag": '"1"'})


# --- If-None-Match ------------------------------------------------------------------------


# Each form once, with GET and HEAD taking turns (so in the tests below, with the writes).
@pytest.mark.parametrize(
    ("method", "if_none_match"),
    [("GET", '"1"'), ("HEAD", '"7", "1"'), ("GET", 'W/"1"'), ("HEAD", "*")],
    ids=["GET-exact", "HEAD-list", "GET-weak", "HEAD-star"],
)
def test_if_none_match_with_the_current_etag_is_304(api, todo, method, if_none_match):
    response = api.request(method, f"/todos/{todo['id']}", headers={"If-None-Match": if_none_match})
    api.expect(response, 304, headers={"ETag": '"1"'})
    api.check(response.content == b"", response, "no body with 304")


@pytest.mark.parametrize("if_none_match", ['"2"', '"0", "7"', "garbage"])
def test_if_none_match_with_another_etag_gets_the_todo(api, todo, if_none_match):
    response = api.get(f"/todos/{todo['id']}", headers={"If-None-Match": if_none_match})
    api.expect(response, 200, json=todo, headers={"ETag": '"1"'})


def test_old_etag_no_longer_gives_304_after_a_change(api, todo):
    changed = api.expect(api.patch(f"/todos/{todo['id']}", json={"completed": True}), 200)
    response = api.get(f"/todos/{todo['id']}", headers={"If-None-Match": '"1"'})
    api.expect(response, 200, json=changed, headers={"ETag": '"2"'})


def test_if_none_match_on_an_unknown_todo_is_404(api):
    response = api.get("/todos/9223372036854775807", headers={"If-None-Match": "*"})
    api.expect(response, 404)


# --- If-Match -----------------------------------------------------------------------------


def write(api, method: str, todo: dict, headers: dict | None = None, **body):
    """A PUT, PATCH or DELETE of the todo, with a body that would change it."""
    path = f"/todos/{todo['id']}"
    if method == "DELETE":
        return api.delete(path, headers=headers)
    fields = {"title": "changed", "completed": True, **body}
    return api.request(method, path, json=fields, headers=headers)


def changed_status(method: str) -> int:
    """The status of a successful write."""
    return 204 if method == "DELETE" else 200


@pytest.mark.parametrize(
    ("method", "if_match"),
    [("PUT", '"1"'), ("PATCH", '"5", "1"'), ("DELETE", "*")],
    ids=["PUT-exact", "PATCH-list", "DELETE-star"],
)
def test_if_match_with_the_current_etag_lets_the_write_through(api, todo, method, if_match):
    response = write(api, method, todo, headers={"If-Match": if_match})
    api.expect(response, changed_status(method))
    if method == "DELETE":
        api.expect(api.get(f"/todos/{todo['id']}"), 404)
    else:
        api.expect(api.get(f"/todos/{todo['id']}"), 200, fields={"title": "changed", "version": 2})


@pytest.mark.parametrize(
    ("method", "if_match"),
    [
        ("PUT", '"2"'),
        ("PATCH", '"0"'),
        ("DELETE", '"2", "3"'),
        ("PUT", 'W/"1"'),
        ("PATCH", "1"),
        ("DELETE", "abc"),
        ("PUT", '"1'),
        ("DELETE", f'"{"9" * 5000}"'),  # past the 4300 digits that Python's int() converts
    ],
    ids=[
        "PUT-newer",
        "PATCH-older",
        "DELETE-list",
        "PUT-weak",
        "PATCH-unquoted",
        "DELETE-garbage",
        "PUT-unterminated",
        "DELETE-5000-digits",
    ],
)
def test_if_match_with_another_etag_is_412_and_changes_nothing(api, todo, method, if_match):
    api.expect(write(api, method, todo, headers={"If-Match": if_match}), 412)
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=todo, headers={"ETag": '"1"'})


def test_if_match_after_someone_else_changed_the_todo_is_412(api, todo):
    etag = api.get(f"/todos/{todo['id']}").headers["ETag"]
    theirs = api.expect(api.patch(f"/todos/{todo['id']}", json={"title": "theirs"}), 200)
    mine = api.patch(f"/todos/{todo['id']}", json={"title": "mine"}, headers={"If-Match": etag})
    api.expect(mine, 412)
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=theirs)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_on_an_unknown_todo_is_404(api, method):
    missing = {"id": 9223372036854775807}
    api.expect(write(api, method, missing, headers={"If-Match": "*"}), 404)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_bad_body_is_400_before_if_match_is_412(api, todo, method):
    response = write(api, method, todo, headers={"If-Match": '"99"'}, title="")
    api.expect(response, 400, errors=("title",))


# --- version in the body ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_current_version_in_the_body_lets_the_write_through(api, todo, method):
    response = write(api, method, todo, version=1)
    api.expect(response, 200, fields={"title": "changed", "version": 2})


@pytest.mark.parametrize(
    ("method", "version"),
    [("PUT", 0), ("PATCH", 2), ("PUT", 99), ("PATCH", 2**70)],
    ids=["PUT-older", "PATCH-newer", "PUT-far-ahead", "PATCH-too-big-for-64-bits"],
)
def test_stale_version_in_the_body_is_409_and_changes_nothing(api, todo, method, version):
    api.expect(write(api, method, todo, version=version), 409)
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=todo)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_edited_stale_copy_is_409(api, todo, method):
    stale_copy = api.fetch(todo["id"])
    theirs = api.expect(api.patch(f"/todos/{todo['id']}", json={"order": 1}), 200)
    response = api.request(method, f"/todos/{todo['id']}", json={**stale_copy, "title": "mine"})
    api.expect(response, 409)
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=theirs)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_if_match_412_comes_before_version_409(api, todo, method):
    response = write(api, method, todo, headers={"If-Match": '"7"'}, version=7)
    api.expect(response, 412)
