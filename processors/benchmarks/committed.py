"""Throughput from a consumer group's committed offsets, the same way for every system.

A background thread reads the committed offsets of the groups under test every ~0.2 s
(an OffsetFetch request: it does not join the group). Afterwards the offsets are turned
into *records* with an index of the input topic's record offsets, because a topic
written in transactions also holds control markers, which take offsets but are not
events. The rate excludes process start-up and group join:

    rate = (records_end - records_at_first_progress) / (t_end - t_first_progress)

where ``t_first_progress`` is the first reading with any record committed and ``t_end``
the first reading with every record committed.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition

POLL_INTERVAL_S = 0.2

Offsets = Mapping[int, int]
"""partition -> committed offset (the next offset to read); absent: nothing committed."""


@dataclass(frozen=True)
class Reading:
    """One reading of the committed offsets of the groups watched, at ``t`` (monotonic s)."""

    t: float
    offsets: Mapping[str, Offsets]
    """group -> its committed offsets."""


@dataclass(frozen=True)
class TopicRecords:
    """The offsets that hold records, per partition (sorted); markers are not among them."""

    topic: str
    offsets: Mapping[int, Sequence[int]]

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.offsets.values())

    def ends(self) -> dict[int, int]:
        """partition -> the offset a group has committed once it has read every record."""
        return {p: v[-1] + 1 for p, v in self.offsets.items() if v}

    def before(self, committed: Offsets) -> int:
        """How many records lie before the committed offsets (read and committed)."""
        return sum(
            bisect.bisect_left(offsets, committed.get(p, 0)) for p, offsets in self.offsets.items()
        )


@dataclass(frozen=True)
class Throughput:
    """Records per second between the first reading with progress and the first complete one."""

    events_per_s: float | None
    """None when every record was committed in the first reading with progress."""
    records: int
    """Records counted in the rate (those committed after the first progress)."""
    seconds: float | None
    t_first_progress: float | None
    t_end: float | None


def throughput(
    readings: Sequence[Reading],
    group: str,
    records: TopicRecords,
    *,
    end_group: str | None = None,
    end_records: TopicRecords | None = None,
) -> Throughput:
    """The rate of ``group`` over ``records`` (see the module doc); pure, for tests.

    With ``end_group`` and ``end_records`` (end to end), the run ends only once that group
    has also committed all of ``end_records``; the rate still counts ``records``.
    """
    total = records.total
    first: tuple[float, int] | None = None
    for reading in readings:
        done = records.before(reading.offsets.get(group, {}))
        if first is None and done > 0:
            first = (reading.t, done)
        if first is None or done < total:
            continue
        if end_group is not None and end_records is not None:
            later = end_records.before(reading.offsets.get(end_group, {}))
            if later < end_records.total:
                continue
        seconds = reading.t - first[0]
        counted = total - first[1]
        rate = counted / seconds if seconds > 0 and counted > 0 else None
        return Throughput(rate, counted, seconds, first[0], reading.t)
    return Throughput(None, 0, None, first[0] if first else None, None)


@dataclass
class CommittedWatch:
    """Reads the committed offsets of ``groups`` on their topics every ``interval`` seconds."""

    bootstrap_servers: str
    topics: Mapping[str, str]
    """group -> the topic whose offsets it commits."""
    partitions: int
    interval: float = POLL_INTERVAL_S
    client_config: Mapping[str, Any] = field(default_factory=dict)
    readings: list[Reading] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> CommittedWatch:
        self._thread = threading.Thread(target=self._run, name="committed-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Reading]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        return list(self.readings)

    def latest(self) -> Reading | None:
        return self.readings[-1] if self.readings else None

    def _run(self) -> None:
        consumers = {
            group: Consumer(
                {
                    **self.client_config,
                    "bootstrap.servers": self.bootstrap_servers,
                    "group.id": group,
                    "enable.auto.commit": False,
                }
            )
            for group in self.topics
        }
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                offsets: dict[str, dict[int, int]] = {}
                for group, consumer in consumers.items():
                    tps = [TopicPartition(self.topics[group], p) for p in range(self.partitions)]
                    try:
                        committed = consumer.committed(tps, timeout=10)
                    except Exception:  # a slow broker moment: skip this reading
                        break
                    offsets[group] = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
                else:
                    # The moment the offsets were read: halfway through the requests.
                    self.readings.append(Reading((started + time.monotonic()) / 2, offsets))
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            for consumer in consumers.values():
                consumer.close()


def lag(
    bootstrap_servers: str,
    group: str,
    topic: str,
    *,
    client_config: Mapping[str, Any] | None = None,
) -> int:
    """Offsets of ``topic`` that ``group`` has not committed yet (transaction markers count)."""
    consumer = Consumer(
        {
            **(client_config or {}),
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        total = 0
        for tp in consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=30):
            low, high = consumer.get_watermark_offsets(tp, timeout=30, cached=False)
            total += high - (tp.offset if tp.offset >= 0 else low)
        return total
    finally:
        consumer.close()


def read_records(
    bootstrap_servers: str,
    topic: str,
    *,
    keep_values: bool = False,
    client_config: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> tuple[TopicRecords, list[bytes]]:
    """Every committed record of ``topic`` up to its current end (read_committed): the
    record offsets per partition, and the values when ``keep_values``."""
    consumer = Consumer(
        {
            **(client_config or {}),
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"bench-reader-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": False,
        }
    )
    offsets: dict[int, list[int]] = {}
    values: list[bytes] = []
    try:
        partitions = list(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        ends: dict[int, int] = {}
        for p in partitions:
            # With read_committed, the high watermark is the last stable offset.
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=30, cached=False
            )
            offsets[p] = []
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        deadline = time.monotonic() + timeout
        open_partitions = set(ends)
        while open_partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}: {len(open_partitions)} partitions unread")
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    continue
                offsets[msg.partition()].append(msg.offset())
                if keep_values:
                    values.append(msg.value() or b"")
            # Markers take offsets too: the position says when a partition is read to its end.
            for tp in consumer.position([TopicPartition(topic, p) for p in open_partitions]):
                if tp.offset >= ends[tp.partition]:
                    open_partitions.discard(tp.partition)
    finally:
        consumer.close()
    return TopicRecords(topic, offsets), values


__all__ = [
    "POLL_INTERVAL_S",
    "CommittedWatch",
    "Reading",
    "Throughput",
    "TopicRecords",
    "lag",
    "read_records",
    "throughput",
]
