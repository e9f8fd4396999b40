"""`shopstream sink postgres`: the DSN is required and never echoed."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from shopstream.processors.cli import app


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The command configures the root logger, as a command line does.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    "args",
    [["sink", "postgres", "--bootstrap-servers", "127.0.0.1:1"], ["sink", "postgres", "migrate"]],
    ids=["sink", "migrate"],
)
def test_without_a_dsn_it_says_which_setting_is_missing(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOPSTREAM_POSTGRES_DSN", raising=False)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "SHOPSTREAM_POSTGRES_DSN" in result.output


def test_an_unreachable_database_fails_without_showing_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Port 1 on the loopback refuses at once.
    dsn = "postgresql://sink:hunter2-secret@127.0.0.1:1/features?connect_timeout=2"
    monkeypatch.setenv("SHOPSTREAM_POSTGRES_DSN", dsn)
    result = CliRunner().invoke(app, ["sink", "postgres", "migrate", "--log-format", "text"])
    assert result.exit_code == 1
    assert "hunter2-secret" not in result.output
