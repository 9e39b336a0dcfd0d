"""Configuration, read from the environment in this one place, with defaults.

| variable | what it sets                    | default                           |
|----------|---------------------------------|-----------------------------------|
| TODO_DB  | the SQLite file todos are kept in | instance/todos.sqlite3 in server/ |
"""

import os
from pathlib import Path


class Config:
    """The app's settings. Flask copies the upper-case attributes into `app.config`."""

    MAX_CONTENT_LENGTH = 64 * 1024  # Flask answers a larger body 413

    def __init__(self, instance_path: str):
        # The instance folder is Flask's place for files that belong to this install
        # and not to the code; git ignores it.
        default_db = Path(instance_path) / "todos.sqlite3"
        self.TODO_DB = os.environ.get("TODO_DB") or str(default_db)
