"""The notebooks run top to bottom in a fresh kernel, and what GitHub shows is that run's output.

Each notebook in notebooks/ is executed here as a learner's "Run All" runs it: a new kernel
(`python3`, which is the Python running these tests), started in notebooks/. A notebook
fails on an error, on a cell that runs too long, and on any code cell whose committed output
is not what the cell prints now. After changing a notebook, or code that a notebook shows,
refresh its outputs from the repository's folder and commit them:

    jupyter nbconvert --to notebook --execute --inplace
        --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.record_timing=False
        notebooks/<the notebook>.ipynb
"""

import difflib
import importlib.util
import os
import re
import socket
import subprocess
import sys
import sysconfig
import time
import venv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
import requests
from flask import Flask
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_SECONDS = 60  # no cell of these notebooks should take more than a few seconds
NOTEBOOK_SECONDS = 120
REFRESH = (
    "jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.kernel_name=python3"
    " --ExecutePreprocessor.record_timing=False notebooks/{name}"
)
ANSI_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


# --- Running a notebook -----------------------------------------------------------------------


def cell_name(cell: NotebookNode, index: int) -> str:
    """How a failure names a cell: its position and its first line."""
    first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else "(empty)"
    return f"cell {index + 1} ({first_line!r})"


def execute(path: Path) -> NotebookNode:
    """A fresh copy of the notebook, executed in a new kernel; fails on an error or a hang."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # the kernel starts here
        record_timing=False,
    )
    deadline = time.monotonic() + NOTEBOOK_SECONDS
    client.reset_execution_trackers()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(
                    f"{path.name} took more than {NOTEBOOK_SECONDS} s; it was stopped before "
                    f"{cell_name(cell, index)}.",
                    pytrace=False,
                )
            client.timeout = int(min(CELL_SECONDS, left)) + 1
            failure = None
            try:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            except CellTimeoutError:
                failure = (
                    f"ran longer than {client.timeout} s. "
                    "Does it wait for a server that never answers?"
                )
            except CellExecutionError as error:
                failure = "raised an error:\n" + ANSI_COLOURS.sub("", str(error))
            if failure:  # reported here, outside the except, without the chained tracebacks
                pytest.fail(f"{path.name}, {cell_name(cell, index)} {failure}", pytrace=False)
    return notebook


def printed_text(cell: NotebookNode) -> str:
    """What a code cell shows, as text: its streams (consecutive pieces joined) and results."""
    parts: list[list[str]] = []
    for output in cell.outputs:
        if output.output_type == "stream":
            label = f"[{output.name}]"
            text = output.text
        elif output.output_type in ("execute_result", "display_data"):
            label = f"[{output.output_type}]"
            text = output.data.get("text/plain", "(no text form)") + "\n"
        else:
            label = "[error]"
            text = f"{output.ename}: {output.evalue}\n"
        if parts and parts[-1][0] == label and output.output_type == "stream":
            parts[-1][1] += text  # a kernel may send one print in several pieces
        else:
            parts.append([label, text])
    return "".join(f"{label}\n{text}" for label, text in parts)


# --- What every notebook must do ----------------------------------------------------------


def test_notebooks_readme_links_every_notebook() -> None:
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    linked = sorted(set(re.findall(r"\]\(([\w.-]+\.ipynb)\)", readme)))
    assert linked, "notebooks/README.md links no notebook"
    assert linked == [path.name for path in NOTEBOOKS], (
        "notebooks/README.md should link exactly the notebooks in notebooks/"
    )


def test_first_code_cell_checks_the_kernel() -> None:
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert "check_kernel(" in first.source, f"{path.name} does not start by checking its kernel"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs_and_its_committed_outputs_are_a_real_run(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    executed = execute(path)
    refresh = REFRESH.format(name=path.name)
    code_cells = [
        (index, cell) for index, cell in enumerate(committed.cells) if cell.cell_type == "code"
    ]
    counts = [cell.execution_count for _, cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), (
        f"{path.name} was not committed as one run from top to bottom "
        f"(execution counts {counts}). Refresh it: {refresh}"
    )
    for index, committed_cell in code_cells:
        expected = printed_text(committed_cell)
        got = printed_text(executed.cells[index])
        if got != expected:
            diff = "\n".join(
                difflib.unified_diff(
                    expected.splitlines(), got.splitlines(), "committed", "fresh run", lineterm=""
                )
            )
            pytest.fail(
                f"{path.name}, {cell_name(committed_cell, index)}: the committed output is "
                f"not what the cell prints now. Refresh it: {refresh}\n{diff}",
                pytrace=False,
            )


# --- The helpers next to the notebooks ---------------------------------------------------------


def load_notebook_module(name: str) -> ModuleType:
    """A module from notebooks/, loaded from its file without touching sys.path."""
    spec = importlib.util.spec_from_file_location(f"notebooks_{name}", NOTEBOOK_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def live_server() -> Iterator[ModuleType]:
    """notebooks/live_server.py; every server it started is stopped afterwards."""
    module = load_notebook_module("live_server")
    yield module
    for server in module.running_servers.values():
        server.stop()


def hello_app() -> Flask:
    """A one-route app to serve."""
    app = Flask("hello")
    app.add_url_rule("/", view_func=lambda: "hello")
    return app


def refuses_connections(port: int) -> bool:
    """True when nothing listens on the port any more."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_running_a_serve_cell_again_replaces_its_server(live_server: ModuleType) -> None:
    first = live_server.serve(hello_app(), name="hello")
    assert requests.get(first.base_url, timeout=5).text == "hello"
    second = live_server.serve(hello_app(), name="hello")  # the same cell, run again
    assert requests.get(second.base_url, timeout=5).text == "hello"
    assert refuses_connections(first.port), "the first server is still running"
    assert list(live_server.running_servers) == ["hello"]


def test_stop_all_stops_every_server_and_may_run_twice(
    live_server: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = [live_server.serve(hello_app(), name=name) for name in ("one", "two")]
    live_server.stop_all()
    live_server.stop_all()
    assert all(refuses_connections(server.port) for server in servers)
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "Stopped: 'one', 'two'",
        "Stopped: nothing was running",
    ]


def test_kernel_check_prints_the_committed_output_in_a_virtual_environment_anywhere(
    tmp_path: Path,
) -> None:
    # A virtual environment outside the repository, with the packages of the one running this.
    environment = tmp_path / "elsewhere" / "venv"
    venv.create(environment, with_pip=False)
    python = environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    its_site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    # A .pth line that starts with "import" runs at start-up: addsitedir also reads the .pth
    # files found there, so editable installs and chained environments import as well.
    our_site_packages = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
    (Path(its_site_packages) / "workshop.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in our_site_packages)
    )
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        result = subprocess.run(
            [str(python), "-X", "utf8", "-c", first.source],  # -X utf8: prints ✓ on Windows too
            cwd=NOTEBOOK_DIR,
            capture_output=True,
            encoding="utf-8",
            timeout=60,
        )
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
        assert f"[stdout]\n{result.stdout}" == printed_text(first), path.name


def test_kernel_check_names_a_step_folder_that_is_not_there() -> None:
    kernel_check = load_notebook_module("kernel_check")
    with pytest.raises(RuntimeError, match="The step folders 09_no_such_step are not in"):
        kernel_check.check_kernel(steps=["03_todo_rest", "09_no_such_step"])


def test_kernel_check_stops_with_the_fix_in_a_python_without_the_packages() -> None:
    # The Python this virtual environment was made from is, itself, no virtual environment.
    base_python = next(
        (
            path
            for path in (
                Path(sys.base_prefix) / "bin" / "python3",
                Path(sys.base_prefix) / "python.exe",
            )
            if path.exists()
        ),
        None,
    )
    assert base_python is not None, f"no Python found in {sys.base_prefix}"
    result = subprocess.run(
        [
            str(base_python),
            "-S",  # without its site-packages: none of the workshop's packages, whatever is there
            "-c",
            "import kernel_check; kernel_check.check_kernel(steps=['03_todo_rest'])",
        ],
        cwd=NOTEBOOK_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cannot import flask, werkzeug, requests." in result.stderr
    assert "This kernel is not a virtual environment's Python." in result.stderr
    assert (
        "python -m ipykernel install --user --name restful-workshop "
        '--display-name "RESTful workshop (.venv)"' in result.stderr
    )
