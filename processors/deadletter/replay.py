"""Replaying dead letters: their original key and value bytes, produced again to a topic.

Opening the payloads is pure (:func:`open_for_replay`); :func:`replay` is the Kafka
adapter. The producer is idempotent with ``acks=all`` and murmur2 partitioning, as the
SDK's, so a replayed event lands in the partition its key always maps to. Each message
carries the header ``shopstream.dlq.dead_letter_id``. Replaying twice produces twice:
stage 2 drops the repeats by ``event_id``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from shopstream.processors.deadletter.errors import DeadLetterTopicError
from shopstream.processors.deadletter.letters import DeadLetter
from shopstream.processors.deadletter.sealing import DeadLetterKey

REPLAY_HEADER = "shopstream.dlq.dead_letter_id"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayMessage:
    """An original message recovered from a dead letter."""

    dead_letter_id: str
    key: bytes | None
    value: bytes


def open_for_replay(letters: Iterable[DeadLetter], key: DeadLetterKey) -> list[ReplayMessage]:
    """The original messages, in source order (topic, partition, offset), so that one
    buyer's events keep their order. Raises ``DeadLetterKeyError`` on the first payload
    that does not open, before anything is produced."""
    ordered = sorted(letters, key=lambda d: (d.source_topic, d.source_partition, d.source_offset))
    return [ReplayMessage(d.dead_letter_id, d.open_key(key), d.open_value(key)) for d in ordered]


def replay(
    bootstrap_servers: str,
    topic: str,
    messages: Sequence[ReplayMessage],
    *,
    timeout: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
    client_config: Mapping[str, Any] | None = None,
) -> int:
    """Produce ``messages`` to ``topic`` and wait for every acknowledgement; return the count.

    Raises :class:`DeadLetterTopicError` if the topic does not exist or a message is not
    acknowledged within ``timeout`` seconds; the message says how many were.
    """
    producer = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            # A typo in --to must fail, not create a topic on a broker that allows that.
            "allow.auto.create.topics": False,
            "message.timeout.ms": int(timeout * 1000),
            "logger": _log,
            **(client_config or {}),
        }
    )
    _require_topic(producer, topic, timeout)
    delivered = 0
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        nonlocal delivered
        if err is None:
            delivered += 1
        else:
            failures.append(err.str())

    for done, message in enumerate(messages, 1):
        headers = [(REPLAY_HEADER, message.dead_letter_id.encode("ascii"))]
        while True:
            try:
                producer.produce(
                    topic, message.value, message.key, headers=headers, on_delivery=on_delivery
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.5)
        producer.poll(0)
        if progress is not None and (done % 1000 == 0 or done == len(messages)):
            progress(done, len(messages))
    deadline = time.monotonic() + timeout
    while producer.flush(1.0) > 0 and time.monotonic() < deadline:
        pass
    if delivered != len(messages):
        first = f"; first error: {failures[0]}" if failures else ""
        raise DeadLetterTopicError(
            f"{delivered} of {len(messages)} messages acknowledged by {topic}{first}"
        )
    return delivered


def _require_topic(producer: Producer, topic: str, timeout: float) -> None:
    try:
        metadata = producer.list_topics(topic, timeout=timeout)
    except KafkaException as exc:
        raise DeadLetterTopicError(
            f"no answer from the cluster about {topic} within {timeout:.0f} s: {exc.args[0]}"
        ) from exc
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        why = described.error.str() if described is not None and described.error else "unknown"
        raise DeadLetterTopicError(f"cannot replay to {topic}: {why}")


__all__ = ["REPLAY_HEADER", "ReplayMessage", "open_for_replay", "replay"]
