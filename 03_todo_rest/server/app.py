"""The todo API in one file: every rule of the contract, with the todos kept in memory.

Read it top to bottom: the store, the routes, what they share, errors and CORS, and last
`create_app`. Start it from this folder with `flask run`: it serves http://127.0.0.1:8000.
"""

import threading
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

MAX_TITLE_LENGTH = 200
MIN_ORDER, MAX_ORDER = -(2**31), 2**31 - 1  # what a 32-bit integer holds
TODO_FIELDS = ("title", "completed", "order")
READ_ONLY_FIELDS = ("id", "url", "version")


class TodoStore:
    """The todos of one server process, in a dict. The development server answers each
    request in its own thread, so whoever reads or changes the todos holds `lock`: then a
    check and the change it guards (such as If-Match) happen as one step."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.todos: dict[int, dict[str, Any]] = {}
        self.last_id = 0  # only ever goes up, so an id is never handed out twice

    def find(self, todo_id: int) -> dict[str, Any]:
        """The todo with this id, or a 404 problem."""
        if todo_id not in self.todos:
            raise ApiError(404, f"No todo with id {todo_id}.")
        return self.todos[todo_id]


class ApiError(HTTPException):
    """A request the API refuses: its status, and a sentence that says why. A 400 about
    fields lists them in `errors` as (field, message) pairs; they make the sentence."""

    def __init__(self, status: int, detail: str = "", errors: list[tuple[str, str]] = ()):
        super().__init__(detail or "; ".join(f"{name} {message}" for name, message in errors))
        self.code = status
        self.errors = errors


api = Blueprint("todos", __name__)


# --- The routes -------------------------------------------------------------------------


@api.get("/todos")
def list_todos() -> ResponseReturnValue:
    """Lists todos by id, one page at a time, optionally only done or open ones."""
    completed = request.args.get("completed")
    if completed not in (None, "true", "false"):
        raise ApiError(400, errors=[("completed", "must be true or false")])
    limit = query_int("limit", default=100, minimum=1, maximum=1000)
    offset = query_int("offset", default=0, minimum=0)
    store = todo_store()
    with store.lock:
        matching = list(store.todos.values())  # a dict keeps insertion order: by id
        if completed is not None:
            matching = [todo for todo in matching if todo["completed"] == (completed == "true")]
        page = [todo_json(todo) for todo in matching[offset : offset + limit]]
    headers = {"X-Total-Count": str(len(matching))}
    if links := page_links(len(matching), limit, offset):
        headers["Link"] = links
    return page, 200, headers


@api.post("/todos")
def create_todo() -> ResponseReturnValue:
    """Creates a todo from a JSON object with a title and, if wanted, completed and order."""
    fields = todo_fields(read_json_object("application/json"), required=("title",))
    store = todo_store()
    with store.lock:
        store.last_id += 1
        todo = {"id": store.last_id, "title": fields["title"], "completed": False, "order": None}
        todo |= {**fields, "version": 1}  # the fields given replace the defaults
        store.todos[todo["id"]] = todo
        body = todo_json(todo)
    return body, 201, {"ETag": etag(todo), "Location": body["url"]}


@api.delete("/todos")
def delete_all_todos() -> ResponseReturnValue:
    """Deletes every todo. The ids already used stay used."""
    store = todo_store()
    with store.lock:
        store.todos.clear()
    return no_content()


@api.get("/todos/<int:todo_id>")
def get_todo(todo_id: int) -> ResponseReturnValue:
    """Answers one todo, or 304 Not Modified when the client's copy is still current."""
    store = todo_store()
    with store.lock:
        todo = store.find(todo_id)
        # If-None-Match compares loosely: W/"3" names version 3 too.
        if {etag(todo), "*"} & {tag.removeprefix("W/") for tag in entity_tags("If-None-Match")}:
            return "", 304, {"ETag": etag(todo)}
        return todo_json(todo), 200, {"ETag": etag(todo)}


@api.put("/todos/<int:todo_id>")
def replace_todo(todo_id: int) -> ResponseReturnValue:
    """Replaces a todo: title and completed are required, an absent order means null."""
    todo_store().find(todo_id)  # a missing todo is 404 whatever the body says
    body = read_json_object("application/json")
    fields = todo_fields(body, required=("title", "completed"), todo_id=todo_id)
    return change_todo(todo_id, {"order": None, **fields}, body.get("version"))


@api.patch("/todos/<int:todo_id>")
def update_todo(todo_id: int) -> ResponseReturnValue:
    """Changes only the fields the body gives; `"order": null` clears the order."""
    todo_store().find(todo_id)
    body = read_json_object("application/json", "application/merge-patch+json")
    fields = todo_fields(body, todo_id=todo_id)
    return change_todo(todo_id, fields, body.get("version"))


@api.delete("/todos/<int:todo_id>")
def delete_todo(todo_id: int) -> ResponseReturnValue:
    """Deletes one todo, unless If-Match shows the client has not seen its latest state."""
    store = todo_store()
    with store.lock:
        check_if_match(store.find(todo_id))
        del store.todos[todo_id]
    return no_content()


# --- What the routes share --------------------------------------------------------------


def todo_store() -> TodoStore:
    """The store of the app that handles this request."""
    return current_app.extensions["todo_store"]


def change_todo(todo_id: int, fields: dict[str, Any], version: int | None) -> ResponseReturnValue:
    """Applies checked fields to a todo, if the client saw its current state."""
    store = todo_store()
    with store.lock:
        todo = store.find(todo_id)  # again: it may have been deleted meanwhile
        check_if_match(todo)
        if version is not None and version != todo["version"]:
            stale = f"The body has version {version}, but the todo is at version {todo['version']}"
            raise ApiError(409, f"{stale}: read it again and reapply your change.")
        changed = {name: value for name, value in fields.items() if todo[name] != value}
        if changed:  # a request that changes nothing keeps the version, and so the ETag
            todo.update(changed, version=todo["version"] + 1)
        return todo_json(todo), 200, {"ETag": etag(todo)}


def check_if_match(todo: dict[str, Any]) -> None:
    """Refuses a change made from a stale copy, when the client sent If-Match."""
    tags = entity_tags("If-Match")
    # A strong comparison: only "3" names version 3, and W/"3" matches no version.
    if "If-Match" in request.headers and "*" not in tags and etag(todo) not in tags:
        raise ApiError(412, "The todo has changed since you read it: nothing was changed.")


def entity_tags(header: str) -> list[str]:
    """The tags an If-Match or If-None-Match header lists, such as "3", W/"3" or *."""
    return [tag.strip() for tag in request.headers.get(header, "").split(",")]


def todo_fields(
    body: dict[str, Any], required: tuple[str, ...] = (), todo_id: int | None = None
) -> dict[str, Any]:
    """Checks a body's fields and returns title, completed and order, cleaned. When
    creating, `todo_id` is None and id, url and version are refused; when changing todo
    `todo_id`, a body may carry them back as GET returned them."""
    errors = []
    for name in body:
        if name in READ_ONLY_FIELDS and todo_id is None:
            errors.append((name, "is set by the server and cannot be sent"))
        elif name not in TODO_FIELDS + READ_ONLY_FIELDS:
            errors.append((name, "is not a field of a todo"))
    errors += [(name, "is required") for name in required if name not in body]

    fields = {name: body[name] for name in TODO_FIELDS if name in body}
    if "title" in fields:
        fields["title"] = fields["title"].strip() if isinstance(fields["title"], str) else ""
        if not fields["title"]:
            errors.append(("title", "must be a non-empty string"))
        elif len(fields["title"]) > MAX_TITLE_LENGTH:
            errors.append(("title", f"must be at most {MAX_TITLE_LENGTH} characters"))
    if "completed" in fields and not isinstance(fields["completed"], bool):
        errors.append(("completed", "must be true or false"))
    # type(...) is int, not isinstance: True is an int to Python, but not to JSON.
    order = fields.get("order")
    if order is not None and not (type(order) is int and MIN_ORDER <= order <= MAX_ORDER):
        errors.append(("order", "must be null or a whole number that fits in 32 bits"))
    if todo_id is not None:  # id and version as GET returned them; url is not checked
        if "id" in body and (type(body["id"]) is not int or body["id"] != todo_id):
            errors.append(("id", f"must be {todo_id}, the id in the URL"))
        if "version" in body and type(body["version"]) is not int:
            errors.append(("version", "must be a whole number"))
    if errors:
        raise ApiError(400, errors=errors)
    return fields


def read_json_object(*content_types: str) -> dict[str, Any]:
    """The request's body as a dict, or the problem that says what is wrong with it."""
    if request.mimetype not in content_types:
        raise ApiError(415, f"Send the body as JSON, with Content-Type: {content_types[0]}.")
    body = request.get_json(silent=True)  # None when the body is not JSON at all
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


def todo_json(todo: dict[str, Any]) -> dict[str, Any]:
    """A todo as clients see it: with its absolute URL, built from the request's host."""
    return {**todo, "url": url_for(".get_todo", todo_id=todo["id"], _external=True)}


def etag(todo: dict[str, Any]) -> str:
    """The todo's entity tag: its version, in quotes, as HTTP writes strong ETags."""
    return f'"{todo["version"]}"'


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


def allow_cross_origin(response: Response) -> Response:
    """Lets a web page from any origin call this API and read the headers that matter."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Location, ETag, Link, X-Total-Count"
    if request.method == "OPTIONS" and "Allow" in response.headers:  # a CORS preflight
        response.headers["Allow"] = ", ".join(sorted(response.allow))  # Flask's order varies
        response.headers["Access-Control-Allow-Methods"] = response.headers["Allow"]
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, If-Match, If-None-Match"
        response.headers["Access-Control-Max-Age"] = "86400"  # browsers may cache this a day
    return response


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Builds the app. `flask run` calls this with no argument; tests pass their config."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # Flask answers a larger body 413
    app.config.from_mapping(test_config or {})
    app.json.sort_keys = False  # keep the fields in the contract's order

    app.extensions["todo_store"] = TodoStore()
    app.register_blueprint(api)
    app.register_error_handler(HTTPException, problem)
    app.after_request(allow_cross_origin)
    return app
