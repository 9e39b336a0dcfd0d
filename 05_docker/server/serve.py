"""Serves the todo API in production: granian runs create_app() in several worker processes.

The image's CMD is `python serve.py`, in this folder; on a laptop the same command works
on Windows, macOS and Linux. granian's main process starts the workers, starts a new one
if one dies, and on SIGTERM (`docker stop`) lets the requests in progress finish before
it exits. Settings come from the environment:

| variable        | what it sets                      | default                         |
|-----------------|-----------------------------------|---------------------------------|
| HOST            | the address to listen on          | 127.0.0.1; the image: 0.0.0.0   |
| PORT            | the port to listen on             | 8000                            |
| WEB_CONCURRENCY | how many worker processes to run  | 2                               |
"""

import multiprocessing
import os

from granian import Granian
from granian.constants import Interfaces

from app import create_app

# One JSON line for each of granian's lines (starting, a worker that died) and for each
# of the app's (one per request, with its id; see logs.py), on standard output, where
# `docker logs` and `docker compose logs` read them.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["stdout"]},
    # granian's loggers write through handlers of their own: their lines go to the root's.
    "loggers": {"_granian": {"level": "INFO", "handlers": [], "propagate": True}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "formatters": {"json": {"()": "logs.JsonFormatter"}},
}

# Requests a worker answers at once, each in a thread of its own. Python runs the code of
# one thread at a time (the GIL), so more threads would mostly wait their turn; four is
# also the size of the PostgreSQL connection pool (repository.py), so no thread waits for
# a connection.
THREADS_PER_WORKER = 4
# How long the workers may take, after SIGTERM, to finish the requests in progress.
SHUTDOWN_SECONDS = 30


def main() -> None:
    # The app is built once here first, so that a mistake in the settings (DATABASE_URL,
    # the tokens) stops the server with its one sentence, rather than every worker that
    # granian would start again and again.
    try:
        create_app()
    except ValueError as mistake:
        raise SystemExit(f"The server cannot start: {mistake}") from None
    # Each worker starts as a new Python process, as on macOS and Windows. Forked instead
    # (Linux's default before Python 3.14), a worker would inherit the main process's
    # signal handler and miss a SIGTERM sent while it starts: `docker stop` would wait.
    multiprocessing.set_start_method("spawn")
    Granian(
        "app:create_app",
        factory=True,  # each worker calls create_app() once
        interface=Interfaces.WSGI,  # Flask is a WSGI app
        # 127.0.0.1: only this machine can connect. The image sets HOST=0.0.0.0, every
        # interface of the container, or `docker run -p 8000:8000` would find nobody.
        address=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        # The workers share no memory: todos live in the database that every worker reaches.
        workers=int(os.environ.get("WEB_CONCURRENCY", "2")),
        blocking_threads=THREADS_PER_WORKER,
        websockets=False,  # WSGI has no websockets; saying so spares a line in the log
        respawn_failed_workers=True,  # a worker that dies is replaced
        workers_kill_timeout=SHUTDOWN_SECONDS,
        log_dictconfig=LOGGING,
    ).serve()


if __name__ == "__main__":
    main()
