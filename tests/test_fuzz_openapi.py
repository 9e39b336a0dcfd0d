"""Fuzzing: requests generated from step 05's openapi.yaml, sent to its real servers.

These tests are marked `production` and run against step 05's reference servers only.
Fuzzing is the hostile-input tool: much of what it sends (control characters, numbers no
column holds, deep JSON, odd Host headers) is input that only a deployment must guard
against, a production addition of the contract. Steps 03 and 04 serve the core contract
only, and the contract tests check it on them. With --base-url these tests skip: they need
the step's openapi.yaml.

Schemathesis reads openapi.yaml and generates requests for every operation in it, with
Hypothesis: requests the file allows, and requests that break one of its rules (a field of
the wrong type, a limit out of range, an id that is not one...). Each goes over HTTP to the
reference server, started as in the contract suite. Every answer must be a status the file
documents for that operation, never a 5xx, with the documented Content-Type, headers and
body; a request that breaks the file's rules must get a 4xx; and every error must be a
problem document of its status. Operations on one todo get both generated ids (mostly todos
that do not exist) and the id of a todo that does, so that generated writes really happen.

The second test shows that each status the file documents really happens: for each
operation and status, it sends one request that must get exactly that answer. 401 and 403
come from a server with API_TOKEN and API_READ_TOKEN set, 503 from one whose database does
not answer. 500 is left out: it is the safety net for a bug, and no request may get it.

By default the fuzz test sends up to FUZZ_EXAMPLES=30 generated requests per operation,
the same ones on every run, so that CI gives the same answer each time. For a longer run,
set FUZZ_EXAMPLES; FUZZ_SEED=<a number> also picks other requests than the default ones
(bash shown; in cmd run `set FUZZ_EXAMPLES=500` first, in PowerShell
`$env:FUZZ_EXAMPLES=500`):

    FUZZ_EXAMPLES=500 pytest tests/test_fuzz_openapi.py
    FUZZ_EXAMPLES=500 FUZZ_SEED=7 pytest tests/test_fuzz_openapi.py

A failure shows the request as a curl command that reproduces it.
"""

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import pytest
import requests

# The fuzzer is a contributor's package: the learner's install skips this file.
try:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )
except ImportError:
    pytest.skip("needs schemathesis: pip install -r requirements-dev.txt", allow_module_level=True)

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 30)
FUZZ_SEED = os.environ.get("FUZZ_SEED") or None
TIMEOUT = 10  # seconds, for every request

pytestmark = pytest.mark.production


# --- Generated requests -------------------------------------------------------------------


def problem_document_of_its_status(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Every error but HEAD's is an RFC 9457 problem document that names its own status."""
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return
    content_type = response.headers.get("content-type", [""])[0]
    body = None
    if content_type.split(";")[0].strip() == "application/problem+json":
        with suppress(ValueError):  # not JSON: body stays None
            body = json.loads(response.content)
    assert isinstance(body, dict) and body.get("status") == response.status_code, (
        f"A {response.status_code} answer must be a problem document with "
        f'"status": {response.status_code}, sent as application/problem+json'
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,  # a request that breaks the file's rules gets a 4xx
    problem_document_of_its_status,
]

FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,  # a request over HTTP takes as long as it takes
    derandomize=FUZZ_SEED is None,  # the same requests on every run, unless FUZZ_SEED is set
    database=None,  # no failing examples kept between runs: each run stands alone
    phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@pytest.fixture
def openapi_schema(todo_server) -> schemathesis.BaseSchema:
    """The server's own openapi.yaml, loaded by schemathesis."""
    if todo_server.openapi is None:
        pytest.skip("fuzzing needs a step's openapi.yaml: it checks the reference servers only")
    return schemathesis.openapi.from_path(todo_server.openapi.path)


def create_todo(session: requests.Session, base_url: str) -> int:
    """Creates a todo to fuzz and returns its id."""
    response = session.post(f"{base_url}/todos", json={"title": "fuzzed"}, timeout=TIMEOUT)
    assert response.status_code == 201, f"POST /todos to fuzz a todo answered {response.text}"
    return response.json()["id"]


def fuzz(operation: schemathesis.APIOperation, base_url: str, session: requests.Session) -> None:
    """Sends generated requests for one operation and checks every answer."""
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    # Each strategy gives (case, on_a_todo): on_a_todo cases get the id of a fresh todo.
    kinds = [operation.as_strategy(mode).map(lambda case: (case, False)) for mode in modes]
    if "{id}" in operation.path:
        # The id is fixed, so that a negative case breaks some other part of the request.
        kinds += [
            operation.as_strategy(mode, path_parameters={"id": 1}).map(lambda case: (case, True))
            for mode in modes
        ]

    @FUZZ_SETTINGS
    @given(st.one_of(kinds))
    def send(generated):
        """Sends one generated request and runs every check on its answer."""
        case, on_a_todo = generated
        if on_a_todo:
            case.path_parameters["id"] = create_todo(session, base_url)
        response = case.call(base_url=base_url, session=session, timeout=TIMEOUT)
        # OPTIONS answers for every whole-number id, even one outside the id's documented
        # range: the methods belong to the path. A "bad" id there is no refusal to expect.
        checks = (
            CHECKS
            if case.method != "OPTIONS"
            else [c for c in CHECKS if c != negative_data_rejection]
        )
        case.validate_response(response, checks=checks)

    if FUZZ_SEED is not None:
        send = seed(int(FUZZ_SEED))(send)
    send()


def test_generated_requests_get_documented_answers(todo_server, openapi_schema, subtests):
    with requests.Session() as session:
        for result in openapi_schema.get_all_operations():
            operation = result.ok()
            with subtests.test(operation.label):
                fuzz(operation, todo_server.base_url, session)


# --- Every documented status ------------------------------------------------------------

# Which server answers: the one under test, a step 05 server with tokens, or one without
# a database. Each request gets the api of its server and the path of one of its todos.
OPEN, TOKENS, NO_DATABASE = "open", "tokens", "no database"
WRITE_TOKEN = "write-token-for-the-tests"
READ_TOKEN = "read-token-for-the-tests"
UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/nothing"
WRITES = {"post", "put", "patch", "delete"}
JSON = {"Content-Type": "application/json"}
TOO_LARGE = b" " * (64 * 1024 + 1)
MISSING_TODO = "/todos/9223372036854775807"
NOT_A_HOST = {"Host": "not a host"}

Request = Callable[..., requests.Response]

# A request each operation answers with success; with other headers, it shows 401 and 403.
SUCCEEDING: dict[tuple[str, str], Request] = {
    ("/todos", "get"): lambda api, todo, **kw: api.get("/todos", **kw),
    ("/todos", "head"): lambda api, todo, **kw: api.head("/todos", **kw),
    ("/todos", "post"): lambda api, todo, **kw: api.post("/todos", json={"title": "x"}, **kw),
    ("/todos", "delete"): lambda api, todo, **kw: api.delete("/todos", **kw),
    ("/todos", "options"): lambda api, todo, **kw: api.options("/todos", **kw),
    ("/todos/{id}", "get"): lambda api, todo, **kw: api.get(todo, **kw),
    ("/todos/{id}", "head"): lambda api, todo, **kw: api.head(todo, **kw),
    ("/todos/{id}", "put"): lambda api, todo, **kw: api.put(
        todo, json={"title": "x", "completed": True}, **kw
    ),
    ("/todos/{id}", "patch"): lambda api, todo, **kw: api.patch(todo, json={"order": 1}, **kw),
    ("/todos/{id}", "delete"): lambda api, todo, **kw: api.delete(todo, **kw),
    ("/todos/{id}", "options"): lambda api, todo, **kw: api.options(todo, **kw),
    ("/health", "get"): lambda api, todo, **kw: api.get("/health", **kw),
    ("/health", "head"): lambda api, todo, **kw: api.head("/health", **kw),
    ("/health", "options"): lambda api, todo, **kw: api.options("/health", **kw),
    ("/ready", "get"): lambda api, todo, **kw: api.get("/ready", **kw),
    ("/ready", "head"): lambda api, todo, **kw: api.head("/ready", **kw),
    ("/ready", "options"): lambda api, todo, **kw: api.options("/ready", **kw),
}

# The other answers, each from a request made for it.
REFUSED: dict[tuple[str, str, str], Request] = {
    ("/todos", "get", "400"): lambda api, todo: api.get("/todos?limit=0"),
    ("/todos", "head", "400"): lambda api, todo: api.head("/todos?offset=-1"),
    ("/todos", "post", "400"): lambda api, todo: api.post("/todos", json={"title": ""}),
    ("/todos", "post", "413"): lambda api, todo: api.post("/todos", data=TOO_LARGE, headers=JSON),
    ("/todos", "post", "415"): lambda api, todo: api.post("/todos", data={"title": "x"}),
    ("/todos/{id}", "get", "304"): lambda api, todo: api.get(
        todo, headers={"If-None-Match": '"1"'}
    ),
    ("/todos/{id}", "get", "404"): lambda api, todo: api.get(MISSING_TODO),
    ("/todos/{id}", "head", "304"): lambda api, todo: api.head(
        todo, headers={"If-None-Match": '"1"'}
    ),
    ("/todos/{id}", "head", "404"): lambda api, todo: api.head(MISSING_TODO),
    ("/todos/{id}", "put", "400"): lambda api, todo: api.put(todo, json={"title": "x"}),
    ("/todos/{id}", "put", "404"): lambda api, todo: api.put(
        MISSING_TODO, json={"title": "x", "completed": True}
    ),
    ("/todos/{id}", "put", "409"): lambda api, todo: api.put(
        todo, json={"title": "x", "completed": True, "version": 7}
    ),
    ("/todos/{id}", "put", "412"): lambda api, todo: api.put(
        todo, json={"title": "x", "completed": True}, headers={"If-Match": '"7"'}
    ),
    ("/todos/{id}", "put", "413"): lambda api, todo: api.put(todo, data=TOO_LARGE, headers=JSON),
    ("/todos/{id}", "put", "415"): lambda api, todo: api.put(todo, data=b"{}"),
    ("/todos/{id}", "patch", "400"): lambda api, todo: api.patch(todo, json={"done": True}),
    ("/todos/{id}", "patch", "404"): lambda api, todo: api.patch(MISSING_TODO, json={}),
    ("/todos/{id}", "patch", "409"): lambda api, todo: api.patch(todo, json={"version": 7}),
    ("/todos/{id}", "patch", "412"): lambda api, todo: api.patch(
        todo, json={}, headers={"If-Match": '"7"'}
    ),
    ("/todos/{id}", "patch", "413"): lambda api, todo: api.patch(
        todo, data=TOO_LARGE, headers=JSON
    ),
    ("/todos/{id}", "patch", "415"): lambda api, todo: api.patch(
        todo, data=b"{}", headers={"Content-Type": "text/plain"}
    ),
    ("/todos/{id}", "delete", "404"): lambda api, todo: api.delete(MISSING_TODO),
    ("/todos/{id}", "delete", "412"): lambda api, todo: api.delete(
        todo, headers={"If-Match": '"7"'}
    ),
    # Not a todo id at all: the path names nothing.
    ("/todos/{id}", "options", "404"): lambda api, todo: api.options("/todos/abc"),
}

# Headers that come with some statuses.
STATUS_HEADERS = {"401": {"WWW-Authenticate": "Bearer"}, "503": {"Retry-After": ...}}


def planned_request(path: str, method: str, status: str) -> tuple[str, Request] | None:
    """Which server gets which request to answer `status` to this operation, if known."""
    succeeding = SUCCEEDING.get((path, method))
    bearer = {"Authorization": f"Bearer {READ_TOKEN}"}
    if succeeding is not None:
        if status.startswith("2"):
            return OPEN, succeeding
        if status == "401":  # no token at all
            return TOKENS, succeeding
        if status == "403" and method in WRITES:  # the read token may not write
            return TOKENS, lambda api, todo: succeeding(api, todo, headers=bearer)
        if status == "503":
            return NO_DATABASE, succeeding
    if (path, method, status) in REFUSED:
        return OPEN, REFUSED[path, method, status]
    if status == "400" and succeeding is not None:  # any request, with a Host that is no host
        return OPEN, lambda api, todo: succeeding(api, todo, headers=NOT_A_HOST)
    return None


def documented_statuses(spec: dict) -> Iterator[tuple[str, str, str]]:
    """(path, method, status) for every status the file documents, but 500."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                for status in operation["responses"]:
                    if status != "500":
                        yield path, method, status


@pytest.fixture
def apis(todo_server, api, start_variant) -> dict:
    """The api of each server that a documented status may need."""
    servers = {OPEN: api}
    if todo_server.name == "05_docker":
        servers[TOKENS] = start_variant(
            "05_docker", API_TOKEN=WRITE_TOKEN, API_READ_TOKEN=READ_TOKEN
        )
        # Six workers: the requests that wait for the database are sent together.
        servers[NO_DATABASE] = start_variant(
            "05_docker", DATABASE_URL=UNREACHABLE_DATABASE, WEB_CONCURRENCY="6"
        )
    return servers


def fresh_todo(server: str, api) -> str:
    """The path of a todo that exists on this server (on one without a database: would)."""
    if server == NO_DATABASE:
        return "/todos/1"
    headers = {"Authorization": f"Bearer {WRITE_TOKEN}"} if server == TOKENS else {}
    response = api.post("/todos", json={"title": "status"}, headers=headers)
    return f"/todos/{api.expect(response, 201)['id']}"


def test_every_documented_status_is_produced(todo_server, apis, subtests):
    if todo_server.openapi is None:
        pytest.skip("needs a step's openapi.yaml: it checks the reference servers only")
    plan = {key: planned_request(*key) for key in documented_statuses(todo_server.openapi.spec)}
    # Without a database, each answer takes seconds of waiting: send those all at once.
    waiting = {key: plan[key] for key in plan if plan[key] and plan[key][0] == NO_DATABASE}
    with ThreadPoolExecutor(max_workers=max(len(waiting), 1)) as pool:
        futures = {
            key: pool.submit(send, apis[NO_DATABASE], fresh_todo(NO_DATABASE, None))
            for key, (_, send) in waiting.items()
        }
        for (path, method, status), planned in plan.items():
            with subtests.test(f"{method.upper()} {path} {status}"):
                assert planned is not None, (
                    f"{todo_server.name}/openapi.yaml documents {status} for "
                    f"{method.upper()} {path}, and no request in this test produces it: "
                    "add one to SUCCEEDING or REFUSED"
                )
                server, send = planned
                if server == NO_DATABASE:
                    response = futures[path, method, status].result()
                else:
                    response = send(apis[server], fresh_todo(server, apis[server]))
                apis[server].expect(response, int(status), headers=STATUS_HEADERS.get(status, {}))
