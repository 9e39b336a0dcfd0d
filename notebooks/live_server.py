"""Runs a workshop step's Flask app inside a notebook, and prints HTTP exchanges readably.

A cell that calls `app.run()` never finishes, and running it a second time fails with
"address already in use". Instead, `serve` runs the app in a background thread on a port
the operating system picks, so the cell returns at once, and a second run of the cell
stops the first server before it starts a new one:

    app = load_step_app("03_todo_rest")   # the step's create_app(), imported from its folder
    server = serve(app, name="todos")     # serving in the background, on a free port
    response = requests.get(f"{server.base_url}/todos", timeout=5)
    show(response)                        # the request, the status, key headers, the body
    stop_all()                            # at the end of the notebook

The port changes on every run, so printouts write it as PORT: the outputs then read the
same on GitHub as on your laptop.
"""

import importlib
import json
import re
import socket
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

REPOSITORY = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # IPv4 on purpose: "localhost" may resolve to IPv6 first
LOCAL_URL = re.compile(r"http://127\.0\.0\.1:\d+")
SHOWN_AS = "http://127.0.0.1:PORT"
# Headers worth reading in these lessons. The raw exchanges show every header.
INTERESTING_HEADERS = (
    "Content-Type",
    "Location",
    "ETag",
    "Allow",
    "Link",
    "X-Total-Count",
    "WWW-Authenticate",
)
REQUEST_HEADERS_SHOWN = ("Content-Type", "If-Match", "If-None-Match", "Accept", "Authorization")
# Left out of raw printouts: they change with every run, machine and version.
CHANGING_HEADERS = ("Date", "Server")


# --- Loading a step's code ------------------------------------------------------------------


def load_step_module(step: str, module: str = "app", folder: str = "server") -> ModuleType:
    """Imports `module` from a step's folder, e.g. app.py from 03_todo_rest/server.

    Every step names its files alike (app.py, transport.py, ...), and Python keeps each
    imported module under its name in `sys.modules`. So first this forgets every module
    imported from any step, and takes every step folder off `sys.path`; then it puts this
    step's folder first on `sys.path` and imports the module afresh. Without that, loading
    05_docker after 03_todo_rest would hand back 03's `app`.
    """
    step_folders = [path for path in REPOSITORY.glob("[0-9][0-9]_*/*") if path.is_dir()]
    for name, loaded in list(sys.modules.items()):
        filename = getattr(loaded, "__file__", None)
        if filename and any(Path(filename).resolve().is_relative_to(f) for f in step_folders):
            del sys.modules[name]
    sys.path[:] = [entry for entry in sys.path if Path(entry) not in step_folders]
    source = REPOSITORY / step / folder
    if not source.is_dir():
        raise FileNotFoundError(f"There is no folder {step}/{folder} in {REPOSITORY}.")
    sys.path.insert(0, str(source))
    imported = importlib.import_module(module)
    print(f"Imported {module} from {step}/{folder}/{module}.py ({step}/{folder} is on sys.path)")
    return imported


def load_step_app(step: str, test_config: dict[str, Any] | None = None) -> Flask:
    """A new app from a step's `create_app`, as `flask run` in its server folder would make."""
    return load_step_module(step).create_app(test_config)


# --- Serving it in the background ---------------------------------------------------------------


class QuietRequestHandler(WSGIRequestHandler):
    """Answers requests like Werkzeug's handler, without a log line per request.

    The development server prints one line per request, with the time in it; in a notebook
    those lines would land in whichever cell is running and change on every run.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LiveServer:
    """A Flask app served on 127.0.0.1 in a daemon thread until `stop()`."""

    def __init__(self, app: Flask, name: str) -> None:
        self.name = name
        # Port 0 asks the operating system for any free port: never "address already in use".
        self.http_server: BaseWSGIServer = make_server(
            HOST, 0, app, threaded=True, request_handler=QuietRequestHandler
        )
        self.port = self.http_server.port
        self.base_url = f"http://{HOST}:{self.port}"
        # A daemon thread does not keep Python running when the kernel shuts down.
        # serve_forever checks every 0.05 s whether stop() was called: a quick stop.
        self.thread = threading.Thread(
            target=self.http_server.serve_forever, args=(0.05,), name=f"server {name}", daemon=True
        )
        self.thread.start()

    @property
    def running(self) -> bool:
        """True until the server has been stopped."""
        return self.thread.is_alive()

    def stop(self) -> None:
        """Stops serving and frees the port; calling it again does nothing."""
        if self.running:
            self.http_server.shutdown()  # serve_forever returns, and then closes the socket
            self.thread.join(timeout=10)

    def __repr__(self) -> str:
        state = "serving" if self.running else "stopped"
        return f"<LiveServer {self.name!r} {state} at {SHOWN_AS}>"


running_servers: dict[str, LiveServer] = {}


def serve(app: Flask, name: str) -> LiveServer:
    """Serves `app` in the background. A server already running under `name` stops first.

    So running the same cell twice replaces its server instead of leaving the old one behind.
    """
    previous = running_servers.pop(name, None)
    if previous is not None:
        previous.stop()
    server = LiveServer(app, name)
    running_servers[name] = server
    print(f"Serving {name!r} at {SHOWN_AS} (PORT is a free port the system picked)")
    return server


def stop_all() -> None:
    """Stops every server that `serve` started. Safe to run more than once."""
    names = list(running_servers)
    for name in names:
        running_servers.pop(name).stop()
    print(f"Stopped: {', '.join(repr(name) for name in names) or 'nothing was running'}")


# --- Printing exchanges -----------------------------------------------------------------------


def hide_port(text: str) -> str:
    """The text with every http://127.0.0.1:<port> written as http://127.0.0.1:PORT."""
    return LOCAL_URL.sub(SHOWN_AS, text)


def body_text(body: bytes | str | None, limit: int = 300) -> str:
    """A body as readable text: long JSON spread over lines, big bodies cut short.

    Binary bodies, such as Protobuf, are written as hexadecimal bytes.
    """
    if not body:
        return ""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > limit:
        return f"({len(raw):,} bytes, starting {raw[:40].decode(errors='replace')!r}...)"
    text = raw.decode(errors="replace")
    if any(char == "\ufffd" or (char < " " and char not in "\t\n\r") for char in text):
        more = "..." if len(raw) > 24 else ""
        return f"({len(raw)} bytes, not text: {raw[:24].hex(' ')}{more})"
    try:
        parsed = json.loads(text)
    except ValueError:
        return hide_port(text)
    one_line = json.dumps(parsed, ensure_ascii=False)
    if len(one_line) <= 120:
        return hide_port(one_line)
    if isinstance(parsed, list):  # a list of todos: one todo per line
        items = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in parsed)
        return hide_port(f"[\n{items}\n]")
    return hide_port(json.dumps(parsed, ensure_ascii=False, indent=2))


def indented(text: str, prefix: str = "  ") -> str:
    """Every line of the text, indented."""
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def show(response: requests.Response, headers: tuple[str, ...] = INTERESTING_HEADERS) -> None:
    """Prints a request that `requests` sent and its response: status, key headers, body.

    → marks what went to the server, ← what came back.
    """
    request = response.request
    path = request.path_url
    print(f"→ {request.method} {hide_port(path)}")
    for name in REQUEST_HEADERS_SHOWN:
        value = request.headers.get(name)
        # requests always sends "Accept: */*" (anything will do): not worth a line.
        if value and value != "*/*" and (name != "Content-Type" or request.body):
            print(f"  {name}: {value}")
    if request.body:
        print(indented(body_text(request.body)))
    print(f"← {response.status_code} {response.reason}")
    for name in headers:
        if name in response.headers:
            print(f"  {name}: {hide_port(response.headers[name])}")
    if response.content:
        print(indented(body_text(response.content)))


def show_raw_exchange(
    base_url: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: str = "",
) -> None:
    """Sends one request as plain text over a socket and prints both texts exactly.

    This is all HTTP/1.1 is: a request line, header lines, an empty line, the body; and
    back a status line, header lines, an empty line, the body. Every line ends with \\r\\n.
    Only the port (as PORT) and the Date and Server headers are changed in the printout.
    """
    host, port = base_url.removeprefix("http://").split(":")
    data = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if data:
        lines.append(f"Content-Length: {len(data)}")
    # Asking the server to close the connection after answering tells us where the answer ends.
    lines.append("Connection: close")
    request_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode() + data

    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request_bytes)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    # Printed line by line: a notebook would show a lone \r as "back to the line start".
    print("---- the request, as sent ----")
    print("\n".join(lines).replace(f"{host}:{port}", f"{host}:PORT"))
    print()  # the empty line that ends the headers
    if data:
        print(body)
    head, _, response_body = answer.decode(errors="replace").partition("\r\n\r\n")
    kept = [
        line
        for line in head.split("\r\n")
        if line.split(":", 1)[0].strip().title() not in CHANGING_HEADERS
    ]
    print("---- the response, as received ----")
    print(hide_port("\n".join(kept)))
    print()
    if response_body:
        print(hide_port(response_body))
