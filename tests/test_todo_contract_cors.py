"""Cross-origin use: a web page on another origin may call the API and read its headers.

Every response, errors included, allows any origin and exposes Location, ETag, Link and
X-Total-Count. A preflight (OPTIONS with Access-Control-Request-Method) is answered with the
methods and headers a page may use, and changes nothing. Core tests, run against steps 03,
04 and 05; allowing `Authorization` (for step 05's tokens) is a production addition, in
test_todo_contract_production.py.
"""

import pytest

EXPOSED = {"location", "etag", "link", "x-total-count"}
REQUEST_HEADERS = {"content-type", "if-match", "if-none-match"}
ORIGIN = {"Origin": "http://app.example"}


def tokens(header: str | None) -> set[str]:
    """The comma-separated items of a header, lower case."""
    return {part.strip().lower() for part in (header or "").split(",") if part.strip()}


# Each case returns (response, status) for one kind of answer, success and error alike.
CASES = {
    "list-200": lambda api, todo: (api.get("/todos?limit=1", headers=ORIGIN), 200),
    "create-201": lambda api, todo: (api.post("/todos", json={"title": "x"}, headers=ORIGIN), 201),
    "get-200": lambda api, todo: (api.get(f"/todos/{todo['id']}", headers=ORIGIN), 200),
    "not-modified-304": lambda api, todo: (
        api.get(f"/todos/{todo['id']}", headers={**ORIGIN, "If-None-Match": '"1"'}),
        304,
    ),
    "patch-200": lambda api, todo: (
        api.patch(f"/todos/{todo['id']}", json={"completed": True}, headers=ORIGIN),
        200,
    ),
    "delete-204": lambda api, todo: (api.delete(f"/todos/{todo['id']}", headers=ORIGIN), 204),
    "options-204": lambda api, todo: (api.options("/todos", headers=ORIGIN), (200, 204)),
    "bad-body-400": lambda api, todo: (api.post("/todos", json={"title": ""}, headers=ORIGIN), 400),
    "bad-query-400": lambda api, todo: (api.get("/todos?limit=0", headers=ORIGIN), 400),
    "unknown-todo-404": lambda api, todo: (
        api.get("/todos/9223372036854775807", headers=ORIGIN),
        404,
    ),
    "unknown-path-404": lambda api, todo: (api.get("/nope", headers=ORIGIN), 404),
    "method-405": lambda api, todo: (api.put("/todos", json={}, headers=ORIGIN), 405),
    "stale-version-409": lambda api, todo: (
        api.patch(f"/todos/{todo['id']}", json={"version": 9}, headers=ORIGIN),
        409,
    ),
    "if-match-412": lambda api, todo: (
        api.delete(f"/todos/{todo['id']}", headers={**ORIGIN, "If-Match": '"9"'}),
        412,
    ),
    "too-large-413": lambda api, todo: (
        api.post(
            "/todos",
            data=b" " * 70_000,
            headers={**ORIGIN, "Content-Type": "application/json"},
        ),
        413,
    ),
    "form-data-415": lambda api, todo: (
        api.post("/todos", data={"title": "x"}, headers=ORIGIN),
        415,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_every_response_allows_any_origin_and_exposes_the_headers(api, todo, case):
    response, status = CASES[case](api, todo)
    api.expect(response, status, headers={"Access-Control-Allow-Origin": "*"})
    api.check(
        tokens(response.headers.get("Access-Control-Expose-Headers")) >= EXPOSED,
        response,
        "Access-Control-Expose-Headers: Location, ETag, Link, X-Total-Count",
    )


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/todos", {"get", "head", "post", "delete", "options"}),
        ("/todos/{id}", {"get", "head", "put", "patch", "delete", "options"}),
    ],
    ids=["collection", "one-todo"],
)
def test_preflight_allows_the_methods_and_headers(api, todo, path, methods):
    headers = {
        **ORIGIN,
        "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "content-type, if-match",
    }
    response = api.options(path.format(id=todo["id"]), headers=headers)
    api.expect(
        response,
        (200, 204),
        headers={"Access-Control-Allow-Origin": "*", "Access-Control-Max-Age": "86400"},
    )
    api.check(
        tokens(response.headers.get("Access-Control-Allow-Methods")) == methods,
        response,
        f"Access-Control-Allow-Methods: {', '.join(sorted(m.upper() for m in methods))}",
    )
    api.check(
        tokens(response.headers.get("Access-Control-Allow-Headers")) >= REQUEST_HEADERS,
        response,
        "Access-Control-Allow-Headers: Content-Type, If-Match, If-None-Match",
    )
    # A preflight only asks: the DELETE it announces must not happen.
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=todo)
