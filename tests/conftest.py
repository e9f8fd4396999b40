"""Fixtures shared by unit and integration tests. Nothing here starts a broker."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short token unique to this test session, to keep names apart on a shared cluster."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def name_factory(run_id: str) -> Callable[[str], str]:
    """Make unique resource names: `name_factory("orders")` -> `test.orders.<run>.<n>`."""

    def make(stem: str) -> str:
        return f"test.{stem}.{run_id}.{uuid.uuid4().hex[:6]}"

    return make
