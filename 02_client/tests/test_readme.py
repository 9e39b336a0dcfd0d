"""What README.md shows is true: its curl commands, its code and the files it names."""

import re
import shlex
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.exceptions import HTTPException

README_BASE_URL = "http://127.0.0.1:8000"
# A fenced block: ```lang, its lines, then ```.
FENCED_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
# A quoted block is a ```python fence just after this marker, which GitHub does not show.
QUOTED_BLOCK = re.compile(r"<!-- quoted from (\S+) -->\s*```python\n(.*?)```", re.DOTALL)


@pytest.fixture
def readme(step_dir: Path) -> str:
    """The text of this step's README.md."""
    return (step_dir / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def curl_commands(readme: str) -> dict[str, list[str]]:
    """The README's curl command lines, by the language of their block: "sh", "powershell"."""
    commands: dict[str, list[str]] = {}
    for language, body in FENCED_BLOCK.findall(readme):
        lines = [line for line in body.splitlines() if line.startswith("curl")]
        if lines:
            commands.setdefault(language, []).extend(lines)
    return commands


def url_in(arguments: list[str]) -> str:
    """The URL a curl command calls."""
    [url] = [argument for argument in arguments if argument.startswith(README_BASE_URL)]
    return url


def method_of(arguments: list[str]) -> str:
    """The method curl sends: -X says it, else a body makes it a POST, else a GET."""
    if "-X" in arguments:
        return arguments[arguments.index("-X") + 1]
    return "POST" if "--data-binary" in arguments else "GET"


def appears_in(block: str, source: str) -> bool:
    """True when the block's lines follow each other in the source, indentation aside."""
    block_lines = textwrap.dedent(block).splitlines()
    source_lines = source.splitlines()
    for start in range(len(source_lines) - len(block_lines) + 1):
        window = source_lines[start : start + len(block_lines)]
        if textwrap.dedent("\n".join(window)).splitlines() == block_lines:
            return True
    return False


# --- curl --------------------------------------------------------------------------------


def test_readme_has_curl_for_each_shell(curl_commands: dict[str, list[str]]) -> None:
    assert set(curl_commands) == {"sh", "powershell"}
    assert all(line.startswith("curl ") for line in curl_commands["sh"])


def test_powershell_commands_are_the_same_with_curl_exe(
    curl_commands: dict[str, list[str]],
) -> None:
    # In PowerShell, `curl` is Invoke-WebRequest; curl.exe is the real curl.
    expected = [line.replace("curl ", "curl.exe ", 1) for line in curl_commands["sh"]]
    assert curl_commands["powershell"] == expected


def test_curl_commands_call_real_routes(app: Flask, curl_commands: dict[str, list[str]]) -> None:
    adapter = app.url_map.bind("127.0.0.1:8000")
    for line in curl_commands["sh"]:
        arguments = shlex.split(line)
        path = url_in(arguments).removeprefix(README_BASE_URL).split("?")[0]
        try:
            adapter.match(path, method=method_of(arguments))
        except HTTPException as error:
            pytest.fail(f"{line}\nreaches no route of the app: {error.name}")


def test_curl_commands_work_in_every_shell(curl_commands: dict[str, list[str]]) -> None:
    for line in curl_commands["sh"]:
        url = url_in(shlex.split(line))
        if "?" in url or "&" in url:
            # zsh, cmd and PowerShell read ? and & themselves unless they are in quotes.
            assert f'"{url}"' in line, line
        # Single quotes are no quotes in cmd, and % starts a variable there.
        assert "'" not in line and "%" not in line, line


def test_curl_body_files_exist(step_dir: Path, curl_commands: dict[str, list[str]]) -> None:
    for line in curl_commands["sh"]:
        for argument in shlex.split(line):
            if argument.startswith("@"):
                assert (step_dir / argument[1:]).is_file(), line


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_commands_run_against_a_real_server(
    live_server: str, step_dir: Path, curl_commands: dict[str, list[str]]
) -> None:
    def start(line: str) -> subprocess.Popen:
        arguments = shlex.split(line.replace(README_BASE_URL, live_server))
        return subprocess.Popen(
            [shutil.which("curl"), *arguments[1:]],
            cwd=step_dir,  # where the README says to run them
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
        )

    def check(line: str, curl: subprocess.Popen) -> None:
        stdout, stderr = curl.communicate(timeout=60)
        arguments = shlex.split(line)
        # 28 is curl's exit code for "Operation timed out", which --max-time is there to show.
        expected_code = 28 if "--max-time" in arguments else 0
        assert curl.returncode == expected_code, f"{line}\n{stderr}"
        assert "Couldn't read data" not in stderr, line
        if "-i" in arguments:
            assert stdout.startswith("HTTP/1.1 "), line

    # The /slow commands wait seconds on purpose and change nothing on the server, so they
    # run in the background while the others run one after the other, in the README's order.
    slow = [line for line in curl_commands["sh"] if "/slow" in line]
    in_background = [(line, start(line)) for line in slow]
    for line in curl_commands["sh"]:
        if line not in slow:
            check(line, start(line))
    for line, curl in in_background:
        check(line, curl)


# --- Code --------------------------------------------------------------------------------


def test_code_quoted_in_the_readme_is_in_its_file(step_dir: Path, readme: str) -> None:
    quoted = QUOTED_BLOCK.findall(readme)
    assert quoted, "README.md quotes no code: are the markers still there?"
    for filename, block in quoted:
        source = (step_dir / filename).read_text(encoding="utf-8")
        assert appears_in(block, source), (
            f"README.md quotes code that {filename} no longer has:\n{block}"
        )


def test_every_python_block_is_marked_as_quoted(readme: str) -> None:
    assert readme.count("```python") == len(QUOTED_BLOCK.findall(readme))


def test_python_example_runs(
    live_server: str, readme: str, capsys: pytest.CaptureFixture[str]
) -> None:
    [example] = [code for _, code in QUOTED_BLOCK.findall(readme) if "import" in code]
    exec(example.replace(README_BASE_URL, live_server), {})
    assert "'body': {'name': 'Ada'}" in capsys.readouterr().out


# --- Files -------------------------------------------------------------------------------


def test_files_named_in_the_readme_exist(step_dir: Path, readme: str) -> None:
    linked = re.findall(r"\]\(((?:client|server|tests|postman|requests)/[^)]+)\)", readme)
    named = re.findall(r"`((?:client|server|tests|postman|requests)/[\w./-]+)`", readme)
    assert linked and named
    for path in linked + named:
        assert (step_dir / path).exists(), path


def test_readme_describes_every_test_file(step_dir: Path, readme: str) -> None:
    for test_file in sorted((step_dir / "tests").glob("test_*.py")):
        assert f"`tests/{test_file.name}`" in readme, test_file.name
