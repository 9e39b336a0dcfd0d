"""`flask run`, started from server/ exactly as a learner starts it, serves this step's app."""

import subprocess
import sys
from pathlib import Path

import requests

# Runs the real `flask run` command, but with Werkzeug's run_simple (the function that would
# open the port and serve) replaced by a stand-in that only reports where it would listen.
# So the test sees the default host and port without taking port 8000 from anyone.
FLASK_RUN_REPORTING_ITS_ADDRESS = """
import sys
import werkzeug
import werkzeug.serving

def report_instead_of_serving(hostname, port, application, **options):
    print(f"would serve {application.name} on {hostname}:{port}")

werkzeug.run_simple = werkzeug.serving.run_simple = report_instead_of_serving

from flask.cli import main

sys.argv = ["flask", "run"]
main()
"""


def test_flaskenv_sets_port_8000(step_dir: Path) -> None:
    lines = (step_dir / "server" / ".flaskenv").read_text().splitlines()
    assert "FLASK_RUN_PORT=8000" in lines


def test_flask_run_without_options_uses_127_0_0_1_port_8000(
    step_dir: Path, clean_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FLASK_RUN_REPORTING_ITS_ADDRESS],
        cwd=step_dir / "server",
        env=clean_env,  # no FLASK_RUN_PORT here: the port can only come from .flaskenv
        capture_output=True,
        encoding="utf-8",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "would serve app on 127.0.0.1:8000" in result.stdout


def test_flask_run_serves_the_app(live_server: str) -> None:
    response = requests.get(live_server + "/", timeout=5)
    assert response.status_code == 200
    assert response.text == "Hello, World!"


def test_flask_run_answers_errors_as_json_not_html(live_server: str) -> None:
    response = requests.post(live_server + "/test_post", data="garbage", timeout=5)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert "Traceback" not in response.text
    assert response.json()["error"] == "Bad Request"
