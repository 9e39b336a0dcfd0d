"""`python client.py`, run as a learner runs it: what they see, and the exit code.

The walkthrough runs once as a process against the real server, and that one output is
read by the first test; with no server, it runs as a process too, for the error and the
exit code a learner sees. The other cases call the client's main() in this process: the
same output, with no new Python to start.
"""

import subprocess
from collections.abc import Callable

import pytest

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


@pytest.fixture(scope="module")
def walkthrough(live_server: str, run_client: RunClient) -> subprocess.CompletedProcess:
    """One run of `python client.py` against the live server. It takes a few seconds on
    purpose (a timeout, pauses between retries), so the tests share it."""
    return run_client("--base-url", live_server)


def test_walkthrough_shows_every_step(walkthrough: subprocess.CompletedProcess) -> None:
    assert walkthrough.returncode == 0, walkthrough.stderr
    assert walkthrough.stderr == ""
    lines = walkthrough.stdout.splitlines()
    positions = [lines.index(line) for line in WHAT_EACH_STEP_SHOWS]
    assert positions == sorted(positions)


def test_walkthrough_can_run_again(
    walkthrough: subprocess.CompletedProcess, live_server: str, run_client_in_process: RunClient
) -> None:
    # The flaky count is reset at each run, so a second run, on the same server as the
    # first one (the `walkthrough` fixture), shows the retries again.
    assert "200 OK after 3 attempts" in walkthrough.stdout
    again = run_client_in_process("--base-url", live_server)
    assert again.returncode == 0, again.stderr
    assert "200 OK after 3 attempts" in again.stdout


def test_no_server_gives_one_sentence_and_fails(
    unused_base_url: str, run_client: RunClient
) -> None:
    result = run_client("--base-url", unused_base_url)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Cannot reach the server at {unused_base_url}. Is it running?")
    assert "flask run" in line


def test_another_server_on_the_port_gives_one_sentence_and_fails(
    html_server: str, run_client_in_process: RunClient
) -> None:
    # Say step 01's server, still running on port 8000: it answers, but not as the playground.
    result = run_client_in_process("--base-url", html_server)
    assert result.returncode != 0
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.endswith(f"Is {html_server} the playground server?")


def test_a_bad_base_url_gives_one_sentence_and_fails(run_client_in_process: RunClient) -> None:
    result = run_client_in_process("--base-url", "127.0.0.1:8000")
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "The base URL '127.0.0.1:8000' is not a web address: write it like http://127.0.0.1:8000."
    ]
