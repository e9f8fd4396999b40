"""One buyer's aggregate state, its bounded memories, and its JSON form.

The state holds exact integer counts and sums (the features are worked out from them by
:func:`~shopstream.processors.aggregate.features.buyer_features`) plus four bounded
memories that make the update order-independent and idempotent:

- ``recent_ids``: compact event id -> event_time (ms), for dedup, kept while
  ``event_time >= as_of - dedup_window`` and at most ``dedup_max_ids`` of them;
- ``recent_sessions``: compact session pseudonym -> latest visit event_time (ms), kept
  while ``latest >= as_of - session_memory``;
- ``visit_days`` / ``order_days``: UTC day number (as a string, JSON keys are strings)
  -> count, kept while ``date(as_of) - day < bucket_days``.

Times are ms since the epoch, UTC. Ids and pseudonyms are in their compact forms
(:mod:`~shopstream.processors.aggregate.compact`).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shopstream.processors.aggregate.compact import DAY_MS, expand_id
from shopstream.processors.aggregate.errors import StateFormatError
from shopstream.processors.aggregate.settings import AggregateSettings

FORMAT_VERSION = 1
"""Version of the JSON layout of :meth:`BuyerState.to_json` (key ``"v"``)."""

DEVICES = ("pc", "mobile", "tablet", "app")
"""Device symbols with their own count, in the order of ``device_visits``; then "other"."""


def _no_visits() -> list[int]:
    return [0] * (len(DEVICES) + 1)


@dataclass(slots=True)
class BuyerState:
    """Everything the aggregate keeps for one (shop_id, buyer_pseudonym).

    ``apply_event`` updates it in place. :meth:`to_json` gives a snapshot (fresh
    containers); :meth:`from_json` adopts the containers of the dict it is given.
    """

    shop_id: str
    buyer_pseudonym: str
    currency: str
    as_of: int
    """Greatest event_time (ms) over the counted events."""
    as_of_id: str
    """Compact event id of the latest counted event: greatest (event_time, str(event_id))."""
    pseudonym_key_id: str
    """pseudonym_key_id of that latest event."""
    events: int = 0
    # Profile: from the signup with the greatest (event_time, str(event_id)).
    signup_time: int | None = None
    signup_id: str | None = None
    age_band: str | None = None
    gender: str | None = None
    region: str | None = None
    signup_channel: str | None = None
    # Visits.
    visits_total: int = 0
    dwell_ms_total: int = 0
    sessions_total: int = 0
    device_visits: list[int] = field(default_factory=_no_visits)
    last_visit_time: int | None = None
    # Purchases in the aggregate currency.
    orders: int = 0
    gross_spend: int = 0
    items: int = 0
    list_amount: int = 0
    discount_amount: int = 0
    first_purchase_time: int | None = None
    last_purchase_time: int | None = None
    cancellations: int = 0
    cancelled_amount: int = 0
    refunds: int = 0
    refunded_amount: int = 0
    foreign_currency_purchases: int = 0
    # Reviews.
    reviews: int = 0
    rating_sum: int = 0
    last_review_time: int | None = None
    # Ordered quantity per category_id.
    category_quantity: dict[str, int] = field(default_factory=dict)
    # The bounded memories (module docstring).
    visit_days: dict[str, int] = field(default_factory=dict)
    order_days: dict[str, int] = field(default_factory=dict)
    recent_sessions: dict[str, int] = field(default_factory=dict)
    recent_ids: dict[str, int] = field(default_factory=dict)
    # Lower bounds of the values (days: keys) in the memories, or None when not yet known;
    # expiry scans a memory only when its bound says something has expired.
    _ids_floor: int | None = field(default=None, init=False, repr=False, compare=False)
    _sessions_floor: int | None = field(default=None, init=False, repr=False, compare=False)
    _days_floor: int | None = field(default=None, init=False, repr=False, compare=False)

    # ---- the bounded memories -------------------------------------------------------

    def advance(self, ms: int, short_id: str, key_id: str, settings: AggregateSettings) -> None:
        """Take a counted event into as_of, and forget what as_of has left behind."""
        as_of = self.as_of
        if ms < as_of:
            return
        if ms == as_of:
            # Ties are rare: only they pay for expanding the ids to compare them as strings.
            if short_id != self.as_of_id and expand_id(short_id) > expand_id(self.as_of_id):
                self.as_of_id = short_id
                self.pseudonym_key_id = key_id
            return
        self.as_of = ms
        self.as_of_id = short_id
        self.pseudonym_key_id = key_id
        self._expire_ids(ms - settings.dedup_window_ms)
        self._expire_sessions(ms - settings.session_memory_ms)
        if ms // DAY_MS != as_of // DAY_MS:
            self._expire_days(ms // DAY_MS - settings.bucket_days + 1)

    def remember_id(self, short_id: str, ms: int, settings: AggregateSettings) -> None:
        """Remember a counted event's id, if its event_time is within the dedup window."""
        if ms < self.as_of - settings.dedup_window_ms:
            return  # too old to remember: a resend of it would count again (docs/features.md)
        ids = self.recent_ids
        ids[short_id] = ms
        if self._ids_floor is not None and ms < self._ids_floor:
            self._ids_floor = ms
        excess = len(ids) - settings.dedup_max_ids
        if excess > 0:
            for old_id, _ in heapq.nsmallest(excess, ids.items(), key=_time_then_id):
                del ids[old_id]
            self._ids_floor = None

    def see_session(self, short_session: str, ms: int, settings: AggregateSettings) -> None:
        """Count a visit's session if it is not remembered; remember it while it is recent."""
        sessions = self.recent_sessions
        latest = sessions.get(short_session)
        if latest is None:
            self.sessions_total += 1
            if ms >= self.as_of - settings.session_memory_ms:
                sessions[short_session] = ms
                if self._sessions_floor is not None and ms < self._sessions_floor:
                    self._sessions_floor = ms
        elif ms > latest:
            sessions[short_session] = ms  # raises a value: the floor stays a lower bound

    def count_day(self, days: dict[str, int], ms: int, settings: AggregateSettings) -> None:
        """Add one to the daily bucket of ``ms`` in ``days``, unless the day is already dropped."""
        day = ms // DAY_MS
        if self.as_of // DAY_MS - day >= settings.bucket_days:
            return
        key = str(day)
        days[key] = days.get(key, 0) + 1
        if self._days_floor is not None and day < self._days_floor:
            self._days_floor = day

    def _expire_ids(self, cutoff: int) -> None:
        ids = self.recent_ids
        floor = self._ids_floor
        if floor is None:
            floor = min(ids.values(), default=cutoff)
        if floor < cutoff:
            for old_id in [i for i, t in ids.items() if t < cutoff]:
                del ids[old_id]
            floor = min(ids.values(), default=cutoff)
        self._ids_floor = floor

    def _expire_sessions(self, cutoff: int) -> None:
        sessions = self.recent_sessions
        floor = self._sessions_floor
        if floor is None:
            floor = min(sessions.values(), default=cutoff)
        if floor < cutoff:
            for old in [s for s, t in sessions.items() if t < cutoff]:
                del sessions[old]
            floor = min(sessions.values(), default=cutoff)
        self._sessions_floor = floor

    def _expire_days(self, first_kept: int) -> None:
        floor = self._days_floor
        if floor is None:
            floor = min(map(int, (*self.visit_days, *self.order_days)), default=first_kept)
        if floor < first_kept:
            for days in (self.visit_days, self.order_days):
                for old in [d for d in days if int(d) < first_kept]:
                    del days[old]
            floor = min(map(int, (*self.visit_days, *self.order_days)), default=first_kept)
        self._days_floor = floor

    # ---- JSON -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-native values under short keys; fresh containers, safe to keep."""
        out: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "s": self.shop_id,
            "b": self.buyer_pseudonym,
            "cu": self.currency,
            "k": self.pseudonym_key_id,
            "t": [self.as_of, self.as_of_id],
            "n": [
                self.events,
                self.visits_total,
                self.dwell_ms_total,
                self.sessions_total,
                *self.device_visits,
                self.orders,
                self.gross_spend,
                self.items,
                self.list_amount,
                self.discount_amount,
                self.cancellations,
                self.cancelled_amount,
                self.refunds,
                self.refunded_amount,
                self.foreign_currency_purchases,
                self.reviews,
                self.rating_sum,
            ],
            "tm": [
                self.last_visit_time,
                self.first_purchase_time,
                self.last_purchase_time,
                self.last_review_time,
            ],
        }
        if self.signup_time is not None:
            out["p"] = [
                self.signup_time,
                self.signup_id,
                self.age_band,
                self.gender,
                self.region,
                self.signup_channel,
            ]
        # Empty maps are left out: most buyers have no orders or reviews.
        if self.category_quantity:
            out["c"] = dict(self.category_quantity)
        if self.visit_days:
            out["dv"] = dict(self.visit_days)
        if self.order_days:
            out["do"] = dict(self.order_days)
        if self.recent_sessions:
            out["ss"] = dict(self.recent_sessions)
        if self.recent_ids:
            out["id"] = dict(self.recent_ids)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BuyerState:
        """Read what :meth:`to_json` wrote (after a JSON round trip); adopts its containers.

        Raises :class:`StateFormatError` for another format version or a malformed dict. A
        later format version migrates here, from ``data["v"]``.
        """
        try:
            version = data["v"]
        except (KeyError, TypeError) as exc:
            raise StateFormatError("stored state has no format version", data) from exc
        if version != FORMAT_VERSION:
            raise StateFormatError(
                f"stored state has format version {version!r}; this code reads {FORMAT_VERSION}",
                data,
            )
        # Slots set directly: the generated __init__ with forty keywords is five times slower,
        # and this runs once per event.
        state = object.__new__(cls)
        try:
            state.shop_id = data["s"]
            state.buyer_pseudonym = data["b"]
            state.currency = data["cu"]
            state.pseudonym_key_id = data["k"]
            state.as_of, state.as_of_id = data["t"]
            counts = data["n"]
            if len(counts) != _COUNTS:
                raise ValueError(f"{len(counts)} counts, not {_COUNTS}")
            (
                state.events,
                state.visits_total,
                state.dwell_ms_total,
                state.sessions_total,
            ) = counts[:4]
            state.device_visits = counts[4:9]
            (
                state.orders,
                state.gross_spend,
                state.items,
                state.list_amount,
                state.discount_amount,
                state.cancellations,
                state.cancelled_amount,
                state.refunds,
                state.refunded_amount,
                state.foreign_currency_purchases,
                state.reviews,
                state.rating_sum,
            ) = counts[9:]
            (
                state.last_visit_time,
                state.first_purchase_time,
                state.last_purchase_time,
                state.last_review_time,
            ) = data["tm"]
            (
                state.signup_time,
                state.signup_id,
                state.age_band,
                state.gender,
                state.region,
                state.signup_channel,
            ) = data.get("p", _NO_SIGNUP)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFormatError(f"stored state is malformed: {exc}", data) from exc
        state.category_quantity = data.get("c") or {}
        state.visit_days = data.get("dv") or {}
        state.order_days = data.get("do") or {}
        state.recent_sessions = data.get("ss") or {}
        state.recent_ids = data.get("id") or {}
        state._ids_floor = state._sessions_floor = state._days_floor = None
        return state

    def copy(self) -> BuyerState:
        """An independent copy (``apply_event`` mutates its state in place)."""
        return replace(
            self,
            device_visits=list(self.device_visits),
            category_quantity=dict(self.category_quantity),
            visit_days=dict(self.visit_days),
            order_days=dict(self.order_days),
            recent_sessions=dict(self.recent_sessions),
            recent_ids=dict(self.recent_ids),
        )


_NO_SIGNUP = (None, None, None, None, None, None)
_COUNTS = 21  # length of "n": 4 visit counts, 5 devices, 10 purchase counts, 2 review counts


def _time_then_id(item: tuple[str, int]) -> tuple[int, str]:
    return item[1], item[0]


__all__ = ["DEVICES", "FORMAT_VERSION", "BuyerState"]
