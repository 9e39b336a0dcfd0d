"""The Postman collection imports as is and has a request for every route of the app."""

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

SCHEMA_V2_1 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
BASE_URL_VARIABLE = "{{baseUrl}}"


@pytest.fixture
def collection(step_dir: Path) -> dict:
    """The collection file, parsed."""
    path = step_dir / "postman" / "playground.postman_collection.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def requests_in(collection: dict) -> list[dict]:
    """Every request of the collection, with its name."""
    return [{"name": item["name"], **item["request"]} for item in collection["item"]]


def rule_for(app: Flask, method: str, raw_url: str) -> Rule:
    """The app's rule that a request's URL and method reach; fails the test if none does."""
    path_and_query = raw_url.removeprefix(BASE_URL_VARIABLE)
    adapter = app.url_map.bind("127.0.0.1:8000")
    try:
        rule, _ = adapter.match(urlsplit(path_and_query).path, method=method, return_rule=True)
    except HTTPException as error:
        pytest.fail(f"{method} {raw_url} reaches no route of the app: {error.name}")
    return rule


def test_collection_declares_the_v2_1_schema(collection: dict) -> None:
    assert collection["info"]["schema"] == SCHEMA_V2_1
    assert collection["info"]["name"]


def test_base_url_variable_defaults_to_port_8000(collection: dict) -> None:
    assert {"key": "baseUrl", "value": "http://127.0.0.1:8000", "type": "string"} in collection[
        "variable"
    ]


def test_every_request_starts_with_the_base_url(requests_in: list[dict]) -> None:
    for request in requests_in:
        url = request["url"]
        assert url["raw"].startswith(BASE_URL_VARIABLE + "/"), request["name"]
        assert url["host"] == [BASE_URL_VARIABLE], request["name"]


def test_url_parts_agree_with_the_raw_url(requests_in: list[dict]) -> None:
    # Postman shows the raw URL but can send from the parts: they must say the same thing.
    for request in requests_in:
        url = request["url"]
        raw = urlsplit(url["raw"].removeprefix(BASE_URL_VARIABLE))
        assert url["path"] == [part for part in raw.path.split("/") if part], request["name"]
        query = [(pair["key"], pair["value"]) for pair in url.get("query", [])]
        assert query == parse_qsl(raw.query), request["name"]


def test_every_request_reaches_a_route(app: Flask, requests_in: list[dict]) -> None:
    for request in requests_in:
        rule_for(app, request["method"], request["url"]["raw"])


def test_every_route_has_a_request(app: Flask, requests_in: list[dict]) -> None:
    # The routes come from the app itself: a new route without a request fails here.
    # A rule is known by its URL pattern and its view: /flaky/<key>/attempts has two views.
    reached = set()
    for request in requests_in:
        rule = rule_for(app, request["method"], request["url"]["raw"])
        reached.add((rule.rule, rule.endpoint))
    missing = [
        f"{rule.rule} ({rule.endpoint})"
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and (rule.rule, rule.endpoint) not in reached
    ]
    assert missing == [], "routes without a request in the Postman collection"


def test_json_bodies_are_json_and_say_so(requests_in: list[dict]) -> None:
    with_body = [request for request in requests_in if "body" in request]
    assert with_body, "no request in the collection sends a body"
    for request in with_body:
        body = request["body"]
        assert body["mode"] == "raw", request["name"]
        json.loads(body["raw"])
        assert body["options"]["raw"]["language"] == "json", request["name"]
        assert {"key": "Content-Type", "value": "application/json"} in request["header"]
