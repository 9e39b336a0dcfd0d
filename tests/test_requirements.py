"""The two requirement files: the learner's, and the contributor's that adds to it."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)(?:\s*;\s*(.+))?$")


def pins(file_name: str) -> dict[tuple[str, str], str]:
    """The file's pinned versions, by package and environment marker."""
    found = {}
    for line in (ROOT / file_name).read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line.strip()):
            name, version, marker = match.groups()
            found[name.lower(), marker or ""] = version
    return found


def test_contributors_get_the_learners_versions():
    learner, contributor = pins("requirements.txt"), pins("requirements-dev.txt")

    assert learner, "requirements.txt pins nothing"
    different = {
        package: (version, contributor.get(package))
        for package, version in learner.items()
        if contributor.get(package) != version
    }
    assert different == {}, "requirements-dev.txt must pin what requirements.txt pins, as it does"


def test_a_missing_contributor_package_skips_for_learners_and_fails_in_ci(tmp_path):
    # A stand-in that cannot be imported, first on the path: as if the package were missing.
    missing = tmp_path / "openapi_spec_validator"
    missing.mkdir()
    (missing / "__init__.py").write_text("raise ModuleNotFoundError('not installed')\n")
    test = "tests/test_openapi.py::test_is_valid_openapi_3_1"

    def run_with(require_dev: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(tmp_path), "REQUIRE_DEV": require_dev}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", test]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)

    learner, ci = run_with(""), run_with("1")

    assert learner.returncode == 0, learner.stdout
    assert "3 skipped" in learner.stdout
    assert "needs openapi-spec-validator: pip install -r requirements-dev.txt" in learner.stdout
    assert ci.returncode == 1, ci.stdout
    assert "3 failed" in ci.stdout
    assert "(REQUIRE_DEV=1 asks for it)" in ci.stdout
