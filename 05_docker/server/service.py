"""The service layer: the rules of a todo, and nothing of HTTP or SQL.

A title is required and short, `completed` is true or false, `order` fits 32 bits, and
every change raises the version by one. The service says what went wrong with its own
exceptions; the transport layer decides what HTTP status each one becomes.
"""

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from model import InvalidTodo, PreconditionFailed, StaleVersion, Todo, TodoNotFound
from repository import TodoRepository

MAX_TITLE_LENGTH = 200
MIN_ORDER, MAX_ORDER = -(2**31), 2**31 - 1  # what a 32-bit integer holds
TODO_FIELDS = ("title", "completed", "order")
READ_ONLY_FIELDS = ("id", "url", "version")


@dataclass(frozen=True)
class TodoPage:
    todos: list[Todo]
    total: int  # how many todos match the filter, on every page


class TodoService:
    """What the API can do with todos, whatever stores them."""

    def __init__(self, repository: TodoRepository):
        self.repository = repository

    def list_todos(self, completed: bool | None, limit: int, offset: int) -> TodoPage:
        todos, total = self.repository.list(completed, limit, offset)
        return TodoPage(todos, total)

    def get_todo(self, todo_id: int) -> Todo:
        todo = self.repository.get(todo_id)
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
        """Raises StorageUnavailable when the todos cannot be reached."""
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
                raise StaleVersion(sent_version, todo.version)
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
        raise PreconditionFailed()


def todo_fields(
    data: dict[str, Any], required: tuple[str, ...] = (), todo_id: int | None = None
) -> dict[str, Any]:
    """Checks the fields a client sent and returns title, completed and order, cleaned. When
    creating, `todo_id` is None and id, url and version are refused; when changing todo
    `todo_id`, the data may carry them back as they were read."""
    errors = []
    for name in data:
        if name in READ_ONLY_FIELDS and todo_id is None:
            errors.append((name, "is set by the server and cannot be sent"))
        elif name not in TODO_FIELDS + READ_ONLY_FIELDS:
            errors.append((name, "is not a field of a todo"))
    errors += [(name, "is required") for name in required if name not in data]

    fields = {name: data[name] for name in TODO_FIELDS if name in data}
    if "title" in fields:
        fields["title"] = fields["title"].strip() if isinstance(fields["title"], str) else ""
        if not fields["title"]:
            errors.append(("title", "must be a non-empty string"))
        elif len(fields["title"]) > MAX_TITLE_LENGTH:
            errors.append(("title", f"must be at most {MAX_TITLE_LENGTH} characters"))
        # Control characters (Cc) and lone surrogates (Cs): PostgreSQL cannot store NUL,
        # nor UTF-8 a lone surrogate, and a terminal or a log shows the others wrongly.
        elif any(unicodedata.category(char) in ("Cc", "Cs") for char in fields["title"]):
            errors.append(("title", "must not contain control characters"))
    if "completed" in fields and not isinstance(fields["completed"], bool):
        errors.append(("completed", "must be true or false"))
    # type(...) is int, not isinstance: True is an int to Python, but not to JSON.
    order = fields.get("order")
    if order is not None and not (type(order) is int and MIN_ORDER <= order <= MAX_ORDER):
        errors.append(("order", "must be null or a whole number that fits in 32 bits"))
    if todo_id is not None:  # id and version as they were read; url is not checked
        if "id" in data and (type(data["id"]) is not int or data["id"] != todo_id):
            errors.append(("id", f"must be {todo_id}, the id in the URL"))
        if "version" in data and type(data["version"]) is not int:
            errors.append(("version", "must be a whole number"))
    if errors:
        raise InvalidTodo(errors)
    return fields
