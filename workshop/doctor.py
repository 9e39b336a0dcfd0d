"""python -m workshop doctor: checks a laptop before the workshop, with the fix for each problem.

It must work before anything is installed, so it needs only the standard library; it
uses rich for colours when rich is there.
"""

import argparse
import errno
import platform
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata

from workshop.steps import ROOT

OK, WARN, FAIL = "ok", "warn", "FAIL"
WINDOWS = sys.platform == "win32"
MACOS = sys.platform == "darwin"


@dataclass
class Check:
    status: str  # OK, WARN (the workshop works, with a caveat) or FAIL
    what: str
    fix: str = ""


def activate_command() -> str:
    if WINDOWS:
        return r".venv\Scripts\activate  (PowerShell: .venv\Scripts\Activate.ps1)"
    return "source .venv/bin/activate"


def check_python() -> Check:
    version = platform.python_version()
    if sys.version_info >= (3, 10):  # noqa: UP036 (doctor may run on an older Python)
        return Check(OK, f"Python {version}")
    return Check(
        FAIL, f"Python {version} is too old", "install Python 3.10 or newer from python.org"
    )


def check_virtualenv() -> Check:
    if sys.prefix != sys.base_prefix:
        return Check(OK, f"virtual environment active: {sys.prefix}")
    venv = "py -m venv .venv" if WINDOWS else "python3 -m venv .venv"
    return Check(
        FAIL,
        "no virtual environment is active",
        f"in the repository's folder: {venv}, then {activate_command()}",
    )


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
    wrong = []
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} (missing)")
            continue
        if installed != version:
            wrong.append(f"{name} {installed} (wants {version})")
    if not wrong:
        return Check(OK, f"all {len(pins)} pinned packages installed")
    shown = ", ".join(wrong[:5]) + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
    return Check(
        FAIL,
        f"{len(wrong)} of {len(pins)} pinned packages are missing or at another version: {shown}",
        "with the virtual environment active: python -m pip install -r requirements.txt",
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


def check_port(port: int) -> Check:
    if port_is_free(port):
        return Check(OK, f"port {port} is free")
    find = f"netstat -ano | findstr :{port}"  # what shows the program holding a port
    if not WINDOWS:
        find = f"lsof -nP -iTCP:{port} -sTCP:LISTEN"
    return Check(
        FAIL,
        f"port {port} is taken, and the servers use it",
        f"stop what holds it ({find} shows it), or run servers with --port 8001",
    )


def check_port_5000() -> Check:
    """Not used by the workshop, but a classic surprise worth explaining."""
    if port_is_free(5000):
        return Check(OK, "port 5000 is free (the workshop uses 8000 anyway)")
    if MACOS:
        return Check(
            WARN,
            "port 5000 is taken, most likely by macOS's AirPlay Receiver",
            "nothing to do: the workshop uses port 8000 (AirPlay Receiver is in System Settings)",
        )
    return Check(WARN, "port 5000 is taken", "nothing to do: the workshop uses port 8000")


def command_output(*command: str) -> str | None:
    """What a command prints, or None when it is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def check_docker() -> list[Check]:
    install = "install Docker Desktop (or Docker Engine on Linux); only step 05 needs it"
    docker = command_output("docker", "--version")
    if docker is None:
        return [Check(WARN, "Docker not found", install)]
    compose = command_output("docker", "compose", "version")
    if compose is None:
        return [
            Check(OK, docker),
            Check(WARN, "Docker Compose v2 (`docker compose`) not found", install),
        ]
    return [Check(OK, docker), Check(OK, compose)]


def check_architecture() -> Check:
    machine = platform.machine() or "unknown"
    return Check(OK, f"CPU architecture {machine} (the step 05 image is multi-arch)")


def check_jupyter_kernel() -> Check:
    fix = (
        "python -m ipykernel install --user --name restful-workshop "
        '--display-name "RESTful workshop (.venv)"'
    )
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return Check(FAIL, "Jupyter is not installed", "python -m pip install -r requirements.txt")
    executable = str(sys.executable)
    for name, spec in KernelSpecManager().get_all_specs().items():
        argv = spec.get("spec", {}).get("argv", [])
        if name != "python3" and argv and argv[0] == executable:
            return Check(OK, f"Jupyter kernel {name!r} runs this virtual environment")
    return Check(
        WARN,
        "no Jupyter kernel is registered for this virtual environment",
        f"needed when Jupyter runs from elsewhere: {fix}",
    )


def run_checks() -> list[Check]:
    return [
        check_python(),
        check_virtualenv(),
        check_packages(),
        check_port(8000),
        check_port_5000(),
        *check_docker(),
        check_architecture(),
        check_jupyter_kernel(),
    ]


def report(checks: list[Check]) -> None:
    try:
        from rich.console import Console
        from rich.text import Text

        console = Console(highlight=False)
        colour = {OK: "green", WARN: "yellow", FAIL: "bold red"}

        def show(check: Check) -> None:
            console.print(Text(f"{check.status:>4}", style=colour[check.status]), check.what)
            if check.fix:
                console.print(f"     fix: {check.fix}", markup=False)
    except ImportError:

        def show(check: Check) -> None:
            print(f"{check.status:>4} {check.what}")
            if check.fix:
                print(f"     fix: {check.fix}")

    for check in checks:
        show(check)


def main(args: argparse.Namespace) -> int:
    checks = run_checks()
    report(checks)
    failed = [check for check in checks if check.status == FAIL]
    if failed:
        print(f"\n{len(failed)} problem(s) to fix before the workshop.")
        return 1
    print("\nThis laptop is ready for the workshop.")
    return 0
