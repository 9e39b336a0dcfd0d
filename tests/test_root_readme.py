"""The root README: its commands, links and step table match the repository."""

import re
import shlex
from pathlib import Path

import pytest

from workshop.__main__ import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
STEP_FOLDERS = sorted(path.name for path in ROOT.glob("0[1-5]_*") if path.is_dir())


def code_blocks() -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.DOTALL)


def section(title: str) -> str:
    """The text of one `## title` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"the README has no section '## {title}'"
    return match.group(1)


def test_the_test_command_is_pytest_and_ci_runs_it():
    assert re.findall(r"```\n(.*?)```", section("Test it"), re.S) == ["pytest\n"]
    ci_commands = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "pytest" in ci_commands, "CI must run the README's test command as written"


def test_the_main_job_goes_through_the_companion_command():
    assert re.findall(r"```\n(.*?)```", section("Run it"), re.S) == ["python -m workshop run 05\n"]


def workshop_commands() -> list[str]:
    """Every `python -m workshop ...` the README shows, in code blocks and inline code."""
    found = re.findall(r"`(python -m workshop [^`]*)`", README)
    for block in code_blocks():
        found += [line for line in block.splitlines() if line.startswith("python -m workshop")]
    return sorted(set(found))


@pytest.mark.parametrize("command", workshop_commands())
def test_every_workshop_command_shown_is_one_the_command_accepts(command):
    arguments = shlex.split(command)[3:]
    parsed = build_parser().parse_args(arguments)  # exits with a usage error if it is wrong

    assert parsed.command == arguments[0]


def test_the_step_table_lists_every_step_with_its_readme():
    table = section("The steps")
    for folder in STEP_FOLDERS:
        assert f"[{folder}]({folder}/README.md)" in table
        assert (ROOT / folder / "README.md").is_file()


@pytest.mark.parametrize("folder", STEP_FOLDERS)
def test_each_step_runs_as_the_table_says(folder):
    """`flask run` in server/ on port 8000, and `python client.py` in client/."""
    step = ROOT / folder
    assert (step / "server" / "app.py").is_file()
    assert "FLASK_RUN_PORT=8000" in (step / "server" / ".flaskenv").read_text(encoding="utf-8")
    assert (step / "client" / "client.py").is_file()
    assert (step / "tests").is_dir()


def test_every_relative_link_points_at_something_that_exists():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert local, "the README links to the steps"
    for link in local:
        assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def test_set_up_is_given_for_bash_cmd_and_powershell():
    set_up = section("Set up (once, before the day)")
    assert "source .venv/bin/activate" in set_up
    assert r".venv\Scripts\activate.bat" in set_up
    assert r".venv\Scripts\Activate.ps1" in set_up
    assert set_up.count("python -m pip install -r requirements.txt") == 3
