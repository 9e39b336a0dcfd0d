"""README.md shows what really happens: every curl command and the client session are run.

The README's format makes this possible: each curl command is alone in a fenced block, and
the ```http block right after it holds what should come back (the status line, the headers
that matter, then the body, if any). The client session is a ```console block in which
`$ python client.py ...` lines are commands, followed by their output.
"""

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

STEP = Path(__file__).resolve().parent.parent
README = (STEP / "README.md").read_text(encoding="utf-8")
FENCED_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
README_ADDRESS = "127.0.0.1:8000"
# Characters that bash, zsh, cmd or PowerShell treat specially outside double quotes.
SHELL_SPECIAL = set("'\\$`%^|<>&?*;@(){}!#~")
# Headers that list methods: compared without regard to order (see same_header_value).
METHOD_LIST_HEADERS = ("allow", "access-control-allow-methods")

# What came back: the status ("201 CREATED"), the headers (lowercase names), the JSON body or None
Answer = tuple[str, dict[str, str], Any]


def curl_examples() -> list[tuple[str, str]]:
    """Each curl command of the README, with the ```http block that follows it."""
    blocks = FENCED_BLOCK.findall(README)
    examples = []
    for index, (_, text) in enumerate(blocks):
        if text.startswith("curl "):
            assert text.count("\n") == 1, f"one curl command per block, please:\n{text}"
            following = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
            assert following[0] == "http", f"no ```http block after:\n{text}"
            examples.append((text.strip(), following[1]))
    http_blocks = [text for language, text in blocks if language == "http"]
    assert len(http_blocks) == len(examples), "each ```http block follows a curl command"
    return examples


def read_answer(text: str, line_break: str) -> Answer:
    """An HTTP answer as text: status line, header lines, an empty line, the body."""
    head, _, body = text.partition(line_break * 2)
    status_line, *header_lines = head.split(line_break)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = status_line.split(" ", 1)[1]  # "HTTP/1.1 201 CREATED" -> "201 CREATED"
    return status, headers, json.loads(body) if body.strip() else None


def expected_answer(block: str, address: str) -> Answer:
    """What a README ```http block shows, for a server at `address` instead of port 8000."""
    return read_answer(block.replace(README_ADDRESS, address).rstrip("\n"), "\n")


def method_of(arguments: list[str]) -> str:
    """The HTTP method a curl command line sends."""
    if "-I" in arguments:
        return "HEAD"
    if "-X" in arguments:
        return arguments[arguments.index("-X") + 1]
    return "POST" if "--data-binary" in arguments else "GET"


def send_with_curl(curl: str, arguments: list[str]) -> Answer:
    """Runs the command with curl itself, in the step folder, and reads what it printed."""
    result = subprocess.run(
        [curl, *arguments[1:]], cwd=STEP, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    output = result.stdout.decode("utf-8")
    # Skip interim answers such as "HTTP/1.1 100 Continue": the final one comes last.
    while re.match(r"HTTP/\S+ 1\d\d ", output):
        output = output.split("\r\n\r\n", 1)[1]
    return read_answer(output, "\r\n")


def send_with_requests(arguments: list[str]) -> Answer:
    """Sends the request the curl command describes, with requests instead of curl."""
    headers: dict[str, str] = {}
    body = None
    url = ""
    options = iter(arguments[1:])
    for option in options:
        if option in ("-i", "-I"):
            continue
        if option == "-X":
            next(options)
        elif option == "-H":
            value = next(options)
            lines = (
                (STEP / value[1:]).read_text("utf-8").splitlines() if value[0] == "@" else [value]
            )
            for line in lines:
                name, _, header_value = line.partition(":")
                headers[name.strip()] = header_value.strip()
        elif option == "--data-binary":
            body = (STEP / next(options).removeprefix("@")).read_bytes()
        elif option.startswith("http"):
            url = option
        else:
            pytest.fail(f"this test does not know curl's {option} option: teach it")
    if body is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")  # as curl does
    response = requests.request(method_of(arguments), url, headers=headers, data=body, timeout=10)
    lower_headers = {name.lower(): value for name, value in response.headers.items()}
    status = f"{response.status_code} {response.reason}"
    return status, lower_headers, response.json() if response.content else None


def same_header_value(name: str, value: str, real_value: str | None) -> bool:
    """True when a header has the value the README shows. Flask lists allowed methods in
    no fixed order (it keeps them in a set), and their order means nothing to HTTP."""
    if name in METHOD_LIST_HEADERS and real_value is not None:
        return sorted(real_value.split(", ")) == sorted(value.split(", "))
    return real_value == value


def differences(expected: Answer, actual: Answer) -> list[str]:
    """What the server answered that the README does not show."""
    (status, headers, body), (real_status, real_headers, real_body) = expected, actual
    found = []
    if real_status != status:
        found.append(f"status {real_status}, README says {status}")
    for name, value in headers.items():
        if not same_header_value(name, value, real_headers.get(name)):
            found.append(f"{name}: {real_headers.get(name)!r}, README says {value!r}")
    # As JSON text, so that the order of the fields counts too.
    if body is not None and json.dumps(real_body) != json.dumps(body):
        found.append(f"body {json.dumps(real_body)}, README says {json.dumps(body)}")
    return found


def check_every_example(base_url: str, send: Callable[[list[str]], Answer]) -> None:
    """Runs the README's curl examples in order and fails with every difference found."""
    address = base_url.removeprefix("http://")
    problems = []
    for command, answer in curl_examples():
        arguments = shlex.split(command.replace(README_ADDRESS, address))
        found = differences(expected_answer(answer, address), send(arguments))
        problems += [f"{command}\n    {difference}" for difference in found]
    assert not problems, "README.md does not match the server:\n" + "\n".join(problems)


def test_readme_curl_examples_match_the_server(fresh_server):
    check_every_example(fresh_server, send_with_requests)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_commands_run_with_curl_as_shown(fresh_server):
    curl = shutil.which("curl")
    check_every_example(fresh_server, lambda arguments: send_with_curl(curl, arguments))


def test_readme_curl_commands_work_alike_in_every_shell():
    for command, _ in curl_examples():
        outside_quotes = "".join(command.split('"')[0::2])
        special = "".join(sorted(SHELL_SPECIAL & set(outside_quotes)))
        assert not special, f"put {special} inside double quotes: {command}"
        arguments = shlex.split(command)
        assert "-i" in arguments or "-I" in arguments, f"add -i to show the headers: {command}"


def test_readme_shows_every_endpoint_and_every_error():
    examples = [(shlex.split(command), answer) for command, answer in curl_examples()]
    statuses = {int(expected_answer(answer, README_ADDRESS)[0][:3]) for _, answer in examples}
    methods = {method_of(arguments) for arguments, _ in examples}

    assert {200, 201, 204, 304, 400, 404, 405, 409, 412, 413, 415} <= statuses
    assert {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} <= methods


def test_the_request_files_exist_are_valid_and_all_used():
    used = {
        argument[1:]
        for command, _ in curl_examples()
        for argument in shlex.split(command)
        if argument.startswith("@")
    }
    shipped = {path.relative_to(STEP).as_posix() for path in (STEP / "requests").iterdir()}

    assert used == shipped, "every file in requests/ is used by a README example, and only those"
    for name in used:
        text = (STEP / name).read_text(encoding="utf-8")
        if name.endswith(".json"):
            json.loads(text)  # raises if the file is not valid JSON
        else:
            assert re.fullmatch(r"([\w-]+: [^\n]+\n)+", text), f"{name}: one `Name: value` a line"


def test_the_code_names_the_readme_mentions_exist():
    """A function or class the README names (`problem()`, `TodoStore`, `create_app`) is in
    server/app.py or client/client.py: renaming or removing one means updating the README."""
    code = "\n".join(
        (STEP / name).read_text(encoding="utf-8") for name in ("server/app.py", "client/client.py")
    )
    mentioned = set(re.findall(r"`([A-Za-z_]\w*)\(\)`", README))  # `problem()`
    mentioned |= {
        name
        for name in re.findall(r"`([A-Za-z_]\w*)`", README)
        if "_" in name or re.fullmatch(r"(?:[A-Z][a-z]+){2,}", name)  # create_app, TodoStore
    }
    missing = sorted(name for name in mentioned if not re.search(rf"\b{name}\b", code))

    assert mentioned, "the README names no code: is this test still needed?"
    assert not missing, f"README.md names code that app.py and client.py lack: {missing}"


def client_session() -> list[tuple[list[str], list[str]]]:
    """The README's client session: each command's arguments, and the lines it prints."""
    blocks = [text for language, text in FENCED_BLOCK.findall(README) if language == "console"]
    assert len(blocks) == 1, "README.md should have one ```console block: the client session"
    session: list[tuple[list[str], list[str]]] = []
    for line in blocks[0].splitlines():
        if line.startswith("$ "):
            prefix, _, rest = line[2:].partition("client.py ")
            assert prefix == "python ", f"not a client command: {line}"
            session.append((shlex.split(rest), []))
        else:
            session[-1][1].append(line.rstrip())
    return session


def test_readme_client_session_prints_what_is_shown(fresh_server, run_client_in_process):
    # In this process: test_client.py checks that it prints what `python client.py` prints.
    for arguments, expected_lines in client_session():
        result = run_client_in_process(fresh_server, *arguments)
        printed = [line.rstrip() for line in (result.stdout + result.stderr).splitlines()]
        assert printed == expected_lines, f"python client.py {shlex.join(arguments)}"
