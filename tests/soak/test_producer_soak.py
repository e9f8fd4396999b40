"""Soak the SDK: simulated traffic through repeated broker outages, spool on, nothing lost.

Run by `make soak`. Tune with SOAK_TRACKER_EVENTS and SOAK_OUTAGES.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

from shopstream.deploy.kafka import LocalKafka, admin_client
from shopstream.producers import QueueFullPolicy, Tracker, TrackerConfig
from shopstream.producers.simulator import SimulationConfig, generate
from shopstream.schemas import Codec

EVENTS = int(os.environ.get("SOAK_TRACKER_EVENTS", "60000"))
OUTAGES = int(os.environ.get("SOAK_OUTAGES", "3"))


@pytest.mark.parametrize("backend", ["confluent", "kafka-python"])
def test_simulated_traffic_survives_repeated_outages(tmp_path: Path, backend: str) -> None:
    node = LocalKafka(tmp_path / "kafka")
    node.start(timeout=180)
    topic = "soak.tracker"
    admin = admin_client(node.bootstrap_servers)
    admin.create_topics([NewTopic(topic, 6, 1)])[topic].result(60)
    tracker = Tracker(
        TrackerConfig(
            bootstrap_servers=node.bootstrap_servers, topic=topic, backend=backend,
            spool_dir=tmp_path / "spool", on_full=QueueFullPolicy.SPOOL, delivery_timeout_ms=5_000,
        )
    )  # fmt: skip
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    events = list(generate(SimulationConfig(events=EVENTS, buyers=500, seed=11), now))
    sent: set[uuid.UUID] = set()
    slowest = 0.0

    def traffic() -> None:
        nonlocal slowest
        for i, simulated in enumerate(events):
            assert simulated.event is not None
            t0 = time.perf_counter()
            tracker.track(simulated.event)
            slowest = max(slowest, time.perf_counter() - t0)
            sent.add(simulated.event.event_id)
            if i % 500 == 0:
                time.sleep(0.1)  # spread the traffic over the outages

    # The broker restarts from this thread: its JVM is bound to the thread that started it.
    shop = threading.Thread(target=traffic)
    began = time.monotonic()
    shop.start()
    for _ in range(OUTAGES):
        time.sleep(3)
        node.stop()
        time.sleep(4)
        node.start(timeout=180)
    shop.join()
    deadline = time.monotonic() + 180
    while (
        tracker.stats().spool_bytes or tracker.stats().in_flight or tracker.stats().queue_depth
    ) and time.monotonic() < deadline:
        time.sleep(0.5)
    tracker.flush(60)
    stats = tracker.stats()
    print(f"\nsoak tracker [{backend}] before close: {stats}")
    tracker.close(30)
    elapsed = time.monotonic() - began

    consumer = Consumer(
        {
            "bootstrap.servers": node.bootstrap_servers,
            "group.id": "soak",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    codec = Codec()
    received: set[uuid.UUID] = set()
    duplicates = 0
    idle = 0
    try:
        while len(received) < len(sent) and idle < 30:
            batch = [m for m in consumer.consume(2000, 1.0) if m.error() is None]
            idle = 0 if batch else idle + 1
            for msg in batch:
                event_id = codec.decode(msg.value() or b"").record["event_id"]
                duplicates += event_id in received
                received.add(event_id)
    finally:
        consumer.close()
        node.stop()
    print(
        f"\nsoak tracker [{backend}]: {len(sent)} events, {OUTAGES} outages, {elapsed:.0f} s; {stats}; "
        f"received {len(received)} distinct, {duplicates} duplicates (replays, dropped downstream by event_id); "
        f"slowest track() {slowest * 1e6:.0f} µs"
    )
    assert received == sent
    assert stats.dropped == 0
    assert stats.failed == 0
