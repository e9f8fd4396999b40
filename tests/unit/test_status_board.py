"""The status page's JSON: readings of a stage's registry, rates, quantiles, routes."""

from __future__ import annotations

import json
import math
import re
import urllib.request
from collections.abc import Iterator

import pytest

from shopstream.processors.engine.http import StageHTTPServer
from shopstream.processors.engine.metrics import LagCollector, RestoreCollector, StageMetrics
from shopstream.processors.engine.status import (
    METRIC_NAMES,
    StatusBoard,
    histogram_quantile,
    read_registry,
    status_page,
)

INF = math.inf


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def metrics() -> StageMetrics:
    return StageMetrics("clean")


def board_factory(metrics: StageMetrics, clock: Clock, **options: float) -> StatusBoard:
    return StatusBoard(
        metrics.registry,
        stage="clean",
        dlq_topic="dlq",
        clock=clock,
        wall_clock=lambda: clock.now + 1_700_000_000,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, [], None),
        (0.5, [(0.1, 0.0), (INF, 0.0)], None),
        (0.5, [(0.1, 0.0), (0.5, 10.0), (1.0, 20.0), (INF, 20.0)], 0.5),
        (0.75, [(0.1, 0.0), (0.5, 10.0), (1.0, 20.0), (INF, 20.0)], 0.75),
        (0.25, [(1.0, 4.0), (INF, 4.0)], 0.25),  # the first bucket interpolates from 0
        (0.99, [(1.0, 0.0), (INF, 5.0)], 1.0),  # in +Inf: the highest finite bound
    ],
)
def test_histogram_quantile_as_prometheus(
    q: float, buckets: list[tuple[float, float]], expected: float | None
) -> None:
    assert histogram_quantile(q, buckets) == expected


def test_rates_are_differences_over_the_window(metrics: StageMetrics) -> None:
    clock = Clock()
    board = board_factory(metrics, clock, window_s=5.0)
    for _ in range(10):
        clock.now += 1
        metrics.events_in.labels("clean", "visit").inc(10)
        metrics.events_in.labels("clean", "purchase").inc(2)
        metrics.events_out.labels("clean", "clean", "visit").inc(10)
        metrics.events_out.labels("clean", "clean", "purchase").inc(1)
        metrics.events_out.labels("clean", "dlq", "purchase").inc(1)
        metrics.rejections.labels("clean", "total_matches_items").inc(1)
        board.sample()
    doc = board.snapshot()
    assert doc["window_s"] == 5.0  # newest reading against the oldest within 5 s
    assert doc["events_in"] == {
        "total": 120,
        "rate": 12.0,
        "by_type": {"purchase": {"total": 20, "rate": 2.0}, "visit": {"total": 100, "rate": 10.0}},
    }
    # Dead letters are the dead-letter topic's messages, apart from the other outputs.
    assert doc["events_out"]["total"] == 110
    assert doc["events_out"]["by_type"]["purchase"] == {"total": 10, "rate": 1.0}
    assert doc["dead_letters"] == {
        "total": 10,
        "rate": 1.0,
        "by_reason": {"total_matches_items": {"total": 10, "rate": 1.0}},
    }
    assert len(doc["history"]) == 10
    assert doc["history"][-1]["in"] == {"visit": 10.0, "purchase": 2.0}
    assert doc["history"][-1]["dead_letters"] == 1.0


def test_one_reading_per_min_interval_however_many_pollers(metrics: StageMetrics) -> None:
    clock = Clock()
    board = board_factory(metrics, clock, min_interval_s=0.5)
    clock.now += 1
    metrics.events_in.labels("clean", "visit").inc(4)
    first = board.snapshot()
    metrics.events_in.labels("clean", "visit").inc(4)
    clock.now += 0.1
    second = board.snapshot()
    assert first["events_in"]["total"] == second["events_in"]["total"] == 4
    assert len(second["history"]) == 1
    assert first["events_in"]["rate"] == 4.0  # against the baseline taken at construction


def test_history_is_bounded(metrics: StageMetrics) -> None:
    clock = Clock()
    board = board_factory(metrics, clock, history=5)
    for _ in range(20):
        clock.now += 1
        board.sample()
    assert len(board.snapshot()["history"]) == 5


def test_latency_quantiles_overall_and_in_the_window(metrics: StageMetrics) -> None:
    clock = Clock()
    board = board_factory(metrics, clock, window_s=5.0)
    latency = metrics.latency.labels("clean")
    for _ in range(100):
        latency.observe(20.0)  # between the 10 s and 30 s buckets
    clock.now += 10
    board.sample()
    clock.now += 1
    for _ in range(100):
        latency.observe(0.04)  # between 0.025 and 0.05
    doc = board.snapshot()["latency"]
    assert doc["count"] == 200
    assert doc["top_bound"] == 86400  # a quantile there only says "at least a day"
    assert doc["p99"] == pytest.approx(10 + 20 * (198 - 100) / 100)
    assert doc["window"]["count"] == 100
    assert doc["window"]["p50"] == pytest.approx(0.025 + 0.025 * 50 / 100)


def test_lag_restore_and_readiness(metrics: StageMetrics) -> None:
    clock = Clock()
    restoring = {0: 100, 2: 40}
    metrics.registry.register(LagCollector("clean", lambda: {("raw", 1): 3, ("raw", 0): 7}))
    metrics.registry.register(RestoreCollector(lambda: dict(restoring)))
    board = StatusBoard(
        metrics.registry,
        stage="clean",
        dlq_topic="dlq",
        ready=lambda: (False, {"running": True, "restoring_partitions": len(restoring)}),
        clock=clock,
    )
    restoring[0] = 25
    clock.now += 1
    doc = board.snapshot()
    assert doc["lag"] == {
        "total": 10,
        "partitions": [
            {"topic": "raw", "partition": 0, "lag": 7},
            {"topic": "raw", "partition": 1, "lag": 3},
        ],
    }
    assert doc["restore"] == {
        "restoring_partitions": 2,
        "partitions": [
            {"partition": 0, "remaining": 25, "progress": 0.75},
            {"partition": 2, "remaining": 40, "progress": 0.0},
        ],
    }
    assert doc["ready"] == {"ok": False, "running": True, "restoring_partitions": 2}
    restoring.clear()
    clock.now += 1
    assert board.snapshot()["restore"] == {"restoring_partitions": 0, "partitions": []}


@pytest.fixture
def served(metrics: StageMetrics) -> Iterator[str]:
    board = StatusBoard(metrics.registry, stage="clean", dlq_topic="dlq", min_interval_s=0)
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


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 — loopback only
        return response.headers["Content-Type"], response.read()


def test_routes_on_the_stage_port(served: str, metrics: StageMetrics) -> None:
    metrics.events_in.labels("clean", "visit").inc(3)
    ctype, page = _get(f"{served}/status")
    assert ctype.startswith("text/html")
    assert page == status_page()
    ctype, body = _get(f"{served}/status.json")
    assert ctype == "application/json"
    assert json.loads(body)["events_in"]["total"] == 3
    assert b"shopstream_events_in_total" in _get(f"{served}/metrics")[1]


def test_page_is_self_contained_and_labelled() -> None:
    page = status_page().decode()
    # Nothing fetched from elsewhere: no external scripts, styles, fonts or images.
    assert not re.search(r"<(script|img|iframe)[^>]+src=|<link\b|@import|url\(", page)
    addresses = set(re.findall(r"https?://[^\s\"')]+", page))
    assert addresses <= {"http://www.w3.org/2000/svg"}  # the SVG namespace is a name, not a fetch
    assert 'fetch("status.json"' in page
    for label in ("Events in", "Events out", "Dead letters", "Consumer lag", "Latency", "State restore", "Readiness"):  # fmt: skip
        assert label in page


def test_every_metric_the_page_reads_is_exported(metrics: StageMetrics) -> None:
    metrics.registry.register(LagCollector("clean", lambda: {("raw", 0): 1}))
    metrics.registry.register(RestoreCollector(lambda: {0: 1}))
    for counter in (metrics.events_in, metrics.rejections):
        counter.labels("clean", "x").inc()
    metrics.events_out.labels("clean", "t", "x").inc()
    for counter in (metrics.redactions, metrics.duplicates, metrics.buyers_emitted):
        counter.labels("clean").inc()
    metrics.latency.labels("clean").observe(1)
    exported = {s.name for family in metrics.registry.collect() for s in family.samples}
    assert exported >= METRIC_NAMES
    # and read_registry reads nothing else: each name moves a field of the reading
    reading = read_registry(metrics.registry, at=0, wall=0)
    assert all(
        [reading.events_in, reading.events_out, reading.rejections, reading.lag, reading.restore]
    )
    assert reading.latency
    assert reading.ready == 0
    assert reading.redactions == reading.duplicates == reading.buyers_emitted == 1
