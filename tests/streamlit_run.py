"""Run the app or one page in Streamlit's AppTest against a test database, signed in as an actor."""

from __future__ import annotations

import sys

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from services.auth.roles import Actor


@pytest.fixture
def isolate_streamlit_runs(monkeypatch):
    """Give a test empty Streamlit caches and restore the process's __main__ module afterwards."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def run_streamlit(monkeypatch, database_url: str, path: str, actor: Actor | None, *, timeout: int = 60) -> AppTest:
    """Run the script at path once with DATABASE_URL set and the actor signed in; fail on any exception shown."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    app = AppTest.from_file(path, default_timeout=timeout)
    if actor is not None:
        app.session_state["actor"] = actor
    app.run()
    assert not app.exception, [exception.value for exception in app.exception]
    return app
