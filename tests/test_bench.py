"""python -m workshop bench, run as a learner runs it, with very short measurements.

These tests check what the command prints, never how fast anything is: the numbers
depend on the machine, and a test that times a server fails on a busy one.
"""

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("read one todo", "list a page", "create a todo")
# Short measurements on few todos: only the shape of the output is checked. Even the
# slowest server answers a dozen requests in 0.05 s, so no row is left without results.
SHORT = ["--duration", "0.05", "--warmup", "0.02", "--todos", "30", "--rounds", "1"]
# The scaling run's slowest request reads 100,000 rows' first page: on a busy machine it
# can take most of 0.05 s, so its measurements last longer.
SCALING_SHORT = ["--duration", "0.25", "--warmup", "0.05", "--rounds", "2"]
COLUMNS = ["server", "workers", "database", "req/s", "p50 ms", "p99 ms"]


def bench(*arguments: str) -> subprocess.CompletedProcess:
    """Runs `python -m workshop bench ...` from the repository's folder."""
    environment = dict(os.environ)
    # Not a terminal, so rich prints plain text; wide, so that no table cell wraps.
    environment.update(COLUMNS="200", PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "workshop", "bench", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        encoding="utf-8",
        timeout=300,
    )


def tables(output: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each table in the output, by the title above it: its header's cells and its rows'."""

    def cells(line: str, border: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip(border).split(border)]

    found = {}
    lines = output.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("┏"):  # the top of a table; its title is the line above
            header, rows = [], []
            for below in lines[number + 1 :]:
                if below.startswith("┃"):
                    header = cells(below, "┃")
                elif below.startswith("│"):
                    rows.append(cells(below, "│"))
                elif below.startswith("└"):
                    break
            found[lines[number - 1].strip()] = (header, rows)
    return found


def postgres_answers() -> bool:
    """Whether the PostgreSQL of TEST_DATABASE_URL answers, as the benchmark checks it."""
    from workshop.bench import postgres_problem

    return postgres_problem(os.environ.get("TEST_DATABASE_URL")) is None


def test_bench_measures_every_configuration_against_the_dev_server():
    result = bench(*SHORT, "--workers", "1")

    assert result.returncode == 0, result.stdout + result.stderr
    databases = ["sqlite", "postgres"] if postgres_answers() else ["sqlite"]
    servers = ["serve.py (granian)", "gunicorn sync", "gunicorn gthread"]
    if importlib.util.find_spec("gunicorn") is None or sys.platform == "win32":
        servers = servers[:1]  # gunicorn: a contributor's package, and not for Windows
    expected = [("flask run (03)", "1", "memory"), ("flask run (05)", "1", "sqlite")]
    expected += [(server, "1", database) for server in servers for database in databases]
    # The FastAPI peer only reads, and only from SQLite.
    peer = [("FastAPI + uvicorn (peer)", "1", "sqlite")]
    if not all(importlib.util.find_spec(package) for package in ("fastapi", "uvicorn")):
        peer = []
        assert "fastapi or uvicorn is not installed (pip install -r requirements-dev.txt)" in (
            result.stdout
        )
    found = tables(result.stdout)
    for scenario in SCENARIOS:
        ((header, rows),) = [table for title, table in found.items() if title.startswith(scenario)]
        with_peer = bool(peer) and scenario != "create a todo"
        assert header == [*COLUMNS, "vs dev", *(["vs peer"] if with_peer else [])]
        assert [tuple(row[:3]) for row in rows] == expected + (peer if with_peer else []), scenario
        baseline = float(rows[0][3].replace(",", ""))
        peer_speed = float(rows[-1][3].replace(",", "")) if with_peer else None
        assert rows[0][6] == "1.00", "the dev server of step 03 is the baseline"
        for server, _, database, per_second, p50, p99, ratio, *vs_peer in rows:
            per_second = float(per_second.replace(",", ""))
            assert per_second > 0 and 0 < float(p50) <= float(p99), (server, database)
            assert float(ratio) == pytest.approx(per_second / baseline, abs=0.01, rel=0.01)
            if with_peer and database == "sqlite":  # the peer's database: compared with it
                expected_ratio = per_second / peer_speed
                assert float(vs_peer[0]) == pytest.approx(expected_ratio, abs=0.01, rel=0.01)
            elif with_peer:
                assert vs_peer == ["-"]
    assert "requests failed" not in result.stdout
    share = re.search(r"Load generator: at most (\d+)% of one core", result.stdout)
    assert share, result.stdout
    ceiling = re.search(r"doing any work: ([\d,]+) req/s", result.stdout)
    assert ceiling and int(ceiling[1].replace(",", "")) > 0, result.stdout
    if "postgres" not in databases:
        assert re.search(r"Skipped \d configurations?: no PostgreSQL", result.stdout)
    elif peer:
        assert "Skipped 1 configuration: the FastAPI peer reads SQLite only." in result.stdout
    if sys.platform == "win32":
        assert "gunicorn does not run on Windows" in result.stdout


def test_bench_says_which_options_it_takes():
    result = bench("--help")

    assert result.returncode == 0
    assert "python -m workshop bench" in result.stdout
    for option in ("--duration", "--connections", "--quick", "--scaling", "--only"):
        assert option in result.stdout


def test_scaling_run_reports_the_three_sizes():
    result = bench("--scaling", *SCALING_SHORT)

    assert result.returncode == 0, result.stdout + result.stderr
    ((header, rows),) = tables(result.stdout).values()
    assert header == ["database", "todos stored", "req/s", "p50 ms", "p99 ms", "vs 100"]
    databases = ["sqlite", "postgres"] if postgres_answers() else ["sqlite"]
    sizes = ["100", "10,000", "100,000"]
    assert [tuple(row[:2]) for row in rows] == [(d, size) for d in databases for size in sizes]
    for _, size, per_second, p50, p99, ratio in rows:
        assert float(per_second.replace(",", "")) > 0 and 0 < float(p50) <= float(p99)
        if size == "100":
            assert ratio == "1.00", "each database's smallest table is the reference"
    assert "requests failed" not in result.stdout


def test_a_round_without_answers_shows_dashes_and_asks_for_a_longer_duration():
    from rich.console import Console

    from workshop.bench_load import Measurement
    from workshop.bench_report import print_scaling

    console = Console(record=True, width=200)
    answered, unanswered = Measurement(0.05, latencies=[0.01, 0.02]), Measurement(0.05)
    print_scaling([("sqlite", 100, [answered]), ("sqlite", 10_000, [unanswered])], console)

    output = console.export_text()
    ((_, rows),) = tables(output).values()
    assert rows == [
        ["sqlite", "100", "40", "20.0", "20.0", "1.00"],
        ["sqlite", "10,000", "-", "-", "-", "-"],
    ]
    assert "sqlite, 10,000 todos: in a round, no request was answered" in output
    assert "give a longer --duration." in output


def test_a_ceiling_without_answers_asks_for_a_longer_duration():
    from argparse import Namespace

    from rich.console import Console

    from workshop.bench_load import Measurement
    from workshop.bench_report import Row, print_results
    from workshop.bench_servers import BASELINE

    console = Console(record=True, width=200)
    answered = {scenario: [Measurement(0.05, latencies=[0.01])] for scenario in SCENARIOS}
    options = Namespace(rounds=1, connections=8, duration=0.05, warmup=0.01, todos=10)
    print_results([Row(BASELINE, answered)], Measurement(0.05), options, console)

    output = console.export_text()
    assert "The load generator's ceiling: in a round, no request was answered" in output
    assert "doing any work" not in output, "no ceiling to compare with"


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl+C is a signal on macOS and Linux only")
def test_ctrl_c_stops_the_servers_it_started(tmp_path):
    """A learner who gives up halfway must not be left with servers holding ports."""
    # Short measurements reach the image's server within seconds; five rounds keep the
    # benchmark running until Ctrl+C comes, however slow this machine is.
    command = [sys.executable, "-m", "workshop", "bench", "--only", "image", "--workers", "2"]
    command += ["--databases", "sqlite", "--duration", "0.1", "--todos", "10", "--rounds", "5"]
    with open(tmp_path / "output.txt", "w+") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            # Ctrl+C as in a terminal: a pytest run in the background (`pytest &`) would
            # otherwise pass on a SIGINT that is ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            server = wait_for_server(process, "serve.py", workers=2)
            process.send_signal(signal.SIGINT)  # what Ctrl+C in its terminal sends it
            assert process.wait(timeout=60) == 130
        finally:
            if process.poll() is None:  # the test failed: stop it, and its servers, anyway
                process.terminate()
                process.wait(timeout=60)
        output.seek(0)
        assert "Stopped. Every server the benchmark started has been stopped." in output.read()
    # No process is left in the server's group, workers included. A worker that died
    # without its parent's wait stays a zombie until the system's first process reaps it
    # (which some containers' never does): it holds no port, and counts as gone.
    states = subprocess.run(["ps", "-o", "stat=", "-g", str(server)], capture_output=True)
    assert [state for state in states.stdout.split() if not state.startswith(b"Z")] == []


def children(pid: int, name: str) -> list[int]:
    """The ids of the child processes of `pid` whose command line mentions `name`."""
    found = subprocess.run(["pgrep", "-P", str(pid), "-f", name], capture_output=True)
    return [int(child) for child in found.stdout.split()]


def wait_for_server(process: subprocess.Popen, name: str, workers: int) -> int:
    """The id of a server `name` that `process` started, once it has `workers` workers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        for server in children(process.pid, name):
            if len(children(server, ".")) >= workers:  # any child: workers start as Python
                return server
        time.sleep(0.05)
    pytest.fail(f"the benchmark started no {name} with {workers} workers within 60 s")
