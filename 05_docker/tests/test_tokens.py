"""Tokens: API_TOKEN may read and write, API_READ_TOKEN may only read, none means open."""

from pathlib import Path

import pytest
import requests

import auth
from app import create_app

WRITE_TOKEN = "write-token-7f3a9c"
READ_TOKEN = "read-token-51be04"
WRONG_TOKEN = "wrong-token-000000"

WRITES = [
    ("POST", "/todos", {"title": "new"}),
    ("PUT", "/todos/1", {"title": "replaced", "completed": True}),
    ("PATCH", "/todos/1", {"completed": True}),
    ("DELETE", "/todos/1", None),
    ("DELETE", "/todos", None),
]
READS = [("GET", "/todos"), ("HEAD", "/todos"), ("GET", "/todos/1"), ("HEAD", "/todos/1")]


def bearer(token: str) -> dict[str, str]:
    """The header that carries a token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def locked_client(db_path: Path):
    """A test client for an app with both tokens set and one todo (id 1) stored."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "API_TOKEN": WRITE_TOKEN,
            "API_READ_TOKEN": READ_TOKEN,
        }
    )
    client = app.test_client()
    created = client.post("/todos", json={"title": "first"}, headers=bearer(WRITE_TOKEN))
    assert created.status_code == 201
    return client


def assert_unauthorized(response) -> None:
    """401, with the header that says a Bearer token is wanted, and a problem document."""
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    if response.request.method != "HEAD":
        assert response.content_type == "application/problem+json"
        assert response.json["status"] == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_without_tokens_the_api_is_open(client):
    """Neither variable set: as in the steps before, no token is needed."""
    assert client.post("/todos", json={"title": "open"}).status_code == 201
    assert client.get("/todos").status_code == 200


@pytest.mark.parametrize(("method", "path"), READS + [(m, p) for m, p, _ in WRITES])
@pytest.mark.parametrize("headers", [{}, bearer(WRONG_TOKEN), {"Authorization": WRITE_TOKEN}])
def test_a_missing_or_wrong_token_is_401(locked_client, method, path, headers):
    """No token, a wrong one, or the right one without `Bearer `: 401, nothing changes."""
    response = locked_client.open(path, method=method, headers=headers, json={"title": "x"})
    assert_unauthorized(response)
    assert locked_client.get("/todos", headers=bearer(READ_TOKEN)).json[0]["title"] == "first"


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_the_write_token_may_write(locked_client, method, path, body):
    """API_TOKEN opens every method."""
    response = locked_client.open(path, method=method, json=body, headers=bearer(WRITE_TOKEN))
    assert response.status_code in (200, 201, 204)


@pytest.mark.parametrize(("method", "path"), READS)
@pytest.mark.parametrize("token", [READ_TOKEN, WRITE_TOKEN])
def test_both_tokens_may_read(locked_client, method, path, token):
    """GET and HEAD work with either token."""
    assert locked_client.open(path, method=method, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_the_read_token_may_not_write(locked_client, method, path, body):
    """The read token is known but not allowed to change anything: 403, nothing changes."""
    response = locked_client.open(path, method=method, json=body, headers=bearer(READ_TOKEN))
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 403
    todos = locked_client.get("/todos", headers=bearer(READ_TOKEN)).json
    assert [(todo["id"], todo["title"]) for todo in todos] == [(1, "first")]


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_health_and_ready_need_no_token(locked_client, path):
    """Docker's healthcheck and load balancers ask without a token."""
    assert locked_client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/todos", "/todos/1"])
def test_cors_preflights_need_no_token(locked_client, path):
    """Browsers send the preflight without credentials; the real request then carries them."""
    response = locked_client.options(
        path,
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 200
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_the_scheme_name_is_not_case_sensitive(locked_client):
    """HTTP says `bearer` and `Bearer` are the same scheme."""
    response = locked_client.get("/todos", headers={"Authorization": f"bearer {READ_TOKEN}"})
    assert response.status_code == 200


def test_tokens_are_compared_in_constant_time(locked_client, monkeypatch):
    """Every comparison goes through hmac.compare_digest, whose time does not tell how
    many characters of a guess were right."""
    compared = []

    def compare_digest(sent: bytes, expected: bytes) -> bool:
        compared.append((sent, expected))
        return sent == expected

    monkeypatch.setattr(auth.hmac, "compare_digest", compare_digest)
    assert locked_client.get("/todos", headers=bearer(READ_TOKEN)).status_code == 200
    assert (READ_TOKEN.encode(), READ_TOKEN.encode()) in compared


def test_a_read_token_alone_is_refused_at_start_up(db_path: Path):
    """A read token without a write token would leave the writes open: a mistake to stop."""
    with pytest.raises(ValueError, match="API_READ_TOKEN is set but API_TOKEN is not"):
        create_app(
            {
                "DATABASE_URL": f"sqlite:///{db_path}",
                "API_TOKEN": None,
                "API_READ_TOKEN": READ_TOKEN,
            }
        )


def test_tokens_come_from_the_environment(start_server):
    """The image's command reads API_TOKEN and API_READ_TOKEN, and never logs them."""
    server = start_server(API_TOKEN=WRITE_TOKEN, API_READ_TOKEN=READ_TOKEN)
    todos = f"{server.url}/todos"
    missing = requests.get(todos, timeout=10)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert requests.get(todos, headers=bearer(WRONG_TOKEN), timeout=10).status_code == 401
    created = requests.post(todos, json={"title": "a"}, headers=bearer(WRITE_TOKEN), timeout=10)
    assert created.status_code == 201
    assert requests.get(todos, headers=bearer(READ_TOKEN), timeout=10).status_code == 200
    refused = requests.delete(todos, headers=bearer(READ_TOKEN), timeout=10)
    assert refused.status_code == 403
    server.stop()

    log = server.log()
    assert log.count('"path": "/todos"') == 5, "each request has its log line"
    for token in (WRITE_TOKEN, READ_TOKEN, WRONG_TOKEN):
        assert token not in log


def test_the_client_sends_its_token(start_server, run_client_in_process):
    """client.py --token (or TODO_API_TOKEN) reaches a server with tokens; without, one sentence."""
    server = start_server(API_TOKEN=WRITE_TOKEN, API_READ_TOKEN=READ_TOKEN)
    cli = run_client_in_process  # main() in this process: test_client.py shows it is the same

    added = cli(server.url, "--token", WRITE_TOKEN, "add", "walk", "the", "dog")
    listed = cli(server.url, "--token", READ_TOKEN, "list")
    refused = cli(server.url, "--token", READ_TOKEN, "done", "1")
    without = cli(server.url, "list")

    assert added.returncode == 0, added.stderr
    assert "walk the dog" in listed.stdout
    assert refused.returncode == 1
    assert "403 Forbidden" in refused.stderr
    assert without.returncode == 1
    assert without.stderr == (
        f"The todo server at {server.url} needs a valid token: pass --token TOKEN "
        "or set the environment variable TODO_API_TOKEN.\n"
    )
