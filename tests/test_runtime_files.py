"""Running the steps leaves nothing that `git status` or `python -m workshop diff` shows.

A learner starts each server in its folder, as the READMEs say: `flask run` writes the
SQLite file into the step's instance/ folder, and Python its caches. None of that is part
of a lesson. The servers run here in a copy of the workshop, so that no learner's database
gets a todo from the tests.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from workshop.diff import compare

ROOT = Path(__file__).resolve().parent.parent
# Each step as `flask run` or the image starts it when nothing is set: its default database.
STEPS = {"03_todo_rest": {}, "04_clean_code": {"TODO_DB": ""}, "05_docker": {"DATABASE_URL": ""}}


def git(*args: str, cwd: Path) -> str:
    """What a git command prints; it must succeed."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def workshop_after_a_run(tmp_path_factory, start_variant) -> Path:
    """A git repository of the workshop's files, in which every todo server ran once."""
    copy = tmp_path_factory.mktemp("workshop")
    for name in git("ls-files", cwd=ROOT).splitlines():
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    git("init", "--quiet", cwd=copy)
    git("add", "--all", cwd=copy)
    git(
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.com",
        "commit",
        "-qm",
        "copy",
        cwd=copy,
    )
    for step, settings in STEPS.items():
        start_variant(step, root=copy, **settings).create("leaves its database behind")
    databases = [
        copy / step / "server/instance/todos.sqlite3" for step in ("04_clean_code", "05_docker")
    ]
    assert all(database.is_file() for database in databases), "the servers kept their todos"
    return copy


def test_git_status_stays_clean(workshop_after_a_run):
    assert git("status", "--porcelain", "--untracked-files=all", cwd=workshop_after_a_run) == ""


@pytest.mark.parametrize(
    ("old", "new"), [("03_todo_rest", "04_clean_code"), ("04_clean_code", "05_docker")]
)
def test_workshop_diff_shows_no_database_or_cache(workshop_after_a_run, old, new):
    changed = compare(workshop_after_a_run / old, workshop_after_a_run / new)

    runtime = [name for name in changed if "instance/" in name or "__pycache__" in name]
    assert not runtime, f"runtime files in the diff: {runtime}"
    assert "server/app.py" in changed, "the diff itself is there"


READMES = [*sorted(ROOT.glob("*/README.md")), ROOT / "README.md"]
# The files a README's command writes: a TODO_DB file (in the server folder the command runs
# in) and the slides' PDF (from the repository's folder).
WRITTEN = [
    (readme.parent / "server" / name if setting == "TODO_DB" else ROOT / name)
    for readme in READMES
    for setting, name in re.findall(
        r"(TODO_DB|--print-to-pdf)=([\w./-]+)", readme.read_text(encoding="utf-8")
    )
]


def test_what_the_readme_commands_write_is_ignored_by_git():
    assert len(WRITTEN) >= 3, "the READMEs' commands were not found"
    for path in WRITTEN:
        relative = path.relative_to(ROOT).as_posix()
        ignored = subprocess.run(["git", "check-ignore", "--quiet", relative], cwd=ROOT)
        assert ignored.returncode == 0, (
            f"git would show {relative}, which a README's command writes"
        )


# A line of a README that starts a server, after any `NAME=value ` settings for it.
SERVER_COMMAND = re.compile(
    r"(\w+=\S*\s+)*(python -m )?(flask run|python serve\.py|gunicorn|granian)\b"
)
# A line that sets HOST, the address serve.py listens on, in bash, cmd or PowerShell.
SETS_HOST = re.compile(r"(export |set |\$env:)?HOST\s*=", re.IGNORECASE)


def laptop_problem(line: str) -> str | None:
    """What is wrong with a README's line for a laptop's shell, or None."""
    # Anyone on the venue's Wi-Fi could reach a server on 0.0.0.0 (every interface).
    if (SERVER_COMMAND.match(line) or SETS_HOST.match(line)) and "0.0.0.0" in line:
        return "listens on every interface: keep it to 127.0.0.1"
    # gunicorn listens on 0.0.0.0 when PORT is set: its command says 127.0.0.1 itself.
    # granian, `python serve.py` and `flask run` listen on 127.0.0.1 unless told otherwise.
    if re.match(r"(\w+=\S*\s+)*gunicorn\b", line) and "127.0.0.1" not in line:
        return "give it --bind 127.0.0.1:8000"
    return None


@pytest.mark.parametrize(
    ("line", "wrong"),
    [
        ("python serve.py", False),
        ("flask run", False),
        ("flask run --debug", False),
        ('gunicorn --workers 2 --bind 127.0.0.1:8000 "app:create_app()"', False),
        ('CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:create_app()"]', False),  # the image
        ("HOST=0.0.0.0 python serve.py", True),
        ("set HOST=0.0.0.0", True),
        ('$env:HOST = "0.0.0.0"', True),
        ("flask run --host 0.0.0.0", True),
        ('gunicorn --workers 2 "app:create_app()"', True),
        ("granian --interface wsgi --factory --workers 4 app:create_app", False),
        ("granian --interface wsgi --host 0.0.0.0 app:app", True),
    ],
)
def test_the_laptop_check_tells_a_safe_command_from_an_open_one(line, wrong):
    assert (laptop_problem(line) is not None) is wrong


def test_server_commands_for_a_laptop_keep_to_127_0_0_1():
    lines = [
        line
        for readme in READMES
        for block in re.findall(
            r"^```\w*\n(.*?)^```", readme.read_text(encoding="utf-8"), re.S | re.M
        )
        for line in block.splitlines()
    ]
    commands = [line for line in lines if SERVER_COMMAND.match(line)]
    assert "python serve.py" in commands, "the commands were not found"
    assert any(line.startswith("flask run") for line in commands), "the commands were not found"
    problems = [f"{line}: {laptop_problem(line)}" for line in lines if laptop_problem(line)]
    assert not problems, "\n".join(problems)
