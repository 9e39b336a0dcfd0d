"""The benchmark's peer: step 05's two reads, written with FastAPI and served by uvicorn.

`python -m workshop bench` runs it beside the Flask servers, on a SQLite file that step 05
itself created and filled, to answer "why not FastAPI?" with numbers from this machine.
It is not a step of the workshop: it does only what the benchmark asks of it, the way a
FastAPI user would write it (sync endpoints, run in FastAPI's threadpool, a Pydantic model
for the answer), with what makes the work equal: the same SQL as step 05's
SqliteTodoRepository, a new connection per request as it opens, and the same JSON and the
headers that matter (ETag; X-Total-Count and Link for a page). Run it by hand from the
repository's folder with:

    DATABASE_URL=sqlite:///path/to/todos.sqlite3 uvicorn workshop.bench_peer:app --no-access-log
"""

import os
import sqlite3
from contextlib import closing
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel

COLUMNS = 'id, title, completed, "order", version'  # as in step 05's repository.py

app = FastAPI(title="Todo reads (the benchmark's FastAPI peer)")


class Todo(BaseModel):
    id: int
    title: str
    completed: bool
    order: int | None
    version: int
    url: str


def connect() -> sqlite3.Connection:
    """A connection of its own for one request, as step 05 opens one per operation."""
    path = os.environ["DATABASE_URL"].removeprefix("sqlite:///")
    return sqlite3.connect(path, timeout=10, isolation_level=None)


def to_todo(row: tuple, request: Request) -> Todo:
    """A row as clients see it, with its absolute URL, as step 05 builds it."""
    todo_id, title, completed, order, version = row
    url = str(request.url_for("get_todo", todo_id=todo_id))
    return Todo(id=todo_id, title=title, completed=completed, order=order, version=version, url=url)


@app.get("/todos/{todo_id}")
def get_todo(todo_id: int, request: Request, response: Response) -> Todo:
    """One todo, with its version as a strong ETag."""
    with closing(connect()) as connection:
        row = connection.execute(f"SELECT {COLUMNS} FROM todos WHERE id = ?", (todo_id,)).fetchone()
    if row is None:
        raise HTTPException(404, f"No todo with id {todo_id}.")
    response.headers["ETag"] = f'"{row[-1]}"'
    return to_todo(row, request)


@app.get("/todos")
def list_todos(
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Todo]:
    """A page of todos by id; the total from the counts table, as step 05 reads it."""
    with closing(connect()) as connection:
        connection.execute("BEGIN")  # the page and the count from the same snapshot
        rows = connection.execute(
            f"SELECT {COLUMNS} FROM todos ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
        ).fetchall()
        (total,) = connection.execute("SELECT SUM(how_many) FROM todo_counts").fetchone()
        connection.execute("COMMIT")
    response.headers["X-Total-Count"] = str(total)
    pages = {"next": offset + limit} if offset + limit < total else {}
    if offset > 0:
        pages["prev"] = max(0, offset - limit)
    links = [
        f"<{request.url_for('list_todos').include_query_params(limit=limit, offset=start)}>; "
        f'rel="{rel}"'
        for rel, start in pages.items()
    ]
    if links:
        response.headers["Link"] = ", ".join(links)
    return [to_todo(row, request) for row in rows]
