"""Reading a dead-letter topic from the beginning to its current end.

A fresh consumer that joins no group (its random group id is never used: partitions
are assigned, nothing is committed) reads ``read_committed`` from the low watermark of
every partition and stops at the end as it was when reading began, so a topic still
being written to is read as of that moment. Messages that are not dead letters are
yielded with their error, never skipped silently.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from shopstream.processors.deadletter.errors import DeadLetterDecodeError, DeadLetterTopicError
from shopstream.processors.deadletter.letters import DeadLetter, decode_dead_letter

DLQ_TOPIC = "shop.events.dlq"

_log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (messages read, messages expected) as reading goes on."""


@dataclass(frozen=True, slots=True)
class DlqMessage:
    """One message of the dead-letter topic: the letter, or why it is not one."""

    partition: int
    offset: int
    letter: DeadLetter | None
    error: DeadLetterDecodeError | None = None


def read_dead_letters(
    bootstrap_servers: str,
    topic: str = DLQ_TOPIC,
    *,
    timeout: float = 30.0,
    progress: Progress | None = None,
    client_config: Mapping[str, Any] | None = None,
) -> Iterator[DlqMessage]:
    """Every message of ``topic`` up to its end as of now, partition by partition in order.

    ``timeout`` bounds each wait on the cluster (metadata, watermarks, a fetch that
    brings nothing). Raises :class:`DeadLetterTopicError` when the topic does not exist
    or the cluster stops answering.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"shopstream-dlq-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "logger": _log,
            **(client_config or {}),
        }
    )
    try:
        ends = _ends(consumer, topic, timeout)
        expected = sum(high - low for low, high in ends.values())
        remaining = {p: high for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in remaining])
        read = 0
        last_news = time.monotonic()
        while remaining:
            batch = consumer.consume(500, min(1.0, timeout))
            for msg in batch:
                error = msg.error()
                partition = msg.partition()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        remaining.pop(partition, None)
                        continue
                    if error.fatal() or not error.retriable():
                        raise DeadLetterTopicError(f"reading {topic}: {error.str()}")
                    continue
                if partition not in remaining:
                    continue  # past the end as it was when reading began
                offset = msg.offset()
                read += 1
                yield _to_message(partition, offset, msg.value())
                if offset + 1 >= remaining[partition]:
                    del remaining[partition]
            if batch:
                last_news = time.monotonic()
                if progress is not None:
                    progress(read, expected)
            # Transaction markers take offsets but are never delivered: the position shows them.
            if remaining:
                for tp in consumer.position([TopicPartition(topic, p) for p in remaining]):
                    if tp.offset >= 0 and tp.offset >= remaining[tp.partition]:
                        del remaining[tp.partition]
            if remaining and time.monotonic() - last_news > timeout:
                raise DeadLetterTopicError(
                    f"reading {topic}: nothing from partitions {sorted(remaining)} for {timeout:.0f} s"
                )
    except KafkaException as exc:
        raise DeadLetterTopicError(f"reading {topic}: {exc.args[0]}") from exc
    finally:
        consumer.close()


def _ends(consumer: Consumer, topic: str, timeout: float) -> dict[int, tuple[int, int]]:
    """(low, high) watermarks of every partition; high is the last stable offset here."""
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
    except KafkaException as exc:
        raise DeadLetterTopicError(
            f"no answer from the cluster about {topic} within {timeout:.0f} s: {exc.args[0]}"
        ) from exc
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        why = described.error.str() if described is not None and described.error else "unknown"
        raise DeadLetterTopicError(f"topic {topic} cannot be read: {why}")
    ends = {}
    for partition in sorted(described.partitions):
        marks = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=timeout, cached=False
        )
        if marks is None:
            raise DeadLetterTopicError(
                f"no watermarks for {topic}[{partition}] within {timeout:.0f} s"
            )
        ends[partition] = (int(marks[0]), int(marks[1]))
    return ends


def _to_message(partition: int, offset: int, value: bytes | None) -> DlqMessage:
    if value is None:
        error = DeadLetterDecodeError("a message without a value (tombstone)", raw=b"")
        return DlqMessage(partition, offset, None, error)
    try:
        return DlqMessage(partition, offset, decode_dead_letter(value))
    except DeadLetterDecodeError as exc:
        return DlqMessage(partition, offset, None, exc)


__all__ = ["DLQ_TOPIC", "DlqMessage", "Progress", "read_dead_letters"]
