"""`python client.py`, run as a learner runs it: what they see, and the exit code."""

import subprocess
from collections.abc import Callable

import pytest

from client import main

RunClient = Callable[..., subprocess.CompletedProcess]

# A line from each step of the walkthrough, in the order the steps run.
WHAT_EACH_STEP_SHOWS = [
    "The server got a POST with Content-Type: application/json",
    "ApiError: GET /status/404 answered 404 Not Found: You asked for 404.",
    "ApiError: GET /slow?seconds=2 did not answer within 1 second.",
    "200 OK after 3 attempts: Succeeded on attempt 3, after 2 failures.",
    "ApiError: POST /flaky/walkthrough?failures=2 answered 503 Service Unavailable: "
    "Failing on purpose (attempt 1 of the 2 that fail).",
    "GET /flaky/walkthrough/attempts: the server saw 1 request.",
    "302 /redirect?hops=2 -> 302 /redirect?hops=1&code=302 -> 200 /echo",
    "POST /redirect?code=302 arrived at /echo as a GET, without a body.",
    "POST /redirect?code=307 arrived at /echo as a POST, with the body {'name': 'Ada'}.",
]


def test_walkthrough_shows_every_step(live_server: str, run_client: RunClient) -> None:
    result = run_client("--base-url", live_server)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    positions = [lines.index(line) for line in WHAT_EACH_STEP_SHOWS]
    assert positions == sorted(positions)


def test_walkthrough_can_run_again(live_server: str, run_client: RunClient) -> None:
    # The flaky count is reset at each run, so a second run shows the retries again.
    for _ in range(2):
        result = run_client("--base-url", live_server)
        assert result.returncode == 0, result.stderr
        assert "200 OK after 3 attempts" in result.stdout


def test_no_server_gives_one_sentence_and_fails(
    unused_base_url: str, run_client: RunClient
) -> None:
    result = run_client("--base-url", unused_base_url)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Cannot reach the server at {unused_base_url}. Is it running?")
    assert "flask run" in line


def test_another_server_on_the_port_gives_one_sentence_and_fails(
    html_server: str, run_client: RunClient
) -> None:
    # Say step 01's server, still running on port 8000: it answers, but not as the playground.
    result = run_client("--base-url", html_server)
    assert result.returncode != 0
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.endswith(f"Is {html_server} the playground server?")


def test_a_bad_base_url_gives_one_sentence_and_fails(run_client: RunClient) -> None:
    result = run_client("--base-url", "127.0.0.1:8000")
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "The base URL '127.0.0.1:8000' is not a web address: write it like http://127.0.0.1:8000."
    ]


def test_main_returns_1_without_server(
    unused_base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--base-url", unused_base_url]) == 1
    assert "Cannot reach the server" in capsys.readouterr().err
