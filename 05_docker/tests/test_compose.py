"""compose.yaml and .env.example: the API and PostgreSQL, configured from the environment."""

import re
from pathlib import Path

import pytest
import yaml

STEP = Path(__file__).resolve().parent.parent
VARIABLE = re.compile(r"\$\{(\w+)")


@pytest.fixture(scope="module")
def compose() -> dict:
    """compose.yaml, parsed."""
    return yaml.safe_load((STEP / "compose.yaml").read_text(encoding="utf-8"))


def test_has_the_api_and_its_database_and_no_obsolete_version_key(compose):
    """`version:` is obsolete in the Compose Specification; compose warns about it."""
    assert "version" not in compose
    assert set(compose["services"]) == {"api", "db"}


def test_the_api_is_built_from_the_dockerfile_and_waits_for_a_healthy_database(compose):
    """service_healthy: the API starts once PostgreSQL answers, not when its container starts."""
    api = compose["services"]["api"]
    assert api["build"] in (".", {"context": "."})
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert "127.0.0.1:8000:8000" in api["ports"]
    # No healthcheck here means the image's HEALTHCHECK applies; one that is switched off
    # would hide a broken API.
    assert not api.get("healthcheck", {}).get("disable", False)
    assert api["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert "@db:5432/" in api["environment"]["DATABASE_URL"]


def test_the_database_is_official_postgres_pinned_to_a_major_version_with_a_healthcheck(compose):
    """`postgres:18` gets 18's fixes; `postgres:latest` could turn into 19 and its new files."""
    db = compose["services"]["db"]
    assert re.fullmatch(r"postgres:\d+", db["image"]), db["image"]
    test = db["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(test)


def test_the_todos_live_in_a_named_volume(compose):
    """A named volume outlives the container; PostgreSQL 18 keeps its data under
    /var/lib/postgresql, older versions under /var/lib/postgresql/data."""
    db = compose["services"]["db"]
    major = int(db["image"].partition(":")[2])
    data_folder = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
    volume_names = set(compose["volumes"])
    mounts = [volume.split(":") for volume in db["volumes"]]
    assert any(name in volume_names and target == data_folder for name, target in mounts)


def test_no_password_is_written_in_the_file(compose):
    """Passwords come from the environment or .env, never from a file in git."""
    db_password = compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD(:\?[^}]*)?\}", db_password)
    url = compose["services"]["api"]["environment"]["DATABASE_URL"]
    # user, password and database name in the URL: all three from variables.
    from_variables = r"postgresql://\$\{[^}]+\}:\$\{POSTGRES_PASSWORD[^}]*\}@db:5432/\$\{[^}]+\}"
    assert re.fullmatch(from_variables, url), url


def test_env_example_documents_every_variable(compose, variables_to_set):
    """Every variable the server or compose reads appears in .env.example."""
    documented = (STEP / ".env.example").read_text(encoding="utf-8")
    read_by_server = variables_to_set
    read_by_compose = set(VARIABLE.findall((STEP / "compose.yaml").read_text(encoding="utf-8")))
    assert {"DATABASE_URL", "API_TOKEN", "PORT", "WEB_CONCURRENCY"} <= read_by_server
    assert "POSTGRES_PASSWORD" in read_by_compose
    missing = {name for name in read_by_server | read_by_compose if name not in documented}
    assert not missing, f"not in .env.example: {sorted(missing)}"
