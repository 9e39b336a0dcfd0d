"""The transport layer: HTTP in, HTTP out, and nothing else.

Each route reads the request (path, query, headers, body), calls one method of the
service, and turns the answer into a response. The rules of a todo live in service.py;
where todos are kept lives in repository.py. This file maps the service's errors to
HTTP statuses and problem documents, and adds the CORS headers. Tokens are checked in
auth.py, and logs.py writes one log line per request.
"""

import json
import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import IntegerConverter

from repository import StorageUnavailable, Todo
from service import (
    MAX_TODO_ID,
    InvalidTodo,
    PreconditionFailed,
    StaleVersion,
    TodoError,
    TodoNotFound,
    TodoService,
)

MAX_BODY_BYTES = 64 * 1024
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000

HEALTH_METHODS = ("GET", "HEAD", "OPTIONS")
COLLECTION_METHODS = ("GET", "HEAD", "POST", "DELETE", "OPTIONS")
ITEM_METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
REQUEST_HEADERS = ("Content-Type", "If-Match", "If-None-Match", "Authorization")
EXPOSED_HEADERS = ("Location", "ETag", "Link", "X-Total-Count")

# The one place where the service's errors become HTTP statuses.
STATUS_OF_ERROR = {
    TodoNotFound: 404,
    InvalidTodo: 400,
    StaleVersion: 409,
    PreconditionFailed: 412,
}


class ApiError(Exception):
    """A request refused before it reaches the service (bad query, body or media type)."""

    def __init__(self, status: int, detail: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []


class TodoIdConverter(IntegerConverter):
    """`<id:todo_id>` in a route: a whole number in ASCII digits; anything else in its place
    is 404. (The usual `<int:...>` would also take full-width or Arabic-Indic digits, which
    Python counts as digits too.)"""

    regex = r"[0-9]+"


# A host name or an IP address, and maybe a port: what a Host header may hold (RFC 9110).
VALID_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?")


def check_host() -> None:
    """Refuses a request whose Host header cannot be a host: todo URLs are built from it."""
    if not VALID_HOST.fullmatch(request.host):
        raise ApiError(400, "The Host header is not a valid host name.")


api = Blueprint("todos", __name__)


# --- The routes -------------------------------------------------------------------------


@api.get("/health")
def health() -> dict[str, str]:
    """Says the process is up and serving; a load balancer or a container runtime asks."""
    return {"status": "ok"}


@api.get("/ready")
def ready() -> dict[str, str]:
    """Says the database answers too, so requests for todos can succeed; else 503."""
    todo_service().check_storage()
    return {"status": "ready"}


@api.get("/todos")
def list_todos() -> Response:
    """Lists todos by id, one page at a time, optionally only done or open ones."""
    completed = query_completed()
    limit = query_int("limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = query_int("offset", default=0, minimum=0)
    page = todo_service().list_todos(completed, limit, offset)
    response = jsonify([todo_json(todo) for todo in page.todos])
    response.headers["X-Total-Count"] = str(page.total)
    links = page_links(page.total, limit, offset)
    if links:
        response.headers["Link"] = links
    return response


@api.post("/todos")
def create_todo() -> tuple[Response, int]:
    """Creates a todo from a JSON object with a title and, if wanted, completed and order."""
    todo = todo_service().create_todo(read_json_object("application/json"))
    response = todo_response(todo)
    response.headers["Location"] = todo_url(todo.id)
    return response, 201


@api.delete("/todos")
def delete_all_todos() -> Response:
    """Deletes every todo. The ids already used stay used."""
    todo_service().delete_all_todos()
    return no_content()


@api.get("/todos/<id:todo_id>")
def get_todo(todo_id: int) -> Response:
    """Answers one todo, or 304 Not Modified when the client's copy is still current."""
    todo = todo_service().get_todo(todo_id)
    if matches_weakly(request.headers.get("If-None-Match"), etag(todo)):
        return Response(status=304, headers={"ETag": etag(todo)})
    return todo_response(todo)


@api.put("/todos/<id:todo_id>")
def replace_todo(todo_id: int) -> Response:
    """Replaces a todo: title and completed are required, an absent order means null."""
    todo_service().get_todo(todo_id)  # a missing todo is 404 whatever the body says
    body = read_json_object("application/json")
    return todo_response(todo_service().replace_todo(todo_id, body, if_match_versions()))


@api.patch("/todos/<id:todo_id>")
def update_todo(todo_id: int) -> Response:
    """Changes only the fields the body gives; `"order": null` clears the order."""
    todo_service().get_todo(todo_id)
    body = read_json_object("application/json", "application/merge-patch+json")
    return todo_response(todo_service().update_todo(todo_id, body, if_match_versions()))


@api.delete("/todos/<id:todo_id>")
def delete_todo(todo_id: int) -> Response:
    """Deletes one todo, unless If-Match shows the client has not seen its latest state."""
    todo_service().delete_todo(todo_id, if_match_versions())
    return no_content()


@api.route("/health", methods=["OPTIONS"], defaults={"allowed": HEALTH_METHODS})
# Its own endpoint name: Werkzeug takes two URLs of one endpoint with the same defaults
# for aliases, and would redirect OPTIONS /health to /ready.
@api.route(
    "/ready", methods=["OPTIONS"], defaults={"allowed": HEALTH_METHODS}, endpoint="ready_methods"
)
@api.route("/todos", methods=["OPTIONS"], defaults={"allowed": COLLECTION_METHODS})
@api.route("/todos/<id:todo_id>", methods=["OPTIONS"], defaults={"allowed": ITEM_METHODS})
def describe_methods(allowed: tuple[str, ...], todo_id: int | None = None) -> Response:
    """Says which methods a path allows; browsers ask this before a cross-origin write."""
    if todo_id is not None and not 1 <= todo_id <= MAX_TODO_ID:
        raise ApiError(404, f"No todo with id {todo_id}.")  # no todo can ever have this id
    methods = ", ".join(allowed)
    response = no_content()
    response.headers["Allow"] = methods
    response.headers["Access-Control-Allow-Methods"] = methods
    response.headers["Access-Control-Allow-Headers"] = ", ".join(REQUEST_HEADERS)
    response.headers["Access-Control-Max-Age"] = "86400"  # browsers may cache this a day
    return response


# --- Reading requests -------------------------------------------------------------------


def todo_service() -> TodoService:
    """The service of the app that handles this request."""
    return current_app.extensions["todo_service"]


def read_json_object(*content_types: str) -> dict[str, Any]:
    """The request's body as a dict, or the problem that says what is wrong with it."""
    if request.mimetype not in content_types:
        raise ApiError(415, f"Send the body as JSON, with Content-Type: {content_types[0]}.")
    # Flask answers 413 itself to a Content-Length over MAX_CONTENT_LENGTH, one byte more
    # than the limit. A body sent in chunks has no Content-Length: Flask stops reading it
    # at MAX_CONTENT_LENGTH, so a body too large shows itself by that one extra byte.
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    try:
        body = json.loads(raw, parse_constant=refuse_constant)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise ApiError(400, "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, 'The body must be a JSON object, like {"title": "walk the dog"}.')
    return body


def refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON, though Python's json module accepts them."""
    raise ValueError(f"{name} is not valid JSON")


def query_completed() -> bool | None:
    """The `completed` filter: true, false, or None when not given."""
    value = request.args.get("completed")
    if value is None:
        return None
    if value not in ("true", "false"):
        message = "must be true or false"
        raise ApiError(400, f"completed {message}", [("completed", message)])
    return value == "true"


def query_int(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """A whole-number query parameter within its range, or a 400 problem."""
    value = request.args.get(name)
    if value is None:
        return default
    try:
        number = int(value) if value.isascii() and value.isdigit() else None
    except ValueError:  # more digits than Python turns into a number
        number = None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        allowed = f"from {minimum} to {maximum}" if maximum else f"of {minimum} or more"
        message = f"must be a whole number {allowed}"
        raise ApiError(400, f"{name} {message}", [(name, message)])
    return number


def entity_tags(header: str | None) -> list[str]:
    """The tags listed in an If-Match or If-None-Match header, such as "3", W/"3" or *."""
    return [tag.strip() for tag in (header or "").split(",") if tag.strip()]


def if_match_versions() -> set[int] | None:
    """The versions If-Match allows a change at; None when any version will do."""
    if "If-Match" not in request.headers:
        return None
    tags = entity_tags(request.headers["If-Match"])
    if "*" in tags:
        return None
    # Strong comparison: only "3" names version 3; W/"3" and malformed tags match nothing.
    return {int(tag[1:-1]) for tag in tags if re.fullmatch(r'"[0-9]{1,18}"', tag)}


def matches_weakly(if_none_match: str | None, current: str) -> bool:
    """If-None-Match compares loosely: W/"3" and "3" name the same version."""
    tags = entity_tags(if_none_match)
    return "*" in tags or any(tag.removeprefix("W/") == current for tag in tags)


# --- Writing responses ------------------------------------------------------------------


def no_content() -> Response:
    """204 No Content: success, with no body and so no Content-Type."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def page_links(total: int, limit: int, offset: int) -> str:
    """The Link header's next and prev pages, keeping the filter; empty when neither exists."""
    links = []
    if offset + limit < total:
        links.append(f'<{page_url(limit, offset + limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{page_url(limit, max(0, offset - limit))}>; rel="prev"')
    return ", ".join(links)


def page_url(limit: int, offset: int) -> str:
    """The absolute URL of one page of the list."""
    completed = request.args.get("completed")  # None leaves it out of the URL
    return url_for(
        "todos.list_todos", completed=completed, limit=limit, offset=offset, _external=True
    )


def todo_url(todo_id: int) -> str:
    """The todo's absolute URL, with the scheme and host this request came in on."""
    return url_for("todos.get_todo", todo_id=todo_id, _external=True)


def todo_json(todo: Todo) -> dict[str, Any]:
    """A todo as clients see it, in the contract's field order."""
    return {
        "id": todo.id,
        "title": todo.title,
        "completed": todo.completed,
        "order": todo.order,
        "url": todo_url(todo.id),
        "version": todo.version,
    }


def todo_response(todo: Todo) -> Response:
    """A todo as the body, with its ETag."""
    response = jsonify(todo_json(todo))
    response.headers["ETag"] = etag(todo)
    return response


def etag(todo: Todo) -> str:
    """The todo's entity tag: its version, in quotes, as HTTP writes strong ETags."""
    return f'"{todo.version}"'


# --- Errors and CORS --------------------------------------------------------------------


def problem(status: int, detail: str, errors: list[tuple[str, str]] | None = None) -> Response:
    """Every error's body: an RFC 9457 problem document."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"field": name, "message": message} for name, message in errors]
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def handle_api_error(error: ApiError) -> Response:
    """A refusal from the reading functions above."""
    return problem(error.status, error.detail, error.errors)


def handle_todo_error(error: TodoError) -> Response:
    """A refusal from the service, with the status that HTTP gives it."""
    errors = error.errors if isinstance(error, InvalidTodo) else None
    return problem(STATUS_OF_ERROR[type(error)], str(error), errors)


def handle_storage_unavailable(error: StorageUnavailable) -> Response:
    """The database does not answer: 503 tells clients and load balancers to retry later."""
    current_app.logger.warning("%s %s: %s", request.method, request.path, error)
    response = problem(503, "The database does not answer right now. Try again in a moment.")
    response.headers["Retry-After"] = "5"  # seconds
    return response


def handle_http_error(error: HTTPException) -> Response:
    """Flask's own errors (unknown path, wrong method, body too large) as problems too."""
    details = {
        404: f"There is nothing at {request.path}.",
        405: f"{request.method} is not allowed on {request.path}.",
        413: f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.",
    }
    status = error.code or 500
    response = problem(status, details.get(status, error.description or ""))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def handle_unexpected_error(error: Exception) -> Response:
    """A bug: the details go to the server's log, never to the client."""
    current_app.logger.exception("Unexpected error in %s %s", request.method, request.path)
    return problem(500, "The server hit an unexpected error. It has been logged.")


def allow_cross_origin(response: Response) -> Response:
    """Lets a web page from any origin call this API and read the headers that matter."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return response


def init_app(app: Flask) -> None:
    """Adds the routes, the error handlers and CORS to the app."""
    app.url_map.converters["id"] = TodoIdConverter
    app.before_request(check_host)
    app.register_blueprint(api)
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(TodoError, handle_todo_error)
    app.register_error_handler(StorageUnavailable, handle_storage_unavailable)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
    app.after_request(allow_cross_origin)
