"""`shopstream dlq` without a broker: help, key handling and usage errors come first."""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest
import typer
from typer.testing import CliRunner

from shopstream.processors.cli import app
from shopstream.processors.cli.dlq import _when

NO_KEY = {"SHOPSTREAM_DLQ_KEY": None, "SHOPSTREAM_DLQ_KEY_ID": None}
# Nowhere to connect: a command that got past its checks would fail with exit 3, not hang.
NO_BROKER = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["dlq", *args], env={**NO_KEY, **NO_BROKER, **(env or {})})
    return result.exit_code, result.output


@pytest.mark.parametrize("command", [[], ["inspect"], ["replay"], ["keygen"]])
def test_help(command: list[str]) -> None:
    code, output = run(*command, "--help")
    assert code == 0
    assert "Usage: shopstream dlq" in output


def test_keygen_prints_a_key_and_its_id() -> None:
    result = CliRunner().invoke(app, ["dlq", "keygen"])
    assert result.exit_code == 0
    key = result.stdout.strip()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert "key id: dlq-" in result.stderr


def test_show_payload_without_a_key_says_the_payload_is_encrypted() -> None:
    code, output = run("inspect", "--show-payload")
    assert code == 1
    assert "encrypted" in output
    assert "SHOPSTREAM_DLQ_KEY" in output


def test_replay_without_a_key_exits_1() -> None:
    code, output = run("replay", "--to", "shop.events.raw", "--all")
    assert code == 1
    assert "needs the dead-letter key" in output


def test_a_malformed_key_exits_1_without_a_traceback_or_the_key() -> None:
    code, output = run(
        "replay", "--to", "t", "--all", env={"SHOPSTREAM_DLQ_KEY": "my secret passphrase"}
    )
    assert code == 1
    assert "Traceback" not in output
    assert "my secret passphrase" not in output
    assert "shopstream dlq keygen" in output


def test_inspect_without_show_payload_does_not_need_the_key() -> None:
    code, output = run("inspect", "--timeout", "1", env={"SHOPSTREAM_DLQ_KEY": "not a key"})
    assert code == 3  # got past the key to the (unreachable) cluster
    assert "SHOPSTREAM_DLQ_KEY" not in output


def test_replay_needs_a_target_and_a_selection() -> None:
    assert run("replay", "--all")[0] == 2
    code, output = run("replay", "--to", "shop.events.raw")
    assert code == 2
    assert "--all" in output


def test_a_bad_time_is_a_usage_error() -> None:
    code, output = run("inspect", "--since", "yesterday")
    assert code == 2
    assert "--since" in output


def test_an_unreachable_cluster_exits_3() -> None:
    code, output = run("inspect", "--timeout", "1")
    assert code == 3
    assert "error:" in output


def test_times_and_ages() -> None:
    assert _when(None, "--since") is None
    assert _when("2025-03-14", "--since") == 1741910400000
    assert _when("2025-03-14T18:26:54.123+09:00", "--since") == 1741944414123
    now = time.time_ns() // 1_000_000
    assert abs(_when("2h", "--since") - (now - 7_200_000)) < 5_000  # type: ignore[operator]
    assert abs(_when("7d", "--since") - (now - 7 * 86_400_000)) < 5_000  # type: ignore[operator]
    with pytest.raises(typer.BadParameter):
        _when("soon", "--until")
    assert dt.datetime.fromtimestamp(1741910400, dt.UTC).date() == dt.date(2025, 3, 14)
