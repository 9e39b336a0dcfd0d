"""The todo steps' web page (client/web), driven in headless Chromium against the real servers.

The page is served from its own origin by `python -m workshop web NN`, and the API by the
step's reference server (step 05 with API_TOKEN set: the test types the token into the
page), so every call crosses origins as on a learner's laptop, CORS preflights included.
Each browser test runs once per todo step; the module shares one browser, and one API
server, one page server and one browser profile per step. Each test starts from an empty
store, loads the page afresh and, at the end, checks that the page logged no error and
requested nothing from any host but the API's and its own.

The browser tests need playwright (requirements-dev.txt) and a Chromium: the Debian package,
or the one $CHROMIUM names (Playwright's own browser download is not used). Without them
they skip on a laptop, and fail in CI (REQUIRE_DEV=1, REQUIRE_BROWSER=1).

The README's screenshot of the page, made again after a change to the page:
    UPDATE_SCREENSHOTS=1 pytest tests/test_web_client.py -k screenshot
"""

import difflib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("03_todo_rest", "04_clean_code", "05_docker")
PAGE_FILES = ("index.html", "todo.js", "style.css")
DEFAULT_API = "http://127.0.0.1:8000"  # the page's "API base URL" until it is changed
TOKEN = "a-token-for-the-web-page"  # step 05 runs with API_TOKEN set to it
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = Path("client/web/screenshot.png")
SCREENSHOT_SIZE = (900, 600)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COMMENTS = ("//", "/*", "*", "<!--")  # how a comment line starts in the page's files
# What Chromium logs for an answer of status 400 or more: expected where a test provokes it.
REFUSED = "Failed to load resource: the server responded with a status of {status}"


def web_folder(step: str) -> Path:
    return ROOT / step / "client" / "web"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- The browser, the servers, the page ----------------------------------------------------


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Headless Chromium, driven by Playwright; skipped (or failed in CI) when either is missing."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs playwright: pip install -r requirements-dev.txt"
    )
    executable = request.getfixturevalue("chromium_executable")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", params=STEPS)
def step(request: pytest.FixtureRequest) -> str:
    """A todo step: each test that uses it runs once per step."""
    return request.param


@pytest.fixture(scope="module")
def todo_api(step: str, start_variant: Callable[..., Any]) -> Any:
    """The step's reference server, step 05's with a token, and calls to it."""
    if step != "05_docker":
        return start_variant(step)
    calls = start_variant(step, API_TOKEN=TOKEN)
    calls.server.token = TOKEN  # the test's own calls send it too
    return calls


class PageServer(NamedTuple):
    url: str  # the page's address, such as http://127.0.0.1:8080/
    log: Path  # what the command printed


@pytest.fixture(scope="module")
def page_server(
    step: str, serving: Callable[..., Any], free_port: Callable[[], int], tmp_path_factory
) -> Iterator[PageServer]:
    """`python -m workshop web NN`, on a port of its own: the page's own origin."""
    port = free_port()
    log = tmp_path_factory.mktemp("web") / "web.log"
    command = [sys.executable, "-m", "workshop", "web", step[:2], "--port", str(port)]
    with serving(command, port, log, f"`{' '.join(command[1:])}`", cwd=ROOT) as url:
        yield PageServer(f"{url}/", log)


@pytest.fixture(scope="module")
def profile(browser: Any, todo_api: Any) -> Iterator[Any]:
    """A browser profile for one step, which knows the step's API address.

    The tests take turns with its tabs: opening a tab costs Chromium a new process, about
    a third of a second, and a tab that loads the page again starts afresh all the same.
    """
    width, height = SCREENSHOT_SIZE
    context = browser.new_context(viewport={"width": width, "height": height})
    # The page remembers its API's address in localStorage, as a learner's browser would.
    base_url = json.dumps(todo_api.base_url)
    context.add_init_script(f"localStorage.setItem('todo-api-base-url', {base_url})")
    yield context
    context.close()


class Tabs:
    """Opens the page in tabs of the step's browser profile, and records what they log and
    request. A test that provokes an error status allows what Chromium logs for it."""

    def __init__(self, context: Any, page_url: str, api: Any) -> None:
        self.context, self.page_url, self.api = context, page_url, api
        self.origins = {origin(page_url), origin(api.base_url)}
        self.errors: list[str] = []
        self.allowed_errors: list[str] = []
        self.requested: list[tuple[str, str]] = []  # (method, URL), preflights included
        self.pages: list[Any] = []
        self.devtools: list[Any] = []

    def allow_status(self, status: int) -> None:
        self.allowed_errors.append(REFUSED.format(status=status))

    def open(self) -> Any:
        """A tab on the page, connected to the step's API (with its token, for 05)."""
        idle = [page for page in self.context.pages if page not in self.pages]
        page = idle[0] if idle else self.context.new_page()
        page.bring_to_front()  # Chromium slows down the tabs behind
        self.pages.append(page)
        page.on("console", self.log_console)
        page.on("pageerror", self.log_uncaught)
        # Chromium's own account of the requests: unlike Playwright's "request" event, it
        # includes the preflights and what the browser asks by itself, such as /favicon.ico.
        devtools = self.context.new_cdp_session(page)
        devtools.on("Network.requestWillBeSent", self.log_request)
        devtools.send("Network.enable")
        self.devtools.append(devtools)
        page.goto(self.page_url)
        expect = playwright_expect()
        if self.api.server.token:
            # Step 05: the first list needs a token, and the page says so, as the API does.
            self.allow_status(401)
            expect(page.get_by_role("alert")).to_contain_text("needs a token")
            page.get_by_label("Token").fill(self.api.server.token)
            page.get_by_role("button", name="Connect").click()
            expect(page.get_by_role("status")).to_have_text(
                f"Showing the todos of {self.api.base_url}."
            )
        else:
            expect(page.locator("#count")).not_to_be_empty()  # the list is in
        return page

    def log_request(self, event: dict) -> None:
        self.requested.append((event["request"]["method"], event["request"]["url"]))

    def log_console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    def log_uncaught(self, error: Any) -> None:
        self.errors.append(f"uncaught: {error}")

    def unexpected(self) -> tuple[list[str], list[str]]:
        """The errors logged that no test allowed, and the requests to a third origin."""
        errors = [e for e in self.errors if not any(a in e for a in self.allowed_errors)]
        foreign = [
            url
            for _, url in self.requested
            if origin(url) not in self.origins and not url.startswith(("data:", "blob:"))
        ]
        return errors, foreign

    def close(self) -> None:
        """Leaves the tabs blank for the next test, the token forgotten (it is kept per tab)."""
        for devtools in self.devtools:
            devtools.detach()
        for page in self.pages:
            page.remove_listener("console", self.log_console)
            page.remove_listener("pageerror", self.log_uncaught)
            if page.url.startswith(self.page_url):
                page.evaluate("sessionStorage.clear()")
            page.goto("about:blank")


def playwright_expect() -> Callable[..., Any]:
    """Playwright's auto-waiting `expect`: imported once the `browser` fixture found it."""
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def tabs(profile: Any, page_server: PageServer, todo_api: Any) -> Iterator[Tabs]:
    """Tabs on the page, with no todo in the store, and checked for errors afterwards."""
    todo_api.clear()
    opened = Tabs(profile, page_server.url, todo_api)
    yield opened
    errors, foreign = opened.unexpected()
    opened.close()
    assert errors == [], "the page logged errors"
    assert foreign == [], f"the page requested hosts other than {sorted(opened.origins)}"


@pytest.fixture
def expect(browser: Any) -> Callable[..., Any]:
    """Playwright's `expect`: its assertions wait until they hold (5 s at most), no sleep."""
    return playwright_expect()


def titles(page: Any) -> Any:
    """The titles of the todos on the page, in their order."""
    return page.get_by_role("list", name="Todos").locator(".title")


def stored(api: Any) -> list[tuple[str, bool]]:
    """The todos the API holds now: (title, completed) by id."""
    return [(todo["title"], todo["completed"]) for todo in api.get("/todos").json()]


def add(page: Any, title: str) -> None:
    page.get_by_label("New todo").fill(title)
    page.get_by_role("button", name="Add", exact=True).click()


def rename(page: Any, old: str, new: str) -> None:
    page.get_by_role("button", name=f"Rename {old}", exact=True).click()
    page.get_by_label(f"New title for {old}", exact=True).fill(new)
    page.get_by_role("button", name="Save").click()


# --- What a person does on the page ----------------------------------------------------------


def test_add_and_complete_then_a_reload_shows_the_same_list(tabs, todo_api, expect):
    page = tabs.open()

    for title in ("walk the dog", "buy milk"):
        add(page, title)
        expect(page.get_by_role("status")).to_have_text(
            re.compile(rf"Added “{title}”: 201 Created, at {todo_api.base_url}/todos/\d+\.")
        )
    page.get_by_role("checkbox", name="walk the dog").click()

    expect(page.get_by_role("status")).to_have_text("Saved “walk the dog”, done: now version 2.")
    assert stored(todo_api) == [("walk the dog", True), ("buy milk", False)]
    page.reload()
    expect(titles(page)).to_have_text(["walk the dog", "buy milk"])
    expect(page.get_by_role("checkbox", name="walk the dog")).to_be_checked()
    expect(page.get_by_role("checkbox", name="buy milk")).not_to_be_checked()


def test_rename(tabs, todo_api, expect):
    todo_api.create("walk the dgo")
    page = tabs.open()

    rename(page, "walk the dgo", "walk the dog")

    expect(titles(page)).to_have_text(["walk the dog"])
    assert stored(todo_api) == [("walk the dog", False)]


def test_filter_open_and_done(tabs, todo_api, expect):
    for title, completed in [("open one", False), ("done one", True), ("open two", False)]:
        todo_api.create(title, completed=completed)
    page = tabs.open()

    page.get_by_role("radio", name="Open").check()
    expect(titles(page)).to_have_text(["open one", "open two"])
    page.get_by_role("radio", name="Done").check()
    expect(titles(page)).to_have_text(["done one"])
    page.get_by_role("radio", name="All").check()
    expect(titles(page)).to_have_text(["open one", "done one", "open two"])


def test_delete_and_clear_completed(tabs, todo_api, expect):
    for title, completed in [("a", False), ("b", True), ("c", True), ("d", False)]:
        todo_api.create(title, completed=completed)
    page = tabs.open()

    page.get_by_role("button", name="Delete a", exact=True).click()
    expect(titles(page)).to_have_text(["b", "c", "d"])
    page.get_by_role("button", name="Clear completed").click()

    expect(titles(page)).to_have_text(["d"])
    expect(page.get_by_role("status")).to_have_text("Deleted 2 done todos.")
    assert stored(todo_api) == [("d", False)]


def test_pages_follow_the_link_header(tabs, todo_api, expect):
    for number in range(1, 13):
        todo_api.create(f"todo {number}")
    page = tabs.open()
    count = page.get_by_role("navigation", name="Pages").locator("#count")
    previous = page.get_by_role("button", name="Previous page")
    following = page.get_by_role("button", name="Next page")

    page.get_by_label("Per page").select_option("5")
    expect(count).to_have_text("1 to 5 of 12")
    expect(titles(page)).to_have_text([f"todo {n}" for n in range(1, 6)])
    expect(previous).to_be_disabled()
    following.click()
    expect(count).to_have_text("6 to 10 of 12")
    following.click()
    expect(count).to_have_text("11 to 12 of 12")
    expect(following).to_be_disabled()
    previous.click()
    expect(count).to_have_text("6 to 10 of 12")
    following.click()
    # The last page emptied: the page before it is shown.
    for title in ("todo 11", "todo 12"):
        page.get_by_role("button", name=f"Delete {title}", exact=True).click()
    expect(count).to_have_text("6 to 10 of 10")


def test_two_tabs_a_stale_change_is_refused_shown_and_retried(tabs, todo_api, expect):
    todo_api.create("walk the dog")
    tab_a, tab_b = tabs.open(), tabs.open()
    tabs.allow_status(412)

    rename(tab_a, "walk the dog", "walk the cat")
    expect(titles(tab_a)).to_have_text(["walk the cat"])
    # Tab B still shows version 1, "walk the dog": its If-Match names a version now gone.
    tab_b.get_by_role("checkbox", name="walk the dog").click()

    expect(tab_b.get_by_role("alert")).to_have_text(
        "“walk the dog” changed elsewhere (in another tab or client), so nothing was changed. "
        "It is now “walk the cat”, open, version 2: make your change again if you still want it."
    )
    expect(titles(tab_b)).to_have_text(["walk the cat"])
    expect(tab_b.get_by_role("checkbox", name="walk the cat")).not_to_be_checked()
    assert stored(todo_api) == [("walk the cat", False)]
    tab_b.get_by_role("checkbox", name="walk the cat").click()
    expect(tab_b.get_by_role("status")).to_have_text("Saved “walk the cat”, done: now version 3.")
    assert stored(todo_api) == [("walk the cat", True)]


def test_the_browser_asks_the_api_with_a_preflight_before_a_change(tabs, todo_api, expect):
    todo = todo_api.create("walk the dog")
    page = tabs.open()

    page.get_by_role("checkbox", name="walk the dog").click()

    expect(page.get_by_role("status")).to_have_text("Saved “walk the dog”, done: now version 2.")
    # PATCH, If-Match and a JSON body are more than a plain form may send: the browser
    # first asked the API whether this page's origin may send them, and the API said yes.
    # (Chromium may report the two in either order.)
    sent = [method for method, url in tabs.requested if url == todo["url"]]
    assert sorted(sent) == ["OPTIONS", "PATCH"]


def test_an_error_shows_the_problem_detail(tabs, todo_api, expect):
    page = tabs.open()
    tabs.allow_status(400)

    add(page, "   ")

    expect(page.get_by_role("alert")).to_have_text("title must be a non-empty string")
    assert stored(todo_api) == []


def test_by_default_the_page_calls_port_8000_and_says_when_nothing_answers(
    browser, page_server, expect
):
    context = browser.new_context()  # a fresh profile: the page has never been connected
    # Nothing may answer on port 8000 during the test: the browser fails the requests itself.
    context.route(f"{DEFAULT_API}/**", lambda route: route.abort())
    page = context.new_page()

    page.goto(page_server.url)

    expect(page.get_by_label("API base URL")).to_have_value(DEFAULT_API)
    expect(page.get_by_role("alert")).to_have_text(
        f"Cannot reach the todo API at {DEFAULT_API}. Is it running? Start it with "
        "`flask run` in the step's server folder. If it runs, the browser's console says why."
    )
    context.close()


# --- The files, and how they are served ------------------------------------------------------


def test_workshop_web_serves_the_page_from_its_own_port(page_server, step):
    page = requests.get(page_server.url, timeout=10)
    script = requests.get(f"{page_server.url}todo.js", timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>Todos" in page.text
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["Cache-Control"] == "no-cache"  # an edited file shows on reload
    printed = page_server.log.read_text(encoding="utf-8")
    assert f"The web page of {step}: {page_server.url} (stop with Ctrl+C)" in printed
    assert f"It calls the todo API at {DEFAULT_API}" in printed


def test_python_http_server_serves_the_page_too(serving, free_port, tmp_path):
    """The README's other way, with nothing but Python, from the page's folder."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    folder = web_folder("03_todo_rest")
    with serving(command, port, tmp_path / "log", "python -m http.server", cwd=folder) as url:
        page = requests.get(f"{url}/", timeout=10)
        script = requests.get(f"{url}/todo.js", timeout=10)

    assert page.status_code == 200
    assert page.content == (folder / "index.html").read_bytes()
    assert script.content == (folder / "todo.js").read_bytes()


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl+C is no signal on Windows")
def test_workshop_web_stops_cleanly_on_ctrl_c(free_port, wait_until_serving, tmp_path):
    port, log = free_port(), tmp_path / "web.log"
    command = [sys.executable, "-m", "workshop", "web", "03", "--port", str(port)]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(process, port, log, "`python -m workshop web 03`")
        process.send_signal(signal.SIGINT)  # what Ctrl+C sends

        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert log.read_text(encoding="utf-8").splitlines()[-1] == "Stopped."


@pytest.mark.parametrize("number", ["01", "02"])
def test_workshop_web_says_that_steps_01_and_02_have_no_page(number):
    command = [sys.executable, "-m", "workshop", "web", number]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Step {number} has no web page: the todo steps 03, 04 and 05 have one."
    )


def test_04_has_the_page_of_03_and_05_adds_only_the_token():
    for name in PAGE_FILES:
        old = (web_folder("03_todo_rest") / name).read_bytes()
        assert (web_folder("04_clean_code") / name).read_bytes() == old, name
    for name in PAGE_FILES:
        old = (web_folder("04_clean_code") / name).read_text(encoding="utf-8").splitlines()
        new = (web_folder("05_docker") / name).read_text(encoding="utf-8").splitlines()
        changed = [
            line[1:].strip()
            for line in difflib.unified_diff(old, new, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        code = [line for line in changed if line and not line.startswith(COMMENTS)]
        off_topic = [line for line in code if "token" not in line.lower()]
        assert off_topic == [], f"05's {name} changes more than the token"


def test_the_page_names_no_host_but_this_computer(step):
    for name in PAGE_FILES:
        text = (web_folder(step) / name).read_text(encoding="utf-8")
        hosts = {urlsplit(url).hostname for url in re.findall(r"(?:https?:)?//[^\s\"'<>)`]+", text)}
        assert hosts <= {"127.0.0.1"}, f"{step}/client/web/{name} names {hosts}"


# --- The README's screenshot -----------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height of a PNG image, from its header."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG image"
    return struct.unpack(">II", data[16:24])


def test_each_step_has_a_small_screenshot_of_its_page(step):
    data = (ROOT / step / SCREENSHOT).read_bytes()

    assert png_size(data) == SCREENSHOT_SIZE
    assert len(data) < 100_000, "keep it small: the repository keeps every version"
    if step == "04_clean_code":  # the same page as 03's, so the same picture
        assert data == (ROOT / "03_todo_rest" / SCREENSHOT).read_bytes()


@pytest.mark.parametrize("step", ["03_todo_rest", "05_docker"], indirect=True)
def test_the_screenshot_can_be_made_again(tabs, todo_api, step, expect, tmp_path):
    """Takes the README's screenshot: into tmp_path, or into the step with UPDATE_SCREENSHOTS=1
    (step 04's is a copy of 03's)."""
    for title in ("walk the dog", "buy milk", "write the README"):
        todo_api.create(title)
    page = tabs.open()
    page.get_by_role("checkbox", name="walk the dog").click()
    row = page.get_by_role("listitem").filter(has_text="walk the dog")
    expect(row.locator(".version")).to_have_text("v2")  # the list as the API has it now
    page.get_by_label("API base URL").fill(DEFAULT_API)  # as a learner sees it
    page.get_by_label("New todo").fill("water the plants")

    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        target = ROOT / step / SCREENSHOT
        page.screenshot(path=target)
        if step == "03_todo_rest":
            shutil.copyfile(target, ROOT / "04_clean_code" / SCREENSHOT)
    else:
        target = tmp_path / "screenshot.png"
        page.screenshot(path=target)
    assert png_size(target.read_bytes()) == SCREENSHOT_SIZE
