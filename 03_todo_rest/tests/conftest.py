"""Fixtures shared by this step's tests."""

import pytest


@pytest.fixture
def app():
    """A fresh app with an empty store for each test."""
    from app import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    """Flask's test client: requests go straight to the app, no network."""
    return app.test_client()
