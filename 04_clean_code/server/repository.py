"""The repository layer: where todos are kept, behind one small interface.

`TodoRepository` lists the few operations the service needs. Two classes implement it:
`InMemoryTodoRepository` (a dict, for tests and quick experiments) and
`SqliteTodoRepository` (a file that survives restarts). The service cannot tell them apart.
"""

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from contextlib import closing
from pathlib import Path

from model import Todo


class TodoRepository(ABC):
    """Stores todos. Ids ascend and are never handed out twice, even after delete_all."""

    @abstractmethod
    def add(self, title: str, completed: bool, order: int | None) -> Todo:
        """Stores a new todo at version 1 and returns it with its id."""

    @abstractmethod
    def get(self, todo_id: int) -> Todo | None:
        """The todo with this id, or None."""

    @abstractmethod
    def list(self, completed: bool | None, limit: int, offset: int) -> tuple[list[Todo], int]:
        """One page of todos by id, and how many match the filter in all."""

    @abstractmethod
    def update(self, todo: Todo, expected_version: int) -> bool:
        """Saves `todo` only if the stored one is still at `expected_version`.

        Returns False, and changes nothing, when another writer got there first. This
        compare-and-set is what lets exactly one of two racing writers win.
        """

    @abstractmethod
    def delete(self, todo_id: int, expected_version: int) -> bool:
        """Deletes the todo only if it is still at `expected_version`."""

    @abstractmethod
    def delete_all(self) -> None:
        """Deletes every todo; the ids used so far stay used."""


class InMemoryTodoRepository(TodoRepository):
    """Todos in a dict, guarded by a lock because the server answers in several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._todos: dict[int, Todo] = {}
        self._last_id = 0

    def add(self, title: str, completed: bool, order: int | None) -> Todo:
        with self._lock:
            self._last_id += 1
            todo = Todo(self._last_id, title, completed, order, version=1)
            self._todos[todo.id] = todo
            return todo

    def get(self, todo_id: int) -> Todo | None:
        with self._lock:
            return self._todos.get(todo_id)

    def list(self, completed: bool | None, limit: int, offset: int) -> tuple[list[Todo], int]:
        with self._lock:
            matching = [
                todo
                for todo in self._todos.values()  # a dict keeps insertion order: by id
                if completed is None or todo.completed == completed
            ]
        return matching[offset : offset + limit], len(matching)

    def update(self, todo: Todo, expected_version: int) -> bool:
        with self._lock:
            stored = self._todos.get(todo.id)
            if stored is None or stored.version != expected_version:
                return False
            self._todos[todo.id] = todo
            return True

    def delete(self, todo_id: int, expected_version: int) -> bool:
        with self._lock:
            stored = self._todos.get(todo_id)
            if stored is None or stored.version != expected_version:
                return False
            del self._todos[todo_id]
            return True

    def delete_all(self) -> None:
        with self._lock:
            self._todos.clear()


SCHEMA = """
CREATE TABLE IF NOT EXISTS todos (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
    title     TEXT    NOT NULL,
    completed INTEGER NOT NULL,                   -- SQLite has no boolean: 0 or 1
    "order"   INTEGER,                            -- quoted: ORDER is an SQL keyword
    version   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS todos_by_completed ON todos (completed, id);
"""
COLUMNS = 'id, title, completed, "order", version'
# The largest integer SQLite stores (64 bits). Python refuses to send it a larger one, and
# ids and offsets from a URL can be any size: they are checked against this first.
MAX_INTEGER = 2**63 - 1


class SqliteTodoRepository(TodoRepository):
    """Todos in a SQLite file.

    Every value reaches SQL as a `?` parameter, never pasted into the SQL text, so a title
    such as `'); DROP TABLE todos; --` is stored as the text it is. Several threads or
    server processes may write at once: WAL mode lets readers go on while one writes, and
    the busy timeout makes a writer wait its turn instead of failing with "database is
    locked".
    """

    BUSY_TIMEOUT_SECONDS = 10

    def __init__(self, path: str | Path):
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._create_schema()

    def _create_schema(self) -> None:
        """Turns on WAL and creates the table. Switching to WAL does not wait for the busy
        timeout, so when several processes start at once on a new file, retry until then."""
        deadline = time.monotonic() + self.BUSY_TIMEOUT_SECONDS
        while True:
            try:
                with closing(self._connect()) as connection:
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.executescript(SCHEMA)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _connect(self) -> sqlite3.Connection:
        # One short-lived connection per operation: nothing is shared between threads.
        # isolation_level=None: transactions are opened explicitly where needed.
        return sqlite3.connect(self.path, timeout=self.BUSY_TIMEOUT_SECONDS, isolation_level=None)

    def add(self, title: str, completed: bool, order: int | None) -> Todo:
        with closing(self._connect()) as connection:
            cursor = connection.execute(
                'INSERT INTO todos (title, completed, "order", version) VALUES (?, ?, ?, 1)',
                (title, completed, order),
            )
            return Todo(cursor.lastrowid, title, completed, order, version=1)

    def get(self, todo_id: int) -> Todo | None:
        if todo_id > MAX_INTEGER:
            return None
        with closing(self._connect()) as connection:
            row = connection.execute(
                f"SELECT {COLUMNS} FROM todos WHERE id = ?", (todo_id,)
            ).fetchone()
        return to_todo(row) if row else None

    def list(self, completed: bool | None, limit: int, offset: int) -> tuple[list[Todo], int]:
        where, parameters = ("", ()) if completed is None else ("WHERE completed = ?", (completed,))
        offset = min(offset, MAX_INTEGER)  # a larger offset is past the end anyway
        with closing(self._connect()) as connection:
            connection.execute("BEGIN")  # the page and the count from the same snapshot
            rows = connection.execute(
                f"SELECT {COLUMNS} FROM todos {where} ORDER BY id LIMIT ? OFFSET ?",
                (*parameters, limit, offset),
            ).fetchall()
            (total,) = connection.execute(
                f"SELECT COUNT(*) FROM todos {where}", parameters
            ).fetchone()
            connection.execute("COMMIT")
        return [to_todo(row) for row in rows], total

    def update(self, todo: Todo, expected_version: int) -> bool:
        with closing(self._connect()) as connection:
            cursor = connection.execute(
                'UPDATE todos SET title = ?, completed = ?, "order" = ?, version = ? '
                "WHERE id = ? AND version = ?",
                (todo.title, todo.completed, todo.order, todo.version, todo.id, expected_version),
            )
            return cursor.rowcount == 1

    def delete(self, todo_id: int, expected_version: int) -> bool:
        with closing(self._connect()) as connection:
            cursor = connection.execute(
                "DELETE FROM todos WHERE id = ? AND version = ?", (todo_id, expected_version)
            )
            return cursor.rowcount == 1

    def delete_all(self) -> None:
        with closing(self._connect()) as connection:
            connection.execute("DELETE FROM todos")


def to_todo(row: tuple) -> Todo:
    """A row of the todos table as a Todo (completed comes back from SQLite as 0 or 1)."""
    todo_id, title, completed, order, version = row
    return Todo(todo_id, title, bool(completed), order, version)
