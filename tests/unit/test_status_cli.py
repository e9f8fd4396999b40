"""`shopstream status`: stage URLs, the Kafka fallback for lag, the collector's spool."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException
from prometheus_client import CollectorRegistry, generate_latest
from rich.console import Console
from typer.testing import CliRunner

from shopstream.processors.cli import app
from shopstream.processors.cli.status import collect, read_spool, render, status_json_url
from shopstream.processors.engine.http import StageHTTPServer
from shopstream.processors.engine.metrics import LagCollector, StageMetrics
from shopstream.processors.engine.status import StatusBoard
from shopstream.producers.stats import TrackerStats, register_metrics

UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens on loopback here


@pytest.fixture
def clean_stage() -> Iterator[str]:
    metrics = StageMetrics("clean")
    metrics.registry.register(LagCollector("clean", lambda: {("raw", 0): 4, ("raw", 1): 0}))
    metrics.events_in.labels("clean", "visit").inc(7)
    metrics.events_in.labels("clean", "undecodable").inc(2)
    metrics.events_out.labels("clean", "clean", "visit").inc(7)
    metrics.events_out.labels("clean", "dlq", "undecodable").inc(2)
    metrics.rejections.labels("clean", "not_avro").inc(2)
    board = StatusBoard(
        metrics.registry, stage="clean", dlq_topic="dlq", ready=lambda: (True, {}), min_interval_s=0
    )
    server = StageHTTPServer(
        metrics.registry,
        healthy=lambda: (True, {}),
        ready=lambda: (True, {}),
        extra_routes=board.routes(),
    ).start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.close()


class FakeKafka:
    def __init__(self, fail: bool = False) -> None:
        self.asked: list[str] = []
        self.fail = fail

    def measure(self, stage: str) -> dict[tuple[str, int], int]:
        self.asked.append(stage)
        if self.fail:
            raise KafkaException("broker down")
        return {("clean-topic", 0): 5, ("clean-topic", 1): 1}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:9310", "http://h:9310/status.json"),
        ("http://h:9310/", "http://h:9310/status.json"),
        ("http://h:9310/status", "http://h:9310/status.json"),
        ("http://h:9310/status.json", "http://h:9310/status.json"),
    ],
)
def test_status_json_url(given: str, expected: str) -> None:
    assert status_json_url(given) == expected


def test_lag_from_kafka_only_for_the_stage_that_did_not_answer(clean_stage: str) -> None:
    kafka = FakeKafka()
    snapshot = collect([clean_stage, UNREACHABLE], kafka, stage_names=("clean", "aggregate"))
    assert set(snapshot.stages) == {"clean"}
    assert snapshot.stages["clean"]["events_in"]["total"] == 9
    assert list(snapshot.unreachable) == [UNREACHABLE]
    assert kafka.asked == ["aggregate"]
    assert snapshot.kafka_lag == {"aggregate": {("clean-topic", 0): 5, ("clean-topic", 1): 1}}


def test_kafka_down_is_reported_not_raised() -> None:
    snapshot = collect([UNREACHABLE], FakeKafka(fail=True), stage_names=("clean", "aggregate"))
    assert not snapshot.anything
    assert snapshot.kafka_error == "broker down"


def test_spool_depth_from_a_collectors_metrics() -> None:
    registry = CollectorRegistry()
    stats = TrackerStats(
        tracked=10, sent=4, failed=1, dropped=0, spooled=5, rejected=0,
        queue_depth=3, in_flight=2, spool_bytes=4096,
    )  # fmt: skip
    register_metrics(registry, lambda: stats)
    assert read_spool(generate_latest(registry).decode()) == {
        "events spooled": 5,
        "events dropped": 0,
        "events failed": 1,
        "queue depth": 3,
        "in flight": 2,
        "spool bytes": 4096,
    }


def _text(snapshot_render: object) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(snapshot_render)
    return console.export_text()


def test_render_shows_rates_lag_dead_letters_and_sources(clean_stage: str) -> None:
    snapshot = collect([clean_stage], FakeKafka(), stage_names=("clean", "aggregate"))
    text = _text(render(snapshot))
    assert re.search(r"│ clean\s+│ ready\s+│\s+9 \(", text)
    assert re.search(r"│ clean\s+│ visit\s+│\s+7 │", text)
    assert re.search(r"│ clean\s+│ raw\s+│\s+0 │\s+4 │ stage", text)
    assert re.search(r"│ aggregate\s+│ clean-topic\s+│\s+0 │\s+5 │ kafka", text)
    assert re.search(r"│ clean\s+│ not_avro\s+│\s+2 │", text)
    assert "no collector given" in text


def test_cli_once_and_json(clean_stage: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["status", "--once", "--no-kafka", "--stage", clean_stage])
    assert result.exit_code == 0, result.output
    assert "Dead letters by reason" in result.output
    assert "not_avro" in result.output
    result = runner.invoke(app, ["status", "--json", "--no-kafka", "--stage", clean_stage])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["stages"]["clean"]["dead_letters"]["by_reason"]["not_avro"]["total"] == 2
    assert "history" not in doc["stages"]["clean"]


def test_cli_exits_3_when_nothing_answers() -> None:
    result = CliRunner().invoke(app, ["status", "--once", "--no-kafka", "--stage", UNREACHABLE])
    assert result.exit_code == 3
    assert "unreachable" in result.output
