"""Stage 1's engine: consume, transform, produce, in Kafka transactions, exactly once.

Stage 1 keeps no state, so of what Quix Streams offers (state stores, changelogs,
dataframes, windows) it needs only the transaction. Run on Quix, the engine's per-message
path (one ``poll`` per message, the dataframe's wrappers, a ``poll(0)`` after every
produce, serializers) cost stage 1 as much CPU as its own work; this loop takes messages
in batches and has none of that (``docs/benchmarks.md``, pipeline). Stage 2, which keeps
state per buyer, stays on Quix.

The protocol is Kafka's own (KIP-98, KIP-447):

- One transaction at a time. It opens with the first message after a commit and commits
  the outputs and the consumed offsets together (with the consumer group's metadata, so a
  member the group has moved on from cannot commit): after ``commit_interval_s`` while
  the input is backlogged (``consume`` returns full batches), and as soon as the loop has
  caught up (a short batch) once a quarter of the interval has passed. A backlog pays for
  few commits; a live stream's outputs are not held back for a whole interval.
- A transaction that fails with an abortable error (a produce that failed, a fenced
  generation after a rebalance) is aborted, and every partition it read from is rewound
  to where the transaction began: its messages are processed again into a new one.
- Before partitions are revoked, the open transaction commits, so the next owner starts
  exactly after it. Lost partitions (the member was expelled) abort it instead.
- A fatal error (the producer was fenced by a newer instance with the same transactional
  id, authorisation) ends :meth:`run` with the exception; a restart resumes from the last
  committed transaction.
- SIGTERM or SIGINT stops the loop: the open transaction commits, then the clients close.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, NamedTuple

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from shopstream.processors.engine.settings import StageSettings

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
"""How long a transaction call may wait for the broker before it counts as failed."""
_COMMIT_ATTEMPTS = 3
"""Tries of a commit that fails with a retriable error before it is aborted instead."""


class Output(NamedTuple):
    """One message to produce for an input message (a tuple: one is made per message)."""

    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int | None = None


Handler = Callable[[Message], Output]
"""Turns one input message into its output; must not raise (stage 1 dead-letters instead)."""


def client_configs(settings: StageSettings, *, group: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Consumer and producer settings every stage shares, whatever its engine.

    Two timeouts decide how fast the pipeline recovers from a crashed instance, and Kafka's
    defaults are made for batch clients: a dead member keeps its partitions for
    ``session.timeout.ms`` (45 s) and its open transaction blocks read_committed readers
    for ``transaction.timeout.ms`` (60 s). A stage commits every ``commit_interval_s``, so
    both are lowered here (10 s and 15 s), and so is the longest wait of a fetch (below);
    ``consumer_config`` / ``producer_config`` override them. With ``instance_id`` a
    restarted instance fences its predecessor at once.
    """
    consumer: dict[str, Any] = {
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 2_000,
        # A read_committed fetch that finds nothing committed yet is held by the broker for
        # up to this long, and a transaction's commit does not release it: at librdkafka's
        # 500 ms a stage would see its input up to half a second after it became readable
        # (measured: p99 features latency 965 ms at 500, 584 ms at 50; docs/benchmarks.md).
        "fetch.wait.max.ms": 50,
    }
    producer: dict[str, Any] = {"transaction.timeout.ms": 15_000}
    if settings.instance_id:
        consumer["group.instance.id"] = f"{group}-{settings.instance_id}"
        producer["transactional.id"] = f"{group}-{settings.instance_id}"
    consumer.update({**settings.kafka_config, **settings.consumer_config})
    producer.update({**settings.kafka_config, **settings.producer_config})
    return consumer, producer


def poll_timeout(settings: StageSettings) -> float:
    """How long a stage's engine waits in one poll: well under the commit interval, since
    the commit is checked only when a poll returns, and a poll as long as the interval
    would let a bursty or quiet input hold its outputs back a whole extra interval."""
    return min(1.0, settings.commit_interval_s / 5)


class TransactionalLoop:
    """Reads ``input_topic`` as ``group`` and produces ``handle``'s output, exactly once."""

    def __init__(
        self,
        settings: StageSettings,
        *,
        group: str,
        input_topic: str,
        handle: Handler,
        batch_size: int = 500,
        on_batch: Callable[[], None] | None = None,
    ) -> None:
        self._input_topic = input_topic
        self._group = group
        self._handle = handle
        self._batch_size = batch_size
        self._on_batch = on_batch
        self._interval = settings.commit_interval_s
        self._poll_timeout = poll_timeout(settings)
        consumer_config, producer_config = client_configs(settings, group=group)
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": settings.auto_offset_reset,
                "isolation.level": "read_committed",
                "partition.assignment.strategy": "range",
                "fetch.queue.backoff.ms": 100,
                "error_cb": _log_client_error,
                "logger": logging.getLogger("shopstream.engine.consumer"),
                **consumer_config,
            }
        )
        self._producer = Producer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "transactional.id": f"{group}-{uuid.uuid4()}",
                "enable.idempotence": True,
                # Java's partitioner: a key lands where any Kafka client would put it.
                "partitioner": "murmur2_random",
                "linger.ms": 5,
                "error_cb": _log_client_error,
                "logger": logging.getLogger("shopstream.engine.producer"),
                **producer_config,
            }
        )
        self._stopping = threading.Event()
        self._open = False
        self._deadline = 0.0
        self._eager_from = 0.0
        self._next: dict[tuple[str, int], int] = {}
        """Per input partition: the offset after the last message in the open transaction."""
        self._first: dict[tuple[str, int], int] = {}
        """Per input partition: the first offset in the open transaction (rewound to on abort)."""
        self.committed_transactions = 0
        self.aborted_transactions = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> None:
        """Process until :meth:`stop`, SIGTERM or SIGINT; a fatal Kafka error raises."""
        restore = self._handle_signals()
        try:
            self._producer.init_transactions(_TIMEOUT_S)
            self._consumer.subscribe(
                [self._input_topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            log.info(
                "engine started and is now processing %s as group %s",
                self._input_topic,
                self._group,
            )
            while not self._stopping.is_set():
                messages = self._consumer.consume(self._batch_size, self._poll_timeout)
                if messages:
                    self._process(messages)
                    if self._on_batch is not None:
                        self._on_batch()
                self._producer.poll(0)
                if self._open:
                    now = time.monotonic()
                    # Caught up (a short batch): commit now, no longer holding the outputs
                    # back, unless the last commit was very recent. Behind (full batches):
                    # commit every interval, so a backlog pays for few commits.
                    caught_up = len(messages) < self._batch_size
                    if now >= self._deadline or (caught_up and now >= self._eager_from):
                        self._commit()
            if self._open:
                self._commit()
        finally:
            if self._open:
                self._abort("stopped on an error")
            self._consumer.close()
            self._producer.flush(5)
            restore()
        log.info(
            "engine stopped: %d transactions committed, %d aborted",
            self.committed_transactions,
            self.aborted_transactions,
        )

    def stop(self) -> None:
        """Ask the loop to commit what it has and return (safe from any thread)."""
        self._stopping.set()

    # -- the loop ----------------------------------------------------------------------------
    def _process(self, messages: Sequence[Message]) -> None:
        produce = self._producer.produce
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                log.warning("consumer: %s", error.str())
                continue
            if not self._open:
                self._producer.begin_transaction()
                self._open = True
                opened = time.monotonic()
                self._deadline = opened + self._interval
                self._eager_from = opened + self._interval / 4
            out = self._handle(message)
            while True:
                try:
                    if out.timestamp_ms is None:
                        produce(out.topic, out.value, out.key)
                    else:
                        produce(out.topic, out.value, out.key, timestamp=out.timestamp_ms)
                    break
                except BufferError:  # the producer's queue is full: let it send
                    self._producer.poll(0.05)
            where = (message.topic(), message.partition())
            offset: int = message.offset()
            if where not in self._first:
                self._first[where] = offset
            self._next[where] = offset + 1

    def _commit(self) -> None:
        """Commit the open transaction with its offsets; abort and rewind if Kafka refuses."""
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._next.items()]
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            try:
                if offsets:
                    self._producer.send_offsets_to_transaction(
                        offsets, self._consumer.consumer_group_metadata(), _TIMEOUT_S
                    )
                self._producer.commit_transaction(_TIMEOUT_S)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.fatal():
                    raise
                if error.txn_requires_abort() or attempt == _COMMIT_ATTEMPTS:
                    self._abort(error.str())
                    return
                if not error.retriable():
                    raise
                log.warning("commit retried (%d): %s", attempt, error.str())
                continue
            self._open = False
            self._next.clear()
            self._first.clear()
            self.committed_transactions += 1
            return

    def _abort(self, why: str, *, rewind: bool = True) -> None:
        """Abort the open transaction; re-read its input from where it began."""
        log.warning("transaction aborted (%s); its input is processed again", why)
        self._producer.abort_transaction(_TIMEOUT_S)
        self._open = False
        self.aborted_transactions += 1
        if rewind:
            for (topic, partition), offset in self._first.items():
                self._consumer.seek(TopicPartition(topic, partition, offset))
        self._next.clear()
        self._first.clear()

    # -- rebalancing -------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions assigned: %s", _names(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked: %s", _names(partitions))
        # Still a member of the old generation here: the offsets may commit.
        if self._open:
            self._commit()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("partitions lost: %s", _names(partitions))
        # The group has moved on: these offsets must not commit; the next owner redoes them.
        if self._open:
            self._abort("partitions lost", rewind=False)

    # -- signals -----------------------------------------------------------------------------
    def _handle_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("%s received: committing and stopping", signal.Signals(signum).name)
            self.stop()

        for sig in previous:
            signal.signal(sig, stop)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "none"


def _log_client_error(error: KafkaError) -> None:
    # librdkafka retries on its own; a fatal error surfaces again from the next call.
    log.warning("kafka: %s", error.str())


__all__ = ["Handler", "Output", "TransactionalLoop", "client_configs", "poll_timeout"]
