"""The Dockerfile and .dockerignore: what the image is built from, checked without Docker."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

STEP = Path(__file__).resolve().parent.parent


def arguments_of(dockerfile: list[tuple[str, str]], instruction: str) -> list[str]:
    """The arguments of every `instruction` line, in order."""
    return [arguments for name, arguments in dockerfile if name == instruction]


def test_hadolint_reports_nothing():
    """hadolint, the Dockerfile linter, finds nothing to say, not even a hint."""
    # Also next to this Python: a virtualenv's bin folder is not always on PATH.
    beside_python = str(Path(sys.executable).parent)
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=beside_python)
    if hadolint is None:
        pytest.skip("needs hadolint: pip install -r requirements-dev.txt (not on Windows)")
    linted = subprocess.run(
        [hadolint, "Dockerfile"], cwd=STEP, capture_output=True, text=True, timeout=60
    )
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


def test_the_base_image_is_slim_official_python_pinned_to_a_minor_version(dockerfile):
    """`python:3.13-slim` follows that minor version's fixes, never jumps to 3.14 unasked."""
    (base,) = arguments_of(dockerfile, "FROM")
    assert re.fullmatch(r"python:3\.1[0-9]-slim", base), base


def test_requirements_are_installed_before_the_code_is_copied(dockerfile):
    """Editing the code then reuses the cached layer with the installed packages."""
    steps = [f"{name} {arguments}" for name, arguments in dockerfile]
    copy_requirements = steps.index("COPY server/requirements.txt .")
    install = steps.index("RUN pip install --no-cache-dir -r requirements.txt")
    copy_code = steps.index("COPY server/ .")
    assert copy_requirements < install < copy_code


def test_the_server_runs_as_a_user_without_root(dockerfile):
    """The last USER before CMD names a user created in the image, by number, not root."""
    names = [name for name, _ in dockerfile]
    users = arguments_of(dockerfile, "USER")
    assert users and names.index("USER") < names.index("CMD")
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0 and group != "0"
    assert any(f"--uid {user}" in run for run in arguments_of(dockerfile, "RUN"))


def test_python_writes_no_bytecode_and_does_not_buffer_logs(dockerfile):
    """Logs reach `docker logs` at once; no .pyc files clutter the read-only code."""
    environment = " ".join(arguments_of(dockerfile, "ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in environment
    assert "PYTHONUNBUFFERED=1" in environment
    assert arguments_of(dockerfile, "EXPOSE") == ["8000"]


def test_the_command_is_exec_form(dockerfile):
    """A JSON list: serve.py is process 1 and gets `docker stop`'s SIGTERM itself."""
    (command,) = arguments_of(dockerfile, "CMD")
    assert json.loads(command) == ["python", "serve.py"]


def test_the_healthcheck_needs_no_curl(dockerfile, start_server, server_environment):
    """The HEALTHCHECK's command, run here: 0 while the server serves, not 0 without one."""
    (healthcheck,) = arguments_of(dockerfile, "HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert re.search(r"--interval=\S+", options) and re.search(r"--timeout=\S+", options)
    command = json.loads(command)
    assert command[0] == "python" and "curl" not in healthcheck and "wget" not in healthcheck
    check = [sys.executable, *command[1:]]

    server = start_server()
    with_server = {**server_environment, "PORT": str(server.port)}
    assert subprocess.run(check, env=with_server, timeout=30).returncode == 0
    server.stop()
    without_server = subprocess.run(check, env=with_server, capture_output=True, timeout=30)
    assert without_server.returncode != 0


# --- .dockerignore ----------------------------------------------------------------------


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` out of the build context (the last matching line wins;
    a line that matches a folder matches everything in it)."""
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        parts = path.split("/")
        prefixes = ["/".join(parts[: count + 1]) for count in range(len(parts))]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            result = not negated
    return result


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("server/app.py", True),
        ("server/serve.py", True),
        ("server/requirements.txt", True),
        ("server/instance/todos.sqlite3", False),
        ("server/__pycache__/app.cpython-313.pyc", False),
        ("server/.env", False),
        (".env", False),
        ("tests/test_dockerfile.py", False),
        ("client/client.py", False),
        ("README.md", False),
    ],
)
def test_dockerignore_sends_only_the_server_code(path, sent):
    """Local databases, caches, tests and secrets never reach the image."""
    lines = (STEP / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignored(path, patterns) is not sent
