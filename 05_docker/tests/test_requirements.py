"""server/requirements.txt: what the image installs, pinned as the workshop pins it."""

import re
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

STEP = Path(__file__).resolve().parent.parent
ROOT = STEP.parent
# The image: CPython 3.13 on Linux (see the Dockerfile's FROM).
IMAGE_PLATFORM = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}


def pins(path: Path) -> dict[str, str]:
    """The `name==version` lines of a requirements file, by normalised name."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line.strip())
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def test_every_server_pin_matches_the_workshop_pin():
    """The image runs the versions that the tests on this machine ran."""
    server = pins(STEP / "server" / "requirements.txt")
    workshop = pins(ROOT / "requirements.txt")
    assert {"flask", "werkzeug", "granian", "psycopg", "psycopg-binary", "psycopg-pool"} <= set(
        server
    )
    different = {name: (version, workshop.get(name)) for name, version in server.items()}
    different = {name: pair for name, pair in different.items() if pair[0] != pair[1]}
    assert not different, f"server pin vs workshop pin: {different}"


def test_every_dependency_in_the_image_is_pinned():
    """Nothing the image installs is left for pip to choose on the day of the build."""
    server = pins(STEP / "server" / "requirements.txt")
    unpinned = set()
    for name in server:
        try:
            dependencies = requires(name) or []
        except PackageNotFoundError:
            continue  # not installed on this machine (psycopg-binary on PyPy, for example)
        for line in dependencies:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate(IMAGE_PLATFORM):
                continue
            if canonicalize_name(requirement.name) not in server:
                unpinned.add(f"{requirement.name} (needed by {name})")
    assert not unpinned, f"add to server/requirements.txt: {sorted(unpinned)}"
