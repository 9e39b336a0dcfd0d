"""The todo command line against the real server, over real HTTP.

The first two tests start `python client.py ...` as a process, the way a learner runs it,
and the second one checks that the client's main(), called in this process, prints exactly
what that program prints. So the other tests call main() in this process: the same exit
code and output, without starting Python and importing requests and rich for every case.
A few call the client's code directly where a test has to step in between two requests (a
change made by someone else) or fake a broken server.
"""

import io
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import client

STEP_FOLDER = Path(__file__).resolve().parents[1].name  # the step these tests belong to

TIMEOUT = 5


def create_todo(base_url: str, title: str, **fields) -> dict:
    """Creates a todo straight through the API (not through the client under test)."""
    response = requests.post(f"{base_url}/todos", json={"title": title, **fields}, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    return response.json()


def fetch_todo(base_url: str, todo_id: int) -> dict:
    """Reads a todo straight through the API."""
    response = requests.get(f"{base_url}/todos/{todo_id}", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def row_of(output: str, title: str) -> str:
    """The one line of a `list` table that shows this title."""
    rows = [line for line in output.splitlines() if f" {title} " in line]
    assert len(rows) == 1, f"expected one row for {title!r} in:\n{output}"
    return rows[0]


def caption(output: str) -> str:
    """The caption under a `list` table: its last line."""
    return output.rstrip().splitlines()[-1].strip()


def cells(row: str) -> list[str]:
    """The cells of a table row, without the table's borders and padding."""
    return [cell.strip() for cell in re.split(r"[│|]", row)[1:-1]]


def test_add_prints_the_new_todo_and_list_shows_it(server_url, run_client):
    added = run_client(server_url, "add", "walk", "the", "dog", "--order", "3")

    assert added.returncode == 0, added.stderr
    match = re.fullmatch(r"Added todo (\d+): walk the dog\n", added.stdout)
    assert match, added.stdout
    todo_id = int(match[1])
    assert fetch_todo(server_url, todo_id)["order"] == 3

    listed = run_client(server_url, "list")

    assert listed.returncode == 0, listed.stderr
    assert cells(row_of(listed.stdout, "walk the dog")) == [
        str(todo_id),
        "[ ]",
        "walk the dog",
        "3",
    ]
    assert caption(listed.stdout) == "1 todo"


@pytest.mark.parametrize(
    ("command", "exit_code"),
    [(["list"], 0), (["done", "999"], 1), (["rm", "seven"], 2)],
    ids=["a table", "an error", "a usage message"],
)
def test_main_in_this_process_prints_what_the_program_prints(
    server_url, run_client, run_client_in_process, command, exit_code
):
    create_todo(server_url, "walk the dog", completed=True, order=2)
    create_todo(server_url, "buy [bold]milk[/bold]")

    program = run_client(server_url, *command)
    in_process = run_client_in_process(server_url, *command)

    # A table, an error sentence from the client, and argparse's usage message: the same
    # text and exit code, so the tests below can run the client in this process.
    assert program.returncode == exit_code, program.stderr
    assert (in_process.returncode, in_process.stdout, in_process.stderr) == (
        program.returncode,
        program.stdout,
        program.stderr,
    )


def test_list_of_no_todos_says_so(server_url, run_client_in_process):
    result = run_client_in_process(server_url, "list")

    assert result.returncode == 0
    assert result.stdout.startswith("There are no todos.")


def test_a_title_is_shown_as_typed_not_as_rich_markup(server_url, run_client_in_process):
    added = run_client_in_process(server_url, "add", "buy [bold]milk[/bold]")
    listed = run_client_in_process(server_url, "list")

    assert "buy [bold]milk[/bold]" in added.stdout
    assert "buy [bold]milk[/bold]" in listed.stdout


def test_done_and_undo_flip_completed(server_url, run_client_in_process):
    todo = create_todo(server_url, "walk the dog")

    done = run_client_in_process(server_url, "done", str(todo["id"]))

    assert (done.returncode, done.stdout) == (0, f"Todo {todo['id']} is done.\n")
    assert fetch_todo(server_url, todo["id"])["completed"] is True
    listed = run_client_in_process(server_url, "list")
    assert cells(row_of(listed.stdout, "walk the dog"))[1] == "[x]"

    undone = run_client_in_process(server_url, "undo", str(todo["id"]))

    assert (undone.returncode, undone.stdout) == (0, f"Todo {todo['id']} is open again.\n")
    assert fetch_todo(server_url, todo["id"])["completed"] is False


def test_done_on_a_done_todo_changes_nothing(server_url, run_client_in_process):
    todo = create_todo(server_url, "walk the dog", completed=True)

    result = run_client_in_process(server_url, "done", str(todo["id"]))

    assert (result.returncode, result.stdout) == (0, f"Todo {todo['id']} was already done.\n")
    assert fetch_todo(server_url, todo["id"])["version"] == todo["version"]


def test_rename_changes_the_title(server_url, run_client_in_process):
    todo = create_todo(server_url, "walk the dog", completed=True)

    result = run_client_in_process(server_url, "rename", str(todo["id"]), "walk the cat")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Renamed todo {todo['id']}: walk the dog -> walk the cat\n"
    renamed = fetch_todo(server_url, todo["id"])
    assert (renamed["title"], renamed["completed"]) == ("walk the cat", True)


def test_rm_deletes_the_todo(server_url, run_client_in_process):
    kept = create_todo(server_url, "buy milk")
    todo = create_todo(server_url, "walk the dog")

    result = run_client_in_process(server_url, "rm", str(todo["id"]))

    assert (result.returncode, result.stdout) == (0, f"Deleted todo {todo['id']}: walk the dog\n")
    response = requests.get(f"{server_url}/todos/{todo['id']}", timeout=TIMEOUT)
    assert response.status_code == 404
    assert fetch_todo(server_url, kept["id"])["title"] == "buy milk"


def test_clear_yes_deletes_every_todo(server_url, run_client_in_process):
    for title in ("walk the dog", "buy milk"):
        create_todo(server_url, title)

    result = run_client_in_process(server_url, "clear", "--yes")

    assert (result.returncode, result.stdout) == (0, "Deleted every todo.\n")
    assert requests.get(f"{server_url}/todos", timeout=TIMEOUT).json() == []


def test_clear_refuses_without_yes_when_nobody_can_answer(server_url, run_client_in_process):
    create_todo(server_url, "walk the dog")

    result = run_client_in_process(server_url, "clear")  # stdin is not a terminal

    assert result.returncode != 0
    assert result.stderr == (
        "Not deleting every todo without a confirmation; "
        "run `python client.py clear --yes` to do it anyway.\n"
    )
    assert len(requests.get(f"{server_url}/todos", timeout=TIMEOUT).json()) == 1


class TerminalInput(io.StringIO):
    """Typed answers, on an input that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "todos_left"), [("y\n", 0), ("n\n", 2), ("\n", 2)])
def test_clear_asks_first_in_a_terminal(
    server_url, run_client_in_process, monkeypatch, answer, todos_left
):
    for title in ("walk the dog", "buy milk"):
        create_todo(server_url, title)
    monkeypatch.setattr("sys.stdin", TerminalInput(answer))

    result = run_client_in_process(server_url, "clear")

    assert result.returncode == 0
    assert "Delete all 2 todos?" in result.stdout
    assert len(requests.get(f"{server_url}/todos", timeout=TIMEOUT).json()) == todos_left


def test_list_filters_done_and_open(server_url, run_client_in_process):
    create_todo(server_url, "walk the dog", completed=True)
    create_todo(server_url, "buy milk")

    done = run_client_in_process(server_url, "list", "--done")
    still_open = run_client_in_process(server_url, "list", "--open")

    assert "walk the dog" in done.stdout and "buy milk" not in done.stdout
    assert caption(done.stdout) == "1 done todo"
    assert "buy milk" in still_open.stdout and "walk the dog" not in still_open.stdout
    assert caption(still_open.stdout) == "1 open todo"


def test_list_with_nothing_matching_says_so(server_url, run_client_in_process):
    create_todo(server_url, "walk the dog")

    result = run_client_in_process(server_url, "list", "--done")

    assert (result.returncode, result.stdout) == (0, "There are no done todos.\n")


def test_list_follows_the_pages_to_show_every_todo(server_url, run_client_in_process):
    titles = [f"todo number {number}" for number in range(1, 151)]
    for title in titles:
        create_todo(server_url, title)
    first_page = requests.get(f"{server_url}/todos", timeout=TIMEOUT)
    assert len(first_page.json()) == 100  # so the client had to follow Link: rel="next"
    assert "next" in first_page.links

    result = run_client_in_process(server_url, "list")

    assert result.returncode == 0, result.stderr
    for title in titles:
        row_of(result.stdout, title)
    assert caption(result.stdout) == "150 todos"


@pytest.mark.parametrize(
    "command",
    [["done", "999"], ["undo", "999"], ["rename", "999", "walk the cat"], ["rm", "999"]],
)
def test_an_unknown_id_is_one_sentence(server_url, run_client_in_process, command):
    result = run_client_in_process(server_url, *command)

    assert result.returncode != 0
    assert (result.stdout, result.stderr) == ("", "No todo 999.\n")


@pytest.mark.parametrize("command", [["add", ""], ["add", "   "], ["rename", "{id}", " "]])
def test_an_empty_title_shows_the_servers_explanation(server_url, run_client_in_process, command):
    todo = create_todo(server_url, "walk the dog")
    refused = requests.post(f"{server_url}/todos", json={"title": ""}, timeout=TIMEOUT)
    assert refused.status_code == 400

    result = run_client_in_process(server_url, *(part.format(id=todo["id"]) for part in command))

    assert result.returncode != 0
    assert result.stderr == refused.json()["detail"] + "\n"
    assert fetch_todo(server_url, todo["id"])["title"] == "walk the dog"


@pytest.mark.parametrize("command", ["done", "undo", "rm"])
def test_an_id_must_be_a_whole_number(server_url, run_client_in_process, command):
    result = run_client_in_process(server_url, command, "seven")

    assert result.returncode != 0
    assert "ID must be a whole number, like 7." in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["list"], ["add", "walk the dog"], ["done", "7"]])
def test_no_server_listening_is_one_sentence_on_how_to_start_it(
    unused_url, run_client_in_process, command
):
    result = run_client_in_process(unused_url, *command)

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr == (
        f"Cannot reach the todo server at {unused_url}. Is it running? Start it in another "
        f"terminal: go to {STEP_FOLDER}/server and run `flask run`.\n"
    )


def test_a_server_that_does_not_answer_in_time_is_one_sentence():
    # A socket that listens but never accepts: the connection opens, no answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        api = client.TodoApi(url, timeout=0.1)  # short: the test waits this long

        with pytest.raises(client.TodoClientError) as error:
            api.list_todos()

    assert str(error.value) == f"The todo server at {url} did not answer within 0.1 seconds."


class NotTodoHandler(BaseHTTPRequestHandler):
    """A web server that is not the todo server: a web page, or 404 for every path."""

    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body>Hello!</body></html>")

    def log_message(self, format: str, *args: object) -> None:
        """Keeps the test output quiet."""


@pytest.fixture(params=[200, 404])
def other_server(request) -> Iterator[str]:
    """A server on a free port that answers every GET with HTML; yields its URL."""
    handler = type("Handler", (NotTodoHandler,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits until serve_forever() next looks at its flag: every 0.05 s, not 0.5 s.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_that_is_not_the_todo_server_is_one_sentence(other_server, run_client_in_process):
    result = run_client_in_process(other_server, "list")

    assert result.returncode != 0
    assert result.stderr.endswith(
        "so it is not the todo server. "
        "Is another server (one from another step?) still running on that port?\n"
    )
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_a_change_from_a_stale_copy_is_refused_and_overwrites_nothing(server_url):
    todo = create_todo(server_url, "walk the dog")
    api = client.TodoApi(server_url)
    _, etag = api.get(todo["id"])
    # Someone else renames the todo after our read...
    requests.patch(todo["url"], json={"title": "walk the cat"}, timeout=TIMEOUT).raise_for_status()

    # ...so our change, made from what we read, is refused.
    with pytest.raises(client.TodoChanged) as error:
        api.update(todo["id"], {"title": "walk the dog twice"}, etag)

    assert str(error.value) == (
        f"Todo {todo['id']} was changed by someone else since it was read; "
        "nothing was changed. Run the command again."
    )
    assert fetch_todo(server_url, todo["id"])["title"] == "walk the cat"
    with pytest.raises(client.TodoChanged):
        api.delete(todo["id"], etag)
    assert fetch_todo(server_url, todo["id"])["title"] == "walk the cat"


def test_done_reports_a_change_made_between_its_read_and_its_write(
    server_url, run_client_in_process, monkeypatch
):
    todo = create_todo(server_url, "walk the dog")
    read_todo = client.TodoApi.get

    def get_then_someone_else_renames(api, todo_id):
        result = read_todo(api, todo_id)
        requests.patch(todo["url"], json={"title": "walk the cat"}, timeout=TIMEOUT)
        return result

    monkeypatch.setattr(client.TodoApi, "get", get_then_someone_else_renames)

    result = run_client_in_process(server_url, "done", str(todo["id"]))

    assert result.returncode != 0
    assert result.stderr == (
        f"Todo {todo['id']} was changed by someone else since it was read; "
        "nothing was changed. Run the command again.\n"
    )
    after = fetch_todo(server_url, todo["id"])
    assert (after["title"], after["completed"]) == ("walk the cat", False)
