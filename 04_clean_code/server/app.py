"""The todo API as three layers: transport (HTTP), service (rules), repository (storage).

This file only puts them together. Start it from this folder with `flask run`; it
serves on http://127.0.0.1:8000 and keeps todos in a SQLite file (see config.py).
"""

from typing import Any

from flask import Flask

import transport
from config import Config
from repository import SqliteTodoRepository
from service import TodoService


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Builds the app. `flask run` calls this with no argument; tests pass their config."""
    app = Flask(__name__)
    app.config.from_object(Config(app.instance_path))
    app.config.from_mapping(test_config or {})
    app.json.sort_keys = False  # keep the fields in the contract's order

    repository = SqliteTodoRepository(app.config["TODO_DB"])
    app.extensions["todo_service"] = TodoService(repository)
    transport.init_app(app)
    return app
