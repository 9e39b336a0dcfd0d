"""The service layer alone: the rules of a todo, checked against a fake repository.

No Flask and no database here: the service needs neither. The `service` fixture runs on
`fake_repository` (see conftest.py), whose `todos` dict is everything that is stored.
"""

from dataclasses import replace

import pytest

from model import InvalidTodo, PreconditionFailed, StaleVersion, Todo, TodoNotFound

# --- Creating -----------------------------------------------------------------------------


def test_create_gives_the_defaults_and_version_1(service, fake_repository):
    todo = service.create_todo({"title": "walk the dog"})

    assert todo == Todo(id=1, title="walk the dog", completed=False, order=None, version=1)
    assert fake_repository.todos == {1: todo}


def test_create_strips_the_title_and_keeps_completed_and_order(service):
    todo = service.create_todo({"title": "  walk the dog \n", "completed": True, "order": -3})

    assert (todo.title, todo.completed, todo.order) == ("walk the dog", True, -3)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"title": "x" * 200}, id="title of 200 characters"),
        pytest.param({"title": "é" * 200}, id="200 characters, not bytes"),
        pytest.param({"title": "ok", "order": -(2**31)}, id="lowest order"),
        pytest.param({"title": "ok", "order": 2**31 - 1}, id="highest order"),
        pytest.param({"title": "ok", "order": None}, id="order null"),
        pytest.param({"title": "ok", "completed": False}, id="completed false"),
    ],
)
def test_create_accepts_values_at_the_limits(service, data):
    todo = service.create_todo(data)

    assert todo.title == data["title"]
    assert todo.order == data.get("order")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({}, "title", id="title missing"),
        pytest.param({"title": ""}, "title", id="title empty"),
        pytest.param({"title": "   "}, "title", id="title only spaces"),
        pytest.param({"title": None}, "title", id="title null"),
        pytest.param({"title": 7}, "title", id="title a number"),
        pytest.param({"title": "x" * 201}, "title", id="title of 201 characters"),
        pytest.param({"title": "tab\tinside"}, "title", id="title with a tab"),
        pytest.param({"title": "nul\x00inside"}, "title", id="title with NUL"),
        pytest.param({"title": "lone \ud800 surrogate"}, "title", id="title lone surrogate"),
        pytest.param({"title": "ok", "completed": "true"}, "completed", id="completed a string"),
        pytest.param({"title": "ok", "completed": 1}, "completed", id="completed 1"),
        pytest.param({"title": "ok", "completed": None}, "completed", id="completed null"),
        pytest.param({"title": "ok", "order": True}, "order", id="order a boolean"),
        pytest.param({"title": "ok", "order": 1.0}, "order", id="order 1.0"),
        pytest.param({"title": "ok", "order": 1.5}, "order", id="order 1.5"),
        pytest.param({"title": "ok", "order": "3"}, "order", id="order a string"),
        pytest.param({"title": "ok", "order": 2**31}, "order", id="order too high"),
        pytest.param({"title": "ok", "order": -(2**31) - 1}, "order", id="order too low"),
        pytest.param({"title": "ok", "id": 1}, "id", id="id sent"),
        pytest.param({"title": "ok", "url": "http://x/todos/1"}, "url", id="url sent"),
        pytest.param({"title": "ok", "version": 1}, "version", id="version sent"),
        pytest.param({"title": "ok", "colour": "red"}, "colour", id="unknown field"),
    ],
)
def test_create_refuses_an_invalid_field_and_names_it(service, fake_repository, data, field):
    with pytest.raises(InvalidTodo) as refused:
        service.create_todo(data)

    assert [name for name, _ in refused.value.errors] == [field]
    assert field in str(refused.value)
    assert fake_repository.todos == {}, "a refused todo must not be stored"


def test_every_invalid_field_is_named_at_once(service):
    with pytest.raises(InvalidTodo) as refused:
        service.create_todo({"title": " ", "completed": "no", "colour": "red"})

    assert sorted(name for name, _ in refused.value.errors) == ["colour", "completed", "title"]


# --- Reading and listing ------------------------------------------------------------------


def test_get_answers_the_stored_todo(service):
    created = service.create_todo({"title": "walk the dog"})

    assert service.get_todo(created.id) == created


def test_list_answers_one_page_and_the_total_that_match(service):
    for title in ("one", "two", "three", "four"):
        service.create_todo({"title": title, "completed": title != "two"})

    page = service.list_todos(completed=True, limit=2, offset=1)

    assert [todo.title for todo in page.todos] == ["three", "four"]
    assert page.total == 3


def test_delete_all_leaves_nothing(service):
    service.create_todo({"title": "one"})
    service.create_todo({"title": "two"})

    service.delete_all_todos()

    assert service.list_todos(completed=None, limit=10, offset=0).total == 0


@pytest.mark.parametrize(
    "todo_id",
    [
        pytest.param(2, id="an id never used"),
        pytest.param(0, id="0"),
        pytest.param(-1, id="negative"),
    ],
)
@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda service, todo_id: service.get_todo(todo_id), id="get"),
        pytest.param(
            lambda service, todo_id: service.replace_todo(
                todo_id, {"title": "x", "completed": True}
            ),
            id="replace",
        ),
        pytest.param(
            lambda service, todo_id: service.update_todo(todo_id, {"completed": True}),
            id="update",
        ),
        pytest.param(lambda service, todo_id: service.delete_todo(todo_id), id="delete"),
    ],
)
def test_a_missing_todo_is_todo_not_found(service, operation, todo_id):
    service.create_todo({"title": "the only todo, id 1"})

    with pytest.raises(TodoNotFound, match=f"No todo with id {todo_id}"):
        operation(service, todo_id)


# --- Changing: versions -------------------------------------------------------------------


def test_every_change_adds_one_to_the_version(service, fake_repository):
    service.create_todo({"title": "walk the dog"})

    first = service.update_todo(1, {"completed": True})
    second = service.replace_todo(1, {"title": "feed the cat", "completed": True})

    assert (first.version, second.version) == (2, 3)
    assert fake_repository.todos[1] == second


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda service: service.update_todo(1, {}), id="update with nothing"),
        pytest.param(
            lambda service: service.update_todo(1, {"title": " walk the dog ", "order": 3}),
            id="update with the same values",
        ),
        pytest.param(
            lambda service: service.replace_todo(
                1, {"title": "walk the dog", "completed": False, "order": 3}
            ),
            id="replace with the same values",
        ),
    ],
)
def test_a_change_that_changes_nothing_keeps_the_version(service, fake_repository, change):
    created = service.create_todo({"title": "walk the dog", "order": 3})

    assert change(service) == created
    assert fake_repository.todos[1].version == 1


def test_update_changes_only_the_fields_given(service):
    service.create_todo({"title": "walk the dog", "order": 3})

    todo = service.update_todo(1, {"completed": True})

    assert (todo.title, todo.completed, todo.order) == ("walk the dog", True, 3)


def test_update_with_order_null_clears_the_order(service):
    service.create_todo({"title": "walk the dog", "order": 3})

    assert service.update_todo(1, {"order": None}).order is None


def test_replace_without_order_clears_the_order(service):
    service.create_todo({"title": "walk the dog", "order": 5})

    todo = service.replace_todo(1, {"title": "feed the cat", "completed": True})

    assert (todo.title, todo.completed, todo.order) == ("feed the cat", True, None)


@pytest.mark.parametrize("missing", ["title", "completed"])
def test_replace_requires_title_and_completed(service, missing):
    service.create_todo({"title": "walk the dog"})
    data = {"title": "feed the cat", "completed": True}
    del data[missing]

    with pytest.raises(InvalidTodo) as refused:
        service.replace_todo(1, data)

    assert refused.value.errors == [(missing, "is required")]


def test_a_change_may_carry_back_what_was_read(service):
    """id, url and version as GET returned them are fine in PUT and PATCH."""
    service.create_todo({"title": "walk the dog"})
    read_back = {"id": 1, "url": "http://127.0.0.1:8000/todos/1", "version": 1}

    todo = service.update_todo(1, {**read_back, "completed": True})

    assert (todo.completed, todo.version) == (True, 2)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"id": 2}, "id", id="another id"),
        pytest.param({"id": "1"}, "id", id="id a string"),
        pytest.param({"version": "1"}, "version", id="version a string"),
        pytest.param({"version": 1.0}, "version", id="version 1.0"),
        pytest.param({"completed": "yes"}, "completed", id="completed a string"),
        pytest.param({"done": True}, "done", id="unknown field"),
    ],
)
def test_update_refuses_an_invalid_field_and_changes_nothing(service, fake_repository, data, field):
    created = service.create_todo({"title": "walk the dog"})

    with pytest.raises(InvalidTodo) as refused:
        service.update_todo(1, data)

    assert [name for name, _ in refused.value.errors] == [field]
    assert fake_repository.todos[1] == created


# --- Changing: stale copies and preconditions ---------------------------------------------


@pytest.mark.parametrize("sent", [1, 3, 0, -1])
def test_a_body_with_another_version_is_stale_and_changes_nothing(service, fake_repository, sent):
    service.create_todo({"title": "walk the dog"})
    current = service.update_todo(1, {"completed": True})  # now at version 2

    with pytest.raises(StaleVersion, match=f"version {sent}, .* at version 2"):
        service.update_todo(1, {"title": "mine", "version": sent})
    with pytest.raises(StaleVersion):
        service.replace_todo(1, {"title": "mine", "completed": False, "version": sent})

    assert fake_repository.todos[1] == current


def test_a_body_with_the_current_version_is_applied(service):
    service.create_todo({"title": "walk the dog"})

    assert service.update_todo(1, {"title": "mine", "version": 1}).title == "mine"


@pytest.mark.parametrize(
    "allowed", [pytest.param({1}, id="an old version"), pytest.param(set(), id="no version")]
)
def test_a_change_outside_the_allowed_versions_fails_and_changes_nothing(
    service, fake_repository, allowed
):
    service.create_todo({"title": "walk the dog"})
    current = service.update_todo(1, {"completed": True})  # now at version 2

    with pytest.raises(PreconditionFailed):
        service.update_todo(1, {"title": "mine"}, allowed_versions=allowed)
    with pytest.raises(PreconditionFailed):
        service.replace_todo(1, {"title": "mine", "completed": True}, allowed_versions=allowed)
    with pytest.raises(PreconditionFailed):
        service.delete_todo(1, allowed_versions=allowed)

    assert fake_repository.todos[1] == current


def test_a_change_at_an_allowed_version_is_applied(service, fake_repository):
    service.create_todo({"title": "walk the dog"})

    assert service.update_todo(1, {"completed": True}, allowed_versions={1, 7}).version == 2
    service.delete_todo(1, allowed_versions={2})

    assert fake_repository.todos == {}


def test_checks_come_in_the_contracts_order(service):
    """An invalid body is reported before a failed precondition, which comes before a stale
    version in the body (400, then 412, then 409 over HTTP)."""
    service.create_todo({"title": "walk the dog"})
    service.update_todo(1, {"completed": True})  # now at version 2

    with pytest.raises(InvalidTodo):
        service.update_todo(1, {"title": "", "version": 1}, allowed_versions={1})
    with pytest.raises(PreconditionFailed):
        service.update_todo(1, {"title": "mine", "version": 1}, allowed_versions={1})


# --- Racing writers: compare-and-set ------------------------------------------------------


def another_writer_goes_first(monkeypatch, repository, method, other_writer):
    """Makes the service lose one race: just before its first `method` call reaches the
    store, `other_writer()` changes the todo. Returns the version the service expected at
    each attempt."""
    real_method = getattr(repository, method)
    attempts = []

    def racing(todo_or_id, expected_version):
        attempts.append(expected_version)
        if len(attempts) == 1:
            other_writer()
        return real_method(todo_or_id, expected_version)

    monkeypatch.setattr(repository, method, racing)
    return attempts


@pytest.fixture
def their_change(fake_repository):
    """Another writer's change to todo 1: a new title and the next version."""

    def change():
        theirs = fake_repository.todos[1]
        fake_repository.todos[1] = replace(theirs, title="theirs", version=theirs.version + 1)

    return change


def test_a_writer_with_if_match_that_loses_the_race_fails(
    service, fake_repository, monkeypatch, their_change
):
    service.create_todo({"title": "walk the dog"})
    attempts = another_writer_goes_first(monkeypatch, fake_repository, "update", their_change)

    with pytest.raises(PreconditionFailed):
        service.update_todo(1, {"title": "mine"}, allowed_versions={1})

    assert attempts == [1], "the service tried once, at version 1, and lost"
    assert fake_repository.todos[1].title == "theirs", "exactly one writer won"
    assert fake_repository.todos[1].version == 2


def test_a_writer_with_a_body_version_that_loses_the_race_is_stale(
    service, fake_repository, monkeypatch, their_change
):
    service.create_todo({"title": "walk the dog"})
    another_writer_goes_first(monkeypatch, fake_repository, "update", their_change)

    with pytest.raises(StaleVersion):
        service.replace_todo(1, {"title": "mine", "completed": False, "version": 1})

    assert fake_repository.todos[1].title == "theirs"


def test_a_writer_without_a_condition_retries_on_the_new_state(
    service, fake_repository, monkeypatch, their_change
):
    service.create_todo({"title": "walk the dog"})
    attempts = another_writer_goes_first(monkeypatch, fake_repository, "update", their_change)

    todo = service.update_todo(1, {"completed": True})

    assert attempts == [1, 2], "lost at version 1, read again, won at version 2"
    assert (todo.title, todo.completed, todo.version) == ("theirs", True, 3)
    assert fake_repository.todos[1] == todo


def test_a_change_to_a_todo_deleted_meanwhile_is_not_found(service, fake_repository, monkeypatch):
    service.create_todo({"title": "walk the dog"})
    another_writer_goes_first(
        monkeypatch, fake_repository, "update", lambda: fake_repository.todos.clear()
    )

    with pytest.raises(TodoNotFound):
        service.update_todo(1, {"completed": True})


def test_a_delete_with_if_match_that_loses_the_race_fails(
    service, fake_repository, monkeypatch, their_change
):
    service.create_todo({"title": "walk the dog"})
    attempts = another_writer_goes_first(monkeypatch, fake_repository, "delete", their_change)

    with pytest.raises(PreconditionFailed):
        service.delete_todo(1, allowed_versions={1})

    assert attempts == [1]
    assert fake_repository.todos[1].title == "theirs", "their change is kept"


def test_a_delete_without_a_condition_retries_and_deletes(
    service, fake_repository, monkeypatch, their_change
):
    service.create_todo({"title": "walk the dog"})
    attempts = another_writer_goes_first(monkeypatch, fake_repository, "delete", their_change)

    service.delete_todo(1)

    assert attempts == [1, 2]
    assert fake_repository.todos == {}
