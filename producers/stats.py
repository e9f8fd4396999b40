"""The tracker's counters, and their export to a prometheus_client registry at scrape time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("tracked", "sent", "failed", "dropped", "spooled", "rejected")


@dataclass(frozen=True, slots=True)
class TrackerStats:
    """A snapshot. ``tracked`` counts accepted events; every one of them ends ``sent``,
    ``spooled`` (and later sent), ``failed`` or ``dropped``; ``rejected`` ones never enter."""

    tracked: int
    sent: int
    failed: int
    dropped: int
    spooled: int
    rejected: int
    queue_depth: int
    in_flight: int
    spool_bytes: int
    client_restarts: int = 0
    """Kafka clients given up on and replaced because they held records past their timeout."""


class Counters:
    """Thread-safe counters; increments are rare enough off the sender thread for a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values = dict.fromkeys(OUTCOMES, 0)

    def add(self, outcome: str, n: int = 1) -> None:
        with self._lock:
            self.values[outcome] += n


def register_metrics(registry: Any, snapshot: Callable[[], TrackerStats]) -> None:
    """Expose the counters on ``registry``; read at scrape time, nothing on the hot path."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class _Collector:
        def collect(self) -> Iterator[Any]:
            stats = snapshot()
            events = CounterMetricFamily(
                "shopstream_tracker_events",
                "Events by outcome in this process's tracker.",
                labels=["outcome"],
            )
            for outcome in OUTCOMES:
                events.add_metric([outcome], getattr(stats, outcome))
            yield events
            yield GaugeMetricFamily(
                "shopstream_tracker_queue_depth",
                "Events waiting in memory.",
                value=stats.queue_depth,
            )
            yield GaugeMetricFamily(
                "shopstream_tracker_in_flight",
                "Events handed to the client, not yet acknowledged.",
                value=stats.in_flight,
            )
            yield CounterMetricFamily(
                "shopstream_tracker_client_restarts",
                "Kafka clients replaced because they held records past their delivery timeout.",
                value=stats.client_restarts,
            )
            yield GaugeMetricFamily(
                "shopstream_tracker_spool_bytes",
                "Bytes waiting in the on-disk spool.",
                value=stats.spool_bytes,
            )

        def describe(self) -> list[Any]:
            return []

    registry.register(_Collector())


__all__ = ["OUTCOMES", "Counters", "TrackerStats", "register_metrics"]
