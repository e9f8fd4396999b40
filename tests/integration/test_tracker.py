"""The SDK against a real broker, for both backends: exact delivery, per-buyer order,
exit without flush, fork, and a broker outage with and without the spool."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from shopstream.deploy.kafka import LocalKafka
from shopstream.producers import Tracker, TrackerConfig
from shopstream.schemas import Codec
from shopstream.schemas.examples import example_events

BACKENDS = ["confluent", "kafka-python"]


def consume_all(
    bootstrap: str, topic: str, expected: int, *, timeout: float = 60.0, idle: float = 8.0
) -> list[tuple[int, int, dict]]:
    """(partition, offset, record) of every message, read_committed, until `expected` arrive."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    codec = Codec()
    found: list[tuple[int, int, dict]] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is None:
                    found.append((msg.partition(), msg.offset(), codec.decode(msg.value()).record))
                    last_new = time.monotonic()
            if found and time.monotonic() - last_new > idle:
                break  # fewer than expected arrived: the test counts what is missing
        # Anything beyond `expected` (duplicates) shows up within a short grace period.
        for msg in consumer.consume(1000, 1.0):
            if msg.error() is None:
                found.append((msg.partition(), msg.offset(), codec.decode(msg.value()).record))
    finally:
        consumer.close()
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_tracked_event_is_read_back_exactly_in_per_buyer_order(
    kafka_bootstrap: str, topic_factory: Callable[..., str], backend: str
) -> None:
    topic = topic_factory(partitions=4, stem="tracker")
    tracker = Tracker(
        TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic, backend=backend)
    )
    templates = list(example_events().items())
    sent: dict[uuid.UUID, dict] = {}
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    for i in range(600):
        _, event = templates[i % len(templates)]
        buyer = f"member-{i % 17:03d}"
        update = {
            "event_id": uuid.uuid4(),
            "event_time": start + dt.timedelta(seconds=i),
            "buyer_id": buyer,
        }
        copy = event.model_copy(update=update)
        assert tracker.track(copy) == copy.event_id
        sent[copy.event_id] = copy.to_avro()
    assert tracker.flush(60) == 0
    tracker.close()
    stats = tracker.stats()
    assert (stats.tracked, stats.sent, stats.failed, stats.dropped) == (600, 600, 0, 0)

    found = consume_all(kafka_bootstrap, topic, 600)
    assert len(found) == 600
    assert {r["event_id"]: r for _, _, r in found} == sent
    partitions: dict[tuple[str, str], set[int]] = defaultdict(set)
    order: dict[tuple[str, str], list[tuple[int, dt.datetime]]] = defaultdict(list)
    for partition, offset, record in found:
        subject = (record["shop_id"], record["buyer_id"] or record["product_id"])
        partitions[subject].add(partition)
        order[subject].append((offset, record["event_time"]))
    assert all(len(p) == 1 for p in partitions.values()), "a buyer's events span partitions"
    for events in order.values():
        times = [t for _, t in sorted(events)]
        assert times == sorted(times), "a buyer's events are out of order in their partition"


@pytest.mark.parametrize("backend", BACKENDS)
def test_helpers_deliver_the_records_the_models_would(
    kafka_bootstrap: str, topic_factory: Callable[..., str], backend: str
) -> None:
    """The helpers validate and queue a record without building a model (the fast path)."""
    topic = topic_factory(partitions=2, stem="helpers")
    tracker = Tracker(
        TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic, backend=backend)
    )
    expected: dict[uuid.UUID, dict] = {}
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for name, event in example_events().items():
        fields = event.model_dump(exclude={"sent_time"}) | {"event_id": uuid.uuid4()}
        assert getattr(tracker, name)(**fields) == fields["event_id"]
        expected[fields["event_id"]] = type(event)(**fields).to_avro()
    assert tracker.flush(60) == 0
    tracker.close()
    assert tracker.stats().sent == len(expected)
    found = consume_all(kafka_bootstrap, topic, len(expected))
    assert len(found) == len(expected)
    for _, _, record in found:
        want = expected[record["event_id"]]
        sent_time = record.pop("sent_time")
        want.pop("sent_time")
        assert record == want
        assert sent_time >= before  # stamped when the sender encoded it


def test_both_backends_put_a_buyer_in_the_same_partition(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=6, stem="partitioner")
    visit = example_events()["visit"]
    for backend in BACKENDS:
        tracker = Tracker(
            TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic, backend=backend)
        )
        for i in range(30):
            tracker.track(visit.model_copy(update={"event_id": uuid.uuid4(), "buyer_id": f"m{i}"}))
        tracker.close(30)
    found = consume_all(kafka_bootstrap, topic, 60)
    where: dict[str, set[int]] = defaultdict(set)
    for partition, _, record in found:
        where[record["buyer_id"]].add(partition)
    assert len(where) == 30
    assert all(len(p) == 1 for p in where.values())


def test_an_invalid_event_is_counted_and_reported_not_raised(kafka_bootstrap: str) -> None:
    errors: list[Exception] = []
    tracker = Tracker(
        TrackerConfig(bootstrap_servers=kafka_bootstrap, topic="unused"), on_error=errors.append
    )
    try:
        assert tracker.review(shop_id="shop-1", buyer_id="m1", product_id="P-1", rating=9) is None
        assert tracker.stats().rejected == 1
        assert "rating" in str(errors[0])
    finally:
        tracker.close(1)


def test_strict_mode_raises_naming_the_field(kafka_bootstrap: str) -> None:
    from shopstream.producers import EventRejectedError

    tracker = Tracker(TrackerConfig(bootstrap_servers=kafka_bootstrap, topic="unused", strict=True))
    try:
        with pytest.raises(EventRejectedError, match="email"):
            tracker.signup(shop_id="shop-1", buyer_id="m1", email="not an email")
    finally:
        tracker.close(1)


_EXIT_SCRIPT = textwrap.dedent(
    """
    import sys, uuid
    from shopstream.producers import Tracker, TrackerConfig
    from shopstream.schemas.examples import example_events
    bootstrap, topic, backend = sys.argv[1:4]
    tracker = Tracker(TrackerConfig(bootstrap_servers=bootstrap, topic=topic, backend=backend, queue_size=20000, exit_flush_timeout_s=60))
    visit = example_events()["visit"]
    for i in range(10_000):
        tracker.track(visit.model_copy(update={"event_id": uuid.UUID(int=i + 1)}))
    # no flush, no close: the exit hook must deliver everything
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_process_that_exits_without_flush_delivers_everything(
    kafka_bootstrap: str, topic_factory: Callable[..., str], tmp_path: Path, backend: str
) -> None:
    topic = topic_factory(partitions=3, stem="exit")
    script = tmp_path / "exit_without_flush.py"
    script.write_text(_EXIT_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), kafka_bootstrap, topic, backend],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = consume_all(kafka_bootstrap, topic, 10_000, timeout=90)
    assert sorted(r["event_id"].int for _, _, r in found) == list(range(1, 10_001))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tracker_made_before_fork_delivers_from_the_child(
    kafka_bootstrap: str, topic_factory: Callable[..., str], backend: str
) -> None:
    topic = topic_factory(partitions=2, stem="fork")
    tracker = Tracker(
        TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic, backend=backend)
    )
    visit = example_events()["visit"]
    parent_id = tracker.track(visit.model_copy(update={"event_id": uuid.uuid4()}))
    assert tracker.flush(30) == 0
    child_id = uuid.uuid4()
    pid = os.fork()
    if pid == 0:  # the child: track, flush, report by exit status
        code = 1
        try:
            tracker.track(visit.model_copy(update={"event_id": child_id}))
            code = 0 if tracker.flush(30) == 0 and tracker.stats().sent >= 1 else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    tracker.close(5)
    ids = {r["event_id"] for _, _, r in consume_all(kafka_bootstrap, topic, 2)}
    assert ids == {parent_id, child_id}


# -- outage: a broker of our own, killed and restarted on the same port ----------------


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    node = LocalKafka(tmp_path / "kafka")
    node.start(timeout=180)
    try:
        yield node
    finally:
        node.stop()


def _outage_topic(node: LocalKafka, topic: str) -> str:
    from confluent_kafka.admin import NewTopic

    from shopstream.deploy.kafka import admin_client

    admin = admin_client(node.bootstrap_servers)
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(60)
    return topic


def _outage_run(node: LocalKafka, tracker: Tracker, topic: str) -> tuple[set[uuid.UUID], float]:
    """Track 300 events before, 500 during and 200 after an outage; return ids and max call µs."""
    visit = example_events()["visit"]
    ids: set[uuid.UUID] = set()
    slowest = 0.0

    def burst(n: int) -> None:
        nonlocal slowest
        for _ in range(n):
            event = visit.model_copy(update={"event_id": uuid.uuid4()})
            began = time.perf_counter()
            tracker.track(event)
            slowest = max(slowest, time.perf_counter() - began)
            ids.add(event.event_id)
            time.sleep(0.002)

    burst(300)
    assert tracker.flush(30) == 0
    node.stop()
    burst(500)
    time.sleep(2)
    node.start(timeout=180)
    burst(200)
    return ids, slowest * 1e6


@pytest.mark.parametrize("backend", BACKENDS)
def test_outage_with_spool_loses_nothing(
    own_broker: LocalKafka, tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    topic = _outage_topic(own_broker, "outage.spool")
    config = TrackerConfig(
        bootstrap_servers=own_broker.bootstrap_servers, topic=topic, backend=backend,
        spool_dir=tmp_path / "spool", delivery_timeout_ms=5_000, queue_size=200, on_full="spool",
    )  # fmt: skip
    tracker = Tracker(config)
    ids, slowest_us = _outage_run(own_broker, tracker, topic)
    deadline = time.monotonic() + 90
    while (
        tracker.stats().spool_bytes or tracker.stats().in_flight
    ) and time.monotonic() < deadline:
        time.sleep(0.5)
    tracker.flush(30)
    stats = tracker.stats()
    tracker.close(10)
    found = {
        r["event_id"]
        for _, _, r in consume_all(own_broker.bootstrap_servers, topic, len(ids), timeout=90)
    }
    ours = [r for r in caplog.records if r.name.startswith("shopstream.producers")]
    loud = [r for r in ours if r.levelno >= logging.WARNING]
    print(
        f"\n{backend} outage with spool: {stats}; slowest track() {slowest_us:.0f} µs; "
        f"log lines from the SDK: {len(ours)}, {len(loud)} at WARNING or above, "
        f"{sum(r.levelno >= logging.ERROR for r in ours)} at ERROR"
    )
    assert found == ids
    assert stats.spooled > 0
    assert len(loud) <= 12, "an outage the spool absorbs must not flood the logs"
    assert not [r for r in ours if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("backend", BACKENDS)
def test_outage_without_spool_reports_exactly_what_is_missing(
    own_broker: LocalKafka, backend: str
) -> None:
    topic = _outage_topic(own_broker, "outage.nospool")
    config = TrackerConfig(
        bootstrap_servers=own_broker.bootstrap_servers, topic=topic, backend=backend,
        delivery_timeout_ms=3_000, queue_size=200,
    )  # fmt: skip
    tracker = Tracker(config)
    ids, slowest_us = _outage_run(own_broker, tracker, topic)
    tracker.flush(60)
    tracker.close(10)
    stats = tracker.stats()
    found = {
        r["event_id"]
        for _, _, r in consume_all(own_broker.bootstrap_servers, topic, len(ids), timeout=60)
    }
    print(f"\n{backend} outage without spool: {stats}; slowest track() {slowest_us:.0f} µs")
    assert found <= ids
    assert len(ids) - len(found) == stats.dropped + stats.failed
    assert stats.dropped + stats.failed > 0
    assert slowest_us < 100_000, "a track() call blocked during the outage"
