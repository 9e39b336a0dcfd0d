"""Request ids and JSON log lines, checked inside this process (the image's command has its
own test in test_image_command.py)."""

import json
import logging
import re
import sys

import pytest

from logs import JsonFormatter

NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize(
    "sent", ["abc", "0af7651916cd43dd8448eb211c80319c", "web-1.req_9:2", "x" * 128]
)
def test_a_sane_request_id_is_kept(client, sent):
    """An id from a proxy or a client comes back as it was, to match logs across services."""
    assert client.get("/health", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


@pytest.mark.parametrize(
    "sent", ["", "x" * 129, "two words", "semi;colon", 'quote"d', "caf\u00e9", "a/b"]
)
def test_any_other_request_id_is_replaced(client, sent):
    """Ids that are too long or carry odd characters could confuse whoever reads the logs."""
    answered = client.get("/health", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
    assert NEW_ID.fullmatch(answered)


def test_every_response_has_an_id_of_its_own(client):
    """Errors included: a 404 is the kind of answer someone asks about later."""
    ids = {client.get(path).headers["X-Request-ID"] for path in ("/todos", "/nope", "/todos/9")}
    assert len(ids) == 3 and all(NEW_ID.fullmatch(request_id) for request_id in ids)


def test_each_request_is_logged_once_with_its_fields(client, caplog):
    """What was asked, what was answered, and how long it took."""
    with caplog.at_level(logging.INFO, logger="app"):
        client.post("/todos", json={"title": "logged"}, headers={"X-Request-ID": "req-1"})
    (record,) = [r for r in caplog.records if getattr(r, "path", None) == "/todos"]
    line = json.loads(JsonFormatter().format(record))
    assert (line["method"], line["path"], line["status"]) == ("POST", "/todos", 201)
    assert line["level"] == "INFO" and line["duration_ms"] >= 0


def test_a_traceback_stays_on_one_line():
    """An exception's many lines become one JSON string: one record, one line."""
    try:
        raise RuntimeError("first line\nsecond line")
    except RuntimeError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    formatted = JsonFormatter().format(record)
    assert "\n" not in formatted
    line = json.loads(formatted)
    assert line["message"] == "boom" and "second line" in line["exception"]
    assert "request_id" not in line  # written outside any request
