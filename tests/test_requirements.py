"""The two requirement files: the learner's, and the contributor's that adds to it."""

import os
import re
import shutil
import subprocess
import sys
import textwrap
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
    # The root conftest.py decides; a few tests stand in for the workshop's, so that pytest
    # starts in a fraction of a second. Its own config file keeps the workshop's away.
    shutil.copy(ROOT / "conftest.py", tmp_path)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_stand_ins.py").write_text(
        textwrap.dedent(
            """
            import pytest

            def test_needs_a_contributor_package():
                pytest.importorskip(
                    "a_package_that_is_not_installed",
                    reason="needs a-package: pip install -r requirements-dev.txt",
                )

            def test_needs_postgres():
                pytest.skip("TEST_DATABASE_URL is not set.")

            def test_needs_nothing():
                pass
            """
        )
    )

    def run_with(require_dev: str) -> subprocess.CompletedProcess:
        # The environment's pytest plugins play no part here: not loading them saves seconds.
        env = {**os.environ, "REQUIRE_DEV": require_dev, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs"]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)

    learner, ci = run_with(""), run_with("1")

    assert learner.returncode == 0, learner.stdout
    assert "1 passed, 2 skipped" in learner.stdout
    assert "needs a-package: pip install -r requirements-dev.txt" in learner.stdout
    assert ci.returncode == 1, ci.stdout
    assert "1 failed, 1 passed, 1 skipped" in ci.stdout
    assert "needs a-package: pip install -r requirements-dev.txt (REQUIRE_DEV=1 asks for it)" in (
        ci.stdout
    )
    assert "TEST_DATABASE_URL is not set." in ci.stdout, "only a contributor's package fails"
