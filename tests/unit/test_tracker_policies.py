"""Tracker behaviour that needs no broker: the address points where nothing listens, so the
real client holds every event and the queue fills. Nothing here reaches a broker."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest

from shopstream.producers import EventRejectedError, QueueFullPolicy, Tracker, TrackerConfig
from shopstream.schemas.examples import example_events


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens there


def _tracker(**config: object) -> Tracker:
    defaults: dict[str, object] = {
        "bootstrap_servers": _dead_address(),
        "topic": "t",
        "exit_flush_timeout_s": 0,
    }
    return Tracker(TrackerConfig(**{**defaults, **config}))  # type: ignore[arg-type]


def _visits(n: int) -> list:
    visit = example_events()["visit"]
    return [visit.model_copy(update={"event_id": uuid.uuid4()}) for _ in range(n)]


def test_drop_policy_counts_and_reports_every_dropped_event() -> None:
    dropped: list[tuple[uuid.UUID | None, str]] = []
    tracker = Tracker(
        TrackerConfig(
            bootstrap_servers=_dead_address(),
            topic="t",
            queue_size=5,
            client_config={"queue.buffering.max.messages": 1},
        ),
        on_drop=lambda event_id, reason: dropped.append((event_id, reason)),
    )
    try:
        events = _visits(400)
        returned = [tracker.track(event) for event in events]
        stats = tracker.stats()
        assert returned.count(None) == stats.dropped  # a dropped event has no id to return
        assert stats.dropped > 0
        assert len(dropped) == stats.dropped
        assert all(reason == "queue_full" for _, reason in dropped)
        assert stats.tracked + stats.dropped == 400
    finally:
        tracker.close(0)


def test_block_policy_waits_at_most_its_bound() -> None:
    tracker = _tracker(
        queue_size=3,
        on_full=QueueFullPolicy.BLOCK,
        block_timeout_ms=20,
        client_config={"queue.buffering.max.messages": 1},
    )
    try:
        slowest = 0.0
        for event in _visits(200):
            began = time.perf_counter()
            tracker.track(event)
            slowest = max(slowest, time.perf_counter() - began)
        assert tracker.stats().dropped > 0
        # The bound plus generous slack for a loaded 2-core machine: this proves the wait is
        # bounded, not how fast the scheduler is (that is a benchmark's job).
        assert slowest < 0.020 + 0.25
    finally:
        tracker.close(0)


def test_spool_policy_keeps_what_the_queue_cannot(tmp_path: Path) -> None:
    tracker = _tracker(
        queue_size=3,
        on_full=QueueFullPolicy.SPOOL,
        spool_dir=tmp_path,
        client_config={"queue.buffering.max.messages": 1},
    )
    try:
        for event in _visits(200):
            tracker.track(event)
        stats = tracker.stats()
        assert stats.dropped == 0
        assert stats.spooled > 0
        assert stats.spool_bytes > 0
    finally:
        tracker.close(0)


def test_spool_policy_needs_a_spool_dir() -> None:
    with pytest.raises(ValueError, match="spool_dir"):
        Tracker(TrackerConfig(bootstrap_servers=_dead_address(), on_full="spool"))


def test_rejections_never_raise_and_never_log_values(caplog: pytest.LogCaptureFixture) -> None:
    errors: list[Exception] = []
    tracker = Tracker(
        TrackerConfig(bootstrap_servers=_dead_address(), topic="t", exit_flush_timeout_s=0),
        on_error=errors.append,
    )
    try:
        phone = "010-9876-5432"
        assert tracker.signup(shop_id="shop-1", buyer_id="m1", phone=phone, email="x@@y") is None
        assert (
            tracker.purchase(
                shop_id="shop-1", buyer_id="m1", order_id="O1", items=[], total=0, status="ordered"
            )
            is None
        )
        assert tracker.track({"not": "an event"}) is None  # type: ignore[arg-type]
        assert tracker.stats().rejected == 3
        assert len(errors) == 3
        assert isinstance(errors[0], EventRejectedError)
        assert "email" in str(errors[0])
        assert phone not in caplog.text
        assert "x@@y" not in caplog.text
        assert phone not in str(errors[0].errors)
    finally:
        tracker.close(0)


def test_helpers_fill_in_the_configured_shop() -> None:
    tracker = _tracker(shop_id="shop-7")
    try:
        assert tracker.visit(anonymous_id="a1", session_id="s1") is not None
        assert tracker.stats().tracked == 1
    finally:
        tracker.close(0)


def test_prometheus_registry_exports_the_counters() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    tracker = Tracker(
        TrackerConfig(bootstrap_servers=_dead_address(), topic="t", exit_flush_timeout_s=0),
        registry=registry,
    )
    try:
        tracker.review(shop_id="shop-1", buyer_id="m1", product_id="P-1", rating=7)
        text = generate_latest(registry).decode()
        assert 'shopstream_tracker_events_total{outcome="rejected"} 1.0' in text
        assert "shopstream_tracker_queue_depth" in text
    finally:
        tracker.close(0)


def test_close_with_no_time_accounts_for_every_event(tmp_path: Path) -> None:
    tracker = _tracker(spool_dir=tmp_path, queue_size=5_000)
    for event in _visits(2_000):
        tracker.track(event)
    tracker.close(0)  # no budget: nothing can be delivered; everything must be spooled
    stats = tracker.stats()
    assert stats.tracked == 2_000
    assert stats.spooled + stats.failed + stats.sent == 2_000
    assert stats.failed == 0
    assert stats.spooled == 2_000
