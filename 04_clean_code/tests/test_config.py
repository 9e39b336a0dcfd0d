"""Where the todos are kept: TODO_DB from the environment, else a file in server/instance/."""

from pathlib import Path

from config import Config

SERVER_DIR = Path(__file__).resolve().parent.parent / "server"


def test_without_todo_db_the_file_is_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("TODO_DB", raising=False)

    config = Config(str(tmp_path / "instance"))

    assert Path(config.TODO_DB) == tmp_path / "instance" / "todos.sqlite3"


def test_todo_db_from_the_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("TODO_DB", str(tmp_path / "mine.sqlite3"))

    config = Config(str(tmp_path / "instance"))

    assert Path(config.TODO_DB) == tmp_path / "mine.sqlite3"


def test_the_instance_folder_is_server_instance(app):
    """So `flask run` with no TODO_DB keeps todos in server/instance/todos.sqlite3,
    which .gitignore keeps out of git."""
    assert Path(app.instance_path).resolve() == SERVER_DIR / "instance"


def test_create_app_uses_todo_db_from_the_environment(monkeypatch, tmp_path):
    from app import create_app

    monkeypatch.setenv("TODO_DB", str(tmp_path / "from-env.sqlite3"))

    client = create_app({"TESTING": True}).test_client()
    client.post("/todos", json={"title": "walk the dog"})

    assert (tmp_path / "from-env.sqlite3").is_file()
