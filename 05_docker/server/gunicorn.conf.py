"""gunicorn's settings: where to listen, how many worker processes, and the logs.

The image's CMD runs `gunicorn --config gunicorn.conf.py "app:create_app()"` in this
folder. gunicorn's main process starts the workers; each worker calls create_app() once
and then answers one request at a time. Settings come from the environment:

| variable        | what it sets                      | default |
|-----------------|-----------------------------------|---------|
| PORT            | the port to listen on             | 8000    |
| WEB_CONCURRENCY | how many worker processes to run  | 2       |
"""

import os

# 0.0.0.0 means every network interface of the container. 127.0.0.1 would answer only
# from inside the container, and `docker run -p 8000:8000` would find nobody listening.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# The workers share no memory: todos live in the database that every worker reaches.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# No control socket (for the `gunicornc` tool): nobody uses it here, and its path is one
# per user, which two gunicorns started by the same user would both claim.
control_socket_disable = True

# The app writes one JSON line per request itself (logs.py), with the request's id; a
# second line from gunicorn would repeat it without the id. gunicorn's other lines
# (starting, stopping, a worker that crashed) go to standard output as JSON, like the
# app's, where `docker logs` and `docker compose logs` read them.
accesslog = None
errorlog = "-"
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        # No handler of its own: its lines go up to the root logger's, formatted once.
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "formatters": {"json": {"()": "logs.JsonFormatter"}},
}
