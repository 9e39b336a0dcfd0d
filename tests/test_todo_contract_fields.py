"""The todo's fields and their rules: what POST, PUT and PATCH store, and what they refuse.

A refused body is a 400 problem document whose `errors` names each bad field, and it
changes nothing. Titles are stored exactly as sent, apart from surrounding white space.
Core tests, run against steps 03, 04 and 05; refusing control characters and lone
surrogates in titles is a production addition, in test_todo_contract_production.py.
"""

import pytest

MIN_ORDER = -(2**31)
MAX_ORDER = 2**31 - 1
WRITE_METHODS = ["POST", "PUT", "PATCH"]


def send_fields(api, method: str, todo: dict | None, fields: dict):
    """Sends `fields` by POST, PUT or PATCH, with whatever else that method requires."""
    if method == "POST":
        return api.post("/todos", json={"title": "a valid title", **fields})
    if method == "PUT":
        body = {"title": "a valid title", "completed": False, **fields}
        return api.put(f"/todos/{todo['id']}", json=body)
    return api.patch(f"/todos/{todo['id']}", json=fields)


def expect_refused(api, method: str, todo: dict | None, fields: dict, bad_fields: tuple[str, ...]):
    """Sends the fields, expects a 400 naming `bad_fields`, and checks that nothing changed."""
    count_before = api.todo_count()
    response = send_fields(api, method, todo, fields)
    api.expect(response, 400, errors=bad_fields)
    api.expect_unchanged(method, todo, count_before)


# --- What is stored -----------------------------------------------------------------------


def test_create_fills_in_the_defaults(api):
    response = api.post("/todos", json={"title": "walk the dog"})
    todo = api.expect(
        response,
        201,
        fields={"title": "walk the dog", "completed": False, "order": None, "version": 1},
    )
    api.check(
        sorted(todo) == ["completed", "id", "order", "title", "url", "version"],
        response,
        "exactly the fields id, title, completed, order, url and version",
    )
    api.check(
        type(todo["id"]) is int and todo["id"] >= 1, response, "an id that is a whole number >= 1"
    )
    api.expect(response, 201, headers={"ETag": '"1"', "Location": todo["url"]})


def test_create_keeps_the_given_fields(api):
    response = api.post("/todos", json={"title": "feed the cat", "completed": True, "order": 7})
    todo = api.expect(
        response, 201, fields={"title": "feed the cat", "completed": True, "order": 7}
    )
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=todo)


@pytest.mark.parametrize("order", [MIN_ORDER, -1, 0, MAX_ORDER, None])
def test_order_accepts_every_32_bit_integer_and_null(api, order):
    response = api.post("/todos", json={"title": "ordered", "order": order})
    todo = api.expect(response, 201, fields={"order": order})
    api.expect(api.get(f"/todos/{todo['id']}"), 200, fields={"order": order})


@pytest.mark.parametrize(
    ("method", "sent", "stored"),
    [
        ("POST", "  walk the dog  ", "walk the dog"),
        ("PUT", " x", "x"),
        ("PATCH", "walk   the   dog", "walk   the   dog"),
        ("POST", "   " + "a" * 200 + "   ", "a" * 200),
    ],
    ids=["both-ends", "leading", "inner-spaces-kept", "200-chars-after-strip"],
)
def test_title_surrounding_spaces_are_removed(api, todo, method, sent, stored):
    response = send_fields(api, method, todo, {"title": sent})
    saved = api.expect(response, 201 if method == "POST" else 200, fields={"title": stored})
    api.expect(api.get(f"/todos/{saved['id']}"), 200, fields={"title": stored})


@pytest.mark.parametrize(
    "title",
    [
        "a" * 200,
        "\U0001f600" * 200,  # 4-byte UTF-8 characters count as one each
        "e\u0301" * 100,  # a letter and a combining accent are two code points
        "x",
    ],
    ids=["200-ascii", "200-emoji", "200-code-points-combining", "one-char"],
)
def test_title_of_up_to_200_characters_is_accepted(api, title):
    todo = api.expect(api.post("/todos", json={"title": title}), 201, fields={"title": title})
    api.expect(api.get(f"/todos/{todo['id']}"), 200, fields={"title": title})


# Titles a careless server mangles, escapes, executes or crashes on. All are stored verbatim,
# whether created or renamed (each title once, POST and PATCH taking turns).
HOSTILE_TITLES = {
    "html": ("POST", "<script>alert('hi')</script>"),
    "html-entities": ("PATCH", "&lt;b&gt; &amp; &quot;"),
    "sql-quote": ("POST", "Robert'); DROP TABLE todos;--"),
    "sql-or": ("PATCH", "' OR '1'='1"),
    "quotes-backslashes": ("POST", "\"double\" 'single' \\back\\slash"),
    "format-strings": ("PATCH", "%s %d %(title)s {0} {title} ${HOME}"),
    "path": ("POST", "../../etc/passwd"),
    "json-looking": ("PATCH", '{"title": "nested"}'),
    "null-word": ("POST", "null"),
    "emoji": ("PATCH", "walk the \U0001f415 \U0001f600"),
    "4-byte-math": (
        "POST",
        "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",
    ),
    "cjk": ("PATCH", "\u904e\u53bb\u306e\u30bf\u30b9\u30af"),
    "rtl-arabic": ("POST", "\u0627\u0644\u0645\u0647\u0627\u0645"),
    "rtl-hebrew-mixed": ("PATCH", "buy \u05d7\u05dc\u05d1 today"),
    "rtl-override": ("POST", "\u202eevil\u202c"),
    "combining": ("PATCH", "Zalgo Z\u0351\u0352\u0353a\u0300\u0301"),
    "zero-width-joiner": ("POST", "\U0001f468\u200d\U0001f469\u200d\U0001f467 family"),
    "zero-width-space": ("PATCH", "zero\u200bwidth"),
    "no-break-space-inside": ("POST", "a\u00a0b"),
    "flag": ("PATCH", "\U0001f1f3\U0001f1f1"),
}


@pytest.mark.parametrize(("method", "title"), HOSTILE_TITLES.values(), ids=HOSTILE_TITLES.keys())
def test_hostile_and_unicode_titles_are_stored_verbatim(api, todo, method, title):
    response = send_fields(api, method, todo, {"title": title})
    saved = api.expect(response, 201 if method == "POST" else 200, fields={"title": title})
    api.expect(api.get(f"/todos/{saved['id']}"), 200, fields={"title": title})


def test_escaped_surrogate_pair_is_one_character(api):
    # "\ud83d\ude00" in JSON text is the escaped form of one emoji, U+1F600.
    response = api.post(
        "/todos",
        data=b'{"title": "smile \\ud83d\\ude00"}',
        headers={"Content-Type": "application/json"},
    )
    api.expect(response, 201, fields={"title": "smile \U0001f600"})


# --- What is refused ----------------------------------------------------------------------

# Each bad value once, with the write methods taking turns: every value and every method is
# tried without all 75 pairs, as a server checks a field the same way for each of them.
BAD_VALUES = [
    ("POST", "title", None),
    ("PUT", "title", ""),
    ("PATCH", "title", "   "),
    ("POST", "title", 5),
    ("PUT", "title", True),
    ("PATCH", "title", ["walk"]),
    ("POST", "title", {"text": "walk"}),
    ("PUT", "title", "a" * 201),
    ("PATCH", "title", "\U0001f600" * 201),
    ("POST", "completed", None),
    ("PUT", "completed", 0),
    ("PATCH", "completed", 1),
    ("POST", "completed", "true"),
    ("PUT", "completed", "false"),
    ("PATCH", "completed", []),
    ("POST", "order", True),
    ("PUT", "order", False),
    ("PATCH", "order", 1.5),
    ("POST", "order", 1.0),
    ("PUT", "order", "3"),
    ("PATCH", "order", MAX_ORDER + 1),
    ("POST", "order", MIN_ORDER - 1),
    ("PUT", "order", 10**30),
    ("PATCH", "order", [1]),
    ("POST", "order", {"value": 1}),
]


def value_id(value) -> str:
    """A short readable test id for a value."""
    text = repr(value)
    return text if len(text) <= 20 else f"{text[:12]}...({len(text)} chars)"


@pytest.mark.parametrize(
    ("method", "field", "value"),
    BAD_VALUES,
    ids=[f"{m}-{f}={value_id(v)}" for m, f, v in BAD_VALUES],
)
def test_bad_field_value_is_400_and_changes_nothing(api, todo, method, field, value):
    expect_refused(api, method, todo, {field: value}, bad_fields=(field,))


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_every_bad_field_is_named(api, todo, method):
    fields = {"title": "", "completed": "yes", "order": 1.5}
    expect_refused(api, method, todo, fields, bad_fields=("title", "completed", "order"))


@pytest.mark.parametrize(
    ("method", "unknown"),
    [
        ("POST", {"priority": 1}),
        ("PUT", {"due": "tomorrow", "tags": []}),
        ("PATCH", {"Title": "caps"}),
    ],
)
def test_unknown_fields_are_400_each_named(api, todo, method, unknown):
    expect_refused(api, method, todo, unknown, bad_fields=tuple(unknown))


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", 12345), ("url", "http://127.0.0.1:8000/todos/12345"), ("version", 1)],
)
def test_post_refuses_read_only_fields(api, field, value):
    expect_refused(api, "POST", None, {field: value}, bad_fields=(field,))


# --- PUT and PATCH may send back what GET returned ----------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_id_equal_to_the_path_is_accepted(api, todo, method):
    response = send_fields(api, method, todo, {"id": todo["id"], "title": "same id"})
    api.expect(response, 200, fields={"id": todo["id"], "title": "same id"})


@pytest.mark.parametrize(
    ("method", "other"),
    [("PUT", "next"), ("PATCH", "previous"), ("PUT", "negative"), ("PATCH", "too-big-for-64-bits")],
)
def test_id_other_than_the_path_is_400(api, todo, method, other):
    value = {
        "next": todo["id"] + 1,
        "previous": todo["id"] - 1,
        "negative": -todo["id"],
        "too-big-for-64-bits": 2**70,
    }
    expect_refused(api, method, todo, {"id": value[other]}, bad_fields=("id",))


@pytest.mark.parametrize(
    ("method", "kind"), [("PUT", "string"), ("PATCH", "float"), ("PUT", "bool"), ("PATCH", "null")]
)
def test_id_that_is_not_an_integer_is_400(api, todo, method, kind):
    value = {"string": str(todo["id"]), "float": float(todo["id"]), "bool": True, "null": None}
    expect_refused(api, method, todo, {"id": value[kind]}, bad_fields=("id",))


@pytest.mark.parametrize(
    ("method", "url"),
    [("PUT", "http://elsewhere.example/todos/999"), ("PATCH", ""), ("PUT", 42), ("PATCH", None)],
    ids=repr,
)
def test_url_in_the_body_is_ignored(api, todo, method, url):
    response = send_fields(api, method, todo, {"url": url, "title": "url ignored"})
    api.expect(response, 200, fields={"url": todo["url"], "title": "url ignored"})


@pytest.mark.parametrize(
    ("method", "version"),
    [("PUT", "1"), ("PATCH", 1.0), ("PUT", True), ("PATCH", None), ("PUT", [1])],
    ids=repr,
)
def test_version_that_is_not_an_integer_is_400(api, todo, method, version):
    expect_refused(api, method, todo, {"version": version}, bad_fields=("version",))


@pytest.mark.parametrize("missing", ["title", "completed"])
def test_put_requires_title_and_completed(api, todo, missing):
    body = {"title": "replaced", "completed": True}
    del body[missing]
    response = api.put(f"/todos/{todo['id']}", json=body)
    api.expect(response, 400, errors=(missing,))
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=todo)
