"""Where the todos are kept: DATABASE_URL from the environment, else a file in
server/instance/. And the tokens: an empty value counts as unset."""

from pathlib import Path

import pytest

from config import Config

SERVER_DIR = Path(__file__).resolve().parent.parent / "server"


def test_without_database_url_the_file_is_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)

    config = Config(str(tmp_path / "instance"))

    scheme, _, path = config.DATABASE_URL.partition(":///")
    assert (scheme, Path(path)) == ("sqlite", tmp_path / "instance" / "todos.sqlite3")


def test_database_url_from_the_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://todo:secret@db:5432/todo")

    config = Config(str(tmp_path / "instance"))

    assert config.DATABASE_URL == "postgresql://todo:secret@db:5432/todo"


def test_the_instance_folder_is_server_instance(app):
    """So `flask run` with no DATABASE_URL keeps todos in server/instance/todos.sqlite3,
    which .gitignore keeps out of git."""
    assert Path(app.instance_path).resolve() == SERVER_DIR / "instance"


def test_create_app_uses_database_url_from_the_environment(monkeypatch, tmp_path):
    from app import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'from-env.sqlite3'}")
    for token in ("API_TOKEN", "API_READ_TOKEN"):
        monkeypatch.delenv(token, raising=False)

    client = create_app({"TESTING": True}).test_client()
    client.post("/todos", json={"title": "walk the dog"})

    assert (tmp_path / "from-env.sqlite3").is_file()


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_or_missing_token_means_the_api_is_open(monkeypatch, tmp_path, value):
    """`API_TOKEN=` in a .env file, as in .env.example, leaves the API open."""
    for token in ("API_TOKEN", "API_READ_TOKEN"):
        if value is None:
            monkeypatch.delenv(token, raising=False)
        else:
            monkeypatch.setenv(token, value)

    config = Config(str(tmp_path / "instance"))

    assert (config.API_TOKEN, config.API_READ_TOKEN) == (None, None)
