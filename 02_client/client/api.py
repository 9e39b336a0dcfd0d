"""A client for the playground server, written the way an HTTP client should be.

- One `requests.Session` for every call: it holds the settings and reuses the connection.
- A timeout on every call. Without one, requests waits forever for a server that hangs.
- Bodies sent with `json=`: requests encodes them and sets `Content-Type: application/json`.
- `raise_for_status()`: a 4xx or 5xx answer becomes an error instead of passing unnoticed.
- Retries, with a pause that doubles each time (backoff), for idempotent methods only, when
  the server answers 502, 503 or 504, or when no connection could be made.
- Every failure becomes an `ApiError` whose message is one sentence a person can act on.

    from api import PlaygroundClient

    with PlaygroundClient("http://127.0.0.1:8000") as api:
        print(api.request_json("POST", "/echo", json={"name": "Ada"}))
"""

from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# (connect, read): how long to wait for the connection, then for each part of the answer.
DEFAULT_TIMEOUT = (3, 5)
# Sending one of these twice has the same effect as sending it once, so a retry is safe.
# POST is not one of them: a POST sent twice may create two orders, or two payments.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# "Try again later": a gateway got no good answer (502, 504), or the server is busy (503).
RETRY_ON_STATUSES = (502, 503, 504)

Timeout = float | tuple[float, float]


class ApiError(Exception):
    """A call that failed. The message is one sentence that says what happened."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status when the server did answer, else None


class PlaygroundClient:
    """Calls the playground server at `base_url`; use it in a `with` block to close it."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff_factor: float = 0.25,
    ) -> None:
        self.base_url = checked_base_url(base_url)
        self.timeout = timeout
        retry = Retry(
            total=retries,
            allowed_methods=IDEMPOTENT_METHODS,
            status_forcelist=RETRY_ON_STATUSES,
            # Pauses between attempts: none, then backoff_factor * 2, * 4, ... seconds.
            backoff_factor=backoff_factor,
            # A 503 may carry "Retry-After: 2": then wait that long instead.
            respect_retry_after_header=True,
            # Once the retries are used up, hand back the last answer (say a 503), so that
            # raise_for_status() reports it like any other error.
            raise_on_status=False,
            # A request sent but not answered in time is not retried: the server got it and
            # is slow, and asking again would only make you wait several timeouts.
            read=False,
        )
        self.session = requests.Session()
        # The adapter is what sends requests for URLs that start with this prefix.
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        timeout: Timeout | None = None,
    ) -> requests.Response:
        """Sends one request and returns a successful response; raises ApiError otherwise.

        `path` starts with "/", `params` becomes the query string, `json` the body, and
        `timeout` replaces the client's timeout for this call.
        """
        method = method.upper()
        call = describe(method, path, params)
        timeout = self.timeout if timeout is None else timeout
        try:
            response = self.session.request(
                method, self.base_url + path, params=params, json=json, timeout=timeout
            )
            response.raise_for_status()
        except requests.HTTPError as error:
            status = error.response.status_code
            raise ApiError(http_error_sentence(call, error.response), status) from error
        # ConnectTimeout is a kind of ConnectionError, so it must be caught first.
        except requests.ConnectTimeout as error:
            raise ApiError(
                f"Cannot reach the server at {self.base_url}: no connection within "
                f"{in_seconds(connect_seconds(timeout))}. Check the address and your network."
            ) from error
        except requests.ReadTimeout as error:
            raise ApiError(
                f"{call} did not answer within {in_seconds(read_seconds(timeout))}."
            ) from error
        except requests.ConnectionError as error:
            raise ApiError(cannot_reach_sentence(self.base_url)) from error
        except requests.TooManyRedirects as error:
            raise ApiError(
                f"{call} was redirected more than {self.session.max_redirects} times."
            ) from error
        except requests.RequestException as error:
            raise ApiError(f"{call} failed: {error}") from error
        return response

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        timeout: Timeout | None = None,
    ) -> Any:
        """Like `request`, but returns the parsed JSON body (None for an empty body)."""
        response = self.request(method, path, params=params, json=json, timeout=timeout)
        if not response.content:
            return None
        try:
            return response.json()
        except requests.JSONDecodeError as error:
            start = response.text[:30]
            raise ApiError(
                f"{describe(method.upper(), path, params)} answered {response.status_code}, "
                f"but its body is not JSON: it starts with {start!r}. "
                f"Is {self.base_url} the playground server?",
                response.status_code,
            ) from error

    def close(self) -> None:
        """Closes the connections the session keeps open."""
        self.session.close()

    def __enter__(self) -> "PlaygroundClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def attempts_of(response: requests.Response) -> int:
    """How many times the request was sent: 1, plus one for each retry urllib3 made."""
    # urllib3 keeps the retries it made, each with its reason, on the raw response.
    retries = getattr(response.raw, "retries", None)
    return 1 + len(retries.history) if retries else 1


def checked_base_url(base_url: str) -> str:
    """The base URL without a trailing "/"; ApiError if it is not a web address."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(
            f"The base URL {base_url!r} is not a web address: write it like {DEFAULT_BASE_URL}."
        )
    return base_url.rstrip("/")


def describe(method: str, path: str, params: dict[str, Any] | None) -> str:
    """The call as a person would write it: "GET /slow?seconds=3"."""
    query = f"?{urlencode(params, doseq=True)}" if params else ""
    return f"{method} {path}{query}"


def http_error_sentence(call: str, response: requests.Response) -> str:
    """'GET /status/404 answered 404 Not Found: <what the server said>.'"""
    status = response.status_code
    try:
        reason = HTTPStatus(status).phrase  # "Not Found", where the server may send "NOT FOUND"
    except ValueError:
        reason = response.reason
    attempts = attempts_of(response)
    after = f" after {attempts} attempts" if attempts > 1 else ""
    explanation = server_message(response)
    if explanation:
        return f"{call} answered {status} {reason}{after}: {explanation.rstrip('.')}."
    return f"{call} answered {status} {reason}{after}."


def server_message(response: requests.Response) -> str | None:
    """The "message" of a JSON error body, like the playground's; None if there is none."""
    try:
        body = response.json()
    except requests.JSONDecodeError:
        return None
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else None


def cannot_reach_sentence(base_url: str) -> str:
    """What to say when no connection could be made: where, and how to start the server."""
    port = urlsplit(base_url).port
    command = "flask run" if port in (None, 8000) else f"flask run --port {port}"
    return (
        f"Cannot reach the server at {base_url}. Is it running? Start it in another "
        f"terminal: go to 02_client/server and run `{command}`."
    )


def connect_seconds(timeout: Timeout) -> float:
    """The connect part of a timeout: requests takes (connect, read) or one number for both."""
    return timeout[0] if isinstance(timeout, tuple) else timeout


def read_seconds(timeout: Timeout) -> float:
    """The read part of a timeout."""
    return timeout[1] if isinstance(timeout, tuple) else timeout


def in_seconds(seconds: float) -> str:
    """'1 second', '0.5 seconds', '3 seconds'."""
    return f"{seconds:g} second" + ("" if seconds == 1 else "s")
