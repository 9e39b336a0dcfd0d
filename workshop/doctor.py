"""python -m workshop doctor: checks a laptop before the workshop, with the fix for each problem.

It is what a learner runs when the set-up went wrong, so it must work before anything is
installed: it needs only the standard library, and uses rich for colours when rich is there.
Each fix gives the commands to type, each on its own line, for this system and shell.
"""

import argparse
import errno
import importlib.util
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from workshop.steps import ROOT

OK, WARN, FAIL = "ok", "warn", "FAIL"
WINDOWS = sys.platform == "win32"
MACOS = sys.platform == "darwin"


@dataclass
class Check:
    status: str  # OK, WARN (the workshop works, with a caveat) or FAIL
    what: str
    fix: str = ""  # what to do, in one sentence
    commands: list[str] = field(default_factory=list)  # what to type, one command a line


def shell() -> str:
    """The learner's shell, as far as it can be told: cmd, powershell, fish or sh."""
    if WINDOWS:
        # Command Prompt keeps its prompt in the PROMPT variable; PowerShell does not set it.
        return "cmd" if "PROMPT" in os.environ else "powershell"
    return "fish" if os.environ.get("SHELL", "").endswith("fish") else "sh"


def activate_command() -> str:
    return {
        "cmd": r".venv\Scripts\activate.bat",
        "powershell": r".venv\Scripts\Activate.ps1",
        "fish": "source .venv/bin/activate.fish",
        "sh": "source .venv/bin/activate",
    }[shell()]


def install_command() -> str:
    """The README's install command, with a path to requirements.txt that works from here."""
    requirements = "requirements.txt"
    if Path.cwd().resolve() != ROOT:
        requirements = str(ROOT / requirements)
        if " " in requirements:
            requirements = f'"{requirements}"'  # the same quotes work in every shell
    return f"python -m pip install -r {requirements}"


def in_virtualenv() -> bool:
    return sys.prefix != sys.base_prefix


def check_python() -> Check:
    # An older Python does not get this far: python -m workshop stops first (__main__.py).
    return Check(OK, f"Python {platform.python_version()}")


def check_virtualenv() -> Check:
    if in_virtualenv():
        return Check(OK, f"virtual environment active: {sys.prefix}")
    if (ROOT / ".venv").is_dir():
        fix, commands = "activate the one in the repository's folder", [activate_command()]
    else:
        make = "py -m venv .venv" if WINDOWS else "python3 -m venv .venv"
        fix, commands = "make one and activate it, in the repository's folder", [make]
        commands.append(activate_command())
        if not WINDOWS and importlib.util.find_spec("ensurepip") is None and shutil.which("apt"):
            # Debian and Ubuntu ship venv's installer separately: without it, venv fails.
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            commands.insert(0, f"sudo apt install python{version}-venv")
    return Check(FAIL, "no virtual environment is active", f"{fix} ({ROOT}):", commands)


def pinned_requirements() -> dict[str, str]:
    """Name and version of each pin in requirements.txt that applies to this computer."""
    try:
        from packaging.markers import Marker  # installed with the requirements
    except ImportError:
        Marker = None  # before installing: lines with a marker are not judged
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)\s*(?:;(.*))?$", line)
        if not match:
            continue
        name, version, marker = match.groups()
        if marker and (Marker is None or not Marker(marker.strip()).evaluate()):
            continue
        pins[name] = version
    return pins


def check_packages() -> Check:
    pins = pinned_requirements()
    missing, other_version = [], []
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(f"{name} (missing)")
            continue
        if installed != version:
            other_version.append(f"{name} {installed} (wants {version})")
    if not missing and not other_version:
        return Check(OK, f"all {len(pins)} pinned packages installed")

    commands = [install_command()]
    if importlib.util.find_spec("pip") is None:
        commands.insert(0, "python -m ensurepip --upgrade")  # a Python without pip gets it so
    fix = "install them:" if in_virtualenv() else "install them once it is active:"
    if len(missing) == len(pins):
        return Check(FAIL, "you have not installed the requirements", fix, commands)
    wrong = missing + other_version
    shown = ", ".join(wrong[:5]) + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
    return Check(
        FAIL,
        f"{len(wrong)} of {len(pins)} pinned packages are missing or at another version: {shown}",
        fix,
        commands,
    )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", None)):
                return False
            return not WINDOWS  # Windows reports a taken port with other codes too
    return True


def check_port_8000() -> Check:
    if port_is_free(8000):
        return Check(OK, "port 8000 is free")
    find = "netstat -ano | findstr :8000" if WINDOWS else "lsof -nP -iTCP:8000 -sTCP:LISTEN"
    return Check(
        FAIL,
        "port 8000 is taken, and the servers use it",
        "stop the program that holds it (this shows which), or run the servers with --port 8001:",
        [find],
    )


def command_output(*command: str) -> str | None:
    """What a command prints, or None when it is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def check_docker() -> Check:
    install = (
        "only step 05 needs it: install Docker Desktop (or Docker Engine on Linux) from "
        "https://docs.docker.com/get-docker/"
    )
    docker = command_output("docker", "--version")
    if docker is None:
        return Check(WARN, "Docker not found", install)
    # The client alone can do nothing: it asks the engine (a background service) for all.
    if command_output("docker", "version", "--format", "{{.Server.Version}}") is None:
        engine_down = f"{docker}, but the Docker engine does not answer"
        if WINDOWS or MACOS:
            start = (
                "start Docker Desktop, wait until it says it is running, then run this check again"
            )
            return Check(WARN, engine_down, f"only step 05 needs it: {start}")
        start = "start the engine, then run this check again:"
        return Check(
            WARN, engine_down, f"only step 05 needs it: {start}", ["sudo systemctl start docker"]
        )
    compose = command_output("docker", "compose", "version")
    if compose is None:
        return Check(WARN, f"{docker}, but Docker Compose v2 (`docker compose`) not found", install)
    return Check(OK, f"{docker}; {compose}")


def check_jupyter_kernel() -> Check:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return Check(
            FAIL, "Jupyter is not installed", "it comes with the requirements:", [install_command()]
        )
    executable = str(sys.executable)
    for name, spec in KernelSpecManager().get_all_specs().items():
        argv = spec.get("spec", {}).get("argv", [])
        if name != "python3" and argv and argv[0] == executable:
            return Check(OK, f"Jupyter kernel {name!r} runs this virtual environment")
    register = (
        "python -m ipykernel install --user --name restful-workshop "
        '--display-name "RESTful workshop (.venv)"'
    )
    return Check(
        WARN,
        "no Jupyter kernel is registered for this virtual environment",
        "needed when Jupyter runs from elsewhere; register it with:",
        [register],
    )


CHECKS = [
    check_python,
    check_virtualenv,
    check_packages,
    check_port_8000,
    check_docker,
    check_jupyter_kernel,
]


def run_checks() -> list[Check]:
    checks = []
    for check in CHECKS:
        try:
            checks.append(check())
        except Exception as error:  # a half-installed package, say: report it and go on
            checks.append(Check(WARN, f"{check.__name__} could not finish: {error!r}"))
    return checks


def report(checks: list[Check]) -> None:
    try:
        from rich.console import Console
        from rich.text import Text
    except ImportError:  # before the requirements are installed: plain text

        def show_status(check: Check) -> None:
            print(f"{check.status:>4} {check.what}")
    else:
        console = Console(highlight=False)
        colour = {OK: "green", WARN: "yellow", FAIL: "bold red"}

        def show_status(check: Check) -> None:
            status = Text(f"{check.status:>4}", style=colour[check.status])
            console.print(status, Text(check.what), soft_wrap=True)  # as print(): not wrapped

    for check in checks:
        show_status(check)
        if check.fix:
            print(f"     fix: {check.fix}")
        # Plain print, never wrapped to the terminal's width, so a command copies whole.
        for command in check.commands:
            print(f"         {command}")


def main(args: argparse.Namespace) -> int:
    checks = run_checks()
    report(checks)
    failed = [check for check in checks if check.status == FAIL]
    warned = [check for check in checks if check.status == WARN]
    if failed:
        print(f"\n{len(failed)} problem(s) to fix before the workshop.")
        return 1
    if warned:
        # Not "ready": what a warning names (Docker for step 05, say) will not work yet.
        print(f"\nAlmost there: {len(warned)} warning(s) above, for the parts they name.")
        return 0
    print("\nThis laptop is ready for the workshop.")
    return 0
