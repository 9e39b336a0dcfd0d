"""The words every layer shares: what a todo is, and what can go wrong with one.

The service owns them: it makes the rules and raises the errors. The repository stores
and returns `Todo`s, and the transport turns each error into an HTTP status. This module
imports none of them, so that every layer may import it and imports still point down.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Todo:
    id: int
    title: str
    completed: bool
    order: int | None
    version: int


class TodoError(Exception):
    """Base of the service's own errors."""


class TodoNotFound(TodoError):
    def __init__(self, todo_id: int):
        super().__init__(f"No todo with id {todo_id}.")


class InvalidTodo(TodoError):
    """One or more fields break the rules; `errors` lists (field, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{field} {message}" for field, message in errors))
        self.errors = errors


class StaleVersion(TodoError):
    """The caller edited an old copy: the version it sent back is not the current one."""

    def __init__(self, sent: int, current: int):
        super().__init__(
            f"The body has version {sent}, but the todo is at version {current}: "
            "read it again and reapply your change."
        )


class PreconditionFailed(TodoError):
    """The caller allowed the change only at versions the todo is no longer at."""

    def __init__(self) -> None:
        super().__init__("The todo has changed since you read it: nothing was changed.")


class StorageUnavailable(TodoError):
    """The database does not answer right now; the same request may work a little later."""
