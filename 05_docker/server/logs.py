"""Logs a machine can read: one JSON object a line.

Every request gets an id: the caller's X-Request-ID header when it looks like one (a
proxy in front may have set it), else a new one. The id goes back in the response's
X-Request-ID header and into every log line written while the request is answered, so
that a user's complaint and the server's lines about it can be matched. One line per
request says what was asked, what was answered and how long it took. Headers and query
strings are never logged: they may carry tokens.

Where the lines go is the server process's choice: serve.py formats granian's lines and
the app's with `JsonFormatter` and writes them to standard output.
"""

import json
import logging
import re
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, Response, current_app, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and a few marks, not too long: anything else could break a log reader.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_FIELDS = ("method", "path", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """Writes a log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, timezone.utc)
        line = {
            "time": when.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # which worker process wrote it
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)  # a traceback, escaped
        # ensure_ascii: non-ASCII characters as \u escapes, so no character can break the line.
        return json.dumps(line, ensure_ascii=True)


def start_request() -> None:
    """Runs before every request: notes its id and when it came in."""
    g.request_started = time.perf_counter()
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def log_request(response: Response) -> Response:
    """Runs after every request: sends its id back and writes its log line."""
    duration_ms = round((time.perf_counter() - g.request_started) * 1000, 1)
    response.headers[REQUEST_ID_HEADER] = g.request_id
    current_app.logger.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )
    return response


def init_app(app: Flask) -> None:
    """Gives every request an id and a log line."""
    app.before_request(start_request)
    app.after_request(log_request)
