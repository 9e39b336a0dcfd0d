"""PlaygroundClient (client/api.py) against a real server: retries, timeouts, readable errors."""

import uuid

import pytest
import requests

from api import ApiError, PlaygroundClient, attempts_of, cannot_reach_sentence


def new_key() -> str:
    """A /flaky key no other test uses, so that every test starts from a count of zero."""
    return uuid.uuid4().hex


def attempts_seen(base_url: str, key: str) -> int:
    """How many requests the server received for a /flaky key, asked without the client."""
    return requests.get(f"{base_url}/flaky/{key}/attempts", timeout=5).json()["attempts"]


def fast_client(base_url: str, **options: object) -> PlaygroundClient:
    """A client with no pause between retries, so that tests don't wait for nothing."""
    return PlaygroundClient(base_url, backoff_factor=0, **options)


# --- Requests that work ------------------------------------------------------------------


def test_json_body_arrives_as_json(live_server: str) -> None:
    with PlaygroundClient(live_server) as api:
        echo = api.request_json("POST", "/echo", params={"tag": ["a", "b"]}, json={"name": "Ada"})
    assert echo["method"] == "POST"
    assert echo["args"] == {"tag": ["a", "b"]}
    assert echo["body"] == {"name": "Ada"}
    assert echo["headers"]["Content-Type"] == "application/json"


def test_empty_body_gives_none(live_server: str) -> None:
    with PlaygroundClient(live_server) as api:
        assert api.request_json("GET", "/status/204") is None


def test_redirects_are_followed(live_server: str) -> None:
    with PlaygroundClient(live_server) as api:
        response = api.request("GET", "/redirect", params={"hops": 2})
    assert response.url == f"{live_server}/echo"
    assert [step.status_code for step in response.history] == [302, 302]


def test_a_307_redirect_keeps_the_post_and_its_body(live_server: str) -> None:
    with PlaygroundClient(live_server) as api:
        echo = api.request_json("POST", "/redirect", params={"code": 307}, json={"n": 1})
    assert (echo["path"], echo["method"], echo["body"]) == ("/echo", "POST", {"n": 1})


def test_base_url_may_end_with_a_slash(live_server: str) -> None:
    with PlaygroundClient(live_server + "/") as api:
        assert api.request_json("GET", "/echo")["path"] == "/echo"


# --- Retries -----------------------------------------------------------------------------


@pytest.mark.parametrize("failures", [1, 2, 3])
def test_get_to_flaky_succeeds_after_retries(live_server: str, failures: int) -> None:
    key = new_key()
    with fast_client(live_server) as api:
        response = api.request("GET", f"/flaky/{key}", params={"failures": failures})
    assert response.status_code == 200
    assert attempts_of(response) == failures + 1
    assert attempts_seen(live_server, key) == failures + 1


def test_get_gives_up_once_the_retries_are_used(live_server: str) -> None:
    key = new_key()
    with fast_client(live_server, retries=3) as api, pytest.raises(ApiError) as caught:
        api.request("GET", f"/flaky/{key}", params={"failures": 5})
    assert str(caught.value) == (
        f"GET /flaky/{key}?failures=5 answered 503 Service Unavailable after 4 attempts: "
        "Failing on purpose (attempt 4 of the 5 that fail)."
    )
    assert caught.value.status == 503
    assert attempts_seen(live_server, key) == 4


def test_post_to_flaky_is_not_retried(live_server: str) -> None:
    key = new_key()
    with fast_client(live_server) as api, pytest.raises(ApiError) as caught:
        api.request("POST", f"/flaky/{key}", params={"failures": 2})
    assert str(caught.value) == (
        f"POST /flaky/{key}?failures=2 answered 503 Service Unavailable: "
        "Failing on purpose (attempt 1 of the 2 that fail)."
    )
    assert attempts_seen(live_server, key) == 1


def test_no_retries_when_turned_off(live_server: str) -> None:
    key = new_key()
    with fast_client(live_server, retries=0) as api, pytest.raises(ApiError):
        api.request("GET", f"/flaky/{key}", params={"failures": 1})
    assert attempts_seen(live_server, key) == 1


def test_a_404_is_not_retried(live_server: str) -> None:
    # Only 502, 503 and 504 mean "try again later"; a 404 will stay a 404.
    with fast_client(live_server) as api, pytest.raises(ApiError) as caught:
        api.request("GET", "/status/404")
    assert "after" not in str(caught.value)


# --- Timeouts ----------------------------------------------------------------------------


def test_slow_answer_within_the_timeout(live_server: str) -> None:
    with PlaygroundClient(live_server, timeout=(5, 5)) as api:
        assert api.request_json("GET", "/slow", params={"seconds": 0.1})["slept_seconds"] == 0.1


# The timeouts below are short because each test waits that long; test_walkthrough.py shows
# the 1-second one a learner sees.


def test_client_timeout_gives_a_readable_error(live_server: str) -> None:
    with PlaygroundClient(live_server, timeout=(5, 0.1)) as api, pytest.raises(ApiError) as caught:
        api.request("GET", "/slow", params={"seconds": 3})
    assert str(caught.value) == "GET /slow?seconds=3 did not answer within 0.1 seconds."
    assert caught.value.status is None


def test_timeout_for_one_call(live_server: str) -> None:
    with PlaygroundClient(live_server) as api, pytest.raises(ApiError) as caught:
        api.request("GET", "/slow", params={"seconds": 3}, timeout=0.2)
    assert str(caught.value) == "GET /slow?seconds=3 did not answer within 0.2 seconds."


# --- Readable errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "sentence"),
    [
        ("/status/404", "GET /status/404 answered 404 Not Found: You asked for 404."),
        ("/status/418", "GET /status/418 answered 418 I'm a Teapot: You asked for 418."),
        (
            "/slow?seconds=99",
            "GET /slow?seconds=99 answered 400 Bad Request: "
            "seconds must be a number from 0 to 10, not '99'.",
        ),
    ],
)
def test_http_errors_read_as_one_sentence(live_server: str, path: str, sentence: str) -> None:
    with PlaygroundClient(live_server) as api, pytest.raises(ApiError) as caught:
        api.request("GET", path)
    assert str(caught.value) == sentence
    assert caught.value.status == int(sentence.split(" answered ")[1][:3])


def test_nothing_listening_gives_a_readable_error(unused_base_url: str) -> None:
    port = unused_base_url.rsplit(":", 1)[1]
    with fast_client(unused_base_url) as api, pytest.raises(ApiError) as caught:
        api.request("GET", "/echo")
    assert str(caught.value) == (
        f"Cannot reach the server at {unused_base_url}. Is it running? Start it in another "
        f"terminal: go to 02_client/server and run `flask run --port {port}`."
    )
    assert caught.value.status is None


def test_on_port_8000_the_hint_is_plain_flask_run() -> None:
    assert cannot_reach_sentence("http://127.0.0.1:8000").endswith("and run `flask run`.")


def test_a_body_that_is_not_json_gives_a_readable_error(html_server: str) -> None:
    with PlaygroundClient(html_server) as api, pytest.raises(ApiError) as caught:
        api.request_json("GET", "/")
    assert str(caught.value) == (
        "GET / answered 200, but its body is not JSON: it starts with "
        f"'<!doctype html><title>Not an A'. Is {html_server} the playground server?"
    )


@pytest.mark.parametrize("base_url", ["127.0.0.1:8000", "localhost:8000", "ftp://127.0.0.1", ""])
def test_a_base_url_that_is_not_a_web_address(base_url: str) -> None:
    with pytest.raises(ApiError) as caught:
        PlaygroundClient(base_url)
    assert str(caught.value) == (
        f"The base URL {base_url!r} is not a web address: write it like http://127.0.0.1:8000."
    )
