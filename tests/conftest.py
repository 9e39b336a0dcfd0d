"""Fixtures for the todo API contract suite: which server to test, and an `api` to call it.

The contract has two tiers: the core, which steps 03, 04 and 05 all serve, and the
production additions, which only step 05 serves (hostile input, tokens, /health, /ready).
Tests of the production additions are marked `production`.

Without options, the suite starts each todo step's reference server, exactly as a learner
does, and runs each core test once per server and each production test once per step 05
server. With `--base-url URL` (or the environment variable TODO_BASE_URL) it runs the core
tests against that server only, and the production tests too with `--production`: this is
how `python -m workshop verify 03 --base-url URL` checks a server you wrote.

The tests share one server per step, so each test creates the todos it needs and assumes
nothing about the others in the store. Only tests that count todos ask for `empty_store`,
which deletes every todo first (DELETE /todos is part of the contract). So a server at
--base-url is tested only if it holds no todos (or --allow-delete says they may go), with
--token for one that needs a token, and the todos the tests made are deleted at the end.

Every test module that starts a server of its own gets `free_port` and `wait_until_serving`
here too, the helpers the reference servers use.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent


# --- The reference servers ----------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceServer:
    """How to start one step's reference server from its `server/` folder.

    In the command and the environment, "{port}" becomes a free port, "{tmp}" a fresh
    temporary folder and "{postgres}" the URL of an empty PostgreSQL schema.
    """

    step: str  # the step folder, e.g. "03_todo_rest"
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict, hash=False)  # a dict: not hashable
    variant: str = ""  # tells apart two servers of one step, e.g. "postgres"
    production: bool = False  # serves the production additions, so runs their tests too
    root: Path = ROOT  # the workshop folder that holds the step: this one, or a copy of it

    @property
    def id(self) -> str:
        """The name in test ids, e.g. "05_docker-postgres"."""
        return f"{self.step}-{self.variant}" if self.variant else self.step

    @property
    def server_dir(self) -> Path:
        """The folder the command runs in."""
        return self.root / self.step / "server"

    @property
    def openapi_path(self) -> Path:
        """The step's OpenAPI description, which every response is checked against."""
        return self.root / self.step / "openapi.yaml"


# Exactly what a learner types in the step's server folder (`--port` overrides .flaskenv).
FLASK_RUN = (sys.executable, "-m", "flask", "run", "--port", "{port}")


def image_command(step: str) -> tuple[str, ...]:
    """The CMD of a step's Dockerfile, run by this Python: what the step's container runs."""
    dockerfile = (ROOT / step / "Dockerfile").read_text(encoding="utf-8")
    (cmd,) = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE)
    program, *arguments = json.loads(cmd)
    assert program == "python", f"the image's CMD should run a Python script, not {program}"
    return (sys.executable, *arguments)


# Step 05's container: several workers, as compose runs it. HOST stays unset: the image's
# 0.0.0.0 would open the tests' servers to the network the laptop is on.
IMAGE_ENV = {"PORT": "{port}", "WEB_CONCURRENCY": "4"}

# One row per server under test. A new step needs only its rows here.
REFERENCE_SERVERS = (
    ReferenceServer("03_todo_rest", FLASK_RUN),
    ReferenceServer("04_clean_code", FLASK_RUN, {"TODO_DB": "{tmp}/todos.sqlite3"}),
    ReferenceServer(
        "05_docker",
        image_command("05_docker"),
        {**IMAGE_ENV, "DATABASE_URL": "sqlite:///{tmp}/todos.sqlite3"},
        variant="sqlite",
        production=True,
    ),
    ReferenceServer(
        "05_docker",
        image_command("05_docker"),
        {**IMAGE_ENV, "DATABASE_URL": "{postgres}"},
        variant="postgres",
        production=True,
    ),
)
# The servers that production tests run against: step 05's.
PRODUCTION_SERVERS = tuple(row for row in REFERENCE_SERVERS if row.production)
# Each step's openapi.yaml is checked once, whatever the number of its servers.
REFERENCE_STEPS = tuple({row.step: row for row in REFERENCE_SERVERS}.values())

SERVER_START_SECONDS = 30

# Settings a server reads from the environment: the outer shell's are not passed on.
SERVER_SETTINGS = re.compile(
    r"FLASK_.*|TODO_DB|DATABASE_URL|API_TOKEN|API_READ_TOKEN|HOST|PORT|WEB_CONCURRENCY"
)


# --- Checking responses against openapi.yaml ----------------------------------------------

SPEC_URI = "urn:todo-api:openapi"


def escape_pointer(key: str) -> str:
    """One JSON Pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


class OpenApiDocument:
    """A step's openapi.yaml, able to list how a real response departs from it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        # OpenAPI 3.1 schemas are JSON Schema 2020-12; their $refs point into this document.
        # Imported only here: jsonschema takes about a second to load, and a run against a
        # --base-url server has no openapi.yaml to check its answers against.
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.validator_class = Draft202012Validator
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", template) + "$"), template)
            for template in self.spec["paths"]
        ]
        self.validators: dict[str, Any] = {}

    def resolve(self, node: dict, pointer: str) -> tuple[dict, str]:
        """Follows `$ref`s to the object they name; returns it and its JSON Pointer."""
        while "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
            node = self.spec
            for part in pointer.split("/")[1:]:
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def validator(self, schema_pointer: str) -> Any:
        """A JSON Schema validator for the schema at this place in the document."""
        if schema_pointer not in self.validators:
            self.validators[schema_pointer] = self.validator_class(
                {"$ref": f"{SPEC_URI}#{schema_pointer}"},
                registry=self.registry,
                format_checker=self.validator_class.FORMAT_CHECKER,
            )
        return self.validators[schema_pointer]

    def departures(self, response: requests.Response) -> list[str]:
        """What in this response the document does not describe; empty when all is as documented."""
        method = response.request.method.lower()
        path = urlsplit(response.request.url).path
        template = next((t for pattern, t in self.templates if pattern.match(path)), None)
        if template is None:
            return []  # unknown paths are 404s, which the contract, not the file, describes
        operation = self.spec["paths"][template].get(method)
        if operation is None:
            return []  # a 405, documented once as components.responses.MethodNotAllowed
        status = str(response.status_code)
        if status not in operation["responses"]:
            documented = ", ".join(operation["responses"])
            return [f"{method.upper()} {template} documents only the statuses {documented}"]
        where = f"{method.upper()} {template} {status}"
        pointer = f"/paths/{escape_pointer(template)}/{method}/responses/{status}"
        described, pointer = self.resolve(operation["responses"][status], pointer)
        departures = []
        for name, header in described.get("headers", {}).items():
            header, _ = self.resolve(header, "")
            if header.get("required") and name not in response.headers:
                departures.append(f"{where} lacks the header {name}")
        content = described.get("content", {})
        if method == "head" or not content:
            if response.content:
                departures.append(f"{where} should have no body")
            return departures
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type not in content:
            documented = ", ".join(content)
            departures.append(f"{where} has Content-Type {media_type!r}, not {documented}")
            return departures
        try:
            body = json.loads(response.content)
        except ValueError:
            return [*departures, f"{where} has a body that is not JSON"]
        schema_pointer = f"{pointer}/content/{escape_pointer(media_type)}/schema"
        errors = list(self.validator(schema_pointer).iter_errors(body))
        for error in errors[:3]:
            place = "/".join(str(part) for part in error.absolute_path) or "the body"
            departures.append(f"{where}: at {place}: {shorten(error.message, 160)}")
        return departures


# --- The server under test ----------------------------------------------------------------


@dataclass
class TodoServer:
    """The server under test: where it answers, and what it is checked against."""

    name: str
    base_url: str
    openapi: OpenApiDocument | None = None  # only reference servers have one
    log: Path | None = None  # the output of a server started here
    token: str | None = None  # for a server that needs one (step 05 with API_TOKEN set)

    def auth_headers(self) -> dict[str, str]:
        """The header that carries the token, if there is one."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds --base-url, to check a server that is already running, and its options."""
    parser.addoption(
        "--base-url",
        metavar="URL",
        default=os.environ.get("TODO_BASE_URL") or None,
        help="run the core todo contract tests against the server at URL only "
        "(default: the environment variable TODO_BASE_URL, else start each reference server)",
    )
    parser.addoption(
        "--production",
        action="store_true",
        help="with --base-url, also run the tests marked production: hostile input that only "
        "step 05 guards against (its reference servers always run them)",
    )
    parser.addoption(
        "--token",
        default=os.environ.get("TODO_API_TOKEN") or None,
        help="with --base-url, the token to send as `Authorization: Bearer TOKEN` "
        "(default: the environment variable TODO_API_TOKEN)",
    )
    parser.addoption(
        "--allow-delete",
        action="store_true",
        help="with --base-url, run even if the server holds todos: the tests delete them all",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """With --base-url, checks first that the server there is a todo API that may be tested.

    The tests delete every todo, so a server that holds some is left alone unless
    --allow-delete says they may go. Each problem stops the run with one sentence.
    """
    config = session.config
    address = config.getoption("--base-url")
    if address:
        base_url = as_base_url(address)
        server = TodoServer(base_url, base_url, token=config.getoption("--token"))
        problem = why_not_testable(server, config.getoption("--allow-delete"))
        if problem:
            raise pytest.UsageError(problem)
        config.option.base_url = server.base_url


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many workers `-n auto` starts: none with --base-url, else pytest-xdist's choice.

    Each worker starts reference servers of its own, but --base-url names one server for all,
    and every test there begins by deleting its todos: there, one test runs at a time.
    """
    return 0 if config.getoption("--base-url") else None


def as_base_url(address: str) -> str:
    """The address as an http(s) URL with no trailing slash: "127.0.0.1:8000" gets http://."""
    base_url = address.strip().rstrip("/")
    if "://" not in base_url:
        base_url = f"http://{base_url}"
    parts = urlsplit(base_url)
    try:
        parts.port  # noqa: B018 (reading it checks the port)
    except ValueError:
        raise pytest.UsageError(
            f"--base-url {address}: its port is not a number from 0 to 65535."
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise pytest.UsageError(
            f"--base-url {address} is not a server's address: give one such as "
            "http://127.0.0.1:8000."
        )
    return base_url


def why_not_testable(server: TodoServer, allow_delete: bool) -> str | None:
    """None when the todo API of `server` may be tested, else one sentence saying why not."""
    base_url, token = server.base_url, server.token
    try:
        response = requests.get(f"{base_url}/todos", headers=server.auth_headers(), timeout=5)
    except requests.RequestException:
        return (
            f"Cannot reach a server at {base_url}. Is it running? "
            "Start it in another terminal, then run the checks again."
        )
    if response.status_code in (401, 403) and token:
        return (
            f"The server at {base_url} refused the token ({response.status_code} "
            f"{response.reason}): give the one it was started with (its API_TOKEN)."
        )
    if response.status_code in (401, 403):
        return (
            f"The server at {base_url} asks for a token ({response.status_code} "
            f"{response.reason}): give it with --token or the variable TODO_API_TOKEN."
        )
    if response.status_code >= 500:
        return None  # a todo API with a bug: the tests will show it
    try:
        todos = response.json()
    except ValueError:
        todos = None
    if response.status_code != 200 or not isinstance(todos, list):
        kind = response.headers.get("Content-Type", "no Content-Type").split(";")[0]
        return (
            f"The server at {base_url} is not a todo API: GET /todos answered "
            f"{response.status_code} {response.reason} ({kind}), not 200 with a JSON list of "
            "todos. Is it the right address and port?"
        )
    total = response.headers.get("X-Total-Count", "")
    count = int(total) if total.isdigit() else len(todos)
    if count and not allow_delete:
        return (
            f"The server at {base_url} holds {count} todo{'s' if count != 1 else ''}, and the "
            "checks delete every todo, so they did not start: check a server with an empty "
            "database (another file or another port), or add --allow-delete if these todos "
            "may go."
        )
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Runs each contract test once per server under test, and each OpenAPI test per step."""
    if "todo_server" in metafunc.fixturenames:
        base_url = metafunc.config.getoption("--base-url")
        if base_url:
            metafunc.parametrize(
                "todo_server", [base_url], ids=["base-url"], indirect=True, scope="session"
            )
        else:
            # Steps 03 and 04 serve the core only, so a production test runs on step 05's servers.
            is_production = metafunc.definition.get_closest_marker("production") is not None
            servers = PRODUCTION_SERVERS if is_production else REFERENCE_SERVERS
            metafunc.parametrize(
                "todo_server",
                servers,
                ids=[row.id for row in servers],
                indirect=True,
                scope="session",
            )
    if "openapi_step" in metafunc.fixturenames:
        metafunc.parametrize(
            "openapi_step",
            REFERENCE_STEPS,
            ids=[row.step for row in REFERENCE_STEPS],
            scope="session",
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --base-url, leaves out the production tests unless --production asks for them.

    A server you wrote aims at the core contract first; the production additions are step
    05's, and failures there would only hide what matters.
    """
    if not config.getoption("--base-url") or config.getoption("--production"):
        return
    production = [item for item in items if item.get_closest_marker("production")]
    if production:
        items[:] = [item for item in items if not item.get_closest_marker("production")]
        config.hook.pytest_deselected(items=production)  # counted as "deselected" in the summary


@pytest.fixture(scope="session")
def todo_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TodoServer]:
    """The server under test: the one at --base-url, or a reference server started here."""
    target = request.param
    if isinstance(target, str):
        # The store was empty, or its todos were allowed to go (pytest_sessionstart): every
        # todo left at the end is one the tests made, so they are deleted.
        server = TodoServer(target, target, token=request.config.getoption("--token"))
        yield server
        with suppress(requests.RequestException):
            requests.delete(f"{target}/todos", headers=server.auth_headers(), timeout=10)
    else:
        with run_reference_server(target, tmp_path_factory.mktemp(target.step)) as server:
            yield server


@contextmanager
def run_reference_server(row: ReferenceServer, tmp: Path) -> Iterator[TodoServer]:
    """Starts a step's server on a free port, waits until it listens, and stops it afterwards."""
    port = free_port()
    log_path = tmp / "server.log"
    with ExitStack() as cleanup:
        places = {"{port}": str(port), "{tmp}": str(tmp)}
        if any("{postgres}" in value for value in row.env.values()):
            places["{postgres}"] = cleanup.enter_context(empty_postgres_schema())

        def fill(text: str) -> str:
            for placeholder, value in places.items():
                text = text.replace(placeholder, value)
            return text

        # Variables from the outer shell (FLASK_DEBUG, DATABASE_URL, API_TOKEN...) would
        # change what the server does; a learner's fresh terminal has none of them.
        env = {
            name: value for name, value in os.environ.items() if not SERVER_SETTINGS.fullmatch(name)
        }
        env.update({name: fill(value) for name, value in row.env.items()})
        env["PYTHONUNBUFFERED"] = "1"  # so the log is complete when a start fails
        command = [fill(part) for part in row.command]
        yield from serve(row, command, env, port, log_path)


def serve(
    row: ReferenceServer, command: list[str], env: dict[str, str], port: int, log_path: Path
) -> Iterator[TodoServer]:
    """Runs the server's command until the tests are done with it."""
    server = f"The {row.step} server ({' '.join(command)}, run in {row.server_dir})"
    with serving(command, port, log_path, server, cwd=row.server_dir, env=env) as base_url:
        openapi = OpenApiDocument(row.openapi_path) if row.openapi_path.exists() else None
        yield TodoServer(row.step, base_url, openapi, log_path)


@contextmanager
def empty_postgres_schema() -> Iterator[str]:
    """A DATABASE_URL whose tables go in a new PostgreSQL schema, dropped afterwards.

    Without PostgreSQL the tests that need it skip on a laptop, saying how to start one;
    in CI (REQUIRE_POSTGRES=1) they fail.
    """
    import psycopg
    from psycopg import sql

    url = os.environ.get("TEST_DATABASE_URL", "")
    problem = "TEST_DATABASE_URL is not set."
    if url:
        try:
            with psycopg.connect(url, connect_timeout=5):
                problem = ""
        except psycopg.Error as error:
            problem = f"PostgreSQL does not answer ({str(error).strip().splitlines()[0]})."
    if problem and os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{problem} REQUIRE_POSTGRES=1 asks for PostgreSQL.", pytrace=False)
    if problem:
        pytest.skip(
            f"{problem} To check the contract on PostgreSQL too, start one with "
            "`docker compose up db` in 05_docker and set TEST_DATABASE_URL."
        )
    schema = f"contract_{uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        # The server creates its table in the new schema: it comes first in search_path.
        parts = urlsplit(url)
        query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
        yield urlunsplit(parts._replace(query=urlencode(query)))
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def free_port() -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(
    process: subprocess.Popen,
    port: int,
    log_path: Path,
    server: str,
    ready: Callable[[], bool] | None = None,
) -> None:
    """Polls the port until the server accepts connections and `ready()`, if given, holds.

    Fails with `server` (which names it) and its output when it exits or takes too long.
    """
    deadline = time.monotonic() + SERVER_START_SECONDS
    problem = f"did not accept connections within {SERVER_START_SECONDS} s"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            problem = f"exited with code {process.returncode}"
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            time.sleep(0.05)  # not listening yet
            continue
        if ready is None or ready():
            return
        problem = f"accepted connections but was not ready within {SERVER_START_SECONDS} s"
        time.sleep(0.05)
    output = log_path.read_text(encoding="utf-8", errors="replace")
    pytest.fail(f"{server} {problem}. Its output:\n{output}", pytrace=False)


@contextmanager
def serving(
    command: list[str],
    port: int,
    log_path: Path,
    server: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    ready: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """Starts `command`, waits until it serves on `port` (and `ready()`, if given, holds),
    yields its URL, then stops it.

    It stops as `docker stop` does: SIGTERM, and SIGKILL 10 seconds later. On POSIX the
    server runs in a process group of its own, so that the SIGKILL reaches its workers too:
    killed alone, a main process would leave them running, orphans, until they notice.
    """
    posix = os.name == "posix"
    # The output goes to a file: a pipe nobody reads fills up and blocks the server.
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=posix,
        )
    try:
        wait_until_serving(process, port, log_path, server, ready)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if posix:
            with suppress(ProcessLookupError):  # the group is gone when all of it exited
                os.killpg(process.pid, signal.SIGKILL)


# Test modules cannot import from this file (importlib mode), so they get these as fixtures.


@pytest.fixture(name="free_port", scope="session")
def fixture_free_port() -> Callable[[], int]:
    """`free_port()`: a TCP port that nothing listens on right now."""
    return free_port


@pytest.fixture(name="wait_until_serving", scope="session")
def fixture_wait_until_serving() -> Callable[..., None]:
    """`wait_until_serving(process, port, log_path, server, ready=None)`: waits for a server."""
    return wait_until_serving


@pytest.fixture(name="serving", scope="session")
def fixture_serving() -> Callable[..., AbstractContextManager[str]]:
    """`with serving(command, port, log_path, server, cwd=None, env=None, ready=None) as url`."""
    return serving


# --- The api fixture ----------------------------------------------------------------------

NOT_GIVEN: Any = object()

# Headers that explain most failures; a check about another header shows that one too.
REQUEST_HEADERS_SHOWN = (
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Host",
    "Origin",
    "Access-Control-Request-Method",
    "Access-Control-Request-Headers",
)
RESPONSE_HEADERS_SHOWN = ("Content-Type", "Location", "ETag", "Link", "X-Total-Count", "Allow")

# What leaks from a server that shows its internals: a traceback, a source file's path.
INTERNALS = re.compile(r'Traceback|File "|[\w-]+\.py\b')


def shorten(text: str, limit: int = 300) -> str:
    """The text, cut to `limit` characters with a note of how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters in all)"


def body_excerpt(body: bytes | str | None) -> str | None:
    """A readable excerpt of a request or response body, or None when it is empty."""
    if not body:
        return None
    if isinstance(body, bytes):
        text = body.decode("utf-8", errors="backslashreplace")
        if len(body) > 200:
            text = f"{text[:200]}... ({len(body)} bytes in all)"
    else:
        text = shorten(body, 200)
    # One line per body keeps the indented layout of the message readable.
    return text.strip().replace("\r", "\\r").replace("\n", "\\n")


def media_type(response: requests.Response) -> str:
    """The response's Content-Type without parameters such as charset, lower case."""
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


class TodoApi:
    """Calls the server under test. Each failure names the request, the expectation and the answer.

    Every response from a reference server is also checked against the step's openapi.yaml.
    """

    timeout = 10  # seconds; no call may wait forever

    def __init__(self, server: TodoServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.local = threading.local()  # one requests.Session per thread
        self.sessions: list[requests.Session] = []

    def url(self, path: str) -> str:
        """The absolute URL of a path such as "/todos" (absolute URLs are kept)."""
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def session(self) -> requests.Session:
        """This thread's session: sessions are not shared between threads."""
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers.update(self.server.auth_headers())
            self.sessions.append(self.local.session)
        return self.local.session

    def close(self) -> None:
        """Closes the connections of every thread's session."""
        for session in self.sessions:
            session.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Sends one request (keyword arguments as in requests) and returns the response."""
        __tracebackhide__ = True
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)  # a test sees exactly what the server sent
        url = self.url(path)
        try:
            response = self.session().request(method, url, **kwargs)
        except requests.RequestException as error:
            raise AssertionError(f"{method} {url} got no answer: {error}") from None
        if self.server.openapi is not None:
            departures = self.server.openapi.departures(response)
            if departures:
                self.fail(
                    response,
                    f"an answer as {self.server.name}/openapi.yaml documents it:\n    - "
                    + "\n    - ".join(departures),
                )
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """Sends GET to `path`, as `request` does."""
        __tracebackhide__ = True
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> requests.Response:
        """Sends HEAD to `path`, as `request` does."""
        __tracebackhide__ = True
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """Sends POST to `path`, as `request` does."""
        __tracebackhide__ = True
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """Sends PUT to `path`, as `request` does."""
        __tracebackhide__ = True
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """Sends PATCH to `path`, as `request` does."""
        __tracebackhide__ = True
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """Sends DELETE to `path`, as `request` does."""
        __tracebackhide__ = True
        return self.request("DELETE", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> requests.Response:
        """Sends OPTIONS to `path`, as `request` does."""
        __tracebackhide__ = True
        return self.request("OPTIONS", path, **kwargs)

    # -- the common steps of many tests

    def create(self, title: str = "walk the dog", **fields: Any) -> dict:
        """POSTs a todo that must be created (201) and returns it."""
        __tracebackhide__ = True
        response = self.post("/todos", json={"title": title, **fields})
        return self.expect(response, 201)

    def fetch(self, todo_id: int) -> dict:
        """GETs a todo that must exist and returns it."""
        __tracebackhide__ = True
        return self.expect(self.get(f"/todos/{todo_id}"), 200)

    def clear(self) -> None:
        """Deletes every todo (DELETE /todos must answer 204)."""
        __tracebackhide__ = True
        self.expect(self.delete("/todos"), 204)

    def post_in_chunks(self, path: str, body: bytes) -> requests.Response:
        """POSTs JSON with Transfer-Encoding: chunked, so with no Content-Length header."""
        __tracebackhide__ = True
        chunks = (body[start : start + 8192] for start in range(0, len(body), 8192))
        headers = {"Content-Type": "application/json"}
        response = self.post(path, data=chunks, headers=headers)
        # The chunks are spent: failure messages show what was sent instead.
        response.request.body = f"<{len(body)} bytes sent in chunks>".encode()
        return response

    # -- assertions

    def expect(
        self,
        response: requests.Response,
        status: int | tuple[int, ...],
        *,
        headers: Mapping[str, Any] | None = None,
        json: Any = NOT_GIVEN,
        fields: Mapping[str, Any] | None = None,
        errors: tuple[str, ...] = (),
    ) -> Any:
        """Fails unless the response is as described; returns its JSON body (None when empty).

        status: the status code, or a tuple of acceptable ones. An error status (400 or more)
            also requires a problem document (RFC 9457) of that status, showing no internals.
        headers: name -> exact value; `...` means present with any value, None means absent.
        json: the whole body; fields: some of the body's fields and their values.
        errors: fields that the problem document's `errors` list must name.
        """
        __tracebackhide__ = True
        headers = headers or {}
        shown = tuple(headers)
        statuses = (status,) if isinstance(status, int) else status
        if response.status_code not in statuses:
            wanted = " or ".join(map(str, statuses))
            self.fail(response, f"status {wanted}, got {response.status_code}", shown)
        is_problem = response.status_code >= 400 and response.request.method != "HEAD"
        if is_problem:
            self.expect_problem(response, errors)
        body = self.json_body(response, shown)
        if not is_problem and body is not None and media_type(response) != "application/json":
            self.fail(response, "Content-Type: application/json", shown)
        for name, wanted in headers.items():
            got = response.headers.get(name)
            if wanted is None and got is not None:
                self.fail(response, f"no {name} header", shown)
            if wanted is ... and got is None:
                self.fail(response, f"a {name} header, but there is none", shown)
            if isinstance(wanted, str) and got != wanted:
                got_text = "there is none" if got is None else f"got {name}: {got}"
                self.fail(response, f"{name}: {wanted}, but {got_text}", shown)
        if json is not NOT_GIVEN and body != json:
            self.fail(response, f"the body {dumps(json)}", shown)
        for name, wanted in (fields or {}).items():
            if not isinstance(body, dict) or body.get(name, NOT_GIVEN) != wanted:
                self.fail(response, f'"{name}": {dumps(wanted)} in the body', shown)
        return body

    def json_body(self, response: requests.Response, shown: tuple[str, ...] = ()) -> Any:
        """The response's JSON body, None when it is empty; fails when it is not JSON."""
        __tracebackhide__ = True
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            pass
        self.fail(response, "a JSON body", shown)

    def expect_problem(self, response: requests.Response, errors: tuple[str, ...] = ()) -> None:
        """Fails unless the body is a problem document for this status, naming these fields."""
        __tracebackhide__ = True
        status = response.status_code
        if media_type(response) != "application/problem+json":
            self.fail(response, "Content-Type: application/problem+json (a problem document)")
        body = self.json_body(response)
        if not (
            isinstance(body, dict)
            and body.get("status") == status
            and isinstance(body.get("type"), str)
            and isinstance(body.get("title"), str)
            and body.get("title")
            and isinstance(body.get("detail"), str)
        ):
            self.fail(
                response,
                f'a problem document: {{"type": "about:blank", "title": ..., "status": {status}, '
                '"detail": ...}',
            )
        if INTERNALS.search(response.text):
            self.fail(response, "no traceback or source file path in the answer")
        named = {
            entry.get("field") for entry in body.get("errors") or [] if isinstance(entry, dict)
        }
        missing = [name for name in errors if name not in named]
        if missing:
            wanted = ", ".join(f'{{"field": "{name}", ...}}' for name in missing)
            self.fail(response, f'"errors": [{wanted}] in the problem document')

    def todo_count(self) -> str | None:
        """How many todos the server holds, as its X-Total-Count says."""
        return self.get("/todos?limit=1").headers.get("X-Total-Count")

    def expect_unchanged(self, method: str, todo: dict | None, count_before: str | None) -> None:
        """A refused POST creates nothing; a refused PUT, PATCH or DELETE leaves the todo as it
        was. `count_before` is todo_count() from before the request (None: not checked)."""
        __tracebackhide__ = True
        if method != "POST":
            self.expect(self.get(f"/todos/{todo['id']}"), 200, json=todo)
        elif count_before is not None:
            after = self.get("/todos?limit=1")
            self.check(
                after.headers.get("X-Total-Count") == count_before,
                after,
                f"X-Total-Count still {count_before}: a refused POST creates nothing",
            )

    def check(self, condition: bool, response: requests.Response, expected: str) -> None:
        """Fails with `expected` and the exchange unless `condition` holds."""
        __tracebackhide__ = True
        if not condition:
            self.fail(response, expected)

    def fail(
        self, response: requests.Response, expected: str, headers: tuple[str, ...] = ()
    ) -> NoReturn:
        """Raises an AssertionError showing what was expected, what was sent, what came back."""
        __tracebackhide__ = True
        message = describe_exchange(response, expected, headers)
        if response.status_code >= 500 and self.server.log is not None:
            message += f"\n  The server's output, traceback included, is in {self.server.log}"
        raise AssertionError(message)


def dumps(value: Any) -> str:
    """JSON text of a value, for messages."""
    return shorten(json.dumps(value, ensure_ascii=False), 200)


def describe_exchange(
    response: requests.Response, expected: str, extra_headers: tuple[str, ...] = ()
) -> str:
    """A short account of one request and its response, for failure messages."""
    request = response.request
    indent = "\n" + " " * 12
    sent = [f"{request.method} {request.url}"]
    sent += [
        f"{name}: {request.headers[name]}"
        for name in (*REQUEST_HEADERS_SHOWN, *extra_headers)
        if name in request.headers
    ]
    sent += [excerpt] if (excerpt := body_excerpt(request.body)) else []
    got = [f"{response.status_code} {response.reason}"]
    seen = set()
    for name in (*RESPONSE_HEADERS_SHOWN, *extra_headers):
        if name in response.headers and name.lower() not in seen:
            seen.add(name.lower())
            got.append(f"{name}: {response.headers[name]}")
    got += [excerpt] if (excerpt := body_excerpt(response.content)) else []
    return f"Expected {expected}\n  Request:  {indent.join(sent)}\n  Response: {indent.join(got)}"


@pytest.fixture
def api(todo_server: TodoServer) -> Iterator[TodoApi]:
    """Calls the server under test and explains every failure with the request and response."""
    calls = TodoApi(todo_server)
    yield calls
    calls.close()


@pytest.fixture
def todo(api: TodoApi) -> dict:
    """A todo created for this test alone."""
    return api.create("walk the dog", order=3)


@pytest.fixture
def empty_store(api: TodoApi) -> TodoApi:
    """Deletes every todo first: only for tests that count todos or need exact listings."""
    api.clear()
    return api


@pytest.fixture(scope="module")
def start_variant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., TodoApi]]:
    """Starts a step's reference server with some settings changed; returns an `api` for it.

    For answers the shared servers never give, such as 401 with API_TOKEN set; `root` runs
    the step of a copy of the workshop instead. Each variant starts once, on its first call,
    and stops when the test module is done.
    """
    started: dict[tuple[str, ...], TodoApi] = {}
    with ExitStack() as running:

        def start(step: str, root: Path = ROOT, **settings: str) -> TodoApi:
            key = (
                step,
                str(root),
                *(f"{name}={value}" for name, value in sorted(settings.items())),
            )
            if key not in started:
                row = next(row for row in REFERENCE_SERVERS if row.step == step)
                variant = replace(row, env={**row.env, **settings}, variant="variant", root=root)
                tmp = tmp_path_factory.mktemp(f"{step}-variant")
                server = running.enter_context(run_reference_server(variant, tmp))
                started[key] = TodoApi(server)
                running.callback(started[key].close)
            return started[key]

        yield start


@pytest.fixture(scope="session")
def openapi_document(openapi_step: ReferenceServer) -> dict:
    """A reference step's openapi.yaml, loaded."""
    if not openapi_step.openapi_path.exists():
        pytest.fail(f"{openapi_step.step} has no openapi.yaml", pytrace=False)
    return yaml.safe_load(openapi_step.openapi_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The Chromium (or Chrome) of the browser tests: $CHROMIUM, or one on the PATH.

    Without one, the browser tests skip on a laptop, and fail where REQUIRE_BROWSER=1 (CI).
    """
    candidates = [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    found = next((path for name in candidates if name and (path := shutil.which(name))), None)
    if found is None:
        message = "Chromium is not installed (apt-get install chromium, or set CHROMIUM)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message}, and REQUIRE_BROWSER=1 asks for it", pytrace=False)
        pytest.skip(message)
    return found
