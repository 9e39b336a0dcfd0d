"""PostgresTodoRepository on a real PostgreSQL server, and how DATABASE_URL picks a repository.

What every storage must do is checked by test_repository.py, which runs on PostgreSQL too
(its [postgres] tests). Here is only what PostgreSQL brings: a database server that several
processes reach at once, that outlives them, and that may not answer.
"""

import threading
import time
from pathlib import Path

import pytest

from app import repository_for
from repository import (
    PostgresTodoRepository,
    SqliteTodoRepository,
    StorageUnavailable,
    Todo,
)


def test_processes_starting_together_create_the_table_once(postgres_database):
    """Four workers reach an empty database at the same moment: all of them can write."""
    repositories = [PostgresTodoRepository(postgres_database) for _ in range(4)]
    start = threading.Barrier(len(repositories))
    results: list[Todo | Exception] = []

    def first_write(repository: PostgresTodoRepository) -> None:
        start.wait()
        try:
            results.append(repository.add("first", completed=False, order=None))
        except Exception as error:
            results.append(error)

    threads = [threading.Thread(target=first_write, args=(r,)) for r in repositories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for repository in repositories:
        repository.close()
    assert sorted(result.id for result in results if isinstance(result, Todo)) == [1, 2, 3, 4], (
        results
    )


def test_todos_outlive_the_repository(postgres_database):
    """A new process (here: a new repository) finds what an earlier one stored."""
    earlier = PostgresTodoRepository(postgres_database)
    earlier.add("kept", completed=True, order=None)
    earlier.close()
    later = PostgresTodoRepository(postgres_database)
    try:
        assert later.get(1) == Todo(1, "kept", True, None, 1)
        assert later.add("next", completed=False, order=None).id == 2
    finally:
        later.close()


def test_an_unreachable_database_is_storage_unavailable():
    """Nothing listens at the address: the repository says so, in its own words, in time."""

    class QuickToGiveUp(PostgresTodoRepository):
        WAIT_SECONDS = 0.2  # the server waits 3 s for the database; this test need not

    unreachable = QuickToGiveUp("postgresql://todo:secret@127.0.0.1:1/todo")
    started = time.monotonic()
    try:
        with pytest.raises(StorageUnavailable):
            unreachable.add("lost", completed=False, order=None)
    finally:
        unreachable.close()
    assert time.monotonic() - started < QuickToGiveUp.WAIT_SECONDS + 2, "no longer than it says"


# --- DATABASE_URL -----------------------------------------------------------------------


def test_sqlite_url_with_an_absolute_path(tmp_path: Path):
    """sqlite:/// followed by an absolute path (so four slashes on macOS and Linux)."""
    repository = repository_for(f"sqlite:///{tmp_path / 'todos.sqlite3'}")
    assert isinstance(repository, SqliteTodoRepository)
    repository.add("on disk", completed=False, order=None)
    assert (tmp_path / "todos.sqlite3").exists()


def test_sqlite_url_with_a_relative_path(tmp_path: Path, monkeypatch):
    """A relative path is relative to the folder the server starts in."""
    monkeypatch.chdir(tmp_path)
    repository = repository_for("sqlite:///data/todos.sqlite3")
    repository.add("relative", completed=False, order=None)
    assert (tmp_path / "data" / "todos.sqlite3").exists()


@pytest.mark.parametrize(
    "url", ["postgresql://todo:secret@db:5432/todo", "postgres://todo:secret@db/todo"]
)
def test_postgres_urls_need_no_database_to_build_the_repository(url):
    """Building the app connects to nothing: it starts even while the database is down."""
    repository = repository_for(url)
    assert isinstance(repository, PostgresTodoRepository)
    repository.close()


@pytest.mark.parametrize(
    "url",
    ["mysql://todo:secret@db/todo", "sqlite://todos.sqlite3", "todos.sqlite3", "", "sqlite:///"],
)
def test_other_urls_are_refused_without_showing_the_password(url):
    """A clear message at start-up, which never repeats the URL's password."""
    with pytest.raises(ValueError, match="must be sqlite:///<file> or postgresql://") as error:
        repository_for(url)
    assert "secret" not in str(error.value)
