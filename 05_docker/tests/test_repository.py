"""The repository layer: one suite that every kind of storage must pass.

The `repository` fixture (conftest.py) hands each test an empty repository of every kind
in turn, so each test here runs once per kind: test_add_then_get[memory], then
test_add_then_get[sqlite], then test_add_then_get[postgres] (skipped without PostgreSQL).
The service cannot tell the kinds apart, and these tests are why.
The tests at the end are about SQLite alone: its file, SQL injection and several writers.
PostgreSQL's own tests are in test_postgres_repository.py.
"""

import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from model import StorageUnavailable, Todo
from repository import PostgresTodoRepository, SqliteTodoRepository

SERVER_DIR = Path(__file__).resolve().parent.parent / "server"


def titles(todos: list[Todo]) -> list[str]:
    return [todo.title for todo in todos]


# --- Adding and reading -------------------------------------------------------------------


def test_add_then_get(repository):
    todo = repository.add("walk the dog", False, 3)

    assert todo == Todo(id=1, title="walk the dog", completed=False, order=3, version=1)
    assert repository.get(1) == todo


def test_get_of_a_missing_id_is_none(repository):
    assert repository.get(1) is None
    repository.add("walk the dog", False, None)
    assert repository.get(2) is None


@pytest.mark.parametrize("todo_id", [2**63 - 1, 2**63, 10**30], ids=["2^63-1", "2^63", "10^30"])
def test_get_of_an_id_beyond_what_storage_holds_is_none(repository, todo_id):
    """Any number can come in a URL; SQLite's integers have 64 bits, and no todo is there."""
    repository.add("walk the dog", False, None)

    assert repository.get(todo_id) is None


@pytest.mark.parametrize("offset", [2**63 - 1, 2**63, 10**30], ids=["2^63-1", "2^63", "10^30"])
def test_a_page_past_what_storage_holds_is_empty(repository, offset):
    repository.add("walk the dog", False, None)

    assert repository.list(None, 10, offset) == ([], 1)


def test_ids_ascend_from_1(repository):
    ids = [repository.add(title, False, None).id for title in ("one", "two", "three")]

    assert ids == [1, 2, 3]


@pytest.mark.parametrize(
    ("completed", "order"),
    [(True, None), (False, 0), (True, -(2**31)), (False, 2**31 - 1)],
)
def test_completed_and_order_come_back_as_stored(repository, completed, order):
    todo = repository.add("walk the dog", completed, order)

    stored = repository.get(todo.id)

    assert stored.completed is completed, "a boolean, not 0 or 1"
    assert stored.order == order


HOSTILE_TITLES = [
    pytest.param("x'); DROP TABLE todos; --", id="sql drop table"),
    pytest.param("' OR '1'='1", id="sql or"),
    pytest.param('say "hi"; -- and more', id="double quotes"),
    pytest.param("back\\slash \\n", id="backslashes"),
    pytest.param("100% _done_", id="sql wildcards"),
    pytest.param("%s %(title)s ? :title", id="sql placeholders"),
    pytest.param("<script>alert(1)</script>", id="html"),
    pytest.param("café crème", id="accents"),
    pytest.param("日本語のタスク", id="japanese"),
    pytest.param("שלום עולם", id="right to left"),
    pytest.param("e\u0301", id="combining accent"),
    pytest.param("\U0001f469\u200d\U0001f469\u200d\U0001f467 family", id="zero-width joiner"),
    pytest.param("\U0001f436" * 200, id="200 emoji"),
    pytest.param("NULL", id="the word NULL"),
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_any_title_comes_back_verbatim(repository, title):
    todo = repository.add(title, False, None)

    assert repository.get(todo.id).title == title
    assert titles(repository.list(None, 10, 0)[0]) == [title]


# --- Listing ------------------------------------------------------------------------------


@pytest.fixture
def five_todos(repository):
    """The repository with todos 1 to 5; 2 and 4 are completed."""
    for number in range(1, 6):
        repository.add(f"todo {number}", number % 2 == 0, None)
    return repository


def test_list_gives_every_todo_by_id_and_the_total(five_todos):
    todos, total = five_todos.list(None, 100, 0)

    assert titles(todos) == ["todo 1", "todo 2", "todo 3", "todo 4", "todo 5"]
    assert total == 5


@pytest.mark.parametrize(
    ("completed", "expected"),
    [(True, ["todo 2", "todo 4"]), (False, ["todo 1", "todo 3", "todo 5"])],
)
def test_list_filters_by_completed(five_todos, completed, expected):
    todos, total = five_todos.list(completed, 100, 0)

    assert titles(todos) == expected
    assert total == len(expected)


@pytest.mark.parametrize(
    ("completed", "limit", "offset", "expected", "total"),
    [
        pytest.param(None, 2, 0, ["todo 1", "todo 2"], 5, id="first page"),
        pytest.param(None, 2, 2, ["todo 3", "todo 4"], 5, id="middle page"),
        pytest.param(None, 2, 4, ["todo 5"], 5, id="last page"),
        pytest.param(None, 2, 5, [], 5, id="past the end"),
        pytest.param(False, 1, 1, ["todo 3"], 3, id="a page of a filter"),
    ],
)
def test_list_pages_with_limit_and_offset(five_todos, completed, limit, offset, expected, total):
    """The total counts every todo that matches the filter, whatever the page."""
    todos, counted = five_todos.list(completed, limit, offset)

    assert titles(todos) == expected
    assert counted == total


def totals(repository) -> tuple[int, int, int]:
    """The totals the list gives: of every todo, of the done ones, of the open ones."""
    return tuple(repository.list(completed, 1, 0)[1] for completed in (None, True, False))


def test_the_total_follows_every_change(five_todos):
    """The databases keep the totals as counts beside the todos (see repository.py):
    every change must move them, or X-Total-Count would drift from the truth."""
    assert totals(five_todos) == (5, 2, 3)
    todo_1, todo_2 = five_todos.get(1), five_todos.get(2)

    five_todos.update(replace(todo_1, completed=True, version=2), expected_version=1)
    assert totals(five_todos) == (5, 3, 2), "an open todo done"
    five_todos.update(replace(todo_2, completed=False, version=2), expected_version=1)
    assert totals(five_todos) == (5, 2, 3), "a done todo open again"
    renamed = replace(five_todos.get(2), title="renamed", version=3)
    five_todos.update(renamed, expected_version=2)
    assert totals(five_todos) == (5, 2, 3), "a new title only"
    five_todos.delete(4, expected_version=1)
    assert totals(five_todos) == (4, 1, 3), "a done todo deleted"
    five_todos.add("added done", True, None)
    assert totals(five_todos) == (5, 2, 3), "a done todo added"
    five_todos.delete_all()
    assert totals(five_todos) == (0, 0, 0)


# --- Updating and deleting: compare-and-set -----------------------------------------------


def test_update_at_the_expected_version_saves(repository):
    todo = repository.add("walk the dog", False, 3)
    changed = replace(todo, title="feed the cat", completed=True, order=None, version=2)

    assert repository.update(changed, expected_version=1) is True
    assert repository.get(todo.id) == changed


def test_update_at_another_version_changes_nothing(repository):
    todo = repository.add("walk the dog", False, 3)

    assert repository.update(replace(todo, title="mine", version=3), expected_version=2) is False
    assert repository.get(todo.id) == todo


def test_update_of_a_missing_todo_changes_nothing(repository):
    ghost = Todo(id=7, title="ghost", completed=False, order=None, version=2)

    assert repository.update(ghost, expected_version=1) is False
    assert repository.get(7) is None


def test_delete_at_the_expected_version_deletes(repository):
    todo = repository.add("walk the dog", False, None)
    other = repository.add("feed the cat", False, None)

    assert repository.delete(todo.id, expected_version=1) is True
    assert repository.get(todo.id) is None
    assert repository.list(None, 10, 0) == ([other], 1)


def test_delete_at_another_version_deletes_nothing(repository):
    todo = repository.add("walk the dog", False, None)

    assert repository.delete(todo.id, expected_version=2) is False
    assert repository.get(todo.id) == todo


def test_delete_of_a_missing_todo_is_false(repository):
    assert repository.delete(7, expected_version=1) is False


# --- Ids are never reused -----------------------------------------------------------------


def test_delete_all_leaves_nothing_and_ids_go_on(repository):
    repository.add("one", False, None)
    repository.add("two", False, None)

    repository.delete_all()

    assert repository.list(None, 10, 0) == ([], 0)
    assert repository.add("three", False, None).id == 3


def test_the_id_of_the_last_todo_deleted_is_not_reused(repository):
    """A plain SQLite rowid would hand out 2 again here; AUTOINCREMENT does not."""
    repository.add("one", False, None)
    last = repository.add("two", False, None)
    repository.delete(last.id, expected_version=1)

    assert repository.add("three", False, None).id == 3


# --- Is it there? (for /ready) ------------------------------------------------------------


def test_a_new_empty_repository_passes_its_check(repository):
    """What /ready asks: no exception means the todos can be reached."""
    assert repository.check() is None


# --- Several threads at once --------------------------------------------------------------


def test_threads_adding_at_once_all_succeed_with_distinct_ids(repository):
    threads, adds_per_thread = 8, 25
    start = threading.Barrier(threads)  # every thread starts adding at the same moment

    def add_some(thread: int) -> list[int]:
        start.wait()
        return [repository.add(f"{thread}-{n}", False, None).id for n in range(adds_per_thread)]

    with ThreadPoolExecutor(threads) as pool:
        ids = [todo_id for batch in pool.map(add_some, range(threads)) for todo_id in batch]

    assert sorted(ids) == list(range(1, threads * adds_per_thread + 1))
    assert repository.list(None, 1000, 0)[1] == threads * adds_per_thread


def test_totals_stay_right_while_threads_mark_todos_done_and_open_at_once(repository):
    """Half the todos go from open to done while the other half go back: in PostgreSQL,
    two such changes lock the same two counts, and in opposite orders they would deadlock."""
    threads, flips = 8, 25
    for number in range(threads):
        repository.add(f"todo {number}", number % 2 == 0, None)
    start = threading.Barrier(threads)

    def flip_again_and_again(todo_id: int) -> None:
        start.wait()
        for _ in range(flips):  # each thread flips its own todo: no write is refused
            todo = repository.get(todo_id)
            flipped = replace(todo, completed=not todo.completed, version=todo.version + 1)
            assert repository.update(flipped, expected_version=todo.version)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(flip_again_and_again, range(1, threads + 1)))  # raises what they raised

    done = [todo for todo in repository.list(None, 100, 0)[0] if todo.completed]
    assert totals(repository) == (threads, len(done), threads - len(done))


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_of_racing_writers_at_one_version_exactly_one_wins(repository, operation):
    """What If-Match relies on: writers that all read version 1 cannot all write."""
    todo = repository.add("walk the dog", False, None)
    writers = 8
    start = threading.Barrier(writers)

    def write(writer: int) -> bool:
        start.wait()
        if operation == "update":
            mine = replace(todo, title=f"writer {writer}", version=2)
            return repository.update(mine, expected_version=1)
        return repository.delete(todo.id, expected_version=1)

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(write, range(writers)))

    assert results.count(True) == 1
    winner = results.index(True)
    expected = replace(todo, title=f"writer {winner}", version=2) if operation == "update" else None
    assert repository.get(todo.id) == expected


# --- A database from before the counts ---------------------------------------------------

# The todos table as this step created it before it kept counts beside it.
TABLE_WITHOUT_COUNTS = {
    "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT, completed INTEGER NOT NULL",
    "postgres": "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, completed BOOLEAN NOT NULL",
}


def test_todos_stored_before_the_counts_existed_are_counted(database_url):
    """A learner's database from an earlier run already holds todos: the counts start
    from them, not from zero."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgres"
    create = (
        f"CREATE TABLE todos ({TABLE_WITHOUT_COUNTS[kind]}, "
        'title TEXT NOT NULL, "order" INTEGER, version BIGINT NOT NULL)'
    )
    insert = "INSERT INTO todos (title, completed, version) VALUES ('old', {0}, 1)"
    if kind == "sqlite":
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)) as connection, connection:
            connection.execute(create)
            connection.executemany(insert.format("?"), [(True,), (False,), (False,)])
        repository = SqliteTodoRepository(path)
    else:
        import psycopg

        with psycopg.connect(database_url) as connection:  # commits at the end
            connection.execute(create)
            connection.cursor().executemany(insert.format("%s"), [(True,), (False,), (False,)])
        repository = PostgresTodoRepository(database_url)

    try:
        assert totals(repository) == (3, 1, 2)
        repository.add("new", True, None)
        assert totals(repository) == (4, 2, 2)
    finally:
        if kind == "postgres":
            repository.close()


# --- SQLite only: the file ----------------------------------------------------------------


def test_sqlite_creates_its_folder_and_schema_on_first_use(tmp_path):
    path = tmp_path / "not" / "there" / "yet.sqlite3"

    repository = SqliteTodoRepository(path)

    assert path.is_file()
    assert repository.list(None, 10, 0) == ([], 0)


def test_sqlite_keeps_todos_for_the_next_repository_on_the_same_file(db_path):
    first = SqliteTodoRepository(db_path)
    todo = first.add("walk the dog", True, 3)

    reopened = SqliteTodoRepository(db_path)  # as after a restart of the server

    assert reopened.get(todo.id) == todo


def test_sqlite_ids_are_not_reused_after_reopening_the_file(db_path):
    first = SqliteTodoRepository(db_path)
    first.add("one", False, None)
    first.add("two", False, None)
    first.delete_all()

    reopened = SqliteTodoRepository(db_path)

    assert reopened.add("three", False, None).id == 3


def test_sqlite_check_fails_when_the_file_is_gone(db_path):
    """Deleted under a running server, say: /ready must then say "not ready"."""
    repository = SqliteTodoRepository(db_path)
    db_path.unlink()

    with pytest.raises(StorageUnavailable):
        repository.check()


# --- SQLite only: SQL injection -----------------------------------------------------------


def table_names(db_path: Path) -> set[str]:
    """The tables in the SQLite file, read without the repository."""
    with closing(sqlite3.connect(db_path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


@pytest.mark.parametrize("title", ["x'); DROP TABLE todos; --", "' OR '1'='1", "mine' --"])
def test_sqlite_stores_sql_in_a_title_as_plain_text(db_path, title):
    repository = SqliteTodoRepository(db_path)
    bystander = repository.add("walk the dog", False, None)
    todo = repository.add(title, False, None)
    edited = replace(todo, title=title, completed=True, version=2)

    assert repository.update(edited, expected_version=1)

    assert repository.get(todo.id) == edited
    assert repository.list(None, 10, 0) == ([bystander, edited], 2), "the other todo is intact"
    assert "todos" in table_names(db_path), "the table is still there"


def string_built_rename(connection: sqlite3.Connection, todo_id: int, title: str) -> None:
    # DON'T: the title is pasted into the SQL text, where it can end the string.
    connection.execute(f"UPDATE todos SET title = '{title}' WHERE id = {todo_id}")


def test_string_built_sql_lets_one_title_rename_every_todo(db_path):
    repository = SqliteTodoRepository(db_path)
    repository.add("walk the dog", False, None)
    repository.add("feed the cat", False, None)

    with closing(sqlite3.connect(db_path)) as connection:
        sent = []
        connection.set_trace_callback(sent.append)  # records each SQL text SQLite runs
        string_built_rename(connection, 2, "mine' --")
        connection.commit()

    assert "UPDATE todos SET title = 'mine' --' WHERE id = 2" in sent
    assert titles(repository.list(None, 10, 0)[0]) == ["mine", "mine"]


# --- SQLite only: several writers ---------------------------------------------------------


def test_sqlite_readers_do_not_wait_for_a_writer(db_path):
    """WAL mode: a reader sees the last committed state while a write is under way.
    Without it, this list would wait for the busy timeout and fail: database is locked."""
    repository = SqliteTodoRepository(db_path)
    repository.add("committed", False, None)

    with closing(sqlite3.connect(db_path, isolation_level=None)) as writer:
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO todos (title, completed, version) VALUES ('not yet', 0, 1)")
        todos, total = repository.list(None, 10, 0)
        writer.execute("ROLLBACK")

    assert (titles(todos), total) == (["committed"], 1)


# One writer process: says "ready", waits for "go", opens the file (creating it if it is
# new), adds todos and prints their ids.
WRITER_PROCESS = """
import sys
from repository import SqliteTodoRepository

print("ready", flush=True)
sys.stdin.readline()
repository = SqliteTodoRepository(sys.argv[1])
print(*[repository.add(f"todo {n}", False, None).id for n in range(int(sys.argv[2]))])
"""


def start_writers_at_once(path: Path, processes: int, adds: int) -> list[list[int]]:
    """Runs WRITER_PROCESS in several processes that all start on `path` at the same
    moment; returns the ids each one added."""
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_PROCESS, str(path), str(adds)],
            cwd=SERVER_DIR,  # where `import repository` finds the step's module
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for writer in writers:  # every writer has started Python and imported its code...
            assert writer.stdout.readline() == "ready\n", writer.communicate()[1]
        for writer in writers:  # ...before any of them is told to go
            writer.stdin.write("go\n")
            writer.stdin.flush()
        results = [writer.communicate(timeout=60) for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.communicate()
    for _, errors in results:
        assert errors == "", errors
    return [[int(todo_id) for todo_id in output.split()] for output, _ in results]


def test_sqlite_processes_adding_to_one_file_at_once_all_succeed(db_path):
    """As with several server processes on one file: no "database is locked", no lost todo."""
    SqliteTodoRepository(db_path).add("already there", False, None)
    processes, adds = 4, 50

    added = start_writers_at_once(db_path, processes, adds)

    ids = sorted(todo_id for batch in added for todo_id in batch)
    assert ids == list(range(2, processes * adds + 2))


def test_sqlite_processes_starting_on_a_new_file_at_once_all_succeed(db_path):
    """As when several server processes start together: each one creates the file and its
    schema unless another has already done it, while the others add todos."""
    processes, adds = 4, 20

    added = start_writers_at_once(db_path, processes, adds)

    ids = sorted(todo_id for batch in added for todo_id in batch)
    assert ids == list(range(1, processes * adds + 1))


def test_sqlite_a_starting_repository_waits_for_a_writer_of_a_new_file(db_path):
    """The moment the test above can hit by chance, made certain: another connection is
    writing to a file that is not yet in WAL mode when a repository opens it. The new
    repository must wait for its turn (the busy timeout), not fail with "database is
    locked"."""
    with closing(sqlite3.connect(db_path, isolation_level=None)) as other_writer:
        other_writer.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(1) as pool:
            opening = pool.submit(SqliteTodoRepository, db_path)
            wait([opening], timeout=0.5)  # time to fail at once, if it fails at all
            other_writer.execute("COMMIT")
            repository = opening.result(timeout=30)

    assert repository.add("walk the dog", False, None).id == 1
