"""The stage's status page: ``/status`` (one self-contained HTML file) and ``/status.json``.

The JSON is built from the stage's own Prometheus registry, so the page shows exactly
what ``/metrics`` exports. Counters only ever grow; a rate needs two readings, so each
request for ``/status.json`` reads the registry into a small ring buffer (at most one
reading per ``min_interval_s``, however many pages poll) and rates are differences
between readings. The ring also gives the page its chart history on first load.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from prometheus_client import CollectorRegistry

from shopstream.processors.engine.http import Probe

METRIC_NAMES = frozenset(
    {
        "shopstream_events_in_total",
        "shopstream_events_out_total",
        "shopstream_rejections_total",
        "shopstream_redactions_total",
        "shopstream_duplicates_total",
        "shopstream_buyers_emitted_total",
        "shopstream_processing_latency_seconds_bucket",
        "shopstream_consumer_lag",
        "shopstream_state_restore_remaining",
        "shopstream_stage_ready",
    }
)
"""The samples the status page reads (a test compares them with a live /metrics)."""

Route = Callable[[], tuple[int, str, bytes]]
Bucket = tuple[float, float]
"""(upper bound ``le``, cumulative count) of one histogram bucket."""


@dataclass(frozen=True, slots=True)
class Reading:
    """The stage's metrics at one instant, as the status page needs them."""

    at: float
    """Monotonic seconds: rates are computed on this clock."""
    wall: float
    events_in: dict[str, float] = field(default_factory=dict)
    events_out: dict[tuple[str, str], float] = field(default_factory=dict)
    """(topic, type) -> messages produced."""
    rejections: dict[str, float] = field(default_factory=dict)
    redactions: float = 0.0
    duplicates: float = 0.0
    buyers_emitted: float = 0.0
    latency: tuple[Bucket, ...] = ()
    lag: dict[tuple[str, int], float] = field(default_factory=dict)
    restore: dict[int, float] = field(default_factory=dict)
    ready: float | None = None


def read_registry(registry: CollectorRegistry, *, at: float, wall: float) -> Reading:
    """One :class:`Reading` of ``registry`` (every collector runs, as for a scrape)."""
    events_in: dict[str, float] = {}
    events_out: dict[tuple[str, str], float] = {}
    rejections: dict[str, float] = {}
    lag: dict[tuple[str, int], float] = {}
    restore: dict[int, float] = {}
    scalars: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name == "shopstream_events_in_total":
                _add(events_in, labels.get("type", ""), value)
            elif name == "shopstream_events_out_total":
                _add(events_out, (labels.get("topic", ""), labels.get("type", "")), value)
            elif name == "shopstream_rejections_total":
                _add(rejections, labels.get("reason", ""), value)
            elif name == "shopstream_processing_latency_seconds_bucket":
                _add(buckets, float(labels["le"]), value)
            elif name == "shopstream_consumer_lag":
                lag[(labels.get("topic", ""), int(labels.get("partition", "0")))] = value
            elif name == "shopstream_state_restore_remaining":
                restore[int(labels.get("partition", "0"))] = value
            elif name in _SCALARS:
                _add(scalars, name, value)
    return Reading(
        at=at,
        wall=wall,
        events_in=events_in,
        events_out=events_out,
        rejections=rejections,
        redactions=scalars.get("shopstream_redactions_total", 0.0),
        duplicates=scalars.get("shopstream_duplicates_total", 0.0),
        buyers_emitted=scalars.get("shopstream_buyers_emitted_total", 0.0),
        latency=tuple(sorted(buckets.items())),
        lag=lag,
        restore=restore,
        ready=scalars.get("shopstream_stage_ready"),
    )


_SCALARS = frozenset(
    {
        "shopstream_redactions_total",
        "shopstream_duplicates_total",
        "shopstream_buyers_emitted_total",
        "shopstream_stage_ready",
    }
)


def _add(into: dict[Any, float], key: Any, value: float) -> None:
    into[key] = into.get(key, 0.0) + value


def histogram_quantile(q: float, buckets: Iterable[Bucket]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear within the bucket holding the q-th rank.

    None without observations. A rank in the ``+Inf`` bucket answers the highest finite
    bound (the histogram cannot say more), as Prometheus does.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return lower_bound
            if count == lower_count:
                return le
            return lower_bound + (le - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = le, count
    return lower_bound


def _delta(new: dict[Any, float], old: dict[Any, float]) -> dict[Any, float]:
    # A counter never shrinks within one process; a smaller value would be a reset.
    return {k: max(0.0, v - old.get(k, 0.0)) for k, v in new.items()}


def _per_second(counts: dict[Any, float], seconds: float) -> dict[Any, float]:
    return {k: round(v / seconds, 3) for k, v in counts.items()} if seconds > 0 else {}


class StatusBoard:
    """Readings of one stage's registry and the ``/status.json`` built from them."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        stage: str,
        dlq_topic: str,
        ready: Probe | None = None,
        window_s: float = 5.0,
        min_interval_s: float = 0.5,
        history: int = 120,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._stage = stage
        self._dlq_topic = dlq_topic
        self._ready = ready
        self._window_s = window_s
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._wall = wall_clock
        self._readings: deque[Reading] = deque(maxlen=history + 1)
        self._points: deque[dict[str, Any]] = deque(maxlen=history)
        self._restore_peak: dict[int, float] = {}
        self._lock = threading.Lock()
        self.sample()  # the baseline: the first request already has a rate

    def sample(self) -> Reading:
        """Read the registry unless the newest reading is younger than ``min_interval_s``."""
        with self._lock:
            now = self._clock()
            if self._readings and now - self._readings[-1].at < self._min_interval_s:
                return self._readings[-1]
            reading = read_registry(self._registry, at=now, wall=self._wall())
            if self._readings:
                self._points.append(self._point(self._readings[-1], reading))
            self._readings.append(reading)
            for partition, left in reading.restore.items():
                self._restore_peak[partition] = max(self._restore_peak.get(partition, 0), left)
            for partition in set(self._restore_peak) - set(reading.restore):
                del self._restore_peak[partition]
            return reading

    def snapshot(self) -> dict[str, Any]:
        """The ``/status.json`` document (see docs/processors.md, "Status page")."""
        newest = self.sample()
        with self._lock:
            base = next(
                (
                    r
                    for r in self._readings
                    if newest.at - r.at <= self._window_s and r is not newest
                ),
                self._readings[-2] if len(self._readings) > 1 else newest,
            )
            points = list(self._points)
            peaks = dict(self._restore_peak)
        seconds = newest.at - base.at
        ready_ok, ready_details = self._ready() if self._ready else (bool(newest.ready), {})
        in_rate = _per_second(_delta(newest.events_in, base.events_in), seconds)
        out = self._outputs(newest)
        out_rate = _per_second(_delta(out, self._outputs(base)), seconds)
        dead = self._dead_letters(newest)
        rejection_rate = _per_second(_delta(newest.rejections, base.rejections), seconds)
        window = tuple(
            (le, max(0.0, count - dict(base.latency).get(le, 0.0))) for le, count in newest.latency
        )
        return {
            "stage": self._stage,
            "time": round(newest.wall, 3),
            "window_s": round(seconds, 3),
            "ready": {"ok": ready_ok, **ready_details},
            "events_in": _breakdown(newest.events_in, in_rate),
            "events_out": _breakdown(out, out_rate),
            "dead_letters": {
                "total": int(dead),
                "rate": _rate(dead - self._dead_letters(base), seconds),
                "by_reason": _by(newest.rejections, rejection_rate),
            },
            "redactions": int(newest.redactions),
            "duplicates": int(newest.duplicates),
            "buyers_emitted": {
                "total": int(newest.buyers_emitted),
                "rate": _rate(newest.buyers_emitted - base.buyers_emitted, seconds),
            },
            "latency": {
                "count": int(newest.latency[-1][1]) if newest.latency else 0,
                "top_bound": _top_bound(newest.latency),
                "p50": histogram_quantile(0.5, newest.latency),
                "p99": histogram_quantile(0.99, newest.latency),
                "window": {
                    "count": int(window[-1][1]) if window else 0,
                    "p50": histogram_quantile(0.5, window),
                    "p99": histogram_quantile(0.99, window),
                },
            },
            "lag": {
                "total": int(sum(newest.lag.values())),
                "partitions": [
                    {"topic": topic, "partition": partition, "lag": int(lag)}
                    for (topic, partition), lag in sorted(newest.lag.items())
                ],
            },
            "restore": {
                "restoring_partitions": len(newest.restore),
                "partitions": [
                    {
                        "partition": partition,
                        "remaining": int(left),
                        "progress": round(1 - left / peaks[partition], 3)
                        if peaks.get(partition)
                        else 1.0,
                    }
                    for partition, left in sorted(newest.restore.items())
                ],
            },
            "history": points,
        }

    def routes(self) -> dict[str, Route]:
        """``/status`` and ``/status.json`` for :class:`StageHTTPServer`'s ``extra_routes``."""
        page = status_page()

        def as_json() -> tuple[int, str, bytes]:
            body = json.dumps(self.snapshot(), separators=(",", ":")).encode()
            return 200, "application/json", body

        return {
            "/status": lambda: (200, "text/html; charset=utf-8", page),
            "/status.json": as_json,
        }

    # -- helpers -----------------------------------------------------------------------------
    def _outputs(self, reading: Reading) -> dict[str, float]:
        """Messages produced by type, dead letters apart."""
        out: dict[str, float] = {}
        for (topic, kind), count in reading.events_out.items():
            if topic != self._dlq_topic:
                _add(out, kind, count)
        return out

    def _dead_letters(self, reading: Reading) -> float:
        return sum(n for (topic, _), n in reading.events_out.items() if topic == self._dlq_topic)

    def _point(self, old: Reading, new: Reading) -> dict[str, Any]:
        """One chart point: rates between two successive readings."""
        seconds = new.at - old.at
        window = tuple(
            (le, max(0.0, count - dict(old.latency).get(le, 0.0))) for le, count in new.latency
        )
        return {
            "t": round(new.wall, 3),
            "in": _per_second(_delta(new.events_in, old.events_in), seconds),
            "out": _per_second(_delta(self._outputs(new), self._outputs(old)), seconds),
            "dead_letters": _rate(self._dead_letters(new) - self._dead_letters(old), seconds),
            "lag": int(sum(new.lag.values())),
            "p50": histogram_quantile(0.5, window),
            "p99": histogram_quantile(0.99, window),
        }


def _top_bound(buckets: tuple[Bucket, ...]) -> float | None:
    """The highest finite bucket bound: a quantile there means "at least this"."""
    finite = [le for le, _ in buckets if not math.isinf(le)]
    return max(finite) if finite else None


def _rate(count: float, seconds: float) -> float:
    return round(max(0.0, count) / seconds, 3) if seconds > 0 else 0.0


def _breakdown(totals: dict[str, float], rates: dict[str, float]) -> dict[str, Any]:
    return {
        "total": int(sum(totals.values())),
        "rate": round(sum(rates.values()), 3),
        "by_type": _by(totals, rates),
    }


def _by(totals: dict[str, float], rates: dict[str, float]) -> dict[str, dict[str, float]]:
    return {k: {"total": int(v), "rate": rates.get(k, 0.0)} for k, v in sorted(totals.items())}


def status_page() -> bytes:
    """The page itself: HTML, CSS and JS in one file, nothing fetched from elsewhere."""
    return (resources.files("shopstream.processors.engine") / "static" / "status.html").read_bytes()


def status_routes(
    registry: CollectorRegistry, *, stage: str, dlq_topic: str, ready: Probe | None = None
) -> dict[str, Route]:
    """The routes of a new :class:`StatusBoard` on ``registry``."""
    return StatusBoard(registry, stage=stage, dlq_topic=dlq_topic, ready=ready).routes()


__all__ = [
    "Reading",
    "StatusBoard",
    "histogram_quantile",
    "read_registry",
    "status_page",
    "status_routes",
]
