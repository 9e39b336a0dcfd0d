"""The todo API in one file: every rule of the contract, with the todos kept in memory.

Read it top to bottom: the store, then the routes, then the helpers the routes share,
then error handling and CORS, and last `create_app`, which puts it all together.
Start it from this folder with `flask run`; it serves on http://127.0.0.1:8000.
"""

import json
import re
import threading
import unicodedata
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import IntegerConverter

MAX_BODY_BYTES = 64 * 1024
MAX_TITLE_LENGTH = 200
ORDER_RANGE = (-(2**31), 2**31 - 1)  # what a 32-bit integer column holds
MAX_TODO_ID = 2**63 - 1  # what a 64-bit integer column holds
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000

TODO_FIELDS = ("title", "completed", "order")
READ_ONLY_FIELDS = ("id", "url", "version")
COLLECTION_METHODS = ("GET", "HEAD", "POST", "DELETE", "OPTIONS")
ITEM_METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
REQUEST_HEADERS = ("Content-Type", "If-Match", "If-None-Match", "Authorization")
EXPOSED_HEADERS = ("Location", "ETag", "Link", "X-Total-Count")


class TodoStore:
    """The todos of one server process, kept in a dict.

    The development server answers each request in its own thread, so two requests can
    run at once. Whoever reads or changes the todos holds `lock`; then a check and the
    change it guards (such as If-Match) happen as one step that no one can cut into.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.todos: dict[int, dict[str, Any]] = {}
        self.last_id = 0  # only ever goes up, so an id is never handed out twice


class ApiError(Exception):
    """A request the API refuses; it becomes a problem document (RFC 9457)."""

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


@api.get("/todos")
def list_todos() -> Response:
    """Lists todos by id, one page at a time, optionally only done or open ones."""
    completed = query_completed()
    limit = query_int("limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = query_int("offset", default=0, minimum=0)
    store = todo_store()
    with store.lock:
        matching = [
            todo
            for todo in store.todos.values()  # a dict keeps insertion order: by id
            if completed is None or todo["completed"] == completed
        ]
        page = [todo_json(todo) for todo in matching[offset : offset + limit]]
    response = jsonify(page)
    response.headers["X-Total-Count"] = str(len(matching))
    links = page_links(len(matching), limit, offset)
    if links:
        response.headers["Link"] = links
    return response


@api.post("/todos")
def create_todo() -> tuple[Response, int]:
    """Creates a todo from a JSON object with a title and, if wanted, completed and order."""
    body = read_json_object("application/json")
    fields = todo_fields(body, required=("title",))
    store = todo_store()
    with store.lock:
        store.last_id += 1
        todo = {"id": store.last_id, "completed": False, "order": None, **fields, "version": 1}
        store.todos[todo["id"]] = todo
        response = todo_response(todo)
    response.headers["Location"] = todo_url(todo["id"])
    return response, 201


@api.delete("/todos")
def delete_all_todos() -> Response:
    """Deletes every todo. The ids already used stay used."""
    store = todo_store()
    with store.lock:
        store.todos.clear()
    return no_content()


@api.get("/todos/<id:todo_id>")
def get_todo(todo_id: int) -> Response:
    """Answers one todo, or 304 Not Modified when the client's copy is still current."""
    store = todo_store()
    with store.lock:
        todo = find_todo(store, todo_id)
        if matches_weakly(request.headers.get("If-None-Match"), etag(todo)):
            return Response(status=304, headers={"ETag": etag(todo)})
        return todo_response(todo)


@api.put("/todos/<id:todo_id>")
def replace_todo(todo_id: int) -> Response:
    """Replaces a todo: title and completed are required, an absent order means null."""
    find_todo(todo_store(), todo_id)  # a missing todo is 404 whatever the body says
    body = read_json_object("application/json")
    fields = {"order": None, **todo_fields(body, required=("title", "completed"), todo_id=todo_id)}
    return change_todo(todo_id, fields, body.get("version"))


@api.patch("/todos/<id:todo_id>")
def update_todo(todo_id: int) -> Response:
    """Changes only the fields the body gives; `"order": null` clears the order."""
    find_todo(todo_store(), todo_id)
    body = read_json_object("application/json", "application/merge-patch+json")
    fields = todo_fields(body, todo_id=todo_id)
    return change_todo(todo_id, fields, body.get("version"))


@api.delete("/todos/<id:todo_id>")
def delete_todo(todo_id: int) -> Response:
    """Deletes one todo, unless If-Match shows the client has not seen its latest state."""
    store = todo_store()
    with store.lock:
        todo = find_todo(store, todo_id)
        check_if_match(todo)
        del store.todos[todo_id]
    return no_content()


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


# --- What the routes share --------------------------------------------------------------


def no_content() -> Response:
    """204 No Content: success, with no body and so no Content-Type."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def todo_store() -> TodoStore:
    """The store of the app that handles this request."""
    return current_app.extensions["todo_store"]


def find_todo(store: TodoStore, todo_id: int) -> dict[str, Any]:
    """The todo with this id, or a 404 problem."""
    todo = store.todos.get(todo_id)
    if todo is None:
        raise ApiError(404, f"No todo with id {todo_id}.")
    return todo


def change_todo(todo_id: int, fields: dict[str, Any], version: int | None) -> Response:
    """Applies checked fields to a todo, if the client saw its current state."""
    store = todo_store()
    with store.lock:
        todo = find_todo(store, todo_id)  # again: it may have been deleted meanwhile
        check_if_match(todo)
        if version is not None and version != todo["version"]:
            raise ApiError(
                409,
                f"The body has version {version}, but todo {todo_id} is at version "
                f"{todo['version']}: read it again and reapply your change.",
            )
        changed = {name: value for name, value in fields.items() if todo[name] != value}
        if changed:  # a request that changes nothing keeps the version, and so the ETag
            todo.update(changed, version=todo["version"] + 1)
        return todo_response(todo)


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


def todo_fields(
    body: dict[str, Any], required: tuple[str, ...] = (), todo_id: int | None = None
) -> dict[str, Any]:
    """Checks a body's fields and returns title, completed and order, cleaned.

    `todo_id` is None when creating: then id, url and version are refused. When changing
    todo `todo_id`, a body may carry them back as GET returned them.
    """
    errors = []
    for name in body:
        if name in READ_ONLY_FIELDS and todo_id is None:
            errors.append((name, "is set by the server and cannot be sent"))
        elif name not in TODO_FIELDS + READ_ONLY_FIELDS:
            errors.append((name, "is not a field of a todo"))
    errors += [(name, "is required") for name in required if name not in body]

    fields = {}
    if "title" in body:
        title = body["title"].strip() if isinstance(body["title"], str) else ""
        if not title:
            errors.append(("title", "must be a non-empty string"))
        elif len(title) > MAX_TITLE_LENGTH:
            errors.append(("title", f"must be at most {MAX_TITLE_LENGTH} characters"))
        elif any(unicodedata.category(char) in ("Cc", "Cs") for char in title):
            errors.append(("title", "must not contain control characters"))
        else:
            fields["title"] = title
    if "completed" in body:
        if isinstance(body["completed"], bool):
            fields["completed"] = body["completed"]
        else:
            errors.append(("completed", "must be true or false"))
    if "order" in body:
        order = body["order"]
        if order is None or is_integer_within(order, *ORDER_RANGE):
            fields["order"] = order
        else:
            errors.append(("order", "must be null or a whole number that fits in 32 bits"))
    if todo_id is not None:
        if "id" in body and not (is_integer_within(body["id"]) and body["id"] == todo_id):
            errors.append(("id", f"must be {todo_id}, the id in the URL"))
        if "version" in body and not is_integer_within(body["version"]):
            errors.append(("version", "must be a whole number"))

    if errors:
        raise ApiError(400, "; ".join(f"{name} {message}" for name, message in errors), errors)
    return fields


def is_integer_within(value: Any, low: int | None = None, high: int | None = None) -> bool:
    """True for a JSON whole number within the bounds (True and 1.0 are not whole numbers)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


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


def todo_json(todo: dict[str, Any]) -> dict[str, Any]:
    """A todo as clients see it, in the contract's field order."""
    return {
        "id": todo["id"],
        "title": todo["title"],
        "completed": todo["completed"],
        "order": todo["order"],
        "url": todo_url(todo["id"]),
        "version": todo["version"],
    }


def todo_response(todo: dict[str, Any]) -> Response:
    """A todo as the body, with its ETag."""
    response = jsonify(todo_json(todo))
    response.headers["ETag"] = etag(todo)
    return response


def etag(todo: dict[str, Any]) -> str:
    """The todo's entity tag: its version, in quotes, as HTTP writes strong ETags."""
    return f'"{todo["version"]}"'


def entity_tags(header: str | None) -> list[str]:
    """The tags listed in an If-Match or If-None-Match header, such as "3", W/"3" or *."""
    return [tag.strip() for tag in (header or "").split(",") if tag.strip()]


def matches_weakly(if_none_match: str | None, current: str) -> bool:
    """If-None-Match compares loosely: W/"3" and "3" name the same version."""
    tags = entity_tags(if_none_match)
    return "*" in tags or any(tag.removeprefix("W/") == current for tag in tags)


def check_if_match(todo: dict[str, Any]) -> None:
    """Refuses a change made from a stale copy, when the client sent If-Match."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = entity_tags(header)
    if "*" not in tags and etag(todo) not in tags:  # strong comparison: W/ never matches
        raise ApiError(
            412,
            f"Todo {todo['id']} has changed since you read it (its ETag is now {etag(todo)}): "
            "nothing was changed. Read it again and retry.",
        )


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
    """A refusal from the routes above."""
    return problem(error.status, error.detail, error.errors)


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


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Builds the app. `flask run` calls this with no argument; tests pass their config."""
    app = Flask(__name__)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES + 1,  # see read_json_object
        PROVIDE_AUTOMATIC_OPTIONS=False,  # describe_methods answers OPTIONS itself
    )
    if test_config:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # keep the contract's field order
    app.json.ensure_ascii = False  # send "café" as it is, not as "caf\u00e9"

    app.extensions["todo_store"] = TodoStore()
    app.url_map.converters["id"] = TodoIdConverter
    app.before_request(check_host)
    app.register_blueprint(api)
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
    app.after_request(allow_cross_origin)
    return app
