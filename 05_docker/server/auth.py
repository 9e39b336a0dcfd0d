"""Tokens: who may read the todos, and who may change them.

With API_TOKEN set, every request needs the header `Authorization: Bearer <API_TOKEN>`,
except /health and /ready (Docker and load balancers ask them without a token) and
OPTIONS (browsers send CORS preflights without credentials). With API_READ_TOKEN set
too, that second token may read (GET, HEAD) but its writes are refused with 403. With
neither set, the API is open, as in the steps before. Tokens are compared in constant
time and are never written to a log.
"""

import hmac

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue

from transport import ApiError, problem

OPEN_PATHS = ("/health", "/ready")
READ_METHODS = ("GET", "HEAD")


def check_token() -> ResponseReturnValue | None:
    """Runs before every request: None lets it through, a 401 or 403 problem stops it."""
    write_token = current_app.config["API_TOKEN"]
    if write_token is None or request.method == "OPTIONS" or request.path in OPEN_PATHS:
        return None
    sent = bearer_token()
    if sent is not None and same_token(sent, write_token):
        return None
    read_token = current_app.config["API_READ_TOKEN"]
    if sent is not None and read_token is not None and same_token(sent, read_token):
        if request.method in READ_METHODS:
            return None
        return problem(ApiError(403, "This token may only read (GET and HEAD), not change todos."))
    if sent is None:
        detail = "This API needs a token: send the header Authorization: Bearer <token>."
    else:
        detail = "The token is not valid."
    body, status, headers = problem(ApiError(401, detail))
    return body, status, {**headers, "WWW-Authenticate": "Bearer"}  # the kind of token to send


def bearer_token() -> str | None:
    """The token in an `Authorization: Bearer <token>` header, or None when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def same_token(sent: str, expected: str) -> bool:
    """Compares in constant time: `==` stops at the first different character, and an
    attacker who times many guesses could find the token one character at a time."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def init_app(app: Flask) -> None:
    """Checks the token settings, then checks every request's token."""
    if app.config["API_READ_TOKEN"] and not app.config["API_TOKEN"]:
        raise ValueError(
            "API_READ_TOKEN is set but API_TOKEN is not: set API_TOKEN too, or neither."
        )
    app.before_request(check_token)
