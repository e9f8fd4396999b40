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

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
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
        self.latency = Histogram(
            "shopstream_processing_latency_seconds",
            "Event time to processed by this stage, seconds.",
            ["stage"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
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
