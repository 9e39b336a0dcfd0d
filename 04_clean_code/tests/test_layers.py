"""The layers import each other in one direction only: transport -> service -> repository.

model.py holds the words they share (the todo and the errors) and imports none of them.
If transport imported the repository, a route could reach past the rules to the storage;
if the repository imported the service, storage would depend on the rules it serves.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SERVER_DIR = Path(__file__).resolve().parent.parent / "server"

# For each layer, the modules of this step it must never import.
WEB = {"transport", "config", "app", "flask", "werkzeug"}
FORBIDDEN = {
    "transport": {"repository", "config", "app"},
    "service": WEB,
    "repository": {"service", *WEB},
    "model": {"service", "repository", *WEB},
}


def imported_modules(module: str) -> set[str]:
    """The top-level names of the modules that `module`.py imports itself."""
    tree = ast.parse((SERVER_DIR / f"{module}.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", FORBIDDEN)
def test_imports_point_down(module):
    wrong = imported_modules(module) & FORBIDDEN[module]

    assert not wrong, f"{module}.py must not import {', '.join(sorted(wrong))}"


def test_the_service_layer_does_not_load_flask_even_indirectly():
    """The rules must not depend on the web framework: a new process imports service.py alone."""
    check = "import sys, service; print(sorted({m.split('.')[0] for m in sys.modules}))"
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=SERVER_DIR, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "'flask'" not in result.stdout
    assert "'werkzeug'" not in result.stdout
