"""Each reference step's openapi.yaml: valid OpenAPI 3.1 that describes the whole contract.

(The `api` fixture also checks every real response of a reference server against its
step's file, so the file cannot drift from what the server does.)
"""

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HTTP_METHODS = {"get", "head", "post", "put", "patch", "delete", "options", "trace"}

CONTRACT_ROUTES = {
    "/todos": {"get", "head", "post", "delete", "options"},
    "/todos/{id}": {"get", "head", "put", "patch", "delete", "options"},
}
# The contract's "Health (05 only)": routes some steps add to the todo routes.
ROUTES_ADDED_BY_STEP = {
    "03_todo_rest": {},
    "04_clean_code": {},
    "05_docker": {"/health": {"get", "head", "options"}, "/ready": {"get", "head", "options"}},
}

# The statuses each operation can answer; 500 belongs to every one of them.
CONTRACT_STATUSES = {
    ("/todos", "get"): {"200", "400"},
    ("/todos", "head"): {"200", "400"},
    ("/todos", "post"): {"201", "400", "413", "415"},
    ("/todos", "delete"): {"204"},
    ("/todos", "options"): {"200"},
    ("/todos/{id}", "get"): {"200", "304", "404"},
    ("/todos/{id}", "head"): {"200", "304", "404"},
    ("/todos/{id}", "put"): {"200", "400", "404", "409", "412", "413", "415"},
    ("/todos/{id}", "patch"): {"200", "400", "404", "409", "412", "413", "415"},
    ("/todos/{id}", "delete"): {"204", "404", "412"},
    ("/todos/{id}", "options"): {"200", "404"},  # 404: /todos/abc is no todo's path
}

# The contract's "Tokens (05 only)" and /ready: statuses 05 adds to each todo operation.
TOKEN_AND_DATABASE_STATUSES = {"401", "503"}
WRITES = {"post", "put", "patch", "delete"}


def statuses_of(step: str, path: str, method: str) -> set[str]:
    """The statuses a step's file must document for one todo operation, 500 included."""
    # Any request can be 500 for a bug; in 05, 400 for a Host header that is not a host.
    statuses = CONTRACT_STATUSES[path, method] | {"500"}
    if step == "05_docker":
        statuses |= {"400"}
    if step == "05_docker" and method != "options":
        statuses |= TOKEN_AND_DATABASE_STATUSES | ({"403"} if method in WRITES else set())
    return statuses


# Response headers the contract promises, by operation and status.
CONTRACT_HEADERS = {
    ("/todos", "get", "200"): {"X-Total-Count", "Link"},
    ("/todos", "post", "201"): {"Location", "ETag"},
    ("/todos", "options", "200"): {"Allow"},
    ("/todos/{id}", "get", "200"): {"ETag"},
    ("/todos/{id}", "get", "304"): {"ETag"},
    ("/todos/{id}", "put", "200"): {"ETag"},
    ("/todos/{id}", "patch", "200"): {"ETag"},
    ("/todos/{id}", "options", "200"): {"Allow"},
}


def resolve(document: dict, node: dict) -> dict:
    """Follows `$ref`s inside the document to the object they name."""
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations(document: dict):
    """(path, method, operation) for every operation in the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def schema_validator(document: dict, name: str) -> Draft202012Validator:
    """A validator for components.schemas[name], with $refs resolved in the document."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", resource)
    return Draft202012Validator(
        {"$ref": f"urn:openapi#/components/schemas/{name}"}, registry=registry
    )


def test_is_valid_openapi_3_1(openapi_document):
    assert openapi_document["openapi"] == "3.1.0"
    assert openapi_document["info"].get("description"), "info.description tells what the API is"
    # A contributor's package: the learner's install can run every other test here.
    validator = pytest.importorskip(
        "openapi_spec_validator",
        reason="needs openapi-spec-validator: pip install -r requirements-dev.txt",
    )
    validator.validate(openapi_document)  # raises with the first problem it finds


def test_describes_every_route_of_the_contract_and_no_other(openapi_document, openapi_step):
    described = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in openapi_document["paths"].items()
    }
    assert described == CONTRACT_ROUTES | ROUTES_ADDED_BY_STEP[openapi_step.step]


@pytest.mark.parametrize(
    ("path", "method"),
    CONTRACT_STATUSES,
    ids=[f"{method} {path}" for path, method in CONTRACT_STATUSES],
)
def test_documents_every_status_of_each_operation(openapi_document, openapi_step, path, method):
    documented = set(openapi_document["paths"][path][method]["responses"])
    assert documented == statuses_of(openapi_step.step, path, method)


@pytest.mark.parametrize(("path", "method", "status"), CONTRACT_HEADERS)
def test_documents_the_response_headers(openapi_document, path, method, status):
    response = resolve(
        openapi_document, openapi_document["paths"][path][method]["responses"][status]
    )
    assert set(response.get("headers", {})) >= CONTRACT_HEADERS[path, method, status]


def test_errors_are_problem_documents(openapi_document):
    for path, method, operation in operations(openapi_document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or method == "head":
                continue
            content = resolve(openapi_document, response).get("content", {})
            schema = content.get("application/problem+json", {}).get("schema")
            assert list(content) == ["application/problem+json"], f"{method} {path} {status}"
            assert schema == {"$ref": "#/components/schemas/Problem"}, f"{method} {path} {status}"


def test_405_is_documented_with_allow(openapi_document):
    response = openapi_document["components"]["responses"]["MethodNotAllowed"]
    assert "Allow" in response["headers"]
    assert "application/problem+json" in response["content"]


def test_parameters_have_the_contract_ranges(openapi_document):
    parameters = {
        name: resolve(openapi_document, parameter)
        for name, parameter in openapi_document["components"]["parameters"].items()
    }
    assert parameters["id"]["in"] == "path"
    assert parameters["id"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**63 - 1,
    }
    assert parameters["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 100,
    }
    assert parameters["offset"]["schema"] == {"type": "integer", "minimum": 0, "default": 0}
    assert parameters["completed"]["schema"] == {"type": "boolean"}
    for path, method, operation in operations(openapi_document):
        names = {resolve(openapi_document, p)["name"] for p in operation.get("parameters", [])}
        expected = {
            ("/todos", "get"): {"completed", "limit", "offset"},
            ("/todos", "head"): {"completed", "limit", "offset"},
            ("/todos/{id}", "get"): {"If-None-Match"},
            ("/todos/{id}", "head"): {"If-None-Match"},
            ("/todos/{id}", "put"): {"If-Match"},
            ("/todos/{id}", "patch"): {"If-Match"},
            ("/todos/{id}", "delete"): {"If-Match"},
        }.get((path, method), set())
        assert names == expected, f"{method} {path}"


@pytest.mark.parametrize(
    ("path", "method", "media_types", "schema"),
    [
        ("/todos", "post", ["application/json"], "TodoCreate"),
        ("/todos/{id}", "put", ["application/json"], "TodoReplace"),
        ("/todos/{id}", "patch", ["application/json", "application/merge-patch+json"], "TodoPatch"),
    ],
)
def test_request_bodies(openapi_document, path, method, media_types, schema):
    body = openapi_document["paths"][path][method]["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == media_types
    for media_type in media_types:
        assert body["content"][media_type]["schema"] == {"$ref": f"#/components/schemas/{schema}"}
    assert openapi_document["components"]["schemas"][schema]["additionalProperties"] is False


# Bodies and whether each schema accepts them: the file's schemas encode the contract's rules.
SCHEMA_CASES = [
    ("TodoCreate", {"title": "walk"}, True),
    ("TodoCreate", {"title": "walk", "completed": True, "order": -(2**31)}, True),
    ("TodoCreate", {"title": "walk", "order": None}, True),
    ("TodoCreate", {}, False),
    ("TodoCreate", {"title": ""}, False),
    ("TodoCreate", {"title": "   "}, False),
    ("TodoCreate", {"title": "a" * 201}, False),
    ("TodoCreate", {"title": "walk", "order": True}, False),
    ("TodoCreate", {"title": "walk", "order": 1.5}, False),
    ("TodoCreate", {"title": "walk", "order": 2**31}, False),
    ("TodoCreate", {"title": "walk", "completed": 1}, False),
    ("TodoCreate", {"title": "walk", "id": 1}, False),
    ("TodoCreate", {"title": "walk", "url": "http://x/todos/1"}, False),
    ("TodoCreate", {"title": "walk", "version": 1}, False),
    ("TodoCreate", {"title": "walk", "priority": 1}, False),
    ("TodoReplace", {"title": "walk", "completed": False}, True),
    ("TodoReplace", {"title": "walk", "completed": False, "id": 1, "url": 5, "version": 2}, True),
    ("TodoReplace", {"title": "walk"}, False),
    ("TodoReplace", {"completed": True}, False),
    ("TodoReplace", {"title": "walk", "completed": False, "version": "2"}, False),
    ("TodoPatch", {}, True),
    ("TodoPatch", {"order": None}, True),
    ("TodoPatch", {"completed": "true"}, False),
    ("TodoPatch", {"id": "1"}, False),
    (
        "Todo",
        {
            "id": 1,
            "title": "t",
            "completed": False,
            "order": None,
            "url": "http://h/todos/1",
            "version": 1,
        },
        True,
    ),
    (
        "Todo",
        {"id": 1, "title": "t", "completed": False, "url": "http://h/todos/1", "version": 1},
        False,
    ),
    (
        "Problem",
        {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "x"},
        True,
    ),
    (
        "Problem",
        {
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "detail": "x",
            "errors": [{"field": "title"}],
        },
        False,
    ),
]


@pytest.mark.parametrize(("schema", "body", "valid"), SCHEMA_CASES)
def test_schemas_accept_and_refuse_as_the_contract_says(openapi_document, schema, body, valid):
    errors = list(schema_validator(openapi_document, schema).iter_errors(body))
    assert (not errors) == valid, (
        f"{schema} {'refused' if errors else 'accepted'} {body}: {errors[:1]}"
    )


def test_server_allows_the_methods_the_file_describes(api, todo_server, todo):
    if todo_server.openapi is None:
        pytest.skip("only reference steps have an openapi.yaml; --base-url servers have none")
    for path, item in todo_server.openapi.spec["paths"].items():
        response = api.options(path.replace("{id}", str(todo["id"])))
        allowed = {m.strip().lower() for m in response.headers.get("Allow", "").split(",")}
        described = {method for method in item if method in HTTP_METHODS}
        api.check(allowed == described, response, f"Allow: {', '.join(sorted(described))}")
