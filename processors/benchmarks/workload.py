"""The benchmark's input: simulated shop traffic, encoded once, produced as the SDK would.

Valid events are the simulator's SDK models encoded with :class:`Codec` under
:func:`partition_key`; bad ones are the simulator's bytes as they are. The producer has
the SDK's confluent settings (idempotent, acks=all, zstd, murmur2 partitioning).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException, Producer

from shopstream.producers.simulator import SimulationConfig, generate
from shopstream.schemas.codec import Codec

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Simulated:
    """One simulated event: the record to encode (valid) or the bytes to send (bad)."""

    name: str | None
    key: bytes
    record: Mapping[str, Any] | None
    raw: bytes | None


@dataclass(frozen=True)
class Workload:
    events: list[Simulated]
    messages: list[tuple[bytes, bytes]]
    """(key, value) of every event, encoded once."""

    @property
    def bad(self) -> int:
        return sum(1 for e in self.events if e.record is None)


def simulate(
    config: SimulationConfig, *, codec: Codec | None = None, progress: Progress | None = None
) -> Workload:
    codec = codec or Codec()
    events: list[Simulated] = []
    messages: list[tuple[bytes, bytes]] = []
    for n, simulated in enumerate(generate(config, dt.datetime.now(dt.UTC)), 1):
        if simulated.event is not None and simulated.name is not None:
            record = simulated.event.to_avro()
            events.append(Simulated(simulated.name, simulated.key, record, None))
            messages.append((simulated.key, codec.encode(simulated.name, record)))
        else:
            raw = simulated.raw or b""
            events.append(Simulated(simulated.name, simulated.key, None, raw))
            messages.append((simulated.key, raw))
        if progress and n % 10_000 == 0:
            progress(f"simulated {n:,} of {config.events:,} events")
    return Workload(events, messages)


def new_producer(
    bootstrap_servers: str, client_config: Mapping[str, Any] | None = None
) -> Producer:
    """A producer with the SDK's confluent backend settings."""
    return Producer(
        {
            **(client_config or {}),
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "zstd",
            "partitioner": "murmur2_random",
        }
    )


def produce_all(
    producer: Producer, topic: str, messages: list[tuple[bytes, bytes]], *, timeout: float = 120
) -> None:
    """Produce every message and wait until the broker has acknowledged them all."""
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(timeout)
    if remaining or failures:
        raise KafkaException(f"{remaining} undelivered; failures: {failures[:3]}")


def timed_stream(workload: Workload) -> Iterator[Simulated]:
    """The workload's events over and over, each valid one under a new event id: stage 2
    drops an id it has seen (the throughput run sent the originals) as a duplicate."""
    while True:
        for event in workload.events:
            if event.record is not None:
                event = Simulated(
                    event.name, event.key, {**event.record, "event_id": uuid.uuid4()}, None
                )
            yield event


def encode_now(codec: Codec, event: Simulated, now_ms: int) -> bytes:
    """The event's bytes with ``event_time`` and ``sent_time`` set to ``now_ms``."""
    if event.record is None or event.name is None:
        return event.raw or b""
    now = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    return codec.encode(event.name, {**event.record, "event_time": now, "sent_time": now})


__all__ = [
    "Simulated",
    "Workload",
    "encode_now",
    "new_producer",
    "produce_all",
    "simulate",
    "timed_stream",
]
