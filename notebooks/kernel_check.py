"""Checks that a notebook runs in the workshop's virtual environment, and says how to fix it.

Jupyter runs a notebook's code in a "kernel": a Python process that may not be the Python
of your virtual environment. Then `import flask` fails, or worse, imports another version.
This module uses only the standard library, so it works even in the wrong kernel.
"""

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


def environment_inside_repository(prefix: str) -> bool:
    """True when the virtual environment lives in the repository's folder, like .venv."""
    return Path(prefix).resolve().parent == REPOSITORY


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
    if not in_virtual_environment():
        problems.append("This kernel is not a virtual environment's Python.")
    missing = missing_packages()
    if missing:
        problems.append(f"This kernel cannot import {', '.join(missing)}.")
    absent = missing_steps(steps)
    if absent:
        problems.append(f"The step folders {', '.join(absent)} are not in {REPOSITORY}.")
    if problems:
        raise RuntimeError("\n".join([*problems, how_to_fix()]))

    print("✓ The kernel runs Python 3.10 or newer, in a virtual environment.")
    if environment_inside_repository(sys.prefix):
        print("✓ It is the one inside the workshop's folder.")
    else:
        print(
            f"! It is not inside the workshop's folder ({sys.prefix}). That works if it has "
            "the workshop's requirements installed.\n" + how_to_fix()
        )
    print(f"✓ {', '.join(PACKAGES)} can be imported.")
    print(f"✓ The steps this notebook uses are there: {', '.join(steps)}.")
