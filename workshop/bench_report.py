"""The benchmark's report: each setup's results as rich tables, with the ratios to step 03's
development server and to the FastAPI peer, and what the load generator could reach.
"""

import math
from dataclasses import dataclass, field

from workshop.bench_load import SCENARIOS, Measurement
from workshop.bench_servers import GTHREAD_THREADS, PEER, SCALING_SERVER, SCALING_WORKERS, Setup


@dataclass
class Row:
    setup: Setup
    runs: dict[str, list[Measurement]] = field(default_factory=dict)  # by scenario, by round
    problem: str | None = None  # why it has no results
    failed: bool = False  # it should have run, and could not

    def result(self, scenario: str) -> Measurement | None:
        """The middle round by requests per second: one disturbed round cannot move it."""
        return middle(self.runs.get(scenario, []))


def middle(runs: list[Measurement]) -> Measurement | None:
    """The median run by requests per second (the slower of two), or None."""
    ordered = sorted(runs, key=lambda run: run.per_second)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


def describe(setup: Setup) -> str:
    """A setup in words, for the progress bar and the messages."""
    workers = "1 worker" if setup.workers == 1 else f"{setup.workers} workers"
    return f"{setup.name}, {workers}, {setup.database}"


def print_results(rows: list[Row], ceiling: Measurement, options, console) -> None:
    """One table per scenario, then the load generator's share, the settings, the skips."""
    from rich.table import Table

    measured = [row for row in rows if row.runs and not row.failed]
    caption = "vs dev: req/s divided by that of flask run (03), step 03's development server."
    if any(row.setup.server == "gunicorn gthread" for row in measured):
        caption += f" gunicorn gthread runs {GTHREAD_THREADS} threads in each worker."
    peer_note = (
        f" {PEER}: not step 05, but its reads in FastAPI (workshop/bench_peer.py). vs peer: "
        "req/s divided by that of the peer with as many workers, on the same database."
    )
    for scenario in SCENARIOS:
        # The peer's result by number of workers; it reads SQLite only.
        peers = {
            row.setup.workers: row.result(scenario.name)
            for row in measured
            if row.setup.server == PEER and row.result(scenario.name)
        }
        table = Table(
            title=f"{scenario.name}: {scenario.shown_as}",
            title_justify="left",
            caption=caption + (peer_note if peers else ""),
            caption_justify="left",
        )
        for column in ("server", "workers", "database"):
            table.add_column(column)
        for column in ("req/s", "p50 ms", "p99 ms", "vs dev", *(["vs peer"] if peers else [])):
            table.add_column(column, justify="right")
        baseline = rows[0].result(scenario.name)
        for row in measured:
            result = row.result(scenario.name)
            if result is None:  # the peer does not create todos
                continue
            ratio = "-"
            if baseline and baseline.per_second:
                ratio = f"{result.per_second / baseline.per_second:.2f}"
            cells = [row.setup.name, str(row.setup.workers), row.setup.database]
            cells += [*speed_cells(result), ratio]
            if peers:
                peer = peers.get(row.setup.workers) if row.setup.database == "sqlite" else None
                if peer and peer.per_second:
                    cells.append(f"{result.per_second / peer.per_second:.2f}")
                else:
                    cells.append("-")
            table.add_row(*cells)
        console.print(table)
        for row in measured:
            warn_of_uncounted(row.runs.get(scenario.name, []), describe(row.setup), console)

    runs = [run for row in measured for scenario_runs in row.runs.values() for run in scenario_runs]
    fastest = max((run.per_second for run in runs), default=0.0)
    busiest = max((run.client_cpu for run in runs), default=0.0)
    console.print(f"Load generator: at most {busiest:.0%} of one core during these measurements.")
    if ceiling.per_second:
        console.print(
            f"Its ceiling, against a server that answers without doing any work: "
            f"{ceiling.per_second:,.0f} req/s; the fastest result above is "
            f"{fastest / ceiling.per_second:.0%} of it."
        )
    warn_of_uncounted([ceiling], "The load generator's ceiling", console)
    rounds = "one round" if options.rounds == 1 else f"the middle of {options.rounds} rounds"
    console.print(
        f"Each measurement: {options.connections} connections for {options.duration:g} s "
        f"after {options.warmup:g} s of warm-up, on {options.todos:,} todos; the tables show "
        f"{rounds}. Absolute numbers depend on this machine: compare the ratios."
    )
    reasons: dict[str, int] = {}
    for row in rows:
        if row.problem and not row.failed:
            reasons[row.problem] = reasons.get(row.problem, 0) + 1
    for reason, count in reasons.items():
        configurations = "configuration" if count == 1 else "configurations"
        console.print(f"Skipped {count} {configurations}: {reason}.")


def speed_cells(result: Measurement) -> list[str]:
    """Requests per second, p50 and p99 in milliseconds, as the tables show them."""
    if not result.latencies:
        return ["-", "-", "-"]
    return [
        f"{result.per_second:,.0f}",
        f"{result.percentile_ms(50):.1f}",
        f"{result.percentile_ms(99):.1f}",
    ]


def warn_of_uncounted(runs: list[Measurement], what: str, console) -> None:
    """Says so under the table when some requests failed (the numbers count only the others),
    or when a round counted no request at all (its time was too short for this machine)."""
    errors = sum(run.errors for run in runs)
    if errors:
        console.print(
            f"{what}: {errors:,} requests failed or got an unexpected status; "
            "the table counts only the others.",
            style="red",
        )
    elif not all(run.latencies for run in runs):
        console.print(
            f"{what}: in a round, no request was answered within the measured time; "
            "give a longer --duration.",
            style="red",
        )


def print_scaling(results: list[tuple[str, int, list[Measurement]]], console) -> None:
    """The scaling table: the same request as the table grows, by database."""
    from rich.table import Table

    table = Table(
        title="GET /todos (the first page) as the table grows",
        title_justify="left",
        caption=(
            f"On {SCALING_SERVER} with {SCALING_WORKERS} workers. vs 100: p50 "
            "divided by that with 100 todos stored, on the same database."
        ),
        caption_justify="left",
    )
    table.add_column("database")
    for column in ("todos stored", "req/s", "p50 ms", "p99 ms", "vs 100"):
        table.add_column(column, justify="right")
    smallest: dict[str, float] = {}
    for database, size, runs in results:
        result = middle(runs)
        smallest.setdefault(database, result.percentile_ms(50))
        ratio = result.percentile_ms(50) / smallest[database]  # nan if either had no answer
        shown = "-" if math.isnan(ratio) else f"{ratio:.2f}"
        table.add_row(database, f"{size:,}", *speed_cells(result), shown)
    console.print(table)
    for database, size, runs in results:
        warn_of_uncounted(runs, f"{database}, {size:,} todos", console)
