"""The service layer: the rules of a todo, and nothing of HTTP or SQL.

A title is required and short, `completed` is true or false, `order` fits 32 bits, and
every change raises the version by one. The service says what went wrong with its own
exceptions; the transport layer decides what HTTP status each one becomes.
"""

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from repository import Todo, TodoRepository

MAX_TITLE_LENGTH = 200
ORDER_RANGE = (-(2**31), 2**31 - 1)  # what a 32-bit integer column holds
MAX_TODO_ID = 2**63 - 1  # what a 64-bit integer column holds
TODO_FIELDS = ("title", "completed", "order")
READ_ONLY_FIELDS = ("id", "url", "version")


@dataclass(frozen=True)
class TodoPage:
    todos: list[Todo]
    total: int  # how many todos match the filter, on every page


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

    def __init__(self, todo_id: int, sent: int, current: int):
        super().__init__(
            f"The body has version {sent}, but todo {todo_id} is at version {current}: "
            "read it again and reapply your change."
        )


class PreconditionFailed(TodoError):
    """The caller allowed the change only at versions the todo is no longer at."""

    def __init__(self, todo_id: int, current: int):
        super().__init__(
            f"Todo {todo_id} has changed since you read it (it is now at version {current}): "
            "nothing was changed. Read it again and retry."
        )


class TodoService:
    """What the API can do with todos, whatever stores them."""

    def __init__(self, repository: TodoRepository):
        self.repository = repository

    def list_todos(self, completed: bool | None, limit: int, offset: int) -> TodoPage:
        todos, total = self.repository.list(completed, limit, offset)
        return TodoPage(todos, total)

    def get_todo(self, todo_id: int) -> Todo:
        todo = self.repository.get(todo_id) if 0 < todo_id <= MAX_TODO_ID else None
        if todo is None:
            raise TodoNotFound(todo_id)
        return todo

    def create_todo(self, data: dict[str, Any]) -> Todo:
        fields = todo_fields(data, required=("title",))
        return self.repository.add(
            fields["title"], fields.get("completed", False), fields.get("order")
        )

    def replace_todo(
        self, todo_id: int, data: dict[str, Any], allowed_versions: Collection[int] | None = None
    ) -> Todo:
        """Replaces title, completed and order; an absent order becomes null."""
        fields = todo_fields(data, required=("title", "completed"), todo_id=todo_id)
        return self._change(
            todo_id, {"order": None, **fields}, data.get("version"), allowed_versions
        )

    def update_todo(
        self, todo_id: int, data: dict[str, Any], allowed_versions: Collection[int] | None = None
    ) -> Todo:
        """Changes only the fields given."""
        fields = todo_fields(data, todo_id=todo_id)
        return self._change(todo_id, fields, data.get("version"), allowed_versions)

    def delete_todo(self, todo_id: int, allowed_versions: Collection[int] | None = None) -> None:
        while True:
            todo = self.get_todo(todo_id)
            check_allowed(todo, allowed_versions)
            if self.repository.delete(todo_id, expected_version=todo.version):
                return
            # Someone changed or deleted it between our read and our delete: look again.

    def delete_all_todos(self) -> None:
        self.repository.delete_all()

    def check_storage(self) -> None:
        """Raises the repository's StorageUnavailable when the todos cannot be reached."""
        self.repository.check()

    def _change(
        self,
        todo_id: int,
        fields: dict[str, Any],
        sent_version: int | None,
        allowed_versions: Collection[int] | None,
    ) -> Todo:
        """Applies checked fields with compare-and-set, so that of two racing writers
        with the same version exactly one wins and the other is told it was stale."""
        while True:
            todo = self.get_todo(todo_id)
            check_allowed(todo, allowed_versions)
            if sent_version is not None and sent_version != todo.version:
                raise StaleVersion(todo_id, sent_version, todo.version)
            changed = replace(todo, **fields)
            if changed == todo:
                return todo  # nothing changes, so the version stays
            changed = replace(changed, version=todo.version + 1)
            if self.repository.update(changed, expected_version=todo.version):
                return changed
            # Another writer got there first; read it again and check once more.


def check_allowed(todo: Todo, allowed_versions: Collection[int] | None) -> None:
    """None allows any version; otherwise the todo must be at one of the given versions."""
    if allowed_versions is not None and todo.version not in allowed_versions:
        raise PreconditionFailed(todo.id, todo.version)


def todo_fields(
    data: dict[str, Any], required: tuple[str, ...] = (), todo_id: int | None = None
) -> dict[str, Any]:
    """Checks the fields a client sent and returns title, completed and order, cleaned.

    `todo_id` is None when creating: then id, url and version are refused. When changing
    todo `todo_id`, the data may carry them back as they were read.
    """
    errors = []
    for name in data:
        if name in READ_ONLY_FIELDS and todo_id is None:
            errors.append((name, "is set by the server and cannot be sent"))
        elif name not in TODO_FIELDS + READ_ONLY_FIELDS:
            errors.append((name, "is not a field of a todo"))
    errors += [(name, "is required") for name in required if name not in data]

    fields = {}
    if "title" in data:
        title = data["title"].strip() if isinstance(data["title"], str) else ""
        if not title:
            errors.append(("title", "must be a non-empty string"))
        elif len(title) > MAX_TITLE_LENGTH:
            errors.append(("title", f"must be at most {MAX_TITLE_LENGTH} characters"))
        elif any(unicodedata.category(char) in ("Cc", "Cs") for char in title):
            errors.append(("title", "must not contain control characters"))
        else:
            fields["title"] = title
    if "completed" in data:
        if isinstance(data["completed"], bool):
            fields["completed"] = data["completed"]
        else:
            errors.append(("completed", "must be true or false"))
    if "order" in data:
        order = data["order"]
        if order is None or is_integer_within(order, *ORDER_RANGE):
            fields["order"] = order
        else:
            errors.append(("order", "must be null or a whole number that fits in 32 bits"))
    if todo_id is not None:
        if "id" in data and not (is_integer_within(data["id"]) and data["id"] == todo_id):
            errors.append(("id", f"must be {todo_id}, the id in the URL"))
        if "version" in data and not is_integer_within(data["version"]):
            errors.append(("version", "must be a whole number"))

    if errors:
        raise InvalidTodo(errors)
    return fields


def is_integer_within(value: Any, low: int | None = None, high: int | None = None) -> bool:
    """True for a JSON whole number within the bounds (True and 1.0 are not whole numbers)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return (low is None or value >= low) and (high is None or value <= high)
