"""python -m workshop web NN: serves a todo step's web page, from another origin than the API.

The page, in NN_step/client/web, calls the todo API at http://127.0.0.1:8000. Served from
http://127.0.0.1:8080 it comes from another origin (another port is another origin), as a
real front end would, so the browser asks the API's permission first: CORS, to be seen in
the developer tools. The same as `python -m http.server 8080 --bind 127.0.0.1` run in
that folder, which is how the step's README opens it too.

Standard library only: the page is plain files, and the server only hands them out.
"""

import argparse
from functools import partial
from typing import ClassVar

from workshop.steps import find_step

DEFAULT_PORT = 8080
API_URL = "http://127.0.0.1:8000"  # what the page calls until its "API base URL" is changed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("step", help="the step's number: 03, 04 or 05")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )


def main(args: argparse.Namespace) -> int:
    import http.server

    step = find_step(args.step)
    folder = step.path / "client" / "web"
    if not folder.is_dir():
        raise ValueError(
            f"Step {step.number} has no web page: the todo steps 03, 04 and 05 have one."
        )

    class PageHandler(http.server.SimpleHTTPRequestHandler):
        # Said here, not guessed: some Windows set-ups map .js to text/plain.
        extensions_map: ClassVar[dict[str, str]] = {
            ".html": "text/html; charset=utf-8",
            ".js": "text/javascript; charset=utf-8",
            ".css": "text/css; charset=utf-8",
        }

        def end_headers(self) -> None:
            # The browser asks again each time: after an edit, a reload shows the new file.
            self.send_header("Cache-Control", "no-cache")
            super().end_headers()

    handler = partial(PageHandler, directory=str(folder))
    try:
        # 127.0.0.1 only: the page is for this computer's browser, not for the venue's Wi-Fi.
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as error:
        raise ValueError(
            f"Cannot serve the page on port {args.port} ({error.strerror}). "
            f"Is something else using it? Choose another port with --port {args.port + 1}."
        ) from None
    port = server.server_address[1]
    with server:
        print(f"The web page of {step.folder}: http://127.0.0.1:{port}/ (stop with Ctrl+C)")
        print(
            f"It calls the todo API at {API_URL}: start it in another terminal with "
            f"`python -m workshop run {step.number}`.",
            flush=True,  # shown at once, even when the output goes to a file or a pipe
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.")
    return 0
