"""python -m workshop verify NN [--base-url URL [--production]]: runs a step's checks.

Steps 01 and 02: the step's own tests. Steps 03 to 05: the step's own tests and the todo
API contract suite of the root tests/ folder, against the step's reference server: the core
contract for 03 and 04, the core and the production additions for 05. With --base-url, the
contract suite alone against a server you wrote: the core contract, which is what a first
server aims for, and with --production the production additions too (hostile input such as
control characters, deep JSON, chunked bodies past 64 KiB, a forged Host header). The
checks delete every todo, so a server that holds todos is left alone unless --allow-delete
is given; --token sends a token to a server that needs one.

Each failure is printed once per kind, with what was sent, what was expected and what came
back.
"""

import argparse
import re

import pytest

from workshop.steps import ROOT, Step, find_step


class FailureCollector:
    """A pytest plugin that keeps each failure's message, to print them plainly at the end."""

    def __init__(self) -> None:
        self.failures: list[tuple[str, str]] = []
        self.passed = 0
        self.skipped = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash else str(report.longrepr)
            self.failures.append((report.nodeid, message))
        elif report.passed and report.when == "call":
            self.passed += 1
        elif report.skipped:
            self.skipped += 1


def pytest_arguments(
    step: Step,
    base_url: str | None,
    production: bool = False,
    token: str | None = None,
    allow_delete: bool = False,
) -> list[str]:
    """What to hand pytest for this step and target."""
    # Only dots while it runs: the failures are printed afterwards, grouped.
    quiet = ["-q", "--tb=no", "--no-header", "-rN", "-p", "no:cacheprovider"]
    contract = sorted(str(path) for path in (ROOT / "tests").glob("test_todo_contract_*.py"))
    if base_url:
        if not step.serves_todo_api:
            raise ValueError(
                f"--base-url checks a todo API, and step {step.number} has none. "
                f"Run: python -m workshop verify {step.number}"
            )
        options = ["--production"] if production else []
        options += ["--token", token] if token else []
        options += ["--allow-delete"] if allow_delete else []
        return [*quiet, *contract, "--base-url", base_url, *options]
    if token or allow_delete:
        raise ValueError(
            "--token and --allow-delete go with --base-url: they are for a server you wrote "
            "(verify starts the step's own server with no token, on an empty database)."
        )
    if production:
        # Step 05's reference servers always run the production tests; 03's and 04's serve
        # the core only. So the option only means something for a server you wrote.
        raise ValueError(
            "--production goes with --base-url: it adds the production tests when checking "
            "a server you wrote (verify 05 runs them on step 05's own server already)."
        )
    own = str(step.path / "tests")
    if step.serves_todo_api:
        # -k keeps the step's own tests (its folder) and the contract cases run on its server;
        # the contract suite runs its production tests on step 05's servers only.
        return [*quiet, own, *contract, "-k", step.folder]
    return [*quiet, own]


def what_is_checked(step: Step, base_url: str | None, production: bool) -> str:
    """One line saying which server is checked, and with a URL, which tier of the contract."""
    if not base_url:
        return f"Checking {step.folder} against the reference server of {step.folder} ..."
    if production:
        return f"Checking {base_url}: the core contract and the production additions ..."
    return f"Checking {base_url}: the core contract (add --production for the production tests) ..."


def same_failure(message: str) -> str:
    """What makes two failures the same: the first line and the request, ids left out."""
    lines = message.splitlines()
    request = next((line.strip() for line in lines if line.strip().startswith("Request:")), "")
    return re.sub(r"\d+", "N", f"{lines[0] if lines else ''} {request}")


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.panel import Panel

    step = find_step(args.step)
    arguments = pytest_arguments(
        step, args.base_url, args.production, args.token, args.allow_delete
    )
    console = Console(highlight=False)
    console.print(what_is_checked(step, args.base_url, args.production))

    collector = FailureCollector()
    exit_code = pytest.main(arguments, plugins=[collector])
    if exit_code == pytest.ExitCode.USAGE_ERROR:
        return 2  # the server could not be checked, and pytest printed the sentence why

    # One broken behaviour (say, 200 instead of 201 on create) fails many tests the same
    # way: show each kind of failure once, with how many tests it broke.
    groups: dict[str, list[tuple[str, str]]] = {}
    for test, message in collector.failures:
        groups.setdefault(same_failure(message), []).append((test, message))
    for failures in sorted(groups.values(), key=len, reverse=True):
        test, message = failures[0]
        more = f"and {len(failures) - 1} more tests failed the same way" if failures[1:] else None
        console.print(
            Panel(message, title=test, title_align="left", subtitle=more, border_style="red")
        )
    summary = f"{collector.passed} passed, {len(collector.failures)} failed"
    if collector.skipped:
        summary += f", {collector.skipped} skipped"
    console.print(summary, style="green" if exit_code == 0 else "bold red")
    return 0 if exit_code == 0 else 1
