"""The talk's slides: the source in slides/slides.md, its build, and the deck in a browser.

The deck is built once per test run, into a temporary folder, with the network made
unusable. The browser tests load it in headless Chromium; the deck's own script then
checks itself (see "selftest" in slides/assets/deck.js) and leaves a report in the page.
"""

import html
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
SLIDES_DIR = ROOT / "slides"
SOURCE = SLIDES_DIR / "slides.md"
BUILD_SCRIPT = SLIDES_DIR / "build.py"

STEPS = ("01_hello_world", "02_client", "03_todo_rest", "04_clean_code", "05_docker")
SESSION_MINUTES = 150  # about two and a half hours
ALLOWED_DIFFERENCE = 10

# The same speaker-notes block that slides/README.md documents.
NOTES = re.compile(
    r"^<details>\n<summary>Speaker notes(?: \((?P<minutes>\d+) min\))?</summary>\n",
    re.MULTILINE,
)
CODE_SOURCE = re.compile(r"<!-- from (?P<path>\S+) -->\s*")
SHELL_LANGUAGES = ("shell", "console")

# The topics of the talk, in the order of the talk: each needs one slide on which every
# pattern matches (in the slide's text as shown, lower case, without the speaker notes).
TOPICS = [
    ("REST: a style, Fielding's dissertation, 2000", [r"\bstyle\b", r"fielding", r"2000"]),
    ("HTTP as the transport of REST", [r"\bhttp\b", r"transport", r"\brest\b"]),
    ("the monolith", [r"\bmonolith\b"]),
    ("microservices", [r"\bmicroservices\b", r"network", r"deploy"]),
    (
        "the motivation for microservices",
        [r"understanding", r"coupling", r"deploy", r"scal", r"new technolog", r"risk"],
    ),
    ("message formats", [r"\bjson\b", r"\bxml\b", r"protobuf"]),
    ("transports", [r"\bhttp\b", r"\bgrpc\b", r"\bkafka\b"]),
    ("the agenda", [r"\bagenda\b", *STEPS]),
    ("set-up", [r"\bgit\b", r"python", r"venv", r"pip install -r requirements\.txt"]),
    ("hello world endpoints", [r"01_hello_world", r"flask run"]),
    ("a route", [r"@app\.route", r"hello, world"]),
    ("decorators: what @app.route does", [r"@app\.route", r"decorator"]),
    ("consuming REST with requests", [r"\brequests\b", r"timeout"]),
    ("consuming REST with curl and Postman", [r"\bcurl\b", r"postman"]),
    ("where HTTP sits in the layers", [r"\bhttp\b", r"\btls\b", r"\btcp\b", r"\bip\b"]),
    ("the methods table", [r"\bsafe\b", r"idempotent"]),
    ("status codes by class", [r"1xx", r"2xx", r"3xx", r"4xx", r"5xx"]),
    ("the four features of the todo app", [r"four features", r"add", r"delete"]),
    ("from requirements to REST", [r"update /todo/:id", r"\bput\b", r"\bpatch\b"]),
    ("the contract", [r"contract", r"title", r"completed", r"version"]),
    ("the todo app, run", [r"03_todo_rest", r"flask run"]),
    ("clean code: transport, service, repository", [r"transport", r"service", r"repository"]),
    ("the clean code step, run", [r"04_clean_code", r"flask run"]),
    ("the Docker image", [r"dockerfile", r"python:3", r"serve\.py"]),
    ("granian", [r"granian", r"0\.0\.0\.0", r"workers"]),
    ("compose and PostgreSQL", [r"compose", r"postgresql", r"volume"]),
    ("the Docker step, run", [r"05_docker", r"docker compose up"]),
]

# What RFC 9110 says about each method: (safe, idempotent).
METHODS = {
    "GET": (True, True),
    "HEAD": (True, True),
    "OPTIONS": (True, True),
    "POST": (False, False),
    "PUT": (False, True),
    "PATCH": (False, False),
    "DELETE": (False, True),
}
MOST_IMPORTANT_STATUSES = ("200 OK", "201 Created", "204 No Content", "400 Bad Request")
MOST_IMPORTANT_STATUSES += ("404 Not Found", "500 Internal Server Error")


# --- Reading the source ----------------------------------------------------------------


def source_text() -> str:
    """slides.md, as text."""
    return SOURCE.read_text(encoding="utf-8")


def source_slides() -> list[str]:
    """The source of each slide: slides.md cut at `---` lines outside code blocks."""
    slides, lines, in_fence = [], [], False
    for line in source_text().splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        if line == "---" and not in_fence:
            slides.append("\n".join(lines))
            lines = []
        else:
            lines.append(line)
    return [*slides, "\n".join(lines)]


def code_blocks() -> list[tuple[str | None, str, str]]:
    """Every fenced block of slides.md: (the file it names, or None; language; code)."""
    tokens = MarkdownIt("commonmark").parse(source_text())
    blocks = []
    for index, token in enumerate(tokens):
        if token.type != "fence":
            continue
        before = tokens[index - 1] if index else None
        marker = None
        if before is not None and before.type == "html_block":
            marker = CODE_SOURCE.fullmatch(before.content)
        blocks.append((marker["path"] if marker else None, token.info.strip(), token.content))
    return blocks


def appears_in(block: str, source: str) -> bool:
    """True when the block's lines follow each other in the source, indentation aside."""
    block_lines = textwrap.dedent(block).splitlines()
    source_lines = source.splitlines()
    for start in range(len(source_lines) - len(block_lines) + 1):
        window = source_lines[start : start + len(block_lines)]
        if textwrap.dedent("\n".join(window)).splitlines() == block_lines:
            return True
    return False


# --- Reading the built deck --------------------------------------------------------------


class SlideText(HTMLParser):
    """Collects, for each <section class="slide">, its HTML and its text without the notes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.in_slide = self.in_notes = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "section" and "slide" in classes:
            self.in_slide = True
            self.texts.append("")
        elif tag == "aside" and "notes" in classes:
            self.in_notes = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.in_slide = False
        elif tag == "aside":
            self.in_notes = False

    def handle_data(self, data: str) -> None:
        if self.in_slide and not self.in_notes:
            self.texts[-1] += data


def slide_texts(deck: Path) -> list[str]:
    """The text each slide of the built deck shows, in lower case, notes left out."""
    parser = SlideText()
    parser.feed((deck / "index.html").read_text(encoding="utf-8"))
    return [" ".join(text.split()).lower() for text in parser.texts]


def slide_html(deck: Path) -> list[str]:
    """The HTML of each slide of the built deck."""
    page = (deck / "index.html").read_text(encoding="utf-8")
    return re.findall(r'<section class="slide.*?</section>', page, re.DOTALL)


# --- Finding what loads from the internet ------------------------------------------------

REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_REMOTE = re.compile(
    r"""url\(\s*['"]?\s*(https?:)?//|@import\s+['"]\s*(https?:)?//""", re.IGNORECASE
)
# Attributes that make a browser fetch something. <a href> only links: it loads nothing.
LOADING_ATTRIBUTES = {"src", "srcset", "data", "poster", "background", "action", "formaction"}


class RemoteAssetFinder(HTMLParser):
    """Lists the remote URLs an HTML page would load: scripts, styles, images, frames."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_style = tag == "style"
        for name, value in attrs:
            value = value or ""
            loads = name in LOADING_ATTRIBUTES or (name == "href" and tag == "link")
            if loads and any(REMOTE.match(part) for part in value.split(",")):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name == "style" and CSS_REMOTE.search(value):
                self.found.append(f"<{tag} style={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style and CSS_REMOTE.search(data):
            self.found.append(f"<style> {data.strip()[:80]}")


def remote_assets(folder: Path) -> list[str]:
    """Everything the files of a built deck would load from another machine."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".html":
            finder = RemoteAssetFinder()
            finder.feed(path.read_text(encoding="utf-8"))
            found += [f"{path.name}: {item}" for item in finder.found]
        elif path.suffix == ".css":
            text = path.read_text(encoding="utf-8")
            found += [f"{path.name}: {m.group(0)}" for m in CSS_REMOTE.finditer(text)]
        elif path.suffix == ".js":
            # The deck's script has no reason to name any web address at all.
            text = path.read_text(encoding="utf-8")
            found += [f"{path.name}: {m.group(0)}" for m in re.finditer(r"https?://\S+", text)]
    return found


# --- Fixtures ----------------------------------------------------------------------------

# Runs build.py with every way out to the network closed: any attempt raises.
NO_NETWORK_RUNNER = """
import runpy, socket, sys

def refuse(*args, **kwargs):
    raise OSError("the slides' build tried to use the network")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture(scope="module")
def build_result(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess, Path]:
    """Builds the deck into a temporary folder, from another folder, with no network."""
    out = tmp_path_factory.mktemp("deck") / "dist"
    env = dict(os.environ)
    closed_port = "http://127.0.0.1:9"  # the discard port: nothing listens there
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[name] = closed_port
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_RUNNER, str(BUILD_SCRIPT), "--out", str(out)],
        cwd=tmp_path_factory.mktemp("elsewhere"),
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )
    return result, out


@pytest.fixture(scope="module")
def deck(build_result: tuple[subprocess.CompletedProcess, Path]) -> Path:
    """The folder of the built deck; fails the test if the build did not work."""
    result, out = build_result
    if result.returncode != 0:
        pytest.fail(f"slides/build.py failed:\n{result.stdout}\n{result.stderr}")
    return out


@pytest.fixture(scope="module")
def chromium(
    chromium_executable: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., str]:
    """Runs headless Chromium on the deck with some options; returns what it printed."""
    executable = chromium_executable
    profile = tmp_path_factory.mktemp("chromium-profile")

    def run(*options: str, url: str) -> str:
        command = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            *options,
            url,
        ]
        result = subprocess.run(
            command, capture_output=True, encoding="utf-8", errors="replace", timeout=120
        )
        assert result.returncode == 0, f"Chromium failed:\n{result.stderr[-2000:]}"
        return result.stdout

    return run


@pytest.fixture(scope="module")
def self_test(deck: Path, chromium: Callable[..., str]) -> Callable[[str], dict]:
    """Loads the deck with ?selftest and an address part such as "#5"; returns its report."""

    def run(fragment: str = "") -> dict:
        url = (deck / "index.html").as_uri() + "?selftest" + fragment
        page = chromium("--dump-dom", url=url)
        found = re.search(r'<html[^>]*\sdata-selftest="([^"]*)"', page)
        assert found, f"The deck's self-test left no report in the page:\n{page[:1000]}"
        return json.loads(html.unescape(found[1]))

    return run


# --- The source --------------------------------------------------------------------------


def test_slide_breaks_have_a_blank_line_above_them() -> None:
    # Without it, GitHub reads the line above `---` as a heading, and the slide is lost.
    lines = source_text().splitlines()
    bad = [number + 1 for number, line in enumerate(lines) if line == "---" and lines[number - 1]]
    assert not bad, f"slides.md: lines {bad} need a blank line above the ---"


def test_every_slide_has_speaker_notes() -> None:
    missing = [
        f"slide {number}: {slide.strip().splitlines()[0]}"
        for number, slide in enumerate(source_slides(), start=1)
        if not NOTES.search(slide)
    ]
    assert not missing, "Slides without speaker notes:\n" + "\n".join(missing)


def test_every_notes_block_is_well_formed() -> None:
    # A block that does not match the format would show on the slide instead of the notes.
    text = source_text()
    assert text.count("<details>") == len(NOTES.findall(text))
    assert text.count("</details>") == text.count("<details>")


def test_the_timings_add_up_to_about_two_and_a_half_hours() -> None:
    slides = source_slides()
    minutes = [int(found["minutes"]) for found in NOTES.finditer(source_text()) if found["minutes"]]
    total = sum(minutes)
    first = NOTES.search(slides[0])
    assert first and first["minutes"], "The first slide must start a section, with its minutes"
    assert len(minutes) >= 10, "Give each section of the talk its minutes"
    assert abs(total - SESSION_MINUTES) <= ALLOWED_DIFFERENCE, (
        f"The sections' minutes add up to {total}, not about {SESSION_MINUTES}: {minutes}"
    )


def test_code_on_the_slides_is_taken_from_the_steps() -> None:
    blocks = [(path, code) for path, language, code in code_blocks() if path is not None]
    assert len(blocks) >= 10, "The deck should show the steps' code"
    for path, code in blocks:
        file = ROOT / path
        assert file.is_file(), f"A code block says it comes from {path}, which does not exist"
        assert appears_in(code, file.read_text(encoding="utf-8")), (
            f"This code block is no longer in {path}:\n{code}"
        )


def test_every_code_block_is_quoted_or_a_command() -> None:
    unexplained = [
        code
        for path, language, code in code_blocks()
        if path is None and language not in SHELL_LANGUAGES
    ]
    assert not unexplained, (
        "Code blocks need <!-- from path --> above them, or to be shell commands:\n"
        + "\n".join(unexplained)
    )


def check_command(line: str, folder: Path) -> Path:
    """Checks that a shell command from the slides would work in `folder`: what it names
    exists. Returns the folder the next command runs in."""
    words = line.split()
    program, arguments = words[0], words[1:]
    where = folder.relative_to(ROOT).as_posix() or "the repository's folder"
    if program == "cd":
        target = folder / arguments[0]
        assert target.is_dir(), f"`{line}`: there is no folder {target.relative_to(ROOT)}"
        return target
    if words[:2] == ["flask", "run"]:
        assert (folder / "app.py").is_file(), f"`{line}` in {where}: no app.py there"
        assert (folder / ".flaskenv").is_file(), f"`{line}` in {where}: no .flaskenv there"
    elif program == "python" and arguments[0].endswith(".py"):
        assert (folder / arguments[0]).is_file(), f"`{line}`: no {arguments[0]} in {where}"
    elif words[:4] == ["python", "-m", "pip", "install"]:
        requirements = arguments[arguments.index("-r") + 1]
        assert (folder / requirements).is_file(), f"`{line}`: no {requirements} in {where}"
    elif program == "curl":
        for argument in arguments:
            name = argument.strip('"')
            if name.startswith("@"):
                assert (folder / name[1:]).is_file(), f"`{line}`: no {name[1:]} in {where}"
    elif program == "cp":
        assert (folder / arguments[0]).is_file(), f"`{line}`: no {arguments[0]} in {where}"
    elif words[:2] == ["docker", "compose"]:
        assert (folder / "compose.yaml").is_file(), f"`{line}`: no compose.yaml in {where}"
    elif program == "pytest":
        assert (folder / "tests").is_dir(), f"`{line}`: no tests folder in {where}"
    else:
        pytest.fail(f"The slides show a command this test does not know: `{line}`")
    return folder


def test_every_command_on_the_slides_works_where_it_is_typed() -> None:
    blocks = [code for path, language, code in code_blocks() if language in SHELL_LANGUAGES]
    assert blocks
    for block in blocks:
        folder = ROOT  # each block starts in the repository's folder
        for line in block.splitlines():
            folder = check_command(line, folder)


def test_every_step_folder_and_file_the_slides_name_exists() -> None:
    # Inline code such as `04_clean_code/server` or `openapi.yaml`, outside code blocks.
    text = re.sub(r"^```.*?^```", "", source_text(), flags=re.MULTILINE | re.DOTALL)
    named = set(re.findall(r"`([^`\s]+)`", text))
    in_a_step = {name for name in named if re.match(r"\d\d_", name)}
    file_names = {
        name for name in named - in_a_step if re.search(r"\.(py|ya?ml|json|md|txt)$", name)
    }
    assert in_a_step >= set(STEPS), f"The slides do not name every step: {sorted(in_a_step)}"
    for name in in_a_step:
        assert (ROOT / name).exists(), f"The slides name {name}, which does not exist"
    for name in file_names:
        places = [
            ROOT / name,
            *ROOT.glob(f"[0-9][0-9]_*/{name}"),
            *ROOT.glob(f"[0-9][0-9]_*/*/{name}"),
        ]
        assert any(place.exists() for place in places), f"The slides name {name}: it is nowhere"


# --- The build ---------------------------------------------------------------------------


def test_the_build_works_offline_from_any_folder(
    build_result: tuple[subprocess.CompletedProcess, Path],
) -> None:
    result, out = build_result
    assert result.returncode == 0, f"The build failed:\n{result.stderr}"
    for name in ("index.html", "deck.css", "deck.js", "code.css"):
        assert (out / name).is_file(), f"The build did not write {name}"
    assert str(out / "index.html") in result.stdout  # it says where the deck is


def test_every_step_has_a_slide_with_its_folder_and_the_command_to_run_it(deck: Path) -> None:
    texts = slide_texts(deck)
    for step in STEPS:
        run_slides = [text for text in texts if f"run it: {step}" in text]
        assert run_slides, f"No 'Run it: {step}' slide"
        commands = run_slides[0]
        assert f"cd {step}" in commands
        assert "flask run" in commands or "docker compose up" in commands


def test_the_deck_has_a_slide_for_every_topic_in_the_talks_order(deck: Path) -> None:
    texts = slide_texts(deck)
    position = 0
    for topic, patterns in TOPICS:
        for index in range(position, len(texts)):
            if all(re.search(pattern, texts[index]) for pattern in patterns):
                position = index
                break
        else:
            pytest.fail(f"No slide about {topic!r} after slide {position + 1}")


def test_the_methods_table_says_which_methods_are_safe_and_idempotent(deck: Path) -> None:
    table = next(
        (slide for slide in slide_html(deck) if "idempotent" in slide and "<table>" in slide), ""
    )
    assert table, "No slide has a table of the methods"
    rows = re.findall(r"<tr>\s*<td><code>(\w+)</code></td>(.*?)</tr>", table, re.DOTALL)
    shown = {}
    for method, cells in rows:
        values = re.findall(r"<td[^>]*>(.*?)</td>", cells)
        shown[method] = (values[1] == "yes", values[2] == "yes")  # means, safe, idempotent
    assert shown == METHODS


def test_the_status_codes_that_matter_most_are_marked(deck: Path) -> None:
    table = next((slide for slide in slide_html(deck) if "4xx" in slide and "<table>" in slide), "")
    assert table, "No slide has a table of the status codes"
    marked = re.findall(r"<strong>(\d{3} [^<]+)</strong>", table)
    assert set(MOST_IMPORTANT_STATUSES) <= set(marked)


def test_nothing_in_the_deck_loads_from_the_internet(deck: Path) -> None:
    assert remote_assets(deck) == []
    # The slides do link to pages on the web: as links, which load nothing.
    assert '<a href="https://www.rfc-editor.org/rfc/rfc9110">' in (deck / "index.html").read_text(
        encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("markup", "remote"),
    [
        ('<script src="https://cdn.example.com/reveal.js"></script>', True),
        ('<link rel="stylesheet" href="//fonts.example.com/css">', True),
        ('<img srcset="a.png 1x, https://example.com/b.png 2x">', True),
        ('<div style="background: url(https://example.com/bg.png)"></div>', True),
        ("<style>@import 'https://example.com/theme.css';</style>", True),
        ('<script src="deck.js"></script><link rel="stylesheet" href="deck.css">', False),
        ('<a href="https://www.rfc-editor.org/rfc/rfc9110">RFC 9110</a>', False),
        ("<p>Open https://example.com in a browser</p>", False),
    ],
)
def test_the_remote_asset_check_tells_loads_from_links(
    tmp_path: Path, markup: str, remote: bool
) -> None:
    (tmp_path / "index.html").write_text(markup, encoding="utf-8")
    assert bool(remote_assets(tmp_path)) is remote


# --- The deck in a browser ---------------------------------------------------------------


def test_the_deck_opens_on_the_first_slide_and_moves_on(
    deck: Path, self_test: Callable[[str], dict]
) -> None:
    report = self_test("")
    assert report["slides"] == len(slide_html(deck))
    assert report["visibleAtStart"] == [1]  # one slide at a time, the first
    assert report["visibleAfterKey"] == [2]  # the right arrow key
    assert report["hashAfterKey"] == "#2"  # the address follows, so a reload stays there
    assert report["visibleAfterClick"] == [3]  # a click


def test_the_address_chooses_the_slide(self_test: Callable[[str], dict]) -> None:
    report = self_test("#5")
    assert report["visibleAtStart"] == [5]
    assert report["visibleAfterKey"] == [6]
    assert report["hashAfterKey"] == "#6"


def test_every_slide_fits_on_the_screen(self_test: Callable[[str], dict]) -> None:
    report = self_test("")
    assert report["overflowing"] == [], (
        f"These slides are too full, or their code too wide: {report['overflowing']}"
    )


def test_printing_gives_one_page_per_slide(
    deck: Path, chromium: Callable[..., str], tmp_path: Path
) -> None:
    pdf = tmp_path / "slides.pdf"
    chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", url=(deck / "index.html").as_uri())
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes())
    assert len(pages) == len(slide_html(deck))
