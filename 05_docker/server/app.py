"""The todo API as three layers: transport (HTTP), service (rules), repository (storage).

This file only puts them together. In the container, granian calls `create_app()` in
each of its worker processes (see serve.py and ../Dockerfile). For development,
`flask run` in this folder serves it on http://127.0.0.1:8000. Todos are kept in the
database that DATABASE_URL names: a SQLite file by default (see config.py).
"""

from typing import Any

from flask import Flask

import auth
import logs
import transport
from config import Config
from repository import PostgresTodoRepository, SqliteTodoRepository, TodoRepository
from service import TodoService


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Builds the app. granian and `flask run` call it with no argument; tests pass a config."""
    app = Flask(__name__)
    app.config.from_object(Config(app.instance_path))
    app.config.from_mapping(test_config or {})
    app.json.sort_keys = False  # keep the fields in the contract's order

    repository = repository_for(app.config["DATABASE_URL"])
    app.extensions["todo_service"] = TodoService(repository)
    logs.init_app(app)  # first, so that a request has its id before anything else runs
    auth.init_app(app)
    transport.init_app(app)
    return app


def repository_for(database_url: str) -> TodoRepository:
    """The repository DATABASE_URL names; any other kind of URL stops the server at start-up."""
    if database_url.startswith("sqlite:///") and database_url != "sqlite:///":
        return SqliteTodoRepository(database_url.removeprefix("sqlite:///"))
    if database_url.startswith(("postgresql://", "postgres://")):
        return PostgresTodoRepository(database_url)
    scheme = database_url.partition(":")[0]  # not the whole URL: it may hold a password
    raise ValueError(
        "DATABASE_URL must be sqlite:///<file> or postgresql://..., "
        f"not a URL that starts with {scheme!r}."
    )
