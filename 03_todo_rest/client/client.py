"""A command line for the todo server: add, list, done, undo, rename, rm and clear.

Start the server in one terminal (`flask run` inside the server folder), then, from this
folder, in another terminal:

    python client.py add "walk the dog"
    python client.py list
    python client.py done 1

Every problem is printed as one sentence, with a non-zero exit code, never a traceback.
"""

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
from rich.console import Console
from rich.prompt import Confirm
from rich.table import Table
from rich.text import Text

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
STEP_FOLDER = Path(__file__).resolve().parent.parent.name  # the step this client belongs to
TIMEOUT_SECONDS = 5.0
TODO_FIELDS = ("id", "title", "completed", "order")

Todo = dict[str, Any]


class TodoClientError(Exception):
    """A problem the user should read as one sentence, instead of a traceback."""


class TodoNotFound(TodoClientError):
    """The server has no todo with this id."""


class TodoChanged(TodoClientError):
    """The todo changed on the server after we read it, so our change was refused."""


class TodoApi:
    """The todo server's HTTP API: one method per call the commands need."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, timeout: float = TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # A session reuses one connection for several calls, e.g. the pages of a long list.
        self.session = requests.Session()

    def list_todos(self, completed: bool | None = None) -> list[Todo]:
        """Every todo (only done or only open ones if `completed` is given), all pages of it."""
        params = {} if completed is None else {"completed": "true" if completed else "false"}
        todos: list[Todo] = []
        next_url: str | None = f"{self.base_url}/todos"
        visited: set[str] = set()
        # The server sends at most 100 todos per answer; its Link header points to the next page.
        # `visited` stops a loop if a broken server ever links a page to itself.
        while next_url and next_url not in visited:
            visited.add(next_url)
            response = self._send("GET", next_url, params=params)
            page = self._json(response)
            if not isinstance(page, list):
                raise self._not_the_todo_server()
            todos.extend(self._checked_todo(todo) for todo in page)
            link = response.links.get("next", {}).get("url")
            next_url = urljoin(response.url, link) if link else None
            params = {}  # the next page's URL already carries the filter and the paging
        return todos

    def count_todos(self) -> int:
        """How many todos the server holds, read from the X-Total-Count header of one small page."""
        response = self._send("GET", f"{self.base_url}/todos", params={"limit": 1})
        total = response.headers.get("X-Total-Count", "")
        if not total.isdigit():
            raise self._not_the_todo_server()
        return int(total)

    def create(self, title: str, order: int | None = None) -> Todo:
        """Creates a todo and returns it as the server stored it (with its new id)."""
        body: dict[str, Any] = {"title": title}
        if order is not None:
            body["order"] = order
        response = self._send("POST", f"{self.base_url}/todos", json=body)
        return self._checked_todo(self._json(response))

    def get(self, todo_id: int) -> tuple[Todo, str]:
        """One todo and its ETag, the version tag we send back when we change it."""
        response = self._send("GET", self._todo_url(todo_id), todo_id=todo_id)
        todo = self._checked_todo(self._json(response))
        etag = response.headers.get("ETag")
        if not etag:
            raise TodoClientError(
                f"The todo server sent todo {todo_id} without an ETag, "
                "so the client cannot change it safely."
            )
        return todo, etag

    def update(self, todo_id: int, changes: dict[str, Any], etag: str) -> Todo:
        """Changes some fields of a todo, only if it is still the version with this ETag."""
        response = self._send(
            "PATCH",
            self._todo_url(todo_id),
            todo_id=todo_id,
            json=changes,
            # If-Match: the server refuses (412) if someone changed the todo since we read it,
            # instead of letting us overwrite a change we have never seen.
            headers={"If-Match": etag},
        )
        return self._checked_todo(self._json(response))

    def delete(self, todo_id: int, etag: str) -> None:
        """Deletes a todo, only if it is still the version with this ETag."""
        self._send("DELETE", self._todo_url(todo_id), todo_id=todo_id, headers={"If-Match": etag})

    def delete_all(self) -> None:
        """Deletes every todo."""
        self._send("DELETE", f"{self.base_url}/todos")

    def _todo_url(self, todo_id: int) -> str:
        """The URL of one todo, such as http://127.0.0.1:8000/todos/7."""
        return f"{self.base_url}/todos/{todo_id}"

    def _send(
        self, method: str, url: str, todo_id: int | None = None, **kwargs: Any
    ) -> requests.Response:
        """Sends one request; turns every failure into a TodoClientError with a clear sentence."""
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as error:
            raise TodoClientError(
                f"Cannot reach the todo server at {self.base_url}. Is it running? Start it in "
                f"another terminal: go to {STEP_FOLDER}/server and run `flask run`."
            ) from error
        except requests.Timeout as error:
            raise TodoClientError(
                f"The todo server at {self.base_url} did not answer within "
                f"{self.timeout:g} seconds."
            ) from error
        except requests.RequestException as error:
            raise TodoClientError(
                f"The request to the todo server at {self.base_url} failed: {error}"
            ) from error

        status = response.status_code
        if status < 400:
            return response
        if status == 404 and todo_id is not None:
            raise TodoNotFound(f"No todo {todo_id}.")
        if status == 404:
            raise self._not_the_todo_server("has no /todos")
        if status in (409, 412):
            raise TodoChanged(
                f"Todo {todo_id} was changed by someone else since it was read; "
                "nothing was changed. Run the command again."
            )
        # Every error of the todo API is a problem document: {"title": ..., "detail": ...}.
        problem = self._problem(response)
        detail = problem.get("detail")
        if status == 400 and detail:
            raise TodoClientError(detail)  # the server's sentence says what to fix
        answer = f"{status} {problem.get('title') or response.reason}"
        raise TodoClientError(
            f"The todo server answered {answer}: {detail}"
            if detail
            else f"The todo server answered {answer}."
        )

    @staticmethod
    def _problem(response: requests.Response) -> dict[str, str]:
        """The text fields of an error's problem document; empty if there is none."""
        try:
            problem = response.json()
        except ValueError:
            return {}
        if not isinstance(problem, dict):
            return {}
        return {name: value for name, value in problem.items() if isinstance(value, str) and value}

    def _json(self, response: requests.Response) -> Any:
        """The answer's JSON body; a server that sends something else is not the todo server."""
        try:
            return response.json()
        except ValueError as error:
            raise self._not_the_todo_server() from error

    def _checked_todo(self, data: Any) -> Todo:
        """`data` if it looks like a todo; else the server is not the one we expect."""
        if not isinstance(data, dict) or any(field not in data for field in TODO_FIELDS):
            raise self._not_the_todo_server()
        return data

    def _not_the_todo_server(
        self, what_it_did: str = "sent an answer the todo API never sends"
    ) -> TodoClientError:
        """The error for a server that answers, but is not a todo server."""
        # Most often a server from another step, still running on the same port.
        return TodoClientError(
            f"The server at {self.base_url} {what_it_did}, so it is not the todo server. "
            "Is another server (one from another step?) still running on that port?"
        )


# The commands. Each one takes the API, the console to print to and the parsed arguments,
# and returns the exit code. Errors are raised as TodoClientError and printed by main().


def run_add(api: TodoApi, console: Console, args: argparse.Namespace) -> int:
    """`add TITLE [--order N]`: creates a todo."""
    todo = api.create(" ".join(args.title), args.order)
    say(console, f"Added todo {todo['id']}: {todo['title']}")
    return 0


def run_list(api: TodoApi, console: Console, args: argparse.Namespace) -> int:
    """`list [--done | --open]`: shows the todos as a table."""
    completed: bool | None = None  # None: every todo
    if args.done or args.open:
        completed = args.done
    todos = api.list_todos(completed)
    kind = {True: "done ", False: "open ", None: ""}[completed]
    if not todos:
        hint = "" if completed is not None else ' Add one with: python client.py add "walk the dog"'
        say(console, f"There are no {kind}todos.{hint}")
        return 0
    table = Table(caption=f"{len(todos)} {kind}todo{'' if len(todos) == 1 else 's'}")
    table.add_column("id", justify="right")
    table.add_column("done", justify="center")
    table.add_column("title")
    table.add_column("order", justify="right")
    for todo in todos:
        order = "" if todo["order"] is None else str(todo["order"])
        # Text() shows a title exactly as typed: "[bold]" in a title is not rich markup.
        mark = "[x]" if todo["completed"] else "[ ]"
        table.add_row(str(todo["id"]), Text(mark), Text(str(todo["title"])), order)
    console.print(table)
    return 0


def run_done(api: TodoApi, console: Console, args: argparse.Namespace) -> int:
    """`done ID`: marks a todo as done."""
    return set_completed(api, console, args.id, completed=True)


def run_undo(api: TodoApi, console: Console, args: argparse.Namespace) -> int:
    """`undo ID`: marks a todo as not done yet."""
    return set_completed(api, console, args.id, completed=False)


def set_completed(api: TodoApi, console: Console, todo_id: int, completed: bool) -> int:
    """Reads the todo, then changes `completed` only if nobody changed the todo in between."""
    state = "done" if completed else "open"
    todo, etag = api.get(todo_id)
    if todo["completed"] == completed:
        say(console, f"Todo {todo_id} was already {state}.")
        return 0
    api.update(todo_id, {"completed": completed}, etag)
    say(console, f"Todo {todo_id} is {state}." if completed else f"Todo {todo_id} is open again.")
    return 0


def run_rename(api: TodoApi, console: Console, args: argparse.Namespace) -> int:
    """`rename ID NEW_TITLE`: gives a todo a new title."""
    todo, etag = api.get(args.id)
    renamed = api.update(args.id, {"title": " ".join(args.title)}, etag)
    say(console, f"Renamed todo {args.id}: {todo['title']} -> {renamed['title']}")
    return 0


def run_rm(api: TodoApi, console: Console, args: argparse.Namespace) -> int:
    """`rm ID`: deletes a todo."""
    todo, etag = api.get(args.id)
    api.delete(args.id, etag)
    say(console, f"Deleted todo {args.id}: {todo['title']}")
    return 0


def run_clear(api: TodoApi, console: Console, args: argparse.Namespace) -> int:
    """`clear [--yes]`: deletes every todo, after asking unless --yes is given."""
    if not args.yes:
        if not sys.stdin.isatty():
            # Nobody can answer the question (a script, a pipe): refuse rather than guess.
            raise TodoClientError(
                "Not deleting every todo without a confirmation; "
                "run `python client.py clear --yes` to do it anyway."
            )
        count = api.count_todos()
        if count == 0:
            say(console, "There are no todos to delete.")
            return 0
        question = f"Delete all {count} todo{'' if count == 1 else 's'}?"
        try:
            confirmed = Confirm.ask(question, console=console, default=False)
        except EOFError:  # Ctrl+D (Ctrl+Z on Windows) instead of an answer
            confirmed = False
        if not confirmed:
            say(console, "Nothing was deleted.")
            return 0
    api.delete_all()
    say(console, "Deleted every todo.")
    return 0


def say(console: Console, message: str) -> None:
    """Prints a message as plain text: a todo's title may contain rich's [markup] characters."""
    console.print(message, markup=False, soft_wrap=True)


def parse_id(value: str) -> int:
    """argparse type of an ID: a whole number such as 7."""
    if not (value.isascii() and value.isdigit()):
        raise argparse.ArgumentTypeError("ID must be a whole number, like 7.")
    return int(value)


def parse_base_url(value: str) -> str:
    """argparse type of --base-url: an http or https address such as http://127.0.0.1:8000."""
    address = urlparse(value)
    if address.scheme not in ("http", "https") or not address.netloc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a server address; give one like {DEFAULT_BASE_URL}."
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line: global options, then one subcommand per action."""
    parser = argparse.ArgumentParser(
        prog="client.py", description="Keep a todo list on the todo server."
    )
    parser.add_argument(
        "--base-url",
        type=parse_base_url,
        default=DEFAULT_BASE_URL,
        help=f"address of the todo server (default: {DEFAULT_BASE_URL})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[..., int], summary: str) -> argparse.ArgumentParser:
        subparser = commands.add_parser(name, help=summary, description=summary)
        subparser.set_defaults(run=run)
        return subparser

    add = command("add", run_add, "add a todo")
    add.add_argument("title", nargs="+", metavar="TITLE", help="what to do (quotes optional)")
    add.add_argument("--order", type=int, metavar="N", help="a number to sort by, if you like")

    show = command("list", run_list, "show the todos")
    only = show.add_mutually_exclusive_group()
    only.add_argument("--done", action="store_true", help="only the todos that are done")
    only.add_argument("--open", action="store_true", help="only the todos not done yet")

    for name, run, summary in [
        ("done", run_done, "mark a todo as done"),
        ("undo", run_undo, "mark a todo as not done yet"),
        ("rm", run_rm, "delete a todo"),
    ]:
        command(name, run, summary).add_argument("id", type=parse_id, metavar="ID")

    rename = command("rename", run_rename, "give a todo a new title")
    rename.add_argument("id", type=parse_id, metavar="ID")
    rename.add_argument("title", nargs="+", metavar="NEW_TITLE", help="the new title")

    clear = command("clear", run_clear, "delete every todo")
    clear.add_argument("--yes", action="store_true", help="do not ask for a confirmation")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit code (0 when it worked)."""
    args = build_parser().parse_args(argv)
    # Windows writes output sent to a file or a pipe in an old code page that lacks most
    # characters (an emoji in a title, say): print "?" for those instead of failing.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    api = TodoApi(args.base_url)
    try:
        return args.run(api, Console(), args)
    except TodoClientError as error:
        Console(stderr=True).print(str(error), style="red", markup=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:  # Ctrl+C: stop quietly, the way command-line tools do
        return 130


if __name__ == "__main__":
    sys.exit(main())
