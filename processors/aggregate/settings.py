"""How much the per-buyer aggregate remembers, and in which currency it counts money."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from shopstream.processors.aggregate.errors import AggregateSettingsError

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LONGEST_WINDOW_DAYS = 90  # visits_90d / orders_90d need that many daily buckets


@dataclass(frozen=True, slots=True)
class AggregateSettings:
    """Settings of :func:`apply_event` and :func:`buyer_features`; see docs/features.md."""

    currency: str = "KRW"
    """Aggregate currency: purchases in any other only count as foreign_currency_purchases."""
    dedup_window: timedelta = timedelta(days=7)
    """Event ids are remembered while their event_time is at most this far before as_of."""
    dedup_max_ids: int = 10_000
    """At most this many ids per buyer; the oldest by event_time are evicted first."""
    session_memory: timedelta = timedelta(days=30)
    """A session is forgotten once its latest visit is more than this before as_of."""
    bucket_days: int = 90
    """Daily buckets kept: a day d is kept while date(as_of) - d < bucket_days."""
    dedup_window_ms: int = field(init=False, repr=False, compare=False)
    session_memory_ms: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _CURRENCY.match(self.currency):
            raise AggregateSettingsError(f"currency {self.currency!r} is not an ISO 4217 code")
        if self.dedup_window <= timedelta(0) or self.session_memory <= timedelta(0):
            raise AggregateSettingsError("dedup_window and session_memory must be positive")
        if self.dedup_max_ids < 1:
            raise AggregateSettingsError("dedup_max_ids must be at least 1")
        if self.bucket_days < _LONGEST_WINDOW_DAYS:
            raise AggregateSettingsError(
                f"bucket_days must be at least {_LONGEST_WINDOW_DAYS} (the longest window)"
            )
        # Read per event: worked out once here, not per call.
        object.__setattr__(self, "dedup_window_ms", self.dedup_window // _MS)
        object.__setattr__(self, "session_memory_ms", self.session_memory // _MS)


_MS = timedelta(milliseconds=1)

__all__ = ["AggregateSettings"]
