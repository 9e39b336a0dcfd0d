"""Step 01: a first Flask server.

A *route* links a URL rule to a Python function, the *view*. When a request arrives, Flask
finds the route whose rule matches the URL and the method, calls its view, and turns what the
view returns into an HTTP response:

- a string becomes a text response (Flask labels it `text/html`),
- a dict becomes a JSON response (`application/json`),
- `abort(400, "...")` stops the view and answers with that status instead.

Start it from this folder with `flask run`: `.flaskenv` makes it listen on port 8000.
"""

from flask import Flask, abort, json, request
from markupsafe import escape
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.wrappers import Response


def create_app(test_config: dict | None = None) -> Flask:
    """Builds the app. `flask run` finds this function by its name and calls it."""
    app = Flask(__name__)
    if test_config is not None:
        app.config.from_mapping(test_config)

    # --- The three routes of the original talk ---

    @app.route("/")
    def hello_world() -> str:
        """The classic first route: it answers with a string, sent as text."""
        return "Hello, World!"

    @app.route("/my_route")
    def my_route() -> dict:
        """A second route: one app answers many URLs. A dict is sent as JSON."""
        return {"message": "Hello from my_route: one app can have many routes."}

    @app.route("/test_post", methods=["POST"])
    def test_post() -> dict:
        """Tells the caller what its POST carried: a JSON body or form fields."""
        if request.is_json:
            try:
                data = request.get_json()
            except BadRequest:  # what get_json() raises when the body is not valid JSON
                abort(400, "The Content-Type says JSON, but the body is not valid JSON.")
            return {"content_type": request.content_type, "json": data}
        if request.form:
            return {"content_type": request.content_type, "form": request.form.to_dict()}
        abort(400, "Send a JSON body or form fields, for example the form field name=Ada.")

    # --- New routes, one idea each ---

    @app.route("/hello/<name>")
    def hello(name: str) -> str:
        """A path parameter: whatever stands in place of <name> arrives as `name`."""
        # The answer is shown as HTML: escape() keeps a "name" like <script> from running.
        return f"Hello, {escape(name)}!"

    @app.route("/square/<int:number>")
    def square(number: int) -> dict:
        """A typed path parameter: <int:number> matches digits only and gives an int."""
        return {"number": number, "square": number * number}

    @app.route("/greet")
    def greet() -> dict:
        """A query parameter, as in /greet?name=Ada. It is optional, so it has a default."""
        name = request.args.get("name", "World").strip()
        if not name:
            abort(400, "The name parameter must not be empty, for example /greet?name=Ada.")
        return {"greeting": f"Hello, {name}!"}

    @app.route("/add", methods=["POST"])
    def add() -> dict:
        """JSON in, JSON out: {"a": 1, "b": 2} gives {"sum": 3}."""
        if not request.is_json:
            abort(415, "Send JSON, with the header Content-Type: application/json.")
        data = request.get_json(silent=True)  # None, instead of an error, for invalid JSON
        if not isinstance(data, dict):
            abort(400, 'The body must be a JSON object, for example {"a": 1, "b": 2}.')
        a, b = data.get("a"), data.get("b")
        # In Python, True is an int too; but "true + true = 2" is not what a caller meant.
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (a, b)):
            abort(400, 'Both "a" and "b" must be whole numbers, for example {"a": 1, "b": 2}.')
        return {"sum": a + b}

    # --- Errors ---

    @app.errorhandler(HTTPException)
    def error_as_json(error: HTTPException) -> Response:
        """Answers every HTTP error (400, 404, 405, 415...) with JSON, not an HTML page."""
        body = {"status": error.code, "error": error.name, "message": error.description}
        response = error.get_response()  # keeps the status and headers, like Allow on a 405
        response.data = json.dumps(body) + "\n"  # a final newline, as jsonify() writes too
        response.content_type = "application/json"
        return response

    return app
