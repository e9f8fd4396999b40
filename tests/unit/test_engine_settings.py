"""Stage settings: environment, secrets kept secret, the documented table current."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from shopstream.processors.cli import app
from shopstream.processors.engine.runtime import new_application
from shopstream.processors.engine.settings import (
    AggregateStageSettings,
    CleanSettings,
    settings_table,
)

DOC = Path(__file__).parents[2] / "docs" / "processors.md"


def test_the_documented_settings_table_is_current() -> None:
    assert settings_table() in DOC.read_text("utf-8"), "run `shopstream process settings`"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = secrets.token_urlsafe(32)
    monkeypatch.setenv("SHOPSTREAM_PSEUDONYM_KEY", key)
    monkeypatch.setenv("SHOPSTREAM_DLQ_KEY", secrets.token_urlsafe(32))
    monkeypatch.setenv("SHOPSTREAM_RAW_TOPIC", "tenant-a.raw")
    monkeypatch.setenv("SHOPSTREAM_CONSUMER_CONFIG", '{"fetch.max.bytes": 1048576}')
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    settings = CleanSettings()
    assert settings.raw_topic == "tenant-a.raw"
    assert settings.consumer_config == {"fetch.max.bytes": 1048576}
    assert settings.bootstrap_servers == "kafka-1:9092"
    assert settings.pseudonym_key.get_secret_value() == key
    assert key not in repr(settings)
    assert key not in str(settings.model_dump())


def test_a_missing_key_is_named_and_a_bad_one_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOPSTREAM_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("SHOPSTREAM_DLQ_KEY", raising=False)
    with pytest.raises(ValidationError, match="pseudonym_key"):
        CleanSettings()
    leaked_looking = "not-a-secret-" + secrets.token_hex(4)
    monkeypatch.setenv("SHOPSTREAM_PSEUDONYM_KEY", secrets.token_urlsafe(32))
    monkeypatch.setenv("SHOPSTREAM_DLQ_KEY", secrets.token_urlsafe(32))
    monkeypatch.setenv("SHOPSTREAM_PSEUDONYM_KEY_ID", leaked_looking + " with spaces")
    result = CliRunner().invoke(app, ["process", "clean", "--bootstrap-servers", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert "SHOPSTREAM_PSEUDONYM_KEY_ID" in result.output
    assert leaked_looking not in result.output


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        AggregateStageSettings(bootstrap_servers="x:1", comit_interval_s=1)  # type: ignore[call-arg]


def test_instance_id_fences_and_keeps_static_membership(tmp_path: Path) -> None:
    settings = AggregateStageSettings(
        bootstrap_servers="127.0.0.1:1", instance_id="pod-0", state_dir=tmp_path
    )
    application = new_application(settings, group="g", stateful=True)
    consumer, producer = (
        application.config.consumer_extra_config,
        application.config.producer_extra_config,
    )
    assert consumer["group.instance.id"] == "g-pod-0"
    assert producer["transactional.id"] == "g-pod-0"
    assert consumer["session.timeout.ms"] == 10_000
    assert producer["transaction.timeout.ms"] == 15_000
    overridden = AggregateStageSettings(
        bootstrap_servers="127.0.0.1:1",
        state_dir=tmp_path,
        producer_config={"transaction.timeout.ms": 30_000},
    )
    config = new_application(overridden, group="g", stateful=True).config
    assert config.producer_extra_config["transaction.timeout.ms"] == 30_000
    assert "transactional.id" in config.producer_extra_config  # Quix makes a random one
    assert "group.instance.id" not in config.consumer_extra_config


def test_the_process_commands_explain_themselves() -> None:
    runner = CliRunner()
    for command in (
        ["process", "--help"],
        ["process", "clean", "--help"],
        ["process", "aggregate", "--help"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 0
        assert "SIGTERM" in result.output or "Stage" in result.output
