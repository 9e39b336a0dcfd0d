"""Step 02: a playground server for practising HTTP clients.

Each route shows one thing a client must cope with:

- /echo answers with the request it received, so you can see what your client sent,
- /status/<code> answers with the status code you choose,
- /slow?seconds=N waits before answering, to try timeouts,
- /flaky/<key>?failures=N fails N times and then succeeds, to try retries, and
  /flaky/<key>/attempts tells how many requests really arrived,
- /redirect sends you on to /echo, to see redirects being followed.

Every error is answered as JSON, never as an HTML page. Start it from this folder with
`flask run`: `.flaskenv` makes it listen on port 8000.
"""

import threading
from time import sleep

from flask import Flask, abort, json, redirect, request, url_for
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

# /echo and /status accept these methods (HEAD and OPTIONS come with them for free).
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# The request headers /echo shows. Others (Host, Connection...) say little about your client.
HEADERS_TO_ECHO = ("Accept", "Authorization", "Content-Type", "Content-Length", "User-Agent")
# No body is allowed with these statuses.
STATUSES_WITHOUT_BODY = (204, 304)
REDIRECT_CODES = ("301", "302", "303", "307", "308")


class AttemptCounter:
    """Counts the requests made to each flaky key.

    The development server answers each request in its own thread, so two requests can
    add to the same count at once. The lock makes "read, add one, store" a single step
    that no other thread can cut into, so no request goes uncounted.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add_one(self, key: str) -> int:
        """Counts one more request for `key` and returns its number: 1, 2, 3..."""
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

    def get(self, key: str) -> int:
        """How many requests were made for `key` so far."""
        with self.lock:
            return self.counts.get(key, 0)

    def reset(self, key: str) -> None:
        """Forgets the requests made for `key`, so that it fails again from the start."""
        with self.lock:
            self.counts.pop(key, None)


def create_app(test_config: dict | None = None) -> Flask:
    """Builds the app. `flask run` finds this function by its name and calls it."""
    app = Flask(__name__)
    app.config.from_mapping(
        MAX_SLOW_SECONDS=10,  # /slow refuses to wait longer than this
        MAX_FLAKY_FAILURES=10,
        MAX_REDIRECT_HOPS=10,
    )
    if test_config is not None:
        app.config.from_mapping(test_config)

    # Each app has its own counts: tests that build a fresh app start from zero.
    attempts = AttemptCounter()

    @app.route("/")
    def index() -> dict:
        """Lists the playground's routes, so that a browser on / shows where to go."""
        routes = sorted(
            {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
        )
        return {"message": "A playground for HTTP clients.", "routes": routes}

    @app.route("/echo", methods=ANY_METHOD)
    @app.route("/echo/<path:rest>", methods=ANY_METHOD)
    def echo(rest: str | None = None) -> dict:
        """Answers with what the request carried: method, path, query, headers and body.

        Anything after /echo/ is accepted as `rest`, so that you can try any path; the
        answer shows it in "path".
        """
        return {
            "method": request.method,
            "path": request.path,
            # A list for each name, because a name can come more than once: ?tag=a&tag=b.
            "args": request.args.to_dict(flat=False),
            "headers": {
                name: request.headers[name] for name in HEADERS_TO_ECHO if name in request.headers
            },
            **body_as_sent(),
        }

    @app.route("/status/<int:code>", methods=ANY_METHOD)
    def status(code: int) -> Response:
        """Answers with the status code in the URL, for example /status/404."""
        if not 200 <= code <= 599:
            abort(400, f"Choose a status code from 200 to 599, not {code}.")
        if code in STATUSES_WITHOUT_BODY:
            return Response(status=code)
        reason = HTTP_STATUS_CODES.get(code, "Unknown")
        # A (body, status) pair: Flask sends the dict as JSON, with that status.
        return {"status": code, "reason": reason, "message": f"You asked for {code}."}, code

    @app.route("/slow")
    def slow() -> dict:
        """Waits ?seconds=N (2 by default) before answering, to try a client's timeout."""
        limit = app.config["MAX_SLOW_SECONDS"]
        seconds = query_number("seconds", default=2, maximum=limit, kind=float)
        sleep(seconds)
        return {"slept_seconds": seconds, "message": f"Answered after {seconds:g} seconds."}

    @app.route("/flaky/<key>", methods=["GET", "POST"])
    def flaky(key: str) -> tuple:
        """Fails with 503 for the first ?failures=N requests (2 by default), then succeeds.

        Each key counts on its own, so that two people, or two tests, don't share a count.
        """
        failures = query_number("failures", default=2, maximum=app.config["MAX_FLAKY_FAILURES"])
        retry_after = query_number("retry_after", default=None, maximum=10)
        attempt = attempts.add_one(key)
        if attempt > failures:
            message = f"Succeeded on attempt {attempt}, after {failures} failures."
            return {"key": key, "attempt": attempt, "message": message}, 200
        body = {
            "status": 503,
            "error": "Service Unavailable",
            "message": f"Failing on purpose (attempt {attempt} of the {failures} that fail).",
            "attempt": attempt,
        }
        # Retry-After tells a client how many seconds to wait before it tries again.
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return body, 503, headers

    @app.get("/flaky/<key>/attempts")
    def flaky_attempts(key: str) -> dict:
        """How many requests /flaky/<key> received: shows whether a client retried."""
        return {"key": key, "attempts": attempts.get(key)}

    @app.delete("/flaky/<key>/attempts")
    def reset_flaky_attempts(key: str) -> Response:
        """Sets the count of /flaky/<key> back to zero, so that it fails again."""
        attempts.reset(key)
        return Response(status=204)

    @app.route("/redirect", methods=ANY_METHOD)
    def redirect_to_echo() -> Response:
        """Redirects to /echo, after ?hops=N redirects (1 by default) with status ?code=302."""
        hops = query_number("hops", default=1, maximum=app.config["MAX_REDIRECT_HOPS"], minimum=1)
        code = request.args.get("code", "302")
        if code not in REDIRECT_CODES:
            abort(400, f"code must be one of {', '.join(REDIRECT_CODES)}, not {code!r}.")
        if hops > 1:
            next_hop = url_for("redirect_to_echo", hops=hops - 1, code=code)
            return redirect(next_hop, int(code))
        return redirect(url_for("echo"), int(code))

    @app.errorhandler(HTTPException)
    def error_as_json(error: HTTPException) -> Response:
        """Answers every HTTP error (400, 404, 405...) with JSON, not an HTML page."""
        response = error.get_response()  # keeps the status and headers, like Allow on a 405
        response.data = json.dumps(
            {"status": error.code, "error": error.name, "message": error.description}
        )
        response.content_type = "application/json"
        return response

    @app.errorhandler(Exception)
    def unexpected_error_as_json(error: Exception) -> Response:
        """Answers a bug with a JSON 500; the traceback goes to the server's terminal only."""
        app.logger.exception("Unexpected error on %s %s", request.method, request.path)
        return error_as_json(InternalServerError())

    return app


def body_as_sent() -> dict:
    """The request's body for /echo: parsed when it is JSON, as text otherwise."""
    if request.is_json:
        try:
            return {"body_is_json": True, "body": request.get_json()}
        except BadRequest:  # what get_json() raises when the body is not valid JSON
            abort(400, "The Content-Type says JSON, but the body is not valid JSON.")
    text = request.get_data(as_text=True)
    return {"body_is_json": False, "body": text or None}


def query_number(
    name: str, default: float | None, maximum: float, minimum: float = 0, kind: type = int
) -> float | None:
    """Reads a number from the query string, or answers 400 with the allowed range.

    `request.args.get(name, type=int)` would quietly use the default for ?seconds=abc;
    a playground should rather say what went wrong.
    """
    text = request.args.get(name)
    if text is None:
        return default
    try:
        number = kind(text)
    except ValueError:
        number = None
    # `not minimum <= number` is also true for NaN, which compares false to everything.
    if number is None or not minimum <= number <= maximum:
        kind_name = "a whole number" if kind is int else "a number"
        abort(400, f"{name} must be {kind_name} from {minimum} to {maximum}, not {text!r}.")
    return number
