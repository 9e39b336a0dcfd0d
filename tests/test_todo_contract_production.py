"""Production additions: hostile input that only a real deployment must guard against.

The contract's second tier: step 05 serves it, steps 03 and 04 answer such requests as Flask
does. So every test here is marked `production` and runs against step 05's reference servers
only; with --base-url, only when --production is given too. Each test names the deployment
scenario that needs the guard. Tokens, /health and /ready are tested in 05_docker/tests and
by tests/test_fuzz_openapi.py.
"""

import pytest

pytestmark = pytest.mark.production

WRITE_METHODS = ["POST", "PUT", "PATCH"]
JSON = {"Content-Type": "application/json"}
MAX_BODY = 64 * 1024


def write_path(method: str, todo: dict) -> str:
    """Where POST, PUT or PATCH is sent."""
    return "/todos" if method == "POST" else f"/todos/{todo['id']}"


# --- Text a database or a log cannot take -------------------------------------------------

# Each character once, with the write methods taking turns: every character and every method
# is tried without every pair. NUL, which PostgreSQL refuses, is tried with each method.
CONTROL_CHARACTERS = {
    "nul-POST": ("POST", "\x00"),
    "nul-PUT": ("PUT", "\x00"),
    "nul-PATCH": ("PATCH", "\x00"),
    "newline": ("POST", "\n"),
    "tab": ("PUT", "\t"),
    "carriage-return": ("PATCH", "\r"),
    "escape": ("POST", "\x1b"),
    "delete": ("PUT", "\x7f"),
    "next-line": ("PATCH", "\x85"),
}


@pytest.mark.parametrize(
    ("method", "character"), CONTROL_CHARACTERS.values(), ids=CONTROL_CHARACTERS.keys()
)
def test_control_character_in_title_is_400_and_changes_nothing(api, todo, method, character):
    # PostgreSQL cannot store NUL; the others forge lines in logs and drive terminals.
    count_before = api.todo_count()
    body = {"title": f"walk{character}dog"}
    if method == "PUT":
        body["completed"] = False  # PUT replaces the todo, so it needs every required field
    response = api.request(method, write_path(method, todo), json=body)
    api.expect(response, 400, errors=("title",))
    api.expect_unchanged(method, todo, count_before)


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_lone_surrogate_in_title_is_400_and_changes_nothing(api, todo, method):
    # Valid JSON text, but "\ud800" is half of a character: no database can store it as UTF-8.
    count_before = api.todo_count()
    body = b'{"title": "walk \\ud800 dog"}'
    if method == "PUT":
        body = b'{"title": "walk \\ud800 dog", "completed": false}'
    response = api.request(method, write_path(method, todo), data=body, headers=JSON)
    api.expect(response, 400, errors=("title",))
    api.expect_unchanged(method, todo, count_before)


# --- JSON nested thousands deep -----------------------------------------------------------

# Nested far deeper than a JSON parser's recursion allows, yet under 64 KiB.
DEEP_BODIES = {
    "deep-array": ("POST", b"[" * 60_000),
    "deep-in-field": ("PUT", b'{"title": "x", "order": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"),
    "deep-object": ("PATCH", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
}


@pytest.mark.parametrize(("method", "body"), DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_json_nested_thousands_deep_is_400_and_changes_nothing(api, todo, method, body):
    # A parser that recurses runs out of stack: that is the client's fault, so 400, not 500.
    api.expect(api.request(method, write_path(method, todo), data=body, headers=JSON), 400)
    api.expect_unchanged(method, todo, None)


# --- Bodies sent in chunks ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "too large"}' + b" " * MAX_BODY,  # valid JSON, if read to the end
        b'{"title": "too large"}' + b" " * MAX_BODY + b"trailing garbage",
    ],
    ids=["valid-json", "garbage-after-64-KiB"],
)
def test_body_in_chunks_over_64_kib_is_413(api, body):
    # Without Content-Length, only reading the body shows its size; cutting it off at 64 KiB
    # and reading the rest as if nothing followed would accept what it should refuse.
    count_before = api.todo_count()
    api.expect(api.post_in_chunks("/todos", body), (413, 411))
    api.expect_unchanged("POST", None, count_before)


# --- Host header --------------------------------------------------------------------------

BAD_HOSTS = {
    "empty": "",
    "space": "todo example",
    "markup": 'x"><script>',
    "path": "evil.example/todos?x",
    "user-info": "user@evil.example",
    "open-bracket": "[::1",
}


@pytest.mark.parametrize("host", BAD_HOSTS.values(), ids=BAD_HOSTS.keys())
def test_invalid_host_header_is_400(api, todo, host):
    # A todo's url is built from the Host header, which anyone can forge in front of a proxy:
    # from an invalid one, no absolute URL can be built. RFC 9110 (section 7.2) answers 400.
    count_before = api.todo_count()
    response = api.post("/todos", json={"title": "bad host"}, headers={"Host": host})
    api.expect(response, 400)
    api.expect_unchanged("POST", None, count_before)
    api.expect(api.get(f"/todos/{todo['id']}", headers={"Host": host}), 400)


# --- Cross-origin use with tokens ---------------------------------------------------------


def test_preflight_allows_the_authorization_header(api):
    # Step 05's tokens travel in Authorization: a page on another origin must be allowed it.
    headers = {
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    response = api.options("/todos", headers=headers)
    api.expect(response, (200, 204), headers={"Access-Control-Allow-Origin": "*"})
    allowed = response.headers.get("Access-Control-Allow-Headers", "")
    api.check(
        "authorization" in {part.strip().lower() for part in allowed.split(",")},
        response,
        "Access-Control-Allow-Headers to include Authorization",
    )
