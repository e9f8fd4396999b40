"""The machine's limit for a stage: a bare confluent-kafka loop, run as its own process.

``python -m shopstream.processors.benchmarks.limit --bootstrap-servers B --source RAW
--target OUT --group G`` consumes ``RAW`` in batches, decodes each message with
:class:`~shopstream.schemas.codec.Codec` and encodes the same record again, and produces
it to ``OUT`` under its key; undecodable messages are skipped. No validation, no
pseudonymisation, no state, and **no exactly-once**: every ``--commit-interval`` seconds
it flushes the producer, then commits the consumed offsets (at-least-once, the same
checkpoint rhythm as the stages, without the transaction). So its committed offsets can
be watched like a stage's. On SIGTERM it checkpoints, prints one JSON line of counts
and in-loop timings (first to last message) on stdout, and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from types import FrameType

from confluent_kafka import Consumer, KafkaException, Producer

from shopstream.schemas.codec import Codec
from shopstream.schemas.errors import DecodeError

BATCH = 500


@dataclass
class LoopCounts:
    consumed: int = 0
    produced: int = 0
    skipped: int = 0
    first_message_s: float | None = None
    """time.time() when the first message was consumed."""
    last_message_s: float | None = None
    """time.time() when the last message was produced (handed to the client)."""


def run_loop(
    *,
    bootstrap_servers: str,
    source: str,
    target: str,
    group: str,
    commit_interval_s: float,
    should_stop: list[bool],
) -> LoopCounts:
    """Run until ``should_stop[0]`` is set; return the counts (see the module doc)."""
    codec = Codec()
    decode, encode = codec.decode, codec.encode
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # What Quix Streams sets for the stages' consumers too.
            "fetch.queue.backoff.ms": 100,
        }
    )
    # The stages' producers are idempotent (acks=all); so is this one, but not transactional.
    producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True})
    produce, poll = producer.produce, producer.poll
    counts = LoopCounts()
    consumer.subscribe([source])
    next_checkpoint = time.monotonic() + commit_interval_s
    try:
        while not should_stop[0]:
            batch = consumer.consume(BATCH, 0.1)
            if batch and counts.first_message_s is None:
                counts.first_message_s = time.time()
            for msg in batch:
                if msg.error():
                    continue
                counts.consumed += 1
                try:
                    decoded = decode(msg.value() or b"")
                except DecodeError:
                    counts.skipped += 1
                    continue
                value = encode(decoded.name, decoded.record)
                while True:
                    try:
                        produce(target, value, msg.key())
                        break
                    except BufferError:  # the local queue is full: let it drain
                        poll(0.05)
                counts.produced += 1
            if batch:
                counts.last_message_s = time.time()
            poll(0)
            if time.monotonic() >= next_checkpoint:
                _checkpoint(consumer, producer)
                next_checkpoint = time.monotonic() + commit_interval_s
        _checkpoint(consumer, producer)
    finally:
        consumer.close()
    return counts


def _checkpoint(consumer: Consumer, producer: Producer) -> None:
    producer.flush(60)
    with contextlib.suppress(KafkaException):  # nothing consumed since the last commit
        consumer.commit(asynchronous=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--commit-interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    should_stop = [False]

    def stop(_signum: int, _frame: FrameType | None) -> None:
        should_stop[0] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    counts = run_loop(
        bootstrap_servers=args.bootstrap_servers,
        source=args.source,
        target=args.target,
        group=args.group,
        commit_interval_s=args.commit_interval,
        should_stop=should_stop,
    )
    sys.stdout.write(json.dumps(asdict(counts)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
