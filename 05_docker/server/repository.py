"""The repository layer: where todos are kept, behind one small interface.

`TodoRepository` lists the few operations the service needs. Three classes implement it:
`InMemoryTodoRepository` (a dict, for tests and quick experiments),
`SqliteTodoRepository` (a file that survives restarts) and `PostgresTodoRepository`
(a database server that several server processes, on several machines, can share).
The service cannot tell them apart.
"""

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from model import StorageUnavailable, Todo


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

    def check(self) -> None:
        """Raises StorageUnavailable when the storage cannot answer right now.

        Todos kept in memory are always there: this default checks nothing.
        """
        return None


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

-- How many todos are open (completed = 0) and done (1). COUNT(*) reads every todo, and
-- so gets slower as the table grows; the list's total reads these two rows instead. The
-- triggers change them in the same transaction as each todo, so they are never wrong.
CREATE TABLE IF NOT EXISTS todo_counts (
    completed INTEGER PRIMARY KEY,
    how_many  INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS todo_added AFTER INSERT ON todos BEGIN
    UPDATE todo_counts SET how_many = how_many + 1 WHERE completed = NEW.completed;
END;
CREATE TRIGGER IF NOT EXISTS todo_deleted AFTER DELETE ON todos BEGIN
    UPDATE todo_counts SET how_many = how_many - 1 WHERE completed = OLD.completed;
END;
CREATE TRIGGER IF NOT EXISTS todo_done_or_open_again AFTER UPDATE OF completed ON todos
WHEN NEW.completed <> OLD.completed BEGIN
    UPDATE todo_counts SET how_many = how_many - 1 WHERE completed = OLD.completed;
    UPDATE todo_counts SET how_many = how_many + 1 WHERE completed = NEW.completed;
END;
-- The first time, count the todos already there (a file from before the counts existed).
INSERT OR IGNORE INTO todo_counts (completed, how_many)
    SELECT 0, COUNT(*) FROM todos WHERE completed = 0
    UNION ALL
    SELECT 1, COUNT(*) FROM todos WHERE completed = 1;
"""
COLUMNS = 'id, title, completed, "order", version'
# The largest integer SQLite and PostgreSQL's BIGINT store (64 bits). Python refuses to send
# a larger one, and ids and offsets from a URL can be any size: they are checked first.
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
                    # One transaction: no todo is added between the first count and the
                    # triggers that count the ones after it.
                    connection.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
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
            counts = connection.execute(
                f"SELECT how_many FROM todo_counts {where}", parameters
            ).fetchall()
            connection.execute("COMMIT")
        return [to_todo(row) for row in rows], sum(count for (count,) in counts)

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

    def check(self) -> None:
        try:
            with closing(self._connect()) as connection:
                connection.execute("SELECT 1 FROM todos LIMIT 1")
        except sqlite3.Error as error:
            raise StorageUnavailable(f"The SQLite file cannot be read: {error}") from error


POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS todos (
    id        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- never hands out an id twice
    title     TEXT    NOT NULL,
    completed BOOLEAN NOT NULL,
    "order"   INTEGER,                                           -- quoted: ORDER is an SQL keyword
    version   BIGINT  NOT NULL
);
CREATE INDEX IF NOT EXISTS todos_by_completed ON todos (completed, id);

-- How many todos are open and done, for the list's total: see SCHEMA, above. PostgreSQL
-- keeps every version of a row that a transaction changes, so one UPDATE of a count per
-- todo deleted would make deleting 100,000 todos take minutes. Its triggers run once per
-- statement instead, and count the rows the statement added and removed (an UPDATE
-- removes each row's old version and adds its new one).
CREATE TABLE IF NOT EXISTS todo_counts (
    completed BOOLEAN PRIMARY KEY,
    how_many  BIGINT  NOT NULL
);
CREATE OR REPLACE FUNCTION count_todos() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (SELECT FROM added JOIN removed USING (id)
                       WHERE added.completed <> removed.completed) THEN
            RETURN NULL;  -- no todo went from open to done or back: the counts stay
        END IF;
    END IF;
    -- Lock both counts in one order (false, then true): two statements locking them in
    -- opposite orders could each wait for the other forever.
    PERFORM FROM todo_counts ORDER BY completed FOR UPDATE;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE todo_counts SET how_many = how_many + changed.n
        FROM (SELECT completed, COUNT(*) AS n FROM added GROUP BY completed) AS changed
        WHERE todo_counts.completed = changed.completed;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE todo_counts SET how_many = how_many - changed.n
        FROM (SELECT completed, COUNT(*) AS n FROM removed GROUP BY completed) AS changed
        WHERE todo_counts.completed = changed.completed;
    END IF;
    RETURN NULL;  -- what an AFTER trigger returns is not used
END
$$;
-- Created before the first count: they lock out writers until this transaction ends.
CREATE OR REPLACE TRIGGER todos_added AFTER INSERT ON todos
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION count_todos();
CREATE OR REPLACE TRIGGER todos_changed AFTER UPDATE ON todos
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_todos();
CREATE OR REPLACE TRIGGER todos_deleted AFTER DELETE ON todos
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION count_todos();
INSERT INTO todo_counts (completed, how_many)
    SELECT done, (SELECT COUNT(*) FROM todos WHERE completed = done)
    FROM (VALUES (false), (true)) AS flags (done)
    ON CONFLICT (completed) DO NOTHING;
"""
# Any number will do, as long as nothing else in the database locks the same one.
SCHEMA_LOCK_KEY = 5005


class PostgresTodoRepository(TodoRepository):
    """Todos in a PostgreSQL database, shared by every server process that connects to it.

    Every value reaches SQL as a `%s` parameter, as with SQLite. Each process keeps a small
    pool of open connections, because opening one costs more than most requests. The pool
    connects on first use, in the background: the server starts even while the database
    does not answer yet (compose may start them in any order), answers 503 meanwhile,
    and the table is created the first time the database answers.
    """

    POOL_MIN_SIZE, POOL_MAX_SIZE = 1, 4
    WAIT_SECONDS = 3  # how long a request waits for a connection before it is answered 503
    RETRY_SECONDS = 5  # how long the pool keeps retrying one connection before starting anew

    def __init__(self, url: str):
        self.pool = ConnectionPool(
            url,
            min_size=self.POOL_MIN_SIZE,
            max_size=self.POOL_MAX_SIZE,
            open=False,  # no connection while the app is built; _connection opens the pool
            # autocommit: each statement is saved at once, and transactions are opened
            # explicitly where needed, as in SqliteTodoRepository.
            kwargs={"autocommit": True, "connect_timeout": self.WAIT_SECONDS},
            # Before handing out a connection, the pool checks that the database still
            # answers on it: after a database restart, dead connections are replaced.
            check=ConnectionPool.check_connection,
            timeout=self.WAIT_SECONDS,
            reconnect_timeout=self.RETRY_SECONDS,
            name="todos",
        )
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A connection from the pool, with the table in place, back in the pool afterwards."""
        self.pool.open()  # starts connecting in the background the first time; then nothing
        try:
            with self.pool.connection() as connection:
                self._create_schema_once(connection)
                yield connection
        except psycopg.OperationalError as error:  # no connection in time, or it broke
            raise StorageUnavailable(f"PostgreSQL does not answer: {error}") from error

    def _create_schema_once(self, connection: psycopg.Connection) -> None:
        """Creates the table the first time this process reaches the database."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            with connection.transaction():
                # Several server processes may start at once: this lock, held until the
                # transaction ends, lets them create the table one after the other.
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                connection.execute(POSTGRES_SCHEMA)
            self._schema_ready = True

    def add(self, title: str, completed: bool, order: int | None) -> Todo:
        with self._connection() as connection:
            (todo_id,) = connection.execute(
                'INSERT INTO todos (title, completed, "order", version) VALUES (%s, %s, %s, 1) '
                "RETURNING id",
                (title, completed, order),
            ).fetchone()
        return Todo(todo_id, title, completed, order, version=1)

    def get(self, todo_id: int) -> Todo | None:
        with self._connection() as connection:
            row = connection.execute(
                f"SELECT {COLUMNS} FROM todos WHERE id = %s", (todo_id,)
            ).fetchone()
        return to_todo(row) if row else None

    def list(self, completed: bool | None, limit: int, offset: int) -> tuple[list[Todo], int]:
        where, parameters = (
            ("", ()) if completed is None else ("WHERE completed = %s", (completed,))
        )
        offset = min(offset, MAX_INTEGER)  # a larger offset is past the end anyway
        with self._connection() as connection, connection.transaction():
            # The page and the count from the same snapshot of the table.
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            rows = connection.execute(
                f"SELECT {COLUMNS} FROM todos {where} ORDER BY id LIMIT %s OFFSET %s",
                (*parameters, limit, offset),
            ).fetchall()
            counts = connection.execute(
                f"SELECT how_many FROM todo_counts {where}", parameters
            ).fetchall()
        return [to_todo(row) for row in rows], sum(count for (count,) in counts)

    def update(self, todo: Todo, expected_version: int) -> bool:
        with self._connection() as connection:
            cursor = connection.execute(
                'UPDATE todos SET title = %s, completed = %s, "order" = %s, version = %s '
                "WHERE id = %s AND version = %s",
                (todo.title, todo.completed, todo.order, todo.version, todo.id, expected_version),
            )
            return cursor.rowcount == 1

    def delete(self, todo_id: int, expected_version: int) -> bool:
        with self._connection() as connection:
            cursor = connection.execute(
                "DELETE FROM todos WHERE id = %s AND version = %s", (todo_id, expected_version)
            )
            return cursor.rowcount == 1

    def delete_all(self) -> None:
        # DELETE, not TRUNCATE ... RESTART IDENTITY: the ids used so far stay used.
        with self._connection() as connection:
            connection.execute("DELETE FROM todos")

    def check(self) -> None:
        with self._connection() as connection:
            connection.execute("SELECT 1 FROM todos LIMIT 1")

    def close(self) -> None:
        """Closes the pool's connections; a test calls this when it is done."""
        self.pool.close()


def to_todo(row: tuple) -> Todo:
    """A row of the todos table as a Todo (completed comes back from SQLite as 0 or 1)."""
    todo_id, title, completed, order, version = row
    return Todo(todo_id, title, bool(completed), order, version)
