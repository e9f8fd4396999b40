"""`shopstream topics create | check` against the real broker."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import KafkaException

# AlterConfigOpType & co. are public; confluent-kafka's stubs only re-export them implicitly.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)
from typer.testing import CliRunner, Result

from shopstream.processors.cli import app
from shopstream.processors.topics import DAY_MS, observe_topics, pipeline_topics

PARTITIONS = 2


@pytest.fixture
def prefix(kafka_admin: AdminClient, name_factory: Callable[[str], str]) -> Iterator[str]:
    """A fresh namespace for the pipeline topics, so tests never share (or clobber) them."""
    prefix = name_factory("pipeline") + "."
    yield prefix
    names = [spec.name for spec in pipeline_topics(prefix=prefix)]
    present = [n for n in names if n in kafka_admin.list_topics(timeout=10).topics]
    if present:
        for future in kafka_admin.delete_topics(present, operation_timeout=30).values():
            with contextlib.suppress(KafkaException):
                future.result(timeout=60)


@pytest.fixture
def topics_cli(kafka_bootstrap: str) -> Callable[..., Result]:
    runner = CliRunner(env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})

    def run(*args: str) -> Result:
        return runner.invoke(app, ["topics", *args])

    return run


def test_check_reports_every_missing_topic(topics_cli: Callable[..., Result], prefix: str) -> None:
    result = topics_cli("check", "--prefix", prefix)
    assert result.exit_code == 1
    for spec in pipeline_topics(prefix=prefix):
        assert f"drift    {spec.name}: missing" in result.stdout


def test_create_then_check_reports_no_drift(
    topics_cli: Callable[..., Result], kafka_admin: AdminClient, prefix: str
) -> None:
    sizing = ["--partitions", str(PARTITIONS), "--prefix", prefix]
    created = topics_cli("create", *sizing)
    assert created.exit_code == 0, created.output
    specs = pipeline_topics(partitions=PARTITIONS, prefix=prefix)
    for spec in specs:
        assert f"created  {spec.name} ({PARTITIONS} partitions" in created.stdout

    checked = topics_cli("check", *sizing)
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.count("ok       ") == len(specs)

    observed = observe_topics(kafka_admin, [s.name for s in specs])
    raw = observed[prefix + "shop.events.raw"]
    assert (raw.partitions, raw.replication_factor) == (PARTITIONS, 1)
    assert raw.configs["retention.ms"] == str(7 * DAY_MS)
    assert observed[prefix + "shop.products"].configs["cleanup.policy"] == "compact"


def test_create_twice_is_idempotent(topics_cli: Callable[..., Result], prefix: str) -> None:
    sizing = ["--partitions", str(PARTITIONS), "--prefix", prefix]
    assert topics_cli("create", *sizing).exit_code == 0
    again = topics_cli("create", *sizing)
    assert again.exit_code == 0, again.output
    assert "created" not in again.stdout
    assert again.stdout.count("exists   ") == len(pipeline_topics())
    assert topics_cli("check", *sizing).exit_code == 0


def test_check_reports_partition_count_drift(
    topics_cli: Callable[..., Result], prefix: str
) -> None:
    assert topics_cli("create", "--partitions", str(PARTITIONS), "--prefix", prefix).exit_code == 0
    result = topics_cli("check", "--prefix", prefix)  # declared default: 6 partitions
    assert result.exit_code == 1
    assert f"{prefix}shop.products: partitions is {PARTITIONS}, declared 6" in result.stdout


def test_check_reports_an_out_of_band_config_change_and_leaves_it(
    topics_cli: Callable[..., Result], kafka_admin: AdminClient, prefix: str
) -> None:
    sizing = ["--partitions", str(PARTITIONS), "--prefix", prefix]
    assert topics_cli("create", *sizing).exit_code == 0
    raw = prefix + "shop.events.raw"
    one_hour = str(60 * 60 * 1000)
    change = ConfigResource(
        ResourceType.TOPIC,
        raw,
        incremental_configs=[
            ConfigEntry("retention.ms", one_hour, incremental_operation=AlterConfigOpType.SET)
        ],
    )
    for future in kafka_admin.incremental_alter_configs([change]).values():
        future.result(timeout=30)
    _wait_for_retention(kafka_admin, raw, one_hour)

    result = topics_cli("check", *sizing)
    assert result.exit_code == 1
    assert f"drift    {raw}: retention.ms is {one_hour}, declared {7 * DAY_MS}" in result.stdout
    assert result.stdout.count("ok       ") == len(pipeline_topics()) - 1

    # Neither check nor a second create puts the declared value back.
    assert topics_cli("create", *sizing).exit_code == 0
    assert observe_topics(kafka_admin, [raw])[raw].configs["retention.ms"] == one_hour
    assert topics_cli("check", *sizing).exit_code == 1


def _wait_for_retention(admin: AdminClient, topic: str, value: str) -> None:
    # The broker applies a config change from the metadata log just after the controller.
    deadline = time.monotonic() + 15
    while observe_topics(admin, [topic])[topic].configs.get("retention.ms") != value:
        assert time.monotonic() < deadline, f"{topic} retention.ms never became {value}"
        time.sleep(0.1)
