"""Soak the foundation: many broker restarts on one data dir, and a large volume round trip.

Run by `make soak` (with HYPOTHESIS_PROFILE=soak for the unit suite's property tests).
Each test prints its figures; the closing note of an issue quotes them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

from shopstream.deploy.kafka import LocalKafka, admin_client
from shopstream.deploy.kafka.process import pid_alive
from shopstream.producers.keys import partition_key
from shopstream.schemas.codec import Codec
from shopstream.schemas.examples import example_events

RESTARTS = int(os.environ.get("SOAK_RESTARTS", "12"))
EVENTS = int(os.environ.get("SOAK_EVENTS", "200000"))


def test_broker_restarts_keep_data_and_leave_no_process(tmp_path: Path) -> None:
    node = LocalKafka(tmp_path / "kafka")
    topic = "soak.restarts"
    codec = Codec()
    visit = example_events()["visit"]
    pids: list[int] = []
    start_seconds: list[float] = []
    for cycle in range(RESTARTS):
        began = time.monotonic()
        node.start(timeout=180)
        start_seconds.append(time.monotonic() - began)
        assert node.pid is not None
        pids.append(node.pid)
        if cycle == 0:
            _create_topic(node.bootstrap_servers, topic, partitions=3)
        producer = Producer(
            {"bootstrap.servers": node.bootstrap_servers, "enable.idempotence": True}
        )
        record = visit.model_copy(update={"event_id": uuid.UUID(int=cycle + 1)}).to_avro()
        producer.produce(topic, codec.encode("visit", record), partition_key(record))
        assert producer.flush(60) == 0
        node.stop()
        assert not pid_alive(pids[-1]), f"cycle {cycle}: the JVM outlived stop()"

    node.start(timeout=180)
    try:
        seen = _consume_all(node.bootstrap_servers, topic, RESTARTS, codec)
    finally:
        node.stop()
    assert sorted(seen) == list(range(1, RESTARTS + 1)), (
        "an event written before a restart is missing"
    )
    print(
        f"\nsoak restarts: {RESTARTS} cycles, start to ready min {min(start_seconds):.1f} s, "
        f"max {max(start_seconds):.1f} s; every event kept; no JVM left"
    )


def test_large_volume_round_trips_exactly(tmp_path: Path) -> None:
    codec = Codec()
    templates = list(example_events().items())
    with LocalKafka(tmp_path / "kafka") as node:
        topic = "soak.volume"
        _create_topic(node.bootstrap_servers, topic, partitions=6)
        producer = Producer(
            {
                "bootstrap.servers": node.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "zstd",
                "partitioner": "murmur2_random",
            }
        )
        began = time.monotonic()
        for i in range(EVENTS):
            name, event = templates[i % len(templates)]
            record = {**event.to_avro(), "event_id": uuid.UUID(int=i + 1)}
            while True:
                try:
                    producer.produce(topic, codec.encode(name, record), partition_key(record))
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        assert producer.flush(120) == 0
        produced_s = time.monotonic() - began
        began = time.monotonic()
        seen = _consume_all(node.bootstrap_servers, topic, EVENTS, codec)
        consumed_s = time.monotonic() - began
    counts = Counter(seen)
    assert len(counts) == EVENTS, "events lost"
    assert max(counts.values()) == 1, "events duplicated"
    print(
        f"\nsoak volume: {EVENTS} events produced in {produced_s:.1f} s "
        f"({EVENTS / produced_s:,.0f}/s incl. encode), consumed and decoded in {consumed_s:.1f} s "
        f"({EVENTS / consumed_s:,.0f}/s); none lost, none duplicated"
    )


def _create_topic(bootstrap: str, topic: str, *, partitions: int) -> None:
    admin = admin_client(bootstrap)  # kept alive until the future resolves
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(60)


def _consume_all(bootstrap: str, topic: str, expected: int, codec: Codec) -> list[int]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"soak-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: list[int] = []
    deadline = time.monotonic() + 300
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 1.0):
                if msg.error() is None:
                    seen.append(codec.decode(msg.value() or b"").record["event_id"].int)
    finally:
        consumer.close()
    return seen
