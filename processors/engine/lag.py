"""Consumer lag of a stage's group, measured the way an outside exporter would.

A separate consumer (never subscribed, so it never joins the group) reads the group's
committed offsets and the partitions' end offsets every few seconds. Measuring from
outside keeps the number honest: it is what is committed, and so what a restart would
redo, not what the processing loop believes it has done.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

log = logging.getLogger(__name__)

_MARKER_SLACK = 32
"""Below this many offsets of lag, count the messages instead (transaction markers)."""


class LagMonitor:
    """Measures ``end offset − committed offset`` per partition of ``topic`` for ``group``."""

    def __init__(
        self,
        bootstrap_servers: str,
        group: str,
        topic: str,
        *,
        interval_s: float = 5.0,
        client_config: dict[str, Any] | None = None,
    ) -> None:
        self._topic = topic
        self._interval = interval_s
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": group,
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                # librdkafka's own lines through logging (JSON), not straight to stderr.
                "logger": logging.getLogger("shopstream.lag.client"),
                **(client_config or {}),
            }
        )
        self._lag: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shopstream-lag", daemon=True)

    def snapshot(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._lag)

    def measure(self) -> dict[tuple[str, int], int]:
        """One measurement now; raises :class:`KafkaException` when Kafka does not answer."""
        metadata = self._consumer.list_topics(self._topic, timeout=5)
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None:
            return {}
        partitions = [TopicPartition(self._topic, p) for p in sorted(topic.partitions)]
        committed = self._consumer.committed(partitions, timeout=5)
        lag = {}
        near_end = []
        for tp in committed:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, tp.partition), timeout=5, cached=False
            )
            # No commit yet: everything from the start of the log is still to do.
            done = tp.offset if tp.offset >= 0 else low
            lag[(self._topic, tp.partition)] = max(0, high - done)
            if 0 < high - done <= _MARKER_SLACK:
                near_end.append((TopicPartition(self._topic, tp.partition, done), high))
        for (topic, partition), messages in self._count_messages(near_end).items():
            lag[(topic, partition)] = messages
        with self._lock:
            self._lag = lag
        return lag

    def _count_messages(
        self, ranges: list[tuple[TopicPartition, int]]
    ) -> dict[tuple[str, int], int]:
        """Committed messages in [offset, end) of each partition, read with read_committed.

        An input written in transactions (stage 1's output) ends each transaction with a
        commit marker: it takes an offset but is no message, so ``end − committed`` stays
        at 1 or more on an idle partition. Near the end, count what is really there.
        """
        if not ranges:
            return {}
        ends = {tp.partition: end for tp, end in ranges}
        counts = dict.fromkeys(ends, 0)
        self._consumer.assign([tp for tp, _ in ranges])
        try:
            deadline = time.monotonic() + 2.0
            while ends and time.monotonic() < deadline:
                msg = self._consumer.poll(0.1)
                if msg is not None and msg.error() is None:
                    counts[msg.partition()] += 1
                positions = self._consumer.position(
                    [TopicPartition(self._topic, p) for p in list(ends)]
                )
                for tp in positions:
                    if tp.offset >= ends[tp.partition]:
                        del ends[tp.partition]
        finally:
            self._consumer.unassign()
        # A partition not read to its end in time keeps its plain estimate.
        return {(self._topic, p): n for p, n in counts.items() if p not in ends}

    def start(self) -> LagMonitor:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.measure()
            except KafkaException as exc:
                log.warning("consumer lag not measured: %s", exc.args[0] if exc.args else exc)
            self._stop.wait(self._interval)
