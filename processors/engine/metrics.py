"""What each stage exports to Prometheus.

Names are part of the ops interface (alert rules, dashboards and the status page use
them, and a test compares them with a live scrape); change them only with those.

==========================================  =========  ==========================================
``shopstream_events_in_total``              counter    messages consumed, by ``stage``, ``type``
``shopstream_events_out_total``             counter    messages produced, by ``stage``, ``topic``, ``type``
``shopstream_rejections_total``             counter    dead letters, by ``stage``, ``reason`` (rule)
``shopstream_redactions_total``             counter    personal data scrubbed from free text
``shopstream_duplicates_total``             counter    events dropped as duplicates (stage 2)
``shopstream_processing_latency_seconds``   histogram  event time -> processed, by ``stage``
``shopstream_consumer_lag``                 gauge      end offset − committed offset, by ``stage``, ``partition``
``shopstream_state_restore_remaining``      gauge      changelog messages left to restore, by ``partition``
``shopstream_state_restoring_partitions``   gauge      partitions restoring their state now
``shopstream_buyers_emitted_total``         counter    aggregates written to the features topic
``shopstream_stage_ready``                  gauge      1 when the stage is assigned and processing
``shopstream_shop_events_total``            counter    valid events, by ``stage``, ``shop`` (stage 1; tenants)
==========================================  =========  ==========================================
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

# Event-time latency spans ms (a live stream) to days (a backfill or a replay).
LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400,
)  # fmt: skip


class StageMetrics:
    """The metric objects of one stage, registered in their own registry."""

    def __init__(self, stage: str, registry: CollectorRegistry | None = None) -> None:
        self.stage = stage
        self.registry = r = registry or CollectorRegistry()
        self.events_in = Counter(
            "shopstream_events_in", "Messages consumed by a stage, by event type.",
            ["stage", "type"], registry=r,
        )  # fmt: skip
        self.events_out = Counter(
            "shopstream_events_out", "Messages produced by a stage, by topic and event type.",
            ["stage", "topic", "type"], registry=r,
        )  # fmt: skip
        self.rejections = Counter(
            "shopstream_rejections", "Messages dead-lettered, by reason (the rule broken).",
            ["stage", "reason"], registry=r,
        )  # fmt: skip
        self.redactions = Counter(
            "shopstream_redactions", "Pieces of personal data replaced by type tokens in free text.",
            ["stage"], registry=r,
        )  # fmt: skip
        self.duplicates = Counter(
            "shopstream_duplicates", "Events dropped because their event_id was already counted.",
            ["stage"], registry=r,
        )  # fmt: skip
        self.buyers_emitted = Counter(
            "shopstream_buyers_emitted", "Buyer aggregates written to the features topic.",
            ["stage"], registry=r,
        )  # fmt: skip
        self.latency = LatencyHistogram()
        r.register(self.latency)
        # Per tenant, for the "a shop that normally sends went silent" alert. Shops are
        # tenants, a bounded set; only events that passed validation count, so a made-up
        # shop id in a broken message adds no series.
        self.shop_events = Counter(
            "shopstream_shop_events", "Valid events processed, by shop (tenant).",
            ["stage", "shop"], registry=r,
        )  # fmt: skip
        self.ready = Gauge(
            "shopstream_stage_ready", "1 when the stage has partitions assigned and is processing.",
            ["stage"], registry=r,
        )  # fmt: skip
        self.ready.labels(stage).set(0)


class LatencyHistogram(Collector):
    """``shopstream_processing_latency_seconds``: a histogram observed once per event, without a lock.

    prometheus_client's ``Histogram.observe`` takes a lock twice and walks the bounds in
    Python, about 1 µs an event (a day-old event walks them all); here an observation is a
    ``bisect`` and two additions. Each stage observes from its one processing thread; a
    scrape, on another thread, copies the counts, so it may miss the observation being made.
    """

    name = "shopstream_processing_latency_seconds"
    documentation = "Event time to processed by this stage, seconds."

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self._bounds = tuple(sorted(buckets))
        self._children: dict[str, _LatencyChild] = {}

    def labels(self, stage: str) -> _LatencyChild:
        child = self._children.get(stage)
        if child is None:
            child = self._children.setdefault(stage, _LatencyChild(self._bounds))
        return child

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=["stage"])
        for stage, child in sorted(self._children.items()):
            counts, total = child.counts.copy(), child.sum
            buckets, running = [], 0
            for bound, count in zip((*self._bounds, float("inf")), counts, strict=True):
                running += count
                buckets.append((_le(bound), running))
            family.add_metric([stage], buckets, sum_value=total)
        yield family


def _le(bound: float) -> str:
    """A bucket's ``le`` label as prometheus_client writes it (``1.0``, ``86400.0``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


class _LatencyChild:
    __slots__ = ("_bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        """Observations per bucket, not cumulative; the last is above every bound."""
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        # bisect_left: the first bound >= seconds, as Prometheus's "le" means
        self.counts[bisect_left(self._bounds, seconds)] += 1
        self.sum += seconds


class LagCollector(Collector):
    """``shopstream_consumer_lag`` from the latest measurement, at scrape time."""

    def __init__(self, stage: str, read: Callable[[], dict[tuple[str, int], int]]) -> None:
        self._stage = stage
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "shopstream_consumer_lag",
            "Messages not yet committed by the stage's consumer group, per partition.",
            labels=["stage", "topic", "partition"],
        )
        for (topic, partition), lag in sorted(self._read().items()):
            family.add_metric([self._stage, topic, str(partition)], lag)
        yield family


class RestoreCollector(Collector):
    """State-restore progress: what the engine reports, read at scrape time."""

    def __init__(self, read: Callable[[], dict[int, int]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        remaining = self._read()
        per_partition = GaugeMetricFamily(
            "shopstream_state_restore_remaining",
            "Changelog messages left to restore before the partition processes again.",
            labels=["partition"],
        )
        for partition, left in sorted(remaining.items()):
            per_partition.add_metric([str(partition)], left)
        yield per_partition
        yield GaugeMetricFamily(
            "shopstream_state_restoring_partitions",
            "Partitions restoring their state from the changelog now.",
            value=len(remaining),
        )
