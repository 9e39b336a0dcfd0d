"""The steps of the workshop, and where their folders are."""

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Step:
    number: str
    folder: str
    teaches: str
    client_example: str  # what to type after `python client.py` for a first try

    @property
    def path(self) -> Path:
        return ROOT / self.folder

    @property
    def serves_todo_api(self) -> bool:
        """Steps 03 to 05 all serve the todo API contract."""
        return self.number >= "03"


STEPS = [
    Step("01", "01_hello_world", "routes, GET and POST, path and query parameters, JSON", ""),
    Step(
        "02", "02_client", "consuming REST: timeouts, retries, readable errors, curl, Postman", ""
    ),
    Step("03", "03_todo_rest", "the todo REST API in one file: the contract, in memory", "list"),
    Step(
        "04",
        "04_clean_code",
        "the same API as transport, service and repository, on SQLite",
        "list",
    ),
    Step("05", "05_docker", "production shape: Docker, granian, PostgreSQL, tokens, logs", "list"),
]


def find_step(number: str) -> Step:
    """The step called `number` ("3", "03" or "03_todo_rest"), or ValueError."""
    wanted = number.split("_")[0].zfill(2)
    for step in STEPS:
        if step.number == wanted:
            return step
    known = ", ".join(step.number for step in STEPS)
    raise ValueError(f"There is no step {number!r}; the steps are {known}.")
