"""Every route of step 01 through Flask's test client: status, content type and body."""

import pytest
from flask.testing import FlaskClient

JSON = "application/json"
HTML = "text/html; charset=utf-8"


def assert_json_error(response, status: int, message_part: str) -> None:
    """An error is JSON with its status, its name and a message a person can read."""
    assert response.status_code == status
    assert response.content_type == JSON
    body = response.get_json()
    assert body["status"] == status
    assert body["error"]  # the status's name, such as "Bad Request"
    assert message_part in body["message"]


# --- The three routes of the original talk ---


def test_root_says_hello_world_as_text(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.content_type == HTML
    assert response.get_data(as_text=True) == "Hello, World!"


def test_my_route_is_a_second_route_answering_json(client: FlaskClient) -> None:
    response = client.get("/my_route")
    assert response.status_code == 200
    assert response.content_type == JSON
    assert "my_route" in response.get_json()["message"]


@pytest.mark.parametrize(
    "body",
    [{"name": "Ada", "language": "Python"}, {}, [1, 2, 3], "just a string", 42, False],
)
def test_test_post_echoes_a_json_body(client: FlaskClient, body: object) -> None:
    response = client.post("/test_post", json=body)
    assert response.status_code == 200
    assert response.content_type == JSON
    assert response.get_json() == {"content_type": JSON, "json": body}


def test_test_post_echoes_form_fields(client: FlaskClient) -> None:
    response = client.post("/test_post", data={"name": "Ada", "language": "Python"})
    assert response.status_code == 200
    assert response.get_json() == {
        "content_type": "application/x-www-form-urlencoded",
        "form": {"name": "Ada", "language": "Python"},
    }


@pytest.mark.parametrize(
    ("body", "content_type", "message_part"),
    [
        (None, None, "Send a JSON body or form fields"),
        ("hello", "text/plain", "Send a JSON body or form fields"),
        ("{not json", JSON, "not valid JSON"),
        ("", JSON, "not valid JSON"),
    ],
    ids=["no body", "plain text", "broken JSON", "empty JSON"],
)
def test_test_post_without_a_usable_body_is_400(
    client: FlaskClient, body: str | None, content_type: str | None, message_part: str
) -> None:
    response = client.post("/test_post", data=body, content_type=content_type)
    assert_json_error(response, 400, message_part)


def test_test_post_answers_post_only(client: FlaskClient) -> None:
    response = client.get("/test_post")
    assert_json_error(response, 405, "not allowed")
    assert "POST" in response.headers["Allow"]


# --- Path parameters ---


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/hello/Ada", "Hello, Ada!"),
        ("/hello/Grace%20Hopper", "Hello, Grace Hopper!"),
        ("/hello/<i>Bob", "Hello, &lt;i&gt;Bob!"),  # escaped: no HTML gets in
    ],
)
def test_hello_takes_the_name_from_the_path(client: FlaskClient, path: str, text: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.content_type == HTML
    assert response.get_data(as_text=True) == text


@pytest.mark.parametrize(("number", "square"), [(0, 0), (7, 49), (12, 144)])
def test_square_takes_an_int_from_the_path(client: FlaskClient, number: int, square: int) -> None:
    response = client.get(f"/square/{number}")
    assert response.status_code == 200
    assert response.content_type == JSON
    assert response.get_json() == {"number": number, "square": square}


@pytest.mark.parametrize("not_digits", ["seven", "-3", "1.5"])
def test_square_of_something_else_matches_no_route(client: FlaskClient, not_digits: str) -> None:
    assert_json_error(client.get(f"/square/{not_digits}"), 404, "not found")


# --- A query parameter ---


@pytest.mark.parametrize(
    ("query", "greeting"),
    [
        ("", "Hello, World!"),
        ("?name=Ada", "Hello, Ada!"),
        ("?name=Grace%20Hopper", "Hello, Grace Hopper!"),
        ("?name=%20Ada%20", "Hello, Ada!"),
    ],
    ids=["default", "a name", "two words", "spaces around"],
)
def test_greet_takes_the_name_from_the_query(
    client: FlaskClient, query: str, greeting: str
) -> None:
    response = client.get(f"/greet{query}")
    assert response.status_code == 200
    assert response.content_type == JSON
    assert response.get_json() == {"greeting": greeting}


@pytest.mark.parametrize("query", ["?name=", "?name=%20%20"])
def test_greet_with_an_empty_name_is_400(client: FlaskClient, query: str) -> None:
    assert_json_error(client.get(f"/greet{query}"), 400, "must not be empty")


# --- JSON in, JSON out ---


@pytest.mark.parametrize(
    ("a", "b", "total"), [(1, 2, 3), (-5, 5, 0), (0, 0, 0), (10**20, 1, 10**20 + 1)]
)
def test_add_answers_the_sum(client: FlaskClient, a: int, b: int, total: int) -> None:
    response = client.post("/add", json={"a": a, "b": b})
    assert response.status_code == 200
    assert response.content_type == JSON
    assert response.get_json() == {"sum": total}


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ("{not json", "must be a JSON object"),
        ("[1, 2]", "must be a JSON object"),
        ('"1 + 2"', "must be a JSON object"),
        ('{"a": 1}', "whole numbers"),
        ('{"a": 1, "b": "2"}', "whole numbers"),
        ('{"a": 1.5, "b": 2}', "whole numbers"),
        ('{"a": true, "b": 2}', "whole numbers"),
        ('{"a": null, "b": 2}', "whole numbers"),
    ],
)
def test_add_with_a_bad_body_is_400(client: FlaskClient, body: str, message_part: str) -> None:
    response = client.post("/add", data=body, content_type=JSON)
    assert_json_error(response, 400, message_part)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("a=1&b=2", "application/x-www-form-urlencoded"),
        ('{"a": 1, "b": 2}', "text/plain"),
        ('{"a": 1, "b": 2}', None),
    ],
    ids=["form fields", "JSON labelled as text", "no Content-Type"],
)
def test_add_without_json_content_type_is_415(
    client: FlaskClient, body: str, content_type: str | None
) -> None:
    response = client.post("/add", data=body, content_type=content_type)
    assert_json_error(response, 415, "Content-Type: application/json")


# --- Errors are JSON too ---


def test_an_unknown_path_is_404_json(client: FlaskClient) -> None:
    assert_json_error(client.get("/no/such/page"), 404, "not found")


@pytest.mark.parametrize(("method", "path"), [("GET", "/add"), ("POST", "/"), ("DELETE", "/greet")])
def test_a_wrong_method_is_405_json_with_allow(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(path, method=method)
    assert_json_error(response, 405, "not allowed")
    assert response.headers["Allow"]  # the methods this route does accept
