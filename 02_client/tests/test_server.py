"""`flask run`, started from server/ exactly as a learner starts it, serves the playground."""

from pathlib import Path

import requests


def test_flaskenv_sets_port_8000(step_dir: Path) -> None:
    lines = (step_dir / "server" / ".flaskenv").read_text().splitlines()
    assert "FLASK_RUN_PORT=8000" in lines


def test_flask_run_serves_the_playground(live_server: str) -> None:
    response = requests.get(live_server + "/", timeout=5)
    assert response.status_code == 200
    assert "/echo" in response.json()["routes"]


def test_flask_run_answers_errors_as_json_not_html(live_server: str) -> None:
    response = requests.get(live_server + "/status/abc", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "Not Found"
