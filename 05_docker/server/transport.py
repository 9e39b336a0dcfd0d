"""The transport layer: HTTP in, HTTP out, and nothing else.

Each route reads the request (path, query, headers, body), calls one method of the
service, and turns the answer into a response. The rules of a todo live in service.py;
where todos are kept, in repository.py. This file maps the service's errors (model.py) to
HTTP statuses and problem documents, and adds the CORS headers. Tokens are checked in
auth.py, and logs.py writes one log line per request.
"""

import json
import re
from contextlib import suppress
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from model import (
    InvalidTodo,
    PreconditionFailed,
    StaleVersion,
    StorageUnavailable,
    Todo,
    TodoError,
    TodoNotFound,
)
from service import TodoService

# The one place where the service's errors become HTTP statuses.
STATUS_OF_ERROR = {
    TodoNotFound: 404,
    InvalidTodo: 400,
    StaleVersion: 409,
    PreconditionFailed: 412,
    StorageUnavailable: 503,
}

# A host name or an IP address, and maybe a port: what a Host header may hold (RFC 9110).
VALID_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?")


class ApiError(HTTPException):
    """A request the API refuses: its status, and a sentence that says why. A 400 about
    fields lists them in `errors` as (field, message) pairs; they make the sentence."""

    def __init__(self, status: int, detail: str = "", errors: list[tuple[str, str]] = ()):
        super().__init__(detail or "; ".join(f"{name} {message}" for name, message in errors))
        self.code = status
        self.errors = errors


api = Blueprint("todos", __name__)


# --- The routes -------------------------------------------------------------------------


@api.get("/health")
def health() -> ResponseReturnValue:
    """Says the process is up and serving; a load balancer or a container runtime asks."""
    return {"status": "ok"}


@api.get("/ready")
def ready() -> ResponseReturnValue:
    """Says the database answers too, so requests for todos can succeed; else 503."""
    todo_service().check_storage()
    return {"status": "ready"}


@api.get("/todos")
def list_todos() -> ResponseReturnValue:
    """Lists todos by id, one page at a time, optionally only done or open ones."""
    completed = request.args.get("completed")
    if completed not in (None, "true", "false"):
        raise ApiError(400, errors=[("completed", "must be true or false")])
    limit = query_int("limit", default=100, minimum=1, maximum=1000)
    offset = query_int("offset", default=0, minimum=0)
    filter_by = None if completed is None else completed == "true"
    page = todo_service().list_todos(filter_by, limit, offset)
    headers = {"X-Total-Count": str(page.total)}
    if links := page_links(page.total, limit, offset):
        headers["Link"] = links
    return [todo_json(todo) for todo in page.todos], 200, headers


@api.post("/todos")
def create_todo() -> ResponseReturnValue:
    """Creates a todo from a JSON object with a title and, if wanted, completed and order."""
    todo = todo_service().create_todo(read_json_object("application/json"))
    body = todo_json(todo)
    return body, 201, {"ETag": etag(todo), "Location": body["url"]}


@api.delete("/todos")
def delete_all_todos() -> ResponseReturnValue:
    """Deletes every todo. The ids already used stay used."""
    todo_service().delete_all_todos()
    return no_content()


@api.get("/todos/<int:todo_id>")
def get_todo(todo_id: int) -> ResponseReturnValue:
    """Answers one todo, or 304 Not Modified when the client's copy is still current."""
    todo = todo_service().get_todo(todo_id)
    # If-None-Match compares loosely: W/"3" names version 3 too.
    if {etag(todo), "*"} & {tag.removeprefix("W/") for tag in entity_tags("If-None-Match")}:
        return "", 304, {"ETag": etag(todo)}
    return todo_json(todo), 200, {"ETag": etag(todo)}


@api.put("/todos/<int:todo_id>")
def replace_todo(todo_id: int) -> ResponseReturnValue:
    """Replaces a todo: title and completed are required, an absent order means null."""
    todo_service().get_todo(todo_id)  # a missing todo is 404 whatever the body says
    body = read_json_object("application/json")
    todo = todo_service().replace_todo(todo_id, body, if_match_versions())
    return todo_json(todo), 200, {"ETag": etag(todo)}


@api.patch("/todos/<int:todo_id>")
def update_todo(todo_id: int) -> ResponseReturnValue:
    """Changes only the fields the body gives; `"order": null` clears the order."""
    todo_service().get_todo(todo_id)
    body = read_json_object("application/json", "application/merge-patch+json")
    todo = todo_service().update_todo(todo_id, body, if_match_versions())
    return todo_json(todo), 200, {"ETag": etag(todo)}


@api.delete("/todos/<int:todo_id>")
def delete_todo(todo_id: int) -> ResponseReturnValue:
    """Deletes one todo, unless If-Match shows the client has not seen its latest state."""
    todo_service().delete_todo(todo_id, if_match_versions())
    return no_content()


# --- What the routes share --------------------------------------------------------------


def todo_service() -> TodoService:
    """The service of the app that handles this request."""
    return current_app.extensions["todo_service"]


def if_match_versions() -> set[int] | None:
    """The versions If-Match allows a change at; None when any version will do."""
    tags = entity_tags("If-Match")
    if "If-Match" not in request.headers or "*" in tags:
        return None
    # A strong comparison: only "3" names version 3, and W/"3" matches no version.
    versions = {tag[1:-1] for tag in tags if tag.startswith('"') and tag.endswith('"')}
    # No version has more digits than a 64-bit integer (19), and int() refuses past 4300.
    digits = {version for version in versions if version.isascii() and version.isdigit()}
    return {int(version) for version in digits if len(version) <= 19}


def entity_tags(header: str) -> list[str]:
    """The tags an If-Match or If-None-Match header lists, such as "3", W/"3" or *."""
    return [tag.strip() for tag in request.headers.get(header, "").split(",")]


def read_json_object(*content_types: str) -> dict[str, Any]:
    """The request's body as a dict, or the problem that says what is wrong with it."""
    if request.mimetype not in content_types:
        raise ApiError(415, f"Send the body as JSON, with Content-Type: {content_types[0]}.")
    # Flask answers 413 itself to a Content-Length over MAX_CONTENT_LENGTH. A body sent in
    # chunks has none: Flask stops reading it at MAX_CONTENT_LENGTH, one byte more than the
    # API takes, so a body too large shows itself by that one byte.
    raw = request.get_data(cache=False)
    if len(raw) >= current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()  # the same 413 as Flask's own
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, 'The body must be a JSON object, like {"title": "walk the dog"}.')
    return body


def query_int(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """A whole-number query parameter within its range, or a 400 problem."""
    value = request.args.get(name, str(default))
    # Plain digits only (int() also takes " 5", "+5", "5_0"), and no more than int() converts.
    number = int(value) if value.isascii() and value.isdigit() and len(value) <= 4300 else None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        allowed = f"from {minimum} to {maximum}" if maximum else f"of {minimum} or more"
        raise ApiError(400, errors=[(name, f"must be a whole number {allowed}")])
    return number


def page_links(total: int, limit: int, offset: int) -> str:
    """The Link header's next and prev pages, keeping the filter; empty when neither exists."""
    pages = {"next": offset + limit} if offset + limit < total else {}
    if offset > 0:
        pages["prev"] = max(0, offset - limit)
    completed = request.args.get("completed")  # None leaves it out of the URL
    links = []
    for rel, start in pages.items():
        url = url_for(".list_todos", completed=completed, limit=limit, offset=start, _external=True)
        links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)


def todo_json(todo: Todo) -> dict[str, Any]:
    """A todo as clients see it: with its absolute URL, built from the request's host."""
    return {**asdict(todo), "url": url_for(".get_todo", todo_id=todo.id, _external=True)}


def etag(todo: Todo) -> str:
    """The todo's entity tag: its version, in quotes, as HTTP writes strong ETags."""
    return f'"{todo.version}"'


def no_content() -> Response:
    """204 No Content: success, with no body and so no Content-Type."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


# --- Errors and CORS --------------------------------------------------------------------


def problem(error: HTTPException) -> ResponseReturnValue:
    """Every error as a problem document (RFC 9457): the routes' and Flask's own, such as
    405, 413 and 500 (for a bug: its traceback goes to the log, never to the client)."""
    body = {"type": "about:blank", "title": HTTP_STATUS_CODES[error.code]}
    body |= {"status": error.code, "detail": error.description}
    if getattr(error, "errors", ()):
        body["errors"] = [{"field": name, "message": message} for name, message in error.errors]
    headers = {"Content-Type": "application/problem+json"}
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(error.valid_methods or ()))
    return body, error.code, headers


def service_error(error: TodoError) -> ResponseReturnValue:
    """A refusal from the service, as the problem document of the status HTTP gives it."""
    errors = error.errors if isinstance(error, InvalidTodo) else []
    body, status, headers = problem(ApiError(STATUS_OF_ERROR[type(error)], str(error), errors))
    if isinstance(error, StorageUnavailable):
        # Not the error's text, which may name the database: tell clients to come back.
        current_app.logger.warning("%s %s: %s", request.method, request.path, error)
        body["detail"] = "The database does not answer right now. Try again in a moment."
        headers["Retry-After"] = "5"  # seconds: load balancers and clients retry then
    return body, status, headers


def check_host() -> None:
    """Refuses a request whose Host header cannot be a host: todo URLs are built from it,
    and behind a proxy a forged one would hand clients links to another server."""
    if not VALID_HOST.fullmatch(request.host):
        raise ApiError(400, "The Host header is not a valid host name.")


def allow_cross_origin(response: Response) -> Response:
    """Lets a web page from any origin call this API and read the headers that matter."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Location, ETag, Link, X-Total-Count"
    if request.method == "OPTIONS" and "Allow" in response.headers:  # a CORS preflight
        response.headers["Allow"] = ", ".join(sorted(response.allow))  # Flask's order varies
        response.headers["Access-Control-Allow-Methods"] = response.headers["Allow"]
        response.headers["Access-Control-Allow-Headers"] = (
            "Content-Type, If-Match, If-None-Match, Authorization"
        )
        response.headers["Access-Control-Max-Age"] = "86400"  # browsers may cache this a day
    return response


def read_the_rest_of_the_body(response: Response) -> Response:
    """Reads what is left of the request's body before the answer goes out.

    A 401 or a 415 answers without reading the body. If part of it is still on its way,
    granian then closes the connection without saying so, and the client's next request on
    that connection fails. A body over MAX_CONTENT_LENGTH is left unread: closing is right.
    """
    with suppress(RequestEntityTooLarge):
        request.get_data()  # at most MAX_CONTENT_LENGTH, and only once: Flask keeps it
    return response


def init_app(app: Flask) -> None:
    """Adds the routes, the error handlers and CORS to the app."""
    app.before_request(check_host)
    app.register_blueprint(api)
    app.register_error_handler(HTTPException, problem)
    app.register_error_handler(TodoError, service_error)
    app.after_request(allow_cross_origin)
    app.after_request(read_the_rest_of_the_body)
