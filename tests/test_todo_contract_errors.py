"""Requests the todo API must refuse, and how: 400, 404, 405, 413 and 415 problem documents.

Every error is an RFC 9457 problem document (`api.expect` checks its shape, its
Content-Type and that it shows no traceback or source path). A refused write changes nothing.
The checks come in a fixed order: 404, then 415, then 413, then 400. Core tests, run
against steps 03, 04 and 05; JSON nested thousands deep is a production addition, in
test_todo_contract_production.py.
"""

import pytest

WRITE_METHODS = ["POST", "PUT", "PATCH"]
MAX_BODY = 64 * 1024
JSON = {"Content-Type": "application/json"}


def write_path(method: str, todo: dict) -> str:
    """Where POST, PUT or PATCH is sent."""
    return "/todos" if method == "POST" else f"/todos/{todo['id']}"


def valid_body(method: str) -> bytes:
    """A body the method accepts."""
    if method == "PUT":
        return b'{"title": "a valid title", "completed": false}'
    return b'{"title": "a valid title"}'


def padded_body(method: str, size: int) -> bytes:
    """A valid body made exactly `size` bytes long with white space, which JSON allows."""
    body = valid_body(method)
    return body[:-1] + b" " * (size - len(body)) + b"}"


# --- 404 ----------------------------------------------------------------------------------

# Each bad id is sent once, the methods taking turns: every id and every method is tried
# without all 65 pairs, as the route reads the id the same way whatever the method.
BAD_IDS = [
    ("GET", "abc"),
    ("HEAD", "-1"),
    ("PUT", "0"),
    ("PATCH", "1.5"),
    ("DELETE", "+1"),
    ("GET", "%201"),  # " 1": int() would accept it
    ("HEAD", "1_0"),  # int() would accept this too
    ("PUT", "1e3"),
    ("PATCH", "0x10"),
    ("DELETE", "9223372036854775807"),  # the largest id there can be, but no todo has it
    ("GET", "9223372036854775808"),  # one more than a 64-bit integer holds
    ("HEAD", "99999999999999999999999"),
    ("PUT", "1" * 400),
]


@pytest.mark.parametrize(
    ("method", "todo_id"), BAD_IDS, ids=lambda i: i if len(i) < 25 else f"{len(i)}-digits"
)
def test_id_that_names_no_todo_is_404(api, method, todo_id):
    body = valid_body(method) if method in ("PUT", "PATCH") else None
    headers = JSON if body else {}
    api.expect(api.request(method, f"/todos/{todo_id}", data=body, headers=headers), 404)


def test_unknown_todo_is_404_even_with_a_bad_body(api):
    # 404 comes first: there is nothing to put a body into.
    response = api.put(
        "/todos/9223372036854775807", data=b"not json", headers={"Content-Type": "text/plain"}
    )
    api.expect(response, 404)


# --- 405 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/todos", "GET HEAD POST DELETE OPTIONS"),
        ("PATCH", "/todos", "GET HEAD POST DELETE OPTIONS"),
        ("POST", "/todos/{id}", "GET HEAD PUT PATCH DELETE OPTIONS"),
    ],
    ids=["PUT-collection", "PATCH-collection", "POST-one-todo"],
)
def test_method_not_allowed_is_405_with_allow(api, todo, method, path, allowed):
    response = api.request(method, path.format(id=todo["id"]), json={"title": "x"})
    api.expect(response, 405, headers={"Allow": ...})
    got = {part.strip().upper() for part in response.headers["Allow"].split(",")}
    api.check(got == set(allowed.split()), response, f"Allow: {allowed.replace(' ', ', ')}")
    api.expect_unchanged("PUT", todo, None)


# --- 415 ----------------------------------------------------------------------------------

# Each kind of body once, with the write methods taking turns (as for the bad bodies below).
WRONG_CONTENT = {
    "form-data": ("POST", {"data": {"title": "walk the dog"}}),
    "text-plain": ("PUT", {"data": b'{"title": "x"}', "headers": {"Content-Type": "text/plain"}}),
    "no-content-type": ("PATCH", {"data": b'{"title": "x"}'}),
    "xml": ("POST", {"data": b"<todo/>", "headers": {"Content-Type": "application/xml"}}),
    "json-lookalike": (
        "PUT",
        {"data": b'{"title": "x"}', "headers": {"Content-Type": "text/json"}},
    ),
}


@pytest.mark.parametrize(("method", "content"), WRONG_CONTENT.values(), ids=WRONG_CONTENT.keys())
def test_body_that_is_not_json_is_415(api, todo, method, content):
    api.expect(api.request(method, write_path(method, todo), **content), 415)
    api.expect_unchanged(method, todo, None)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_merge_patch_json_is_only_for_patch(api, todo, method):
    headers = {"Content-Type": "application/merge-patch+json"}
    response = api.request(
        method, write_path(method, todo), data=valid_body(method), headers=headers
    )
    api.expect(response, 415)
    api.expect_unchanged(method, todo, None)


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_content_type_with_parameters_or_other_case_is_accepted(
    api, todo, method, content_type
):
    headers = {"Content-Type": content_type}
    response = api.request(
        method, write_path(method, todo), data=valid_body(method), headers=headers
    )
    api.expect(response, 201 if method == "POST" else 200, fields={"title": "a valid title"})


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_415_comes_before_400(api, todo, method):
    headers = {"Content-Type": "text/plain"}
    api.expect(api.request(method, write_path(method, todo), data=b"{", headers=headers), 415)


# --- 413 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_body_over_64_kib_is_413(api, todo, method):
    body = padded_body(method, MAX_BODY + 1)
    api.expect(api.request(method, write_path(method, todo), data=body, headers=JSON), 413)
    api.expect_unchanged(method, todo, None)


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_body_of_exactly_64_kib_is_accepted(api, todo, method):
    body = padded_body(method, MAX_BODY)
    response = api.request(method, write_path(method, todo), data=body, headers=JSON)
    api.expect(response, 201 if method == "POST" else 200, fields={"title": "a valid title"})


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_413_comes_before_400(api, todo, method):
    body = b"x" * (MAX_BODY + 1000)
    api.expect(api.request(method, write_path(method, todo), data=body, headers=JSON), 413)


def test_deep_nesting_over_64_kib_is_413(api):
    api.expect(api.post("/todos", data=b"[" * 100_000, headers=JSON), 413)


def test_415_comes_before_413(api):
    body = b"x" * (MAX_BODY + 1000)
    headers = {"Content-Type": "text/plain"}
    api.expect(api.post("/todos", data=body, headers=headers), 415)


# --- 400: bodies that are not one JSON object ---------------------------------------------

# Each body once, with the write methods taking turns: every body and every method is tried
# without all 45 pairs, as a server reads the body the same way for each of them.
BAD_BODIES = {
    "empty": ("POST", b""),
    "truncated": ("PUT", b'{"title": "x"'),
    "single-quotes": ("PATCH", b"{'title': 'x'}"),
    "trailing-comma": ("POST", b'{"title": "x",}'),
    "two-objects": ("PUT", b'{"title": "x"}{"title": "y"}'),
    "invalid-utf8": ("PATCH", b'{"title": "caf\xe9"}'),
    "nan": ("POST", b'{"title": "x", "order": NaN}'),
    "infinity": ("PUT", b'{"title": "x", "order": Infinity}'),
    "minus-infinity": ("PATCH", b'{"title": "x", "order": -Infinity}'),
    "array": ("POST", b'[{"title": "x"}]'),
    "empty-array": ("PUT", b"[]"),
    "string": ("PATCH", b'"walk the dog"'),
    "number": ("POST", b"42"),
    "null": ("PUT", b"null"),
    "true": ("PATCH", b"true"),
}


@pytest.mark.parametrize(("method", "body"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_body_that_is_not_a_json_object_is_400(api, todo, method, body):
    api.expect(api.request(method, write_path(method, todo), data=body, headers=JSON), 400)
    api.expect_unchanged(method, todo, None)


# --- Problem documents --------------------------------------------------------------------


def test_problem_document_for_a_field_error(api):
    response = api.post("/todos", json={"title": ""})
    problem = api.expect(
        response, 400, fields={"type": "about:blank", "title": "Bad Request", "status": 400}
    )
    entries = [entry for entry in problem.get("errors", []) if entry.get("field") == "title"]
    api.check(
        len(entries) == 1 and isinstance(entries[0].get("message"), str) and entries[0]["message"],
        response,
        '"errors": [{"field": "title", "message": "<why>"}]',
    )


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [("/nope", 404, "Not Found"), ("/todos/abc", 404, "Not Found")],
)
def test_problem_title_is_the_reason_phrase(api, path, status, title):
    api.expect(api.get(path), status, fields={"type": "about:blank", "title": title})


def test_405_problem_title_is_the_reason_phrase(api):
    response = api.put("/todos", json={"title": "x"})
    api.expect(response, 405, fields={"title": "Method Not Allowed", "status": 405})


# Odd but harmless requests: each must get a clean 4xx answer, never a 500 or a traceback.
ODD_REQUESTS = {
    "huge-id-delete": ("DELETE", "/todos/" + "9" * 1000, {}, 404),
    "percent-garbage-id": ("GET", "/todos/%ff%fe", {}, 404),
    "null-byte-id": ("GET", "/todos/1%00", {}, 404),
    "deep-patch": ("PATCH", "/todos/{id}", {"data": b"{" * 60_000, "headers": JSON}, 400),
    "bad-charset-json": (
        "POST",
        "/todos",
        {"data": b'{"title": "\xff\xfe"}', "headers": {"Content-Type": "application/json"}},
        400,
    ),
    "content-type-garbage": (
        "POST",
        "/todos",
        {"data": b'{"title": "x"}', "headers": {"Content-Type": ";;;"}},
        415,
    ),
    "null-bytes-body": ("POST", "/todos", {"data": b"\x00" * 100, "headers": JSON}, 400),
}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"), ODD_REQUESTS.values(), ids=ODD_REQUESTS.keys()
)
def test_odd_requests_get_a_clean_4xx(api, todo, method, path, kwargs, status):
    api.expect(api.request(method, path.format(id=todo["id"]), **kwargs), status)
