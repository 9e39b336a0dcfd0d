"""python -m workshop, run as a learner or an instructor runs it, against the real steps."""

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
STEP_FOLDERS = sorted(path.name for path in ROOT.glob("0[1-5]_*") if (path / "tests").is_dir())
STEPS = [folder[:2] for folder in STEP_FOLDERS]


def workshop(
    *arguments: str, timeout: float = 600, columns: int = 200
) -> subprocess.CompletedProcess:
    """Runs `python -m workshop ...` from the repository's folder and returns what it did."""
    return subprocess.run(
        [sys.executable, "-m", "workshop", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": str(columns)},
    )


def workshop_with(
    python: str | Path, *arguments: str, options: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess:
    """Runs `python -m workshop ...` with another Python, as a learner does before installing.

    Without the workshop installed, `-m workshop` finds it because the current folder is
    the repository's. PYTHONPATH and the like are left out: they could lead to this
    virtual environment's packages.
    """
    outer = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    return subprocess.run(
        [str(python), *options, "-m", "workshop", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**outer, **env},
    )


def lines_of(result: subprocess.CompletedProcess) -> list[str]:
    """Every line printed, stripped: a command to copy must be a whole line of its own."""
    return [line.strip() for line in (result.stdout + result.stderr).splitlines()]


@pytest.fixture(scope="module")
def workshop_run(
    free_port: Callable[[], int], serving: Callable[..., AbstractContextManager[str]]
) -> Callable[..., AbstractContextManager[str]]:
    """Starts a step's server with `python -m workshop run NN --port N`, until the block ends.

    `with workshop_run(step, folder, env) as url:` runs it in `folder`; its output goes to
    folder/server.log.
    """

    @contextmanager
    def run(step: str, folder: Path, env: dict[str, str] | None = None) -> Iterator[str]:
        port = free_port()
        command = [sys.executable, "-m", "workshop", "run", step, "--port", str(port)]
        # cwd: from anywhere, the command finds the step itself.
        name = f"python -m workshop run {step}"
        with serving(command, port, folder / "server.log", name, cwd=folder, env=env) as url:
            yield url

    return run


@pytest.fixture
def server_from_workshop_run(workshop_run, tmp_path) -> Iterator[str]:
    """Step 03's server, started with `python -m workshop run 03 --port N`."""
    with workshop_run("03", tmp_path) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def step_05_server_with_a_token(workshop_run, tmp_path_factory) -> Iterator[str]:
    """Step 05's server, started with `python -m workshop run 05` and API_TOKEN=TOKEN."""
    folder = tmp_path_factory.mktemp("step-05")
    env = {name: value for name, value in os.environ.items() if not name.startswith("API_")}
    env["DATABASE_URL"] = f"sqlite:///{(folder / 'todos.sqlite3').as_posix()}"
    env["API_TOKEN"] = TOKEN
    with workshop_run("05", folder, env) as base_url:
        yield base_url


TOKEN = "s3cret-t0ken"


@pytest.fixture
def server_that_answers_post_with_200(free_port, serving, tmp_path) -> Iterator[str]:
    """Step 03's app behind a wrapper that turns 201 Created into 200 OK: a learner's bug."""
    port = free_port()
    script = f"""
import sys
from werkzeug.serving import make_server
sys.path.insert(0, {str(ROOT / "03_todo_rest" / "server")!r})
from app import create_app
todo_app = create_app()
def created_becomes_ok(environ, start_response):
    def start(status, headers, exc_info=None):
        status = "200 OK" if status.startswith("201") else status
        return start_response(status, headers, exc_info)
    return todo_app(environ, start)
make_server("127.0.0.1", {port}, created_becomes_ok, threaded=True).serve_forever()
"""
    command = [sys.executable, "-c", script]
    name = "step 03's app answering 200 to POST"
    with serving(command, port, tmp_path / "server.log", name) as base_url:
        yield base_url


def test_help_lists_every_subcommand():
    result = workshop("--help")

    assert result.returncode == 0
    for command in ("doctor", "steps", "run", "client", "verify", "web", "diff", "bench"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "command", ["doctor", "steps", "run", "client", "verify", "web", "diff", "bench"]
)
def test_every_subcommand_has_help(command):
    result = workshop(command, "--help")

    assert result.returncode == 0
    assert f"python -m workshop {command}" in result.stdout


def test_steps_names_every_step_folder_and_how_to_run_it():
    result = workshop("steps")

    assert result.returncode == 0
    for folder in STEP_FOLDERS:
        assert folder in result.stdout
    for number in STEPS:
        assert f"python -m workshop run {number}" in result.stdout


def test_an_unknown_step_is_one_sentence():
    result = workshop("run", "9")

    assert result.returncode == 2
    assert result.stderr.startswith("There is no step '9'; the steps are 01, 02, 03")


def test_run_starts_the_step_server_from_any_folder(server_from_workshop_run):
    created = requests.post(
        f"{server_from_workshop_run}/todos", json={"title": "from workshop run"}, timeout=5
    )

    assert created.status_code == 201
    assert created.json()["title"] == "from workshop run"


def test_client_runs_the_step_client_with_its_arguments(server_from_workshop_run):
    added = workshop("client", "03", "--base-url", server_from_workshop_run, "add", "buy milk")
    listed = workshop("client", "03", "--base-url", server_from_workshop_run, "list")

    assert added.returncode == 0, added.stderr
    assert listed.returncode == 0, listed.stderr
    assert "buy milk" in listed.stdout


def tally(result: subprocess.CompletedProcess) -> dict[str, int]:
    """verify's last line ("N passed, N failed[, N skipped]") as {"passed": N, ...}."""
    last_line = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, \d+ failed(, \d+ skipped)?", last_line), last_line
    counts = {"skipped": 0}
    counts.update({word: int(number) for number, word in re.findall(r"(\d+) (\w+)", last_line)})
    return counts


def collected(*arguments: str) -> int:
    """How many tests `pytest --collect-only` finds with these arguments, from the repository."""
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*collect, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # "54 tests collected", or with -k "387/1596 tests collected (1209 deselected)"
    return int(re.search(r"^(\d+)(/\d+)? tests? collected", result.stdout, re.MULTILINE)[1])


CONTRACT = sorted(
    path.relative_to(ROOT).as_posix() for path in ROOT.glob("tests/test_todo_contract_*")
)


@pytest.fixture(scope="module")
def core_tests() -> int:
    """How many tests the core contract has: the ones the suite runs on step 03's server."""
    return collected(*CONTRACT, "-k", "03_todo_rest")


@dataclass
class Verdict:
    """What `verify --base-url` printed, and the todos its server held afterwards."""

    result: subprocess.CompletedProcess
    todos_after: list


@pytest.fixture(scope="module")
def verdict_on_05_with_a_token(step_05_server_with_a_token) -> Verdict:
    """`verify 05 --base-url ADDRESS --production` with TODO_API_TOKEN set, against step 05's
    server with that API_TOKEN: run once, for the tests below.

    The address has no http://, as a learner may type it.
    """
    base_url = step_05_server_with_a_token
    result = workshop_with(
        sys.executable,
        *("verify", "05", "--base-url", base_url.removeprefix("http://"), "--production"),
        TODO_API_TOKEN=TOKEN,
    )
    with_token = {"Authorization": f"Bearer {TOKEN}"}
    return Verdict(result, requests.get(f"{base_url}/todos", headers=with_token, timeout=5).json())


def test_verify_runs_the_tests_of_a_step_without_a_todo_api():
    result = workshop("verify", "01")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sum(tally(result).values()) == collected("01_hello_world/tests")


def test_verify_of_a_todo_step_selects_its_tests_and_the_contract_on_its_server(core_tests):
    """What `verify 03` hands pytest: the step's own tests, and every core contract test once,
    on 03's server alone. verify runs it as it runs 01's tests above, and the contract on
    each step's server is what this suite runs itself: collecting is proof enough."""
    from workshop.steps import find_step
    from workshop.verify import pytest_arguments, what_is_checked

    step = find_step("03")
    assert "against the reference server of 03_todo_rest" in what_is_checked(step, None, False)
    arguments = [a for a in pytest_arguments(step, None) if a not in ("-q", "--tb=no", "-rN")]
    assert collected(*arguments) == collected("03_todo_rest/tests") + core_tests


def test_verify_with_an_address_a_token_and_production_runs_everything(
    verdict_on_05_with_a_token, core_tests
):
    result = verdict_on_05_with_a_token.result

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "the core contract and the production additions" in result.stdout
    assert tally(result)["passed"] > core_tests  # the production tests ran too
    assert TOKEN not in result.stdout + result.stderr


def test_verify_with_an_address_deletes_the_todos_it_made(verdict_on_05_with_a_token):
    assert verdict_on_05_with_a_token.todos_after == []


@pytest.mark.parametrize(
    ("token", "sentence"),
    [(None, "asks for a token (401"), ("wrong", "refused the token (401")],
)
def test_verify_without_the_right_token_says_so_in_one_sentence(
    step_05_server_with_a_token, token, sentence
):
    options = ("--token", token) if token else ()
    result = workshop("verify", "05", "--base-url", step_05_server_with_a_token, *options)

    assert result.returncode == 2
    assert sentence in result.stderr
    assert len(result.stdout.splitlines()) <= 2  # the "Checking ..." line, and no tests


def test_verify_leaves_a_server_with_todos_alone(server_from_workshop_run):
    todos = f"{server_from_workshop_run}/todos"
    learners = requests.post(todos, json={"title": "my own todo"}, timeout=5).json()

    result = workshop("verify", "03", "--base-url", server_from_workshop_run)

    assert result.returncode == 2
    assert "holds 1 todo, and the checks delete every todo" in result.stderr
    assert "--allow-delete" in result.stderr
    assert requests.get(todos, timeout=5).json() == [learners]


def test_verify_against_a_server_that_is_no_todo_api_says_so_in_one_sentence(
    workshop_run, tmp_path
):
    with workshop_run("01", tmp_path) as hello_world:
        result = workshop("verify", "03", "--base-url", hello_world)

    assert result.returncode == 2
    assert "is not a todo API: GET /todos answered 404" in result.stderr
    assert len(result.stdout.splitlines()) <= 2


@pytest.mark.parametrize(
    ("address", "sentence"),
    [
        ("ftp://127.0.0.1:8000", "is not a server's address"),
        ("127.0.0.1:99999", "its port is not a number"),
    ],
)
def test_verify_explains_an_address_it_cannot_use(address, sentence):
    result = workshop("verify", "03", "--base-url", address)

    assert result.returncode == 2
    assert sentence in result.stderr


def test_verify_production_without_a_url_says_it_goes_with_one():
    result = workshop("verify", "03", "--production")

    assert result.returncode == 2
    assert "--production goes with --base-url" in result.stderr


def test_verify_against_a_wrong_server_names_expected_and_actual_status(
    server_that_answers_post_with_200, core_tests
):
    result = workshop("verify", "03", "--base-url", server_that_answers_post_with_200)

    assert result.returncode == 1
    # Without --production, the core contract alone: every core test, and no other.
    assert "the core contract (add --production" in result.stdout
    assert sum(tally(result).values()) == core_tests
    assert "Expected status 201, got 200" in result.stdout
    assert f"POST {server_that_answers_post_with_200}/todos" in result.stdout
    assert "more tests failed the same way" in result.stdout
    last_line = result.stdout.strip().splitlines()[-1]
    assert " failed" in last_line
    assert " 0 failed" not in last_line


def test_verify_with_a_url_for_a_step_without_a_todo_api_says_so():
    result = workshop("verify", "01", "--base-url", "http://127.0.0.1:8000")

    assert result.returncode == 2
    assert "step 01 has none" in result.stderr


def test_doctor_reports_a_taken_port():
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8000))
        holder.listen()
    except OSError:
        pass  # something else holds 8000 already: the doctor must say so all the same
    try:
        result = workshop("doctor", columns=30)  # a narrow terminal must not break commands
    finally:
        holder.close()

    assert result.returncode == 1
    assert "port 8000 is taken" in result.stdout
    assert "--port 8001" in result.stdout
    find = "netstat -ano | findstr :8000" if sys.platform == "win32" else "lsof -nP -iTCP:8000"
    assert any(line.startswith(find) for line in lines_of(result))


def test_doctor_checks_python_virtualenv_and_packages():
    result = workshop("doctor")

    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in result.stdout
    assert "pinned packages installed" in result.stdout
    if sys.prefix != sys.base_prefix:
        assert "virtual environment active" in result.stdout


def doctor_with(**env: str) -> subprocess.CompletedProcess:
    """`python -m workshop doctor` in a terminal 40 columns wide, with these variables set."""
    return workshop_with(sys.executable, "doctor", COLUMNS="40", **env)


def docker_lines(result: subprocess.CompletedProcess) -> str:
    return "\n".join(line for line in lines_of(result) if "Docker" in line or "docker" in line)


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker command")
def test_doctor_with_a_docker_client_but_no_engine_says_what_to_start():
    # A real client, asking an engine where none can answer.
    result = doctor_with(DOCKER_HOST="unix:///nonexistent/docker.sock")

    assert "the Docker engine does not answer" in result.stdout
    assert "start" in docker_lines(result)
    assert "ready for the workshop" not in result.stdout


def test_doctor_without_docker_says_where_to_get_it(tmp_path):
    # A PATH that holds only this Python: no docker command on it.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / Path(sys.executable).name).symlink_to(sys.executable)
    result = doctor_with(PATH=str(tmp_path / "bin"))

    assert "Docker not found" in result.stdout
    assert "https://docs.docker.com/get-docker/" in result.stdout
    assert "ready for the workshop" not in result.stdout


def test_doctor_finds_the_kernel_once_it_is_registered(tmp_path):
    # Jupyter keeps the kernels a user registers in JUPYTER_DATA_DIR: an empty one here.
    jupyter = {"JUPYTER_DATA_DIR": str(tmp_path), "JUPYTER_PATH": str(tmp_path)}
    before = doctor_with(**jupyter)

    assert "no Jupyter kernel is registered" in before.stdout
    register = next(line for line in lines_of(before) if "ipykernel install" in line)
    assert register.endswith('--display-name "RESTful workshop (.venv)"')  # whole, 40 columns

    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--user", "--name", "restful-workshop"],
        env={**os.environ, **jupyter},
        capture_output=True,
        check=True,
    )
    after = doctor_with(**jupyter)

    assert "Jupyter kernel 'restful-workshop' runs this virtual environment" in after.stdout


@pytest.fixture(scope="module")
def empty_venv_python(tmp_path_factory) -> Path:
    """The Python of a new virtual environment with nothing installed, not even pip."""
    venv = tmp_path_factory.mktemp("empty") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    if sys.platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def test_doctor_runs_in_a_virtual_environment_with_nothing_installed(empty_venv_python):
    result = workshop_with(empty_venv_python, "doctor")

    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "you have not installed the requirements" in result.stdout
    assert "python -m pip install -r requirements.txt" in lines_of(result)


def test_doctor_runs_on_the_system_python_outside_any_virtual_environment():
    # The Python this virtual environment was made from (sys.executable itself when the
    # tests run outside one). -s leaves out the user's site-packages, so that it sees only
    # its own. Not -I: it also drops the current folder from sys.path, and then
    # `-m workshop` would not find the workshop, which is not installed in that Python.
    # (Not sys._base_executable: before Python 3.11, in a venv that is the venv's Python.)
    if sys.platform == "win32":
        system_python = str(Path(sys.base_prefix) / "python.exe")
    else:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        system_python = str(Path(sys.base_prefix) / "bin" / f"python{version}")
    # The shell decides the activate command: Command Prompt sets PROMPT, bash sets SHELL.
    shell = {"PROMPT": "$P$G"} if sys.platform == "win32" else {"SHELL": "/bin/bash"}

    result = workshop_with(system_python, "doctor", options=("-s",), **shell)

    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "no virtual environment is active" in result.stdout
    activate = (
        r".venv\Scripts\activate.bat" if sys.platform == "win32" else "source .venv/bin/activate"
    )
    assert activate in lines_of(result)


@pytest.mark.parametrize(
    "command",
    ["steps", "run 03", "client 03 list", "verify 03", "diff 03 04", "bench --quick"],
)
def test_a_command_without_the_requirements_says_what_to_install(empty_venv_python, command):
    result = workshop_with(empty_venv_python, *command.split())

    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("This needs the workshop's requirements, and ")
    assert "python -m pip install -r requirements.txt" in lines_of(result)


def test_step_05_readme_shows_the_server_diff_as_git_counts_it():
    """Section 15's `git diff --stat` of server/, against git run on the files now."""
    readme = (ROOT / "05_docker" / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"`git diff --no-index --stat [^`]*`:\n\n```\n(.*?)```", readme, re.S)
    *rows, total = block.splitlines()
    shown = {}
    for row in rows:
        path, changed = re.fullmatch(r" (.*?) *\| *(\d+) [+-]*", row).groups()
        shown[re.sub(r".*(?:=> |})(?:05_docker)?/?", "", path)] = int(changed)
    tracked = subprocess.run(
        ["git", "ls-files", "05_docker/server", "04_clean_code/server"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    names = sorted({name.split("/", 1)[1] for name in tracked})
    counted, insertions, deletions = {}, 0, 0
    for name in names:
        old, new = ROOT / "04_clean_code" / name, ROOT / "05_docker" / name
        numstat = subprocess.run(
            [
                "git",
                "diff",
                "--no-index",
                "--numstat",
                "--",
                str(old) if old.exists() else os.devnull,
                str(new) if new.exists() else os.devnull,
            ],
            capture_output=True,
            text=True,
        ).stdout.split()
        if numstat:
            counted[name] = int(numstat[0]) + int(numstat[1])
            insertions, deletions = insertions + int(numstat[0]), deletions + int(numstat[1])
    refresh = "refresh it from a fresh clone with the command the README names above it"
    assert shown == counted, refresh
    assert total == (
        f" {len(counted)} files changed, {insertions} insertions(+), {deletions} deletions(-)"
    )


def test_diff_03_04_shows_the_layering():
    result = workshop("diff", "03", "04")

    assert result.returncode == 0
    for added in ("server/service.py", "server/repository.py", "server/transport.py"):
        line = next(line for line in result.stdout.splitlines() if added in line)
        assert "added" in line
    assert "+class TodoService:" in result.stdout
    assert "--- 03_todo_rest/client/client.py" not in result.stdout, "the client did not change"


def test_diff_stat_is_only_the_summary():
    result = workshop("diff", "03", "04", "--stat")

    assert result.returncode == 0
    assert "server/service.py" in result.stdout
    assert "+class TodoService:" not in result.stdout


@pytest.mark.parametrize("options", [(), ("--stat",)], ids=["diff", "stat"])
def test_diff_never_shows_a_env_file(tmp_path, options):
    # On a copy of the workshop, so that a learner's own 05_docker/.env is never touched.
    for folder in ("workshop", "04_clean_code", "05_docker"):
        ignore = shutil.ignore_patterns("__pycache__", "instance", ".env")
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=ignore)
    (tmp_path / "05_docker" / ".env").write_text("POSTGRES_PASSWORD=pa55-w0rd-xyz\n")

    result = subprocess.run(
        [sys.executable, "-m", "workshop", "diff", "04", "05", *options],
        cwd=tmp_path,  # where `-m workshop` finds the copy first
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )

    assert result.returncode == 0, result.stderr
    assert "server/auth.py" in result.stdout  # the diff itself is there
    assert "pa55-w0rd-xyz" not in result.stdout
    # Neither a row of the summary table nor a file's diff header names it (other files'
    # text may well mention .env).
    assert not re.search(r"│ \.env +│", result.stdout)
    assert not re.search(r"^(---|\+\+\+) \S*/\.env$", result.stdout, re.MULTILINE)


@pytest.mark.parametrize(
    "how",
    ["Ctrl+C in its terminal", "SIGTERM to workshop run alone"],
)
def test_run_stops_its_server_and_waits_for_it(tmp_path, free_port, wait_until_serving, how):
    """Ctrl+C reaches every process of the terminal's job; `kill`, a process manager or a
    test sends SIGTERM to `workshop run` alone. Either way the server stops with it."""
    if sys.platform == "win32":
        pytest.skip("Windows has no SIGTERM, and sends Ctrl+C differently")
    import signal

    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workshop", "run", "03", "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
    wait_until_serving(process, port, log_path, "python -m workshop run 03")
    if how == "Ctrl+C in its terminal":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.terminate()
    process.wait(timeout=20)

    assert "Traceback" not in log_path.read_text(encoding="utf-8", errors="replace")
    with pytest.raises(ConnectionRefusedError):  # the server is gone with it
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
