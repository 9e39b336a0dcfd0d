"""Checks that a notebook's kernel can run the workshop's code, and says how to fix it if not.

Jupyter runs a notebook's code in a "kernel": a Python process that may not be the Python
of your virtual environment. Then `import flask` fails, or worse, imports another version.
This module uses only the standard library, so it works even in the wrong kernel.

Where the virtual environment lives does not matter (`.venv` in the repository, a folder
elsewhere, a conda environment): what matters is that the kernel's Python is recent enough
and can import the workshop's packages. So the check prints the same lines for every
working kernel, and stops only when something is wrong.
"""

# Lets an older Python read the annotations below, so that it gets to the version check.
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
PACKAGES = ("flask", "werkzeug", "requests")
KERNEL_NAME = "restful-workshop"
REGISTER_KERNEL = (
    f"python -m ipykernel install --user --name {KERNEL_NAME} "
    '--display-name "RESTful workshop (.venv)"'
)
ACTIVATE = {
    "macOS and Linux": "source .venv/bin/activate",
    "Windows cmd": r".venv\Scripts\activate.bat",
    "Windows PowerShell": r".venv\Scripts\Activate.ps1",
}


def in_virtual_environment() -> bool:
    """True when this Python runs from a virtual environment (venv or virtualenv)."""
    return sys.prefix != sys.base_prefix


def missing_packages() -> list[str]:
    """The packages the notebooks need that this Python cannot import."""
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def missing_steps(steps: list[str]) -> list[str]:
    """The step folders a notebook loads code from that are not where they should be."""
    return [step for step in steps if not (REPOSITORY / step).is_dir()]


def how_to_fix() -> str:
    """What to type to make the workshop's virtual environment this notebook's kernel."""
    activate = "\n".join(f"    {shell}: {command}" for shell, command in ACTIVATE.items())
    return (
        "How to fix it: in a terminal, in the repository's folder, activate the virtual "
        f"environment:\n{activate}\n"
        f"then register it as a Jupyter kernel (once):\n    {REGISTER_KERNEL}\n"
        'and in Jupyter choose Kernel > Change Kernel > "RESTful workshop (.venv)", '
        "then run this cell again."
    )


def check_kernel(steps: list[str]) -> None:
    """Prints what was checked; raises RuntimeError with the fix when something is wrong.

    `steps` are the step folders whose code the notebook imports.
    """
    problems = []
    # The wrong kernel may well be an older Python, so this check is not dead code.
    if sys.version_info < (3, 10):  # noqa: UP036
        problems.append("This kernel's Python is older than 3.10, which the workshop needs.")
    missing = missing_packages()
    if missing:
        # Missing packages mean this is not the Python the workshop's requirements went into.
        problems.append(
            f"This kernel's Python ({sys.executable}) cannot import {', '.join(missing)}."
        )
        if not in_virtual_environment():
            problems.append("This kernel is not a virtual environment's Python.")
    absent = missing_steps(steps)
    if absent:
        problems.append(f"The step folders {', '.join(absent)} are not in {REPOSITORY}.")
    if problems:
        raise RuntimeError("\n".join([*problems, how_to_fix()]))

    # Only what holds for every working kernel, so the output never depends on the machine.
    print("✓ The kernel runs Python 3.10 or newer.")
    print(f"✓ It can import {', '.join(PACKAGES)}.")
    print(f"✓ The steps this notebook uses are there: {', '.join(steps)}.")
