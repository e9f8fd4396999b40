"""What every sink shares: read topics in batches, hand them to a writer, resume where it left.

A sink is at-least-once by nature; ours are idempotent because the **writer** keeps its
own progress with the data it writes (file manifests for Parquet, a table updated in the
same database transaction for PostgreSQL). On (re)assignment the runner asks the writer
where each partition stands and seeks there: the consumer group's committed offsets are
only a hint for monitoring, never the source of truth. So a kill -9 at any point neither
duplicates nor loses a row.

:class:`SinkRunner` owns the Kafka side (consumer, batching per partition, rebalances,
graceful stop); a :class:`SinkWriter` owns the destination. Records arrive decoded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from shopstream.processors.errors import ProcessorError
from shopstream.schemas.codec import Codec, DecodedEvent
from shopstream.schemas.errors import DecodeError

log = logging.getLogger(__name__)


class SinkError(ProcessorError):
    """Root of the sinks' errors."""


@dataclass(frozen=True, slots=True)
class SinkRecord:
    """One decoded message with where it came from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    """The Kafka message timestamp (when the stage produced it)."""
    key: bytes | None
    event: DecodedEvent


@dataclass(slots=True)
class Batch:
    """Consecutive messages of one partition: ``first_offset``..``last_offset`` inclusive.

    Offsets may have gaps (transaction markers, aborted messages); the range still covers
    everything read, so progress is ``last_offset + 1``.
    """

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    records: list[SinkRecord] = field(default_factory=list)
    skipped: int = 0
    """Messages in the range that did not decode (logged and counted, not written)."""


class SinkWriter(Protocol):
    """The destination side of a sink."""

    def resume_offsets(self, topic: str, partitions: Sequence[int]) -> Mapping[int, int]:
        """The next offset to read for each partition, from the destination's own progress.

        A partition never written is absent (read from the beginning).
        """
        ...

    def write(self, batch: Batch) -> None:
        """Write the batch and record ``batch.last_offset + 1`` as that partition's progress,
        atomically: after a crash either both are there or neither."""
        ...

    def close(self) -> None: ...


Decoder = Callable[[str, bytes], DecodedEvent]
"""(topic, value) -> decoded event; raises :class:`DecodeError` for bytes that are no event."""


def codec_decoder(codecs: Mapping[str, Codec]) -> Decoder:
    """Decode each topic's messages with its own codec (clean events, features...)."""

    def decode(topic: str, value: bytes) -> DecodedEvent:
        return codecs[topic].decode(value)

    return decode


@dataclass(frozen=True)
class SinkStats:
    written: int
    batches: int
    skipped: int


class SinkRunner:
    """Consume ``topics`` in a consumer group and feed ``writer`` batch by batch."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        writer: SinkWriter,
        decode: Decoder,
        *,
        group: str,
        batch_size: int = 5_000,
        batch_interval_s: float = 2.0,
        kafka_config: Mapping[str, Any] | None = None,
        on_batch: Callable[[Batch], None] | None = None,
    ) -> None:
        self._topics = list(topics)
        self._writer = writer
        self._decode = decode
        self._batch_size = batch_size
        self._batch_interval = batch_interval_s
        self._on_batch = on_batch
        self._pending: dict[tuple[str, int], tuple[float, Batch]] = {}
        self._stop = threading.Event()
        self._written = self._batches = self._skipped = 0
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": group,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10_000,
                **(kafka_config or {}),
            }
        )

    @property
    def stats(self) -> SinkStats:
        return SinkStats(self._written, self._batches, self._skipped)

    def stop(self) -> None:
        """Ask :meth:`run` to flush what it holds and return (safe from a signal handler)."""
        self._stop.set()

    def run(self, *, until_caught_up: bool = False, idle_timeout_s: float = 5.0) -> SinkStats:
        """Run until :meth:`stop`; with ``until_caught_up``, until no message came for
        ``idle_timeout_s`` and every assigned partition is read to its end."""
        self._consumer.subscribe(self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        last_message = time.monotonic()
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(1000, timeout=0.2)
                for msg in messages:
                    error = msg.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            log.warning("consume error: %s", error)
                        continue
                    self._add(msg)
                    last_message = time.monotonic()
                self._flush(force=False)
                if (
                    until_caught_up
                    and not messages
                    and time.monotonic() - last_message >= idle_timeout_s
                    and self._caught_up()
                ):
                    break
            self._flush(force=True)
        finally:
            self._consumer.close()
            self._writer.close()
        return self.stats

    # -- internals ---------------------------------------------------------------------------
    def _add(self, msg: Any) -> None:
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        entry = self._pending.get((topic, partition))
        if entry is None:
            batch = Batch(topic, partition, offset, offset)
            self._pending[(topic, partition)] = (time.monotonic(), batch)
        else:
            batch = entry[1]
        batch.last_offset = offset
        try:
            event = self._decode(topic, msg.value() or b"")
        except DecodeError as exc:
            # Not ours to dead-letter: the stages wrote these topics. Count and go on.
            batch.skipped += 1
            log.error(
                "undecodable message %s[%d]@%d skipped (%s)",
                topic,
                partition,
                offset,
                type(exc).__name__,
            )
            return
        batch.records.append(
            SinkRecord(topic, partition, offset, msg.timestamp()[1], msg.key(), event)
        )
        if len(batch.records) >= self._batch_size:
            self._write(topic, partition)

    def _flush(self, *, force: bool) -> None:
        now = time.monotonic()
        for (topic, partition), (started, _) in list(self._pending.items()):
            if force or now - started >= self._batch_interval:
                self._write(topic, partition)

    def _write(self, topic: str, partition: int) -> None:
        _, batch = self._pending.pop((topic, partition))
        self._writer.write(batch)
        self._written += len(batch.records)
        self._skipped += batch.skipped
        self._batches += 1
        # For monitoring only (lag in the usual tools); the writer's progress is the truth.
        self._consumer.commit(
            offsets=[TopicPartition(topic, partition, batch.last_offset + 1)], asynchronous=True
        )
        if self._on_batch is not None:
            self._on_batch(batch)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        assigned = []
        for topic, numbers in by_topic.items():
            resume = self._writer.resume_offsets(topic, numbers)
            for number in numbers:
                assigned.append(TopicPartition(topic, number, resume.get(number, OFFSET_BEGINNING)))
        consumer.assign(assigned)
        log.info(
            "assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in assigned)
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            if (tp.topic, tp.partition) in self._pending:
                self._write(tp.topic, tp.partition)
        consumer.unassign()

    def _caught_up(self) -> bool:
        assignment = self._consumer.assignment()
        if not assignment:
            return False
        for tp in self._consumer.position(assignment):
            _, high = self._consumer.get_watermark_offsets(tp, timeout=5, cached=False)
            # At most one offset short is the end: a final transaction marker is no message.
            behind = tp.offset < 0 or tp.offset < high - 1
            if behind and not (tp.offset < 0 and high == 0):
                return False
        return not self._pending
