"""Walks through the playground server and shows, step by step, how a good client behaves.

The client itself is in api.py; this file calls it and prints what happens. Start the
server first (`flask run` in the server folder), then run `python client.py` from this
folder, in a second terminal.
"""

import argparse
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

from rich.console import Console
from rich.text import Text

from api import DEFAULT_BASE_URL, ApiError, PlaygroundClient, attempts_of

# The walkthrough's own key on /flaky: its count is reset before each use.
FLAKY_KEY = "walkthrough"
FLAKY_FAILURES = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Reads the command line: only --base-url."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help=f"where the server listens (default: {DEFAULT_BASE_URL})",
    )
    return parser.parse_args(argv)


def say(console: Console, text: str, style: str | None = None) -> None:
    """Prints text as it is: markup=False keeps rich from reading [brackets] as styles."""
    console.print(text, style=style, markup=False)


def show_error(console: Console, error: ApiError) -> None:
    """Prints an ApiError the way a user of a real client would see it."""
    console.print(Text.assemble(("ApiError: ", "bold red"), str(error)))


def path_of(url: str) -> str:
    """The part of a URL after the address: "/redirect?hops=1"."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def send_json(api: PlaygroundClient, console: Console) -> None:
    """json= turns a dict into a JSON body; /echo shows what the server received."""
    console.rule("1. json= sends a JSON body")
    body = {"name": "Ada", "languages": ["Python", "English"]}
    say(console, f"POST /echo with json={body}")
    echo = api.request_json("POST", "/echo", json=body)
    content_type = echo["headers"].get("Content-Type")
    say(console, f"The server got a {echo['method']} with Content-Type: {content_type}")
    say(console, "and read this body as JSON:")
    console.print_json(data=echo["body"])


def choose_status(api: PlaygroundClient, console: Console) -> None:
    """raise_for_status() lets a 2xx through and turns a 4xx or 5xx into an error."""
    console.rule("2. raise_for_status() turns 4xx and 5xx answers into errors")
    response = api.request("GET", "/status/201")
    say(console, f"GET /status/201 -> {response.status_code}: a success, so no error.", "green")
    say(console, "GET /status/404:")
    try:
        api.request("GET", "/status/404")
    except ApiError as error:
        show_error(console, error)


def time_out(api: PlaygroundClient, console: Console) -> None:
    """A timeout stops the wait for a server that is too slow."""
    console.rule("3. A timeout on every call")
    say(console, "GET /slow?seconds=2, with a timeout of 1 second:")
    try:
        api.request("GET", "/slow", params={"seconds": 2}, timeout=1)
    except ApiError as error:
        show_error(console, error)
    say(console, "Without a timeout, requests would wait for as long as the server takes.")


def reset_flaky(api: PlaygroundClient, console: Console) -> None:
    """Sets the walkthrough's /flaky count back to zero, so that it fails again."""
    path = f"/flaky/{FLAKY_KEY}/attempts"
    response = api.request("DELETE", path)
    say(console, f"DELETE {path} -> {response.status_code}: the count starts again from zero.")


def retry_get(api: PlaygroundClient, console: Console) -> None:
    """A GET that meets 503s is sent again, after a pause that grows each time."""
    console.rule("4. A flaky GET is retried")
    reset_flaky(api, console)
    path = f"/flaky/{FLAKY_KEY}"
    say(
        console,
        f"GET {path}?failures={FLAKY_FAILURES}: the first {FLAKY_FAILURES} answers are 503.",
    )
    response = api.request("GET", path, params={"failures": FLAKY_FAILURES})
    attempts = attempts_of(response)
    message = response.json()["message"]
    outcome = f"{response.status_code} {response.reason} after {attempts} attempts: {message}"
    say(console, outcome, "green")
    say(console, "A GET only reads, so sending it again is safe: the client retried by itself.")


def no_retry_for_post(api: PlaygroundClient, console: Console) -> None:
    """A POST that meets a 503 is not sent again: the error goes to the caller."""
    console.rule("5. A flaky POST is not retried")
    reset_flaky(api, console)
    path = f"/flaky/{FLAKY_KEY}"
    say(console, f"POST {path}?failures={FLAKY_FAILURES}:")
    try:
        api.request("POST", path, params={"failures": FLAKY_FAILURES})
    except ApiError as error:
        show_error(console, error)
    seen = api.request_json("GET", f"{path}/attempts")["attempts"]
    requests_seen = "1 request" if seen == 1 else f"{seen} requests"
    say(console, f"GET {path}/attempts: the server saw {requests_seen}.")
    say(console, "A POST sent twice could do its work twice, so only you can decide to resend it.")


def follow_redirects(api: PlaygroundClient, console: Console) -> None:
    """requests follows redirects by itself; response.history keeps the steps."""
    console.rule("6. Redirects are followed")
    response = api.request("GET", "/redirect", params={"hops": 2})
    steps = [*response.history, response]
    say(console, " -> ".join(f"{step.status_code} {path_of(step.url)}" for step in steps))
    for code in ("302", "307"):
        echo = api.request_json("POST", "/redirect", params={"code": code}, json={"name": "Ada"})
        body = "without a body" if echo["body"] is None else f"with the body {echo['body']}"
        say(
            console,
            f"POST /redirect?code={code} arrived at {echo['path']} as a {echo['method']}, {body}.",
        )
    say(console, "After a 301, 302 or 303, a POST goes on as a GET, without its body;")
    say(console, "a 307 or 308 keeps the method and the body.")


WALKTHROUGH: list[Callable[[PlaygroundClient, Console], None]] = [
    send_json,
    choose_status,
    time_out,
    retry_get,
    no_retry_for_post,
    follow_redirects,
]


def main(argv: list[str] | None = None) -> int:
    """Runs the walkthrough; returns the exit code (0 when every step ran)."""
    args = parse_args(argv)
    # soft_wrap: long lines are left for the terminal to wrap, not cut by rich.
    console = Console(soft_wrap=True, highlight=False)
    try:
        with PlaygroundClient(args.base_url) as api:
            # A first call that prints nothing: with no server, or another server on that
            # port, the user sees one clear sentence, not a walkthrough that stops halfway.
            api.request_json("GET", "/")
            for step in WALKTHROUGH:
                step(api, console)
    except ApiError as error:
        # One sentence a person can act on, instead of a traceback.
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
