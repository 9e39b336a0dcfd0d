"""The client, run as a learner runs it: what it prints with a server, and without one.

`python client.py` runs once, as a process, against the real server, and several tests read
that one output; once more with no server, for the error and the exit code a learner sees.
The other cases call the client's main() in this process: no new Python to start for each.
"""

import subprocess

import pytest
from flask import Flask
from werkzeug.exceptions import HTTPException

import client  # client/client.py, the program under test (not the `client` fixture)

JSON = "application/json"
HTML = "text/html; charset=utf-8"

# What a learner should see for each call, in the order the client makes them:
# (request line without the base URL, status line, Content-Type, a piece of the body).
# Werkzeug writes the reason phrase in capitals: "404 NOT FOUND".
EXPECTED_EXCHANGES = [
    ("GET /", "200 OK", HTML, "Hello, World!"),
    ("GET /my_route", "200 OK", JSON, '"message": "Hello from my_route'),
    ("POST /test_post", "200 OK", JSON, '"json": {'),
    ("POST /test_post", "200 OK", JSON, '"form": {'),
    ("POST /test_post", "400 BAD REQUEST", JSON, '"error": "Bad Request"'),
    ("GET /hello/Ada", "200 OK", HTML, "Hello, Ada!"),
    ("GET /square/7", "200 OK", JSON, '"square": 49'),
    ("GET /square/seven", "404 NOT FOUND", JSON, '"error": "Not Found"'),
    ("GET /greet", "200 OK", JSON, '"greeting": "Hello, World!"'),
    ("GET /greet?name=Ada", "200 OK", JSON, '"greeting": "Hello, Ada!"'),
    ("POST /add", "200 OK", JSON, '"sum": 3'),
    ("POST /add", "400 BAD REQUEST", JSON, "whole numbers"),
    ("POST /add", "415 UNSUPPORTED MEDIA TYPE", JSON, '"error": "Unsupported Media Type"'),
    ("GET /add", "405 METHOD NOT ALLOWED", JSON, '"error": "Method Not Allowed"'),
]


def split_into_exchanges(output: str, base_url: str) -> list[list[str]]:
    """Cuts the client's output into one list of lines per expected exchange, in order."""
    lines = output.splitlines()
    starts = []
    for request, *_ in EXPECTED_EXCHANGES:
        method, path = request.split(" ")
        request_line = f"{method} {base_url}{path}"
        search_from = starts[-1] + 1 if starts else 0
        assert request_line in lines[search_from:], f"missing, or out of order: {request_line}"
        starts.append(lines.index(request_line, search_from))
    return [lines[start:end] for start, end in zip(starts, [*starts[1:], len(lines)], strict=True)]


@pytest.fixture(scope="module")
def client_run(live_server: str, run_client) -> subprocess.CompletedProcess:
    """One run of `python client.py` against the live server, read by the tests below."""
    return run_client("--base-url", live_server)


def test_client_shows_every_exchange(live_server: str, client_run) -> None:
    assert client_run.returncode == 0, client_run.stderr
    assert "Traceback" not in client_run.stdout + client_run.stderr
    exchanges = split_into_exchanges(client_run.stdout, live_server)
    for (request, status, content_type, body_part), lines in zip(
        EXPECTED_EXCHANGES, exchanges, strict=True
    ):
        assert status in lines, f"{request}: no status line {status!r}"
        assert f"Content-Type: {content_type}" in lines, request
        assert any(line.startswith("Content-Length: ") for line in lines), request
        assert body_part in "\n".join(lines), request


def test_client_shows_what_it_sent(client_run) -> None:
    output = client_run.stdout
    assert '{"name": "Ada", "language": "Python"}' in output  # the JSON body
    assert "Content-Type: application/x-www-form-urlencoded" in output  # the form's header
    assert "name=Ada" in output  # the form body


def test_client_shows_allow_on_the_405(client_run) -> None:
    lines = client_run.stdout.splitlines()
    allow_lines = [line for line in lines if line.startswith("Allow: ")]
    # Only GET /add gets a 405; the order of the methods in the header may vary.
    assert len(allow_lines) == 1
    assert sorted(allow_lines[0].removeprefix("Allow: ").split(", ")) == ["OPTIONS", "POST"]


def test_client_without_a_server_says_so_in_one_sentence(unused_base_url: str, run_client) -> None:
    result = run_client("--base-url", unused_base_url)

    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    message_lines = result.stderr.strip().splitlines()
    assert len(message_lines) == 1, result.stderr
    assert unused_base_url in message_lines[0]
    assert "flask run" in message_lines[0]


def test_the_client_calls_every_route(app: Flask) -> None:
    urls = app.url_map.bind("127.0.0.1")
    called = set()
    for call in client.CALLS:
        try:
            endpoint, _ = urls.match(call.path, method=call.method)
            called.add(endpoint)
        except HTTPException:
            pass  # the calls that show a 404 or a 405 on purpose
    every_route = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    assert every_route - called == set()


def test_the_default_base_url_is_ipv4_port_8000() -> None:
    # 127.0.0.1, not localhost: localhost can mean IPv6 first, where the dev server is not.
    assert client.parse_args([]).base_url == "http://127.0.0.1:8000"


def test_main_accepts_a_base_url_ending_in_a_slash(live_server: str, capsys) -> None:
    assert client.main(["--base-url", live_server + "/"]) == 0
    output = capsys.readouterr().out
    assert f"GET {live_server}/my_route" in output  # no double slash, so no 404 there
    assert output.count("404 NOT FOUND") == 1  # only /square/seven


@pytest.mark.parametrize("base_url", ["127.0.0.1:8000", "localhost:8000", "ftp://127.0.0.1"])
def test_a_base_url_without_http_is_refused_with_usage(
    base_url: str, run_client_in_process
) -> None:
    result = run_client_in_process("--base-url", base_url)
    assert result.returncode == 2  # argparse's code for a wrong command line
    assert "--base-url must start with http:// or https://" in result.stderr
    assert "Traceback" not in result.stderr
