"""Configuration, read from the environment in this one place, with defaults.

| variable       | what it sets                                 | default                       |
|----------------|----------------------------------------------|-------------------------------|
| DATABASE_URL   | where todos are kept: `sqlite:///<file>`, or | the SQLite file               |
|                | `postgresql://user:password@host:port/name`  | server/instance/todos.sqlite3 |
| API_TOKEN      | the token that may read and write            | unset: the API is open        |
| API_READ_TOKEN | a second token, that may only read           | unset                         |

A SQLite path after `sqlite:///` is relative to the folder the server starts in;
four slashes make it absolute: `sqlite:////data/todos.sqlite3`. The server's own settings
(HOST, PORT, WEB_CONCURRENCY) are read in serve.py.
"""

import os
from pathlib import Path


class Config:
    """The app's settings. Flask copies the upper-case attributes into `app.config`."""

    # Flask answers a larger body 413. One byte more than the 64 KiB the API takes, so that
    # a body sent in chunks shows it is too large: see read_json_object in transport.py.
    MAX_CONTENT_LENGTH = 64 * 1024 + 1
    # Under granian, as in the image, FLASK_DEBUG cannot turn debug on: in debug mode Flask
    # lets errors escape, and the Werkzeug debugger runs any code a visitor sends it.
    # (`flask run --debug` on your own machine still can: that is a development server.)
    DEBUG = False

    def __init__(self, instance_path: str):
        # The instance folder is Flask's place for files that belong to this install
        # and not to the code; git ignores it.
        default_db = Path(instance_path) / "todos.sqlite3"
        self.DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{default_db}"
        # An empty value counts as unset, so that `API_TOKEN=` in a .env file means "open".
        self.API_TOKEN = os.environ.get("API_TOKEN") or None
        self.API_READ_TOKEN = os.environ.get("API_READ_TOKEN") or None
