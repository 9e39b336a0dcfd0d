"""Keeps the self-contained steps apart when one `pytest` from the root runs them all.

Every step has modules with the same names (`app`, `client`, ...), and Python caches a
module by its name in `sys.modules`: without this file, the second step's tests would be
handed the first step's `app`. So when pytest moves from one step's tests to another's,
this file parks the previous step's modules, brings back the new step's, and puts the new
step's `server/` and `client/` folders first on `sys.path`.

Inside a step, its own `pytest.ini` does the `sys.path` part and this file is not used.

It also turns skips for a contributor's package into failures when REQUIRE_DEV=1 (CI), and
fails the run if a process that a test started is still running at the end.
"""

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent
STEPS = sorted(path for path in ROOT.glob("[0-9][0-9]_*") if path.is_dir())


def source_dirs(step: Path) -> list[Path]:
    """The folders a step's tests import from, as its pytest.ini lists them."""
    return [step / "server", step / "client"]


def step_of(path: Path) -> Path | None:
    """The step folder that holds `path`, or None for files outside every step."""
    for step in STEPS:
        if path.resolve().is_relative_to(step):
            return step
    return None


class StepSwitcher:
    """Swaps `sys.modules` and `sys.path` from one step to another."""

    def __init__(self) -> None:
        self.current: Path | None = None
        self.parked: dict[Path, dict[str, ModuleType]] = {}

    def switch_to(self, step: Path | None) -> None:
        if step is None or step == self.current:
            return
        if self.current is not None:
            self.parked[self.current] = self.take_modules_of(self.current)
        every_source_dir = {str(d) for s in STEPS for d in source_dirs(s)}
        sys.path[:] = [entry for entry in sys.path if entry not in every_source_dir]
        sys.path[:0] = [str(d) for d in source_dirs(step)]
        sys.modules.update(self.parked.pop(step, {}))
        self.current = step

    @staticmethod
    def take_modules_of(step: Path) -> dict[str, ModuleType]:
        """Removes from sys.modules, and returns, the modules loaded from a step's code."""
        folders = source_dirs(step)
        taken = {}
        for name, module in list(sys.modules.items()):
            filename = getattr(module, "__file__", None)
            if filename and any(Path(filename).resolve().is_relative_to(f) for f in folders):
                taken[name] = sys.modules.pop(name)
        return taken


switcher = StepSwitcher()


def pytest_collectstart(collector: pytest.Collector) -> None:
    switcher.switch_to(step_of(collector.path))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    switcher.switch_to(step_of(item.path))


# --- Tests that need a contributor's package ---------------------------------------------

# A learner installs requirements.txt; the fuzzer, the OpenAPI validator and the linters come
# with requirements-dev.txt. Tests that need one skip with a reason naming that file, so a
# learner's `pytest` passes. CI installs both files and sets REQUIRE_DEV=1: there such a skip
# would hide a test that never ran, so it fails instead.
DEV_REQUIREMENTS = "requirements-dev.txt"


def fail_a_dev_skip_if_required(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and os.environ.get("REQUIRE_DEV") == "1":
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else ""
        if DEV_REQUIREMENTS in str(reason):
            report.outcome = "failed"
            report.longrepr = f"{reason.removeprefix('Skipped: ')} (REQUIRE_DEV=1 asks for it)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    fail_a_dev_skip_if_required(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport:
    report = yield
    fail_a_dev_skip_if_required(report)
    return report


# --- No process left behind ---------------------------------------------------------------

# Every process a test starts inherits this variable, so at the end of the run the ones
# still alive can be found, however they were started (a server's own children included).
SESSION_MARK = "WORKSHOP_TEST_SESSION"


def processes_marked(mark: str) -> list[str]:
    """The command lines of the running processes whose environment holds `mark` (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark.encode() in (entry / "environ").read_bytes().split(b"\0"):
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                found.append(f"{entry.name}: {command.decode(errors='replace')}")
        except OSError:
            continue  # it ended meanwhile, or belongs to another user
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fails the run if a server or any other process a test started outlives the tests."""
    mark = f"{os.getpid()}-{time.monotonic_ns()}"
    os.environ[SESSION_MARK] = mark
    yield
    if not Path("/proc/self/environ").exists():
        return  # only Linux lists other processes' environments; CI runs there
    deadline = time.monotonic() + 5  # a process told to stop may need a moment
    while (left := processes_marked(f"{SESSION_MARK}={mark}")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, "Processes started by the tests are still running:\n" + "\n".join(left)
