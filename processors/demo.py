"""`shopstream demo`: one event of each type through a real broker and back.

Grows with the pipeline. Today: start a local broker (unless KAFKA_BOOTSTRAP_SERVERS
names one), create the topics, produce one event of each type to the raw topic,
consume them back, decode them, stop the broker.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer

from shopstream.deploy.kafka import LocalKafka, admin_client
from shopstream.deploy.kafka.settings import LauncherSettings
from shopstream.processors.topics import create_topics, pipeline_topics
from shopstream.producers.keys import partition_key
from shopstream.schemas.codec import Codec, DecodedEvent
from shopstream.schemas.errors import DecodeError
from shopstream.schemas.examples import example_events, example_tangible_product

RAW_TOPIC = "shop.events.raw"


@dataclass(frozen=True)
class DemoResult:
    sent: int
    received: list[DecodedEvent]


@dataclass(frozen=True)
class DemoTarget:
    bootstrap_servers: str
    topic_prefix: str
    """Empty on the throwaway node; on a real cluster the demo keeps to its own topics."""


@contextlib.contextmanager
def broker(say: Callable[[str], None]) -> Iterator[DemoTarget]:
    """The configured cluster (with demo-only topic names), or a throwaway local node."""
    configured = LauncherSettings().external_bootstrap_servers
    if configured:
        prefix = f"demo-{uuid.uuid4().hex[:8]}."
        say(
            f"using the cluster at {configured} (KAFKA_BOOTSTRAP_SERVERS); starting nothing; "
            f"demo topics are named {prefix}*"
        )
        yield DemoTarget(configured, prefix)
        return
    with tempfile.TemporaryDirectory(prefix="shopstream-demo-") as tmp:
        node = LocalKafka(Path(tmp) / "kafka", progress=say)
        say("starting a local Kafka node (KRaft, 127.0.0.1)...")
        with node.start():
            say(f"broker ready at {node.bootstrap_servers}")
            yield DemoTarget(node.bootstrap_servers, "")
            say("stopping the broker...")


def run(
    bootstrap: str, say: Callable[[str], None], *, topic_prefix: str = "", timeout: float = 60.0
) -> DemoResult:
    """Create the topics, send one event of each type to the raw topic, read them back."""
    admin = admin_client(bootstrap)
    raw_topic = topic_prefix + RAW_TOPIC
    report = create_topics(admin, pipeline_topics(prefix=topic_prefix))
    say(
        f"topics created: {', '.join(report.created) or 'none'}; existing: {', '.join(report.existing) or 'none'}"
    )

    codec = Codec()
    events = list(example_events().items())
    events.append(("product", example_tangible_product(events[0][1].event_time)))
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "compression.type": "zstd",
        }
    )
    failures: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    sent_ids = set()
    for name, event in events:
        record = event.to_avro()
        producer.produce(
            raw_topic, codec.encode(name, record), partition_key(record), on_delivery=delivered
        )
        sent_ids.add(event.event_id)
    remaining = producer.flush(timeout)
    if remaining or failures:
        raise KafkaException(f"{remaining} undelivered, failures: {failures}")
    say(f"sent {len(events)} events to {raw_topic}")

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"shopstream-demo-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([raw_topic])
    received: list[DecodedEvent] = []
    try:
        deadline = time.monotonic() + timeout
        while {e.record["event_id"] for e in received} < sent_ids and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            try:
                decoded = codec.decode(msg.value() or b"")
            except DecodeError as exc:  # someone else's bytes on a shared topic
                say(f"skipped an undecodable message ({exc.reason}) at offset {msg.offset()}")
                continue
            if decoded.record["event_id"] in sent_ids:
                received.append(decoded)
    finally:
        consumer.close()
    return DemoResult(sent=len(events), received=received)


__all__ = [
    "RAW_TOPIC",
    "DemoResult",
    "DemoTarget",
    "broker",
    "run",
]
