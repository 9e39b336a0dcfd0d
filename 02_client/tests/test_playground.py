"""Every playground route, called in-process through Flask's test client: no network."""

import pytest
from flask import Flask
from flask.testing import FlaskClient

# --- / -----------------------------------------------------------------------------------


def test_index_lists_the_routes(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    routes = response.get_json()["routes"]
    for route in ("/echo", "/status/<int:code>", "/slow", "/flaky/<key>", "/redirect"):
        assert route in routes


# --- /echo -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_echo_shows_method_path_and_query(client: FlaskClient, method: str) -> None:
    response = client.open("/echo/any/path?name=Ada&tag=a&tag=b", method=method)
    assert response.status_code == 200
    echo = response.get_json()
    assert echo["method"] == method
    assert echo["path"] == "/echo/any/path"
    assert echo["args"] == {"name": ["Ada"], "tag": ["a", "b"]}


@pytest.mark.parametrize("body", [{"name": "Ada"}, [1, 2, 3], "a string", 42, True])
def test_echo_reads_a_json_body_as_json(client: FlaskClient, body: object) -> None:
    echo = client.post("/echo", json=body).get_json()
    assert echo["body_is_json"] is True
    assert echo["body"] == body
    assert echo["headers"]["Content-Type"] == "application/json"


def test_echo_shows_form_data_as_text(client: FlaskClient) -> None:
    # What a client sends with data= instead of json=: the server gets no JSON.
    echo = client.post("/echo", data={"name": "Ada"}).get_json()
    assert echo["body_is_json"] is False
    assert echo["body"] == "name=Ada"
    assert echo["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


def test_echo_without_body(client: FlaskClient) -> None:
    echo = client.get("/echo").get_json()
    assert echo["body"] is None
    assert echo["body_is_json"] is False


def test_echo_shows_the_headers_that_matter(client: FlaskClient) -> None:
    headers = {"User-Agent": "my-client/1.0", "Authorization": "Bearer abc", "Accept": "*/*"}
    echo = client.get("/echo", headers=headers).get_json()
    assert echo["headers"] == headers


def test_echo_refuses_a_body_labelled_json_that_is_not(client: FlaskClient) -> None:
    response = client.post("/echo", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "The Content-Type says JSON, but the body is not valid JSON."
    )


# --- /status/<code> ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (200, "OK"),
        (201, "Created"),
        (299, "Unknown"),
        (404, "Not Found"),
        (418, "I'm a teapot"),
        (500, "Internal Server Error"),
        (503, "Service Unavailable"),
        (599, "Unknown"),
    ],
)
def test_status_answers_the_chosen_code(client: FlaskClient, code: int, reason: str) -> None:
    response = client.get(f"/status/{code}")
    assert response.status_code == code
    assert response.get_json() == {
        "status": code,
        "reason": reason,
        "message": f"You asked for {code}.",
    }


@pytest.mark.parametrize("code", [204, 304])
def test_status_without_body(client: FlaskClient, code: int) -> None:
    response = client.get(f"/status/{code}")
    assert response.status_code == code
    assert response.data == b""


def test_status_accepts_other_methods(client: FlaskClient) -> None:
    assert client.post("/status/201").status_code == 201


@pytest.mark.parametrize("code", [0, 100, 199, 600, 999])
def test_status_refuses_codes_outside_200_to_599(client: FlaskClient, code: int) -> None:
    response = client.get(f"/status/{code}")
    assert response.status_code == 400
    assert response.get_json()["message"] == f"Choose a status code from 200 to 599, not {code}."


# --- /slow -------------------------------------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replaces the server's sleep with a note of how long it would have slept."""
    slept: list[float] = []
    monkeypatch.setattr("app.sleep", slept.append)
    return slept


@pytest.mark.parametrize(("query", "seconds"), [("", 2), ("?seconds=0", 0), ("?seconds=2.5", 2.5)])
def test_slow_waits_the_seconds_asked(
    client: FlaskClient, sleeps: list[float], query: str, seconds: float
) -> None:
    response = client.get(f"/slow{query}")
    assert response.status_code == 200
    assert sleeps == [seconds]
    assert response.get_json()["slept_seconds"] == seconds


@pytest.mark.parametrize("value", ["-1", "10.5", "abc", "", "nan", "inf"])
def test_slow_refuses_bad_seconds(client: FlaskClient, sleeps: list[float], value: str) -> None:
    response = client.get(f"/slow?seconds={value}")
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        f"seconds must be a number from 0 to 10, not {value!r}."
    )
    assert sleeps == []


# --- /flaky/<key> ------------------------------------------------------------------------


@pytest.mark.parametrize("failures", [0, 1, 3])
def test_flaky_fails_the_chosen_number_of_times_then_succeeds(
    client: FlaskClient, failures: int
) -> None:
    responses = [client.get(f"/flaky/k?failures={failures}") for _ in range(failures + 2)]
    assert [r.status_code for r in responses] == [503] * failures + [200, 200]
    assert [r.get_json()["attempt"] for r in responses] == list(range(1, failures + 3))


def test_flaky_fails_twice_by_default(client: FlaskClient) -> None:
    assert [client.get("/flaky/k").status_code for _ in range(3)] == [503, 503, 200]


def test_flaky_failure_is_json(client: FlaskClient) -> None:
    response = client.get("/flaky/k?failures=2")
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json()["message"] == "Failing on purpose (attempt 1 of the 2 that fail)."


def test_flaky_sends_retry_after_only_when_asked(client: FlaskClient) -> None:
    assert "Retry-After" not in client.get("/flaky/a").headers
    assert client.get("/flaky/b?retry_after=3").headers["Retry-After"] == "3"


def test_flaky_keys_count_apart(client: FlaskClient) -> None:
    assert client.get("/flaky/a?failures=1").status_code == 503
    assert client.get("/flaky/b?failures=1").status_code == 503
    assert client.get("/flaky/a?failures=1").status_code == 200


def test_flaky_counts_posts_and_gets_together(client: FlaskClient) -> None:
    assert client.post("/flaky/k?failures=1").status_code == 503
    assert client.get("/flaky/k?failures=1").status_code == 200


def test_flaky_attempts_counts_requests_without_counting_itself(client: FlaskClient) -> None:
    assert client.get("/flaky/k/attempts").get_json() == {"key": "k", "attempts": 0}
    for _ in range(3):
        client.get("/flaky/k")
    assert client.get("/flaky/k/attempts").get_json() == {"key": "k", "attempts": 3}
    assert client.get("/flaky/k/attempts").get_json()["attempts"] == 3


def test_deleting_attempts_makes_the_key_fail_again(client: FlaskClient) -> None:
    for _ in range(3):
        client.get("/flaky/k?failures=1")
    response = client.delete("/flaky/k/attempts")
    assert response.status_code == 204
    assert response.data == b""
    assert client.get("/flaky/k/attempts").get_json()["attempts"] == 0
    assert client.get("/flaky/k?failures=1").status_code == 503


def test_each_app_starts_with_its_own_counts(app: Flask) -> None:
    from app import create_app

    app.test_client().get("/flaky/k")
    assert create_app().test_client().get("/flaky/k/attempts").get_json()["attempts"] == 0


@pytest.mark.parametrize("query", ["failures=-1", "failures=11", "failures=two", "retry_after=x"])
def test_flaky_refuses_bad_query_without_counting(client: FlaskClient, query: str) -> None:
    response = client.get(f"/flaky/k?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "Bad Request"
    assert client.get("/flaky/k/attempts").get_json()["attempts"] == 0


def test_flaky_allows_get_and_post_only(client: FlaskClient) -> None:
    response = client.put("/flaky/k")
    assert response.status_code == 405
    assert response.get_json()["error"] == "Method Not Allowed"
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))


# --- /redirect ---------------------------------------------------------------------------


def test_redirect_sends_to_echo(client: FlaskClient) -> None:
    response = client.get("/redirect")
    assert response.status_code == 302
    assert response.headers["Location"] == "/echo"


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_uses_the_chosen_code(client: FlaskClient, code: int) -> None:
    response = client.get(f"/redirect?code={code}")
    assert response.status_code == code
    assert response.headers["Location"] == "/echo"


def test_redirect_hops_make_a_chain(client: FlaskClient) -> None:
    response = client.get("/redirect?hops=3", follow_redirects=True)
    assert [r.headers["Location"] for r in response.history] == [
        "/redirect?hops=2&code=302",
        "/redirect?hops=1&code=302",
        "/echo",
    ]
    assert response.get_json()["path"] == "/echo"


@pytest.mark.parametrize(("code", "method_after"), [(302, "GET"), (307, "POST")])
def test_redirect_of_a_post(client: FlaskClient, code: int, method_after: str) -> None:
    response = client.post(f"/redirect?code={code}", json={"x": 1}, follow_redirects=True)
    assert response.get_json()["method"] == method_after


@pytest.mark.parametrize("query", ["code=304", "code=abc", "hops=0", "hops=11"])
def test_redirect_refuses_bad_query(client: FlaskClient, query: str) -> None:
    response = client.get(f"/redirect?{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"


# --- Errors ------------------------------------------------------------------------------


def test_unknown_path_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json()["error"] == "Not Found"


def test_a_bug_is_a_json_500_without_traceback(app: Flask) -> None:
    @app.get("/bug")
    def bug() -> str:
        """A view with a bug in it."""
        return str(1 / 0)

    response = app.test_client().get("/bug")
    assert response.status_code == 500
    assert response.get_json()["error"] == "Internal Server Error"
    assert "Traceback" not in response.get_data(as_text=True)
    assert "ZeroDivisionError" not in response.get_data(as_text=True)
