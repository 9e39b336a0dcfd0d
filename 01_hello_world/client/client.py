"""Calls every route of the step 01 server and shows what HTTP really sends back.

For each call it prints the request (method and URL), the status line, the headers that
matter and the body. Start the server first (`flask run` in the server folder), then run
`python client.py` from this folder, in a second terminal.
"""

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import requests
from rich.console import Console
from rich.rule import Rule

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# Without a timeout, requests waits forever for a server that never answers.
TIMEOUT_SECONDS = 5
# Allow comes with a 405: it lists the methods the route does accept.
HEADERS_TO_SHOW = ("Content-Type", "Content-Length", "Location", "Allow")


@dataclass
class Call:
    """One request to make, and a note on what it shows."""

    method: str
    path: str
    note: str
    params: dict[str, str] | None = None  # the query string, built by requests
    json: Any = None  # a body sent as JSON
    form: dict[str, str] | None = None  # a body sent as form fields


CALLS = [
    Call("GET", "/", "The classic first route: plain text."),
    Call("GET", "/my_route", "A second route, answering JSON."),
    Call(
        "POST",
        "/test_post",
        "A POST with a JSON body: the server says what it received.",
        json={"name": "Ada", "language": "Python"},
    ),
    Call("POST", "/test_post", "The same route with form fields instead.", form={"name": "Ada"}),
    Call("POST", "/test_post", "A POST with no body at all: 400 Bad Request."),
    Call("GET", "/hello/Ada", "A path parameter: the name is part of the path."),
    Call("GET", "/square/7", "A typed path parameter: <int:number> gives the view an int."),
    Call("GET", "/square/seven", "Not digits, so no route matches: 404 Not Found."),
    Call("GET", "/greet", "A query parameter left out: the server uses its default."),
    Call("GET", "/greet", "A query parameter given: ?name=Ada.", params={"name": "Ada"}),
    Call("POST", "/add", "JSON in, JSON out.", json={"a": 1, "b": 2}),
    Call("POST", "/add", "A bad value: 400 with a JSON error.", json={"a": 1, "b": "two"}),
    Call("POST", "/add", "Form fields, not JSON: 415 Unsupported Media Type.", form={"a": "1"}),
    Call("GET", "/add", "A GET on a POST-only route: 405 Method Not Allowed."),
]


class ServerUnreachable(Exception):
    """The request got no answer at all: no server, wrong address or too slow."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Reads the command line: only --base-url. Exits with a usage message when it is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help=f"where the server listens (default: {DEFAULT_BASE_URL})",
    )
    args = parser.parse_args(argv)
    if not args.base_url.startswith(("http://", "https://")):
        # requests would refuse it too, but with a less helpful message
        parser.error(f"--base-url must start with http:// or https://, like {DEFAULT_BASE_URL}")
    return args


def send(base_url: str, call: Call) -> requests.Response:
    """Makes one request; turns "no answer" into ServerUnreachable with one clear sentence."""
    url = base_url + call.path
    try:
        return requests.request(
            call.method,
            url,
            params=call.params,
            json=call.json,
            data=call.form,
            timeout=TIMEOUT_SECONDS,
        )
    except requests.ConnectionError as error:
        raise ServerUnreachable(
            f"Cannot reach the server at {base_url}. Is it running? Start it in another "
            "terminal: go to 01_hello_world/server and run `flask run`."
        ) from error
    except requests.Timeout as error:
        raise ServerUnreachable(
            f"The server at {base_url} did not answer within {TIMEOUT_SECONDS} seconds."
        ) from error
    except requests.RequestException as error:
        raise ServerUnreachable(f"Could not send a request to {url}: {error}") from error


def show(console: Console, call: Call, response: requests.Response) -> None:
    """Prints one exchange: request line, status line, the headers that matter, the body."""
    console.print(Rule(f"{call.method} {call.path}"))
    console.print(call.note, style="italic", markup=False)
    console.print("Request:", style="dim")
    # response.request is what was really sent: the URL includes the query string.
    console.print(f"{response.request.method} {response.request.url}", style="bold", markup=False)
    body_sent = response.request.body
    if body_sent:
        # requests set this header itself: json= sends JSON, data= sends form fields.
        content_type_sent = response.request.headers["Content-Type"]
        console.print(f"Content-Type: {content_type_sent}", markup=False, highlight=False)
        if isinstance(body_sent, bytes):
            body_sent = body_sent.decode()
        console.print(body_sent, markup=False, highlight=False)
    console.print()

    console.print("Response:", style="dim")
    status_style = "green" if response.ok else "red"
    console.print(f"{response.status_code} {response.reason}", style=f"bold {status_style}")
    for name in HEADERS_TO_SHOW:
        if name in response.headers:
            console.print(f"{name}: {response.headers[name]}", markup=False, highlight=False)
    console.print()

    print_body(console, response)
    console.print()


def print_body(console: Console, response: requests.Response) -> None:
    """Pretty-prints a JSON body; shows any other body as it came."""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            console.print_json(response.text)
            return
        except ValueError:
            pass  # labelled JSON but it is not: show it as it came
    console.print(response.text, markup=False, highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Runs every call in CALLS; returns the exit code (0 when the server answered them all)."""
    args = parse_args(argv)
    base_url = args.base_url.rstrip("/")
    console = Console()
    try:
        for call in CALLS:
            show(console, call, send(base_url, call))
    except ServerUnreachable as error:
        # One sentence a person can act on, instead of a traceback.
        Console(stderr=True).print(str(error), style="bold red", markup=False, soft_wrap=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
