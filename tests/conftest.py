"""Fixtures shared by unit and integration tests. Nothing here starts a broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

# Property tests draw their example counts from a profile: "ci" for make test, "soak" for
# make soak (HYPOTHESIS_PROFILE=soak). Tests set only what is theirs (deadline, health checks).
settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile(
    "soak", max_examples=5_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
