"""End-to-end latency at a steady rate: raw event produced -> buyer features readable.

Events are produced at ``rate`` per second on an absolute schedule, each stamped
``event_time = sent_time = now`` as it is sent. A ``read_committed`` consumer of the
features topic (so it sees a feature only once stage 2's transaction committed) takes,
for each features message, ``latency = time it was read - as_of``, where ``as_of`` is
the event time of the buyer's newest counted event, decoded from the message (its
Kafka timestamp is the time stage 2 produced it, not ``as_of``). Messages whose
``as_of`` falls in the warm-up are not counted.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

from shopstream.processors.benchmarks.producer import percentile
from shopstream.processors.benchmarks.workload import Simulated, encode_now
from shopstream.schemas.codec import Codec

DRAIN_QUIET_S = 1.0
"""After the last event, reading stops once the features of the last buyer event sent
have been read and no features message came for this long..."""
DRAIN_MAX_S = 30.0
"""...or this long after the last event."""


@dataclass(frozen=True)
class LatencyRun:
    rate: float
    seconds: float
    warmup_s: float
    produced: int
    achieved_rate: float
    latencies_ms: list[float]
    behind_ms: float
    """When the last event was sent: its event time minus the newest as_of read so far.
    More than a commit interval or two means the pipeline did not keep up with the rate."""

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        out: dict[str, Any] = {
            "rate": self.rate,
            "seconds": self.seconds,
            "warmup_s": self.warmup_s,
            "produced": self.produced,
            "achieved_rate": round(self.achieved_rate, 1),
            "samples": len(ordered),
            "behind_ms": round(self.behind_ms),
        }
        if ordered:
            out |= {
                "p50_ms": round(percentile(ordered, 50), 1),
                "p90_ms": round(percentile(ordered, 90), 1),
                "p99_ms": round(percentile(ordered, 99), 1),
                "max_ms": round(ordered[-1], 1),
                "mean_ms": round(statistics.fmean(ordered), 1),
            }
        return out


def measure(
    *,
    bootstrap_servers: str,
    producer: Producer,
    raw_topic: str,
    features_topic: str,
    stream: Iterator[Simulated],
    rate: float,
    seconds: float,
    warmup_s: float,
    features_codec: Codec,
    client_config: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> LatencyRun:
    """Produce ``rate`` events/s for ``warmup_s + seconds`` and time the features (module doc)."""
    say = progress or (lambda _m: None)
    codec = Codec()
    consumer = Consumer(
        {
            **(client_config or {}),
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"bench-latency-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            # As the stages fetch: at librdkafka's 500 ms the broker holds a read_committed
            # fetch that long when nothing is committed yet, and the reader would add up to
            # half a second of its own to what it measures.
            "fetch.wait.max.ms": 50,
        }
    )
    partitions = consumer.list_topics(features_topic, timeout=30).topics[features_topic].partitions
    consumer.assign([TopicPartition(features_topic, p, OFFSET_END) for p in partitions])
    latencies: list[float] = []
    decode = features_codec.decode
    newest = [0.0]
    last_sent_ms = 0
    last_buyer_event_ms = 0
    total = int(rate * (warmup_s + seconds))
    start = time.time()
    measured_from_ms = (start + warmup_s) * 1000

    def read(timeout: float) -> int:
        batch = consumer.consume(500, timeout)
        seen_ms = time.time() * 1000
        for msg in batch:
            if msg.error():
                continue
            as_of: dt.datetime = decode(msg.value() or b"").record["as_of"]
            as_of_ms = as_of.timestamp() * 1000
            newest[0] = max(newest[0], as_of_ms)
            if as_of_ms >= measured_from_ms:
                latencies.append(seen_ms - as_of_ms)
        return len(batch)

    try:
        sent = 0
        next_report = start + 5
        while sent < total:
            due = min(total, int((time.time() - start) * rate) + 1)
            while sent < due:
                event = next(stream)
                last_sent_ms = int(time.time() * 1000)
                if event.record is not None and event.record.get("buyer_id"):
                    last_buyer_event_ms = last_sent_ms
                value = encode_now(codec, event, last_sent_ms)
                producer.produce(raw_topic, value, event.key)
                sent += 1
            producer.poll(0)
            read(max(0.0, min(0.005, start + sent / rate - time.time())))
            if time.time() >= next_report:
                next_report += 5
                say(
                    f"latency: {time.time() - start:.0f} s of {warmup_s + seconds:.0f}, "
                    f"{sent:,} events sent, {len(latencies):,} features timed"
                )
        finished = time.time()
        # Nothing read yet: the pipeline is behind by the whole run.
        behind = last_sent_ms - (newest[0] or start * 1000)
        producer.flush(30)
        quiet_since = time.time()
        while time.time() - finished < DRAIN_MAX_S:
            if read(0.2):
                quiet_since = time.time()
            elif newest[0] >= last_buyer_event_ms and time.time() - quiet_since >= DRAIN_QUIET_S:
                break
    finally:
        consumer.close()
    return LatencyRun(rate, seconds, warmup_s, sent, sent / (finished - start), latencies, behind)


__all__ = ["LatencyRun", "measure"]
