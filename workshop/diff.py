"""python -m workshop diff NN MM: what a step changed, file by file, for instructors.

The same as `diff -ru` of the two folders, on every system, with colours.
"""

import argparse
import difflib
from pathlib import Path

from workshop.steps import find_step

# Made by running or testing a step, not part of its lesson: caches, the SQLite files that
# `flask run` keeps in instance/, and .env, which holds a learner's passwords and tokens.
# .gitignore leaves out the same files.
IGNORED_PARTS = {
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".schemathesis",
    "instance",
    ".env",
}
IGNORED_SUFFIXES = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm")


def step_files(folder: Path) -> dict[str, Path]:
    """The step's files by their path inside the step, with '/' on every system."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and not IGNORED_PARTS.intersection(path.relative_to(folder).parts)
        and not path.name.endswith(IGNORED_SUFFIXES)
    }


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return ["(binary file)\n"]


def compare(old_folder: Path, new_folder: Path) -> dict[str, list[str]]:
    """For each file that differs, its unified diff; an added or removed file diffs with nothing."""
    old_files, new_files = step_files(old_folder), step_files(new_folder)
    diffs = {}
    for name in sorted(old_files.keys() | new_files.keys()):
        old_lines = read_lines(old_files[name]) if name in old_files else []
        new_lines = read_lines(new_files[name]) if name in new_files else []
        if old_lines != new_lines:
            old_label = f"{old_folder.name}/{name}" if name in old_files else "/dev/null"
            new_label = f"{new_folder.name}/{name}" if name in new_files else "/dev/null"
            diffs[name] = list(difflib.unified_diff(old_lines, new_lines, old_label, new_label))
    return diffs


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.syntax import Syntax
    from rich.table import Table

    old, new = find_step(args.old), find_step(args.new)
    diffs = compare(old.path, new.path)
    old_names, new_names = step_files(old.path).keys(), step_files(new.path).keys()

    console = Console()
    table = Table(title=f"{old.folder} → {new.folder}")
    table.add_column("file")
    table.add_column("change")
    table.add_column("+", justify="right", style="green")
    table.add_column("-", justify="right", style="red")
    for name, lines in diffs.items():
        change = (
            "added" if name not in old_names else "removed" if name not in new_names else "changed"
        )
        added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
        table.add_row(name, change, str(added), str(removed))
    console.print(table)
    if not args.stat:
        for lines in diffs.values():
            console.print(Syntax("".join(lines), "diff", theme="ansi_dark", word_wrap=True))
    return 0
