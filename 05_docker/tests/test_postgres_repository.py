"""PostgresTodoRepository on a real PostgreSQL server, and how DATABASE_URL picks a repository."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import repository_for
from repository import (
    PostgresTodoRepository,
    SqliteTodoRepository,
    StorageUnavailable,
    Todo,
)


@pytest.fixture
def repository(postgres_database: str) -> Iterator[PostgresTodoRepository]:
    """A repository on an empty schema of its own, closed after the test."""
    repository = PostgresTodoRepository(postgres_database)
    yield repository
    repository.close()


def test_stores_and_reads_todos(repository):
    """A todo comes back exactly as it was stored, ids ascending from 1."""
    first = repository.add("walk the dog", completed=False, order=None)
    second = repository.add("feed the cat", completed=True, order=-(2**31))
    assert first == Todo(1, "walk the dog", False, None, 1)
    assert second == Todo(2, "feed the cat", True, -(2**31), 1)
    assert repository.get(2) == second
    assert repository.get(3) is None


def test_ids_are_never_reused_even_after_delete_all(repository):
    """DELETE /todos empties the table but does not restart the ids."""
    for title in ("a", "b", "c"):
        repository.add(title, completed=False, order=None)
    repository.delete_all()
    assert repository.list(None, limit=10, offset=0) == ([], 0)
    assert repository.add("d", completed=False, order=None).id == 4


def test_lists_pages_with_a_count_of_all_matching(repository):
    """One page, ordered by id, and the number of todos that match the filter."""
    for number in range(1, 8):
        repository.add(f"todo {number}", completed=number % 2 == 0, order=number)
    page, total = repository.list(None, limit=3, offset=2)
    assert [todo.id for todo in page] == [3, 4, 5] and total == 7
    page, total = repository.list(True, limit=2, offset=1)
    assert [todo.id for todo in page] == [4, 6] and total == 3
    assert repository.list(False, limit=10, offset=10) == ([], 4)


def test_updates_and_deletes_only_at_the_expected_version(repository):
    """Compare-and-set: a writer holding an old version changes nothing."""
    todo = repository.add("draft", completed=False, order=None)
    changed = Todo(todo.id, "final", True, 5, version=2)
    assert repository.update(changed, expected_version=1) is True
    assert repository.update(Todo(todo.id, "stale", False, None, 2), expected_version=1) is False
    assert repository.get(todo.id) == changed
    assert repository.delete(todo.id, expected_version=1) is False
    assert repository.delete(todo.id, expected_version=2) is True
    assert repository.get(todo.id) is None


def test_sql_in_a_title_is_stored_as_text(repository):
    """Values travel as parameters, never pasted into the SQL."""
    title = '\'); DROP TABLE todos; -- "quoted" %s %(name)s café 🐕'
    todo = repository.add(title, completed=False, order=None)
    assert repository.get(todo.id).title == title
    assert repository.list(None, limit=10, offset=0)[1] == 1


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
    unreachable = PostgresTodoRepository("postgresql://todo:secret@127.0.0.1:1/todo")
    try:
        with pytest.raises(StorageUnavailable):
            unreachable.add("lost", completed=False, order=None)
    finally:
        unreachable.close()


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
    "url", ["mysql://todo:secret@db/todo", "sqlite://todos.sqlite3", "todos.sqlite3", ""]
)
def test_other_urls_are_refused_without_showing_the_password(url):
    """A clear message at start-up, which never repeats the URL's password."""
    with pytest.raises(ValueError, match="must start with sqlite:/// or postgresql://") as error:
        repository_for(url)
    assert "secret" not in str(error.value)
