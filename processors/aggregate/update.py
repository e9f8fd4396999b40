"""The per-event update: ``apply_event(state, event_type, record, settings) -> (state, applied)``.

Records are clean events as fastavro decodes them (schemas/avro/clean/<type>/v1.avsc):
timestamps are aware UTC datetimes (int ms also accepted), enums are symbol strings,
event_id is a ``uuid.UUID`` or a str (compared as ``str(event_id)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from shopstream.processors.aggregate.compact import compact_id, compact_pseudonym, expand_id, to_ms
from shopstream.processors.aggregate.errors import StateMismatchError
from shopstream.processors.aggregate.settings import AggregateSettings
from shopstream.processors.aggregate.state import DEVICES, BuyerState

BUYER_EVENT_TYPES = frozenset({"signup", "visit", "purchase", "review"})
"""Event types that count for a buyer; any other type (product) changes no aggregate."""

_DEVICE_INDEX = {device: i for i, device in enumerate(DEVICES)}
_OTHER_DEVICE = len(DEVICES)


class Applied(StrEnum):
    """What :func:`apply_event` did with an event."""

    COUNTED = "counted"
    """Counted into the state (which is then not None)."""
    DUPLICATE = "duplicate"
    """Its event_id is in the buyer's dedup memory: dropped, state unchanged."""
    NOT_A_BUYER_EVENT = "not_a_buyer_event"
    """A product event, or an event without buyer_pseudonym: state returned unchanged."""


def buyer_key(record: Mapping[str, Any], event_type: str | None = None) -> tuple[str, str] | None:
    """(shop_id, buyer_pseudonym) of a clean event, or None when it has no buyer.

    With ``event_type``, also None for types that count for no buyer (product), so that
    a key is returned exactly when :func:`apply_event` would count or drop the event.
    """
    if event_type is not None and event_type not in BUYER_EVENT_TYPES:
        return None
    buyer = record.get("buyer_pseudonym")
    if not buyer:
        return None
    return record["shop_id"], buyer


def apply_event(
    state: BuyerState | None,
    event_type: str,
    record: Mapping[str, Any],
    settings: AggregateSettings,
) -> tuple[BuyerState | None, Applied]:
    """Count one clean event into its buyer's state.

    **Mutates** ``state`` in place and returns that same object when the event is
    counted; a duplicate or a non-buyer event leaves it untouched and returns it as it
    was (``None`` stays ``None``). Callers that need the old state keep a
    :meth:`BuyerState.copy`. With ``state=None`` a counted event makes a new state.

    Raises :class:`StateMismatchError` if ``state`` belongs to another (shop_id,
    buyer_pseudonym) than the record, or was built in another currency than
    ``settings.currency``; never on the values of a clean event.
    """
    if event_type not in BUYER_EVENT_TYPES:
        return state, Applied.NOT_A_BUYER_EVENT
    buyer = record.get("buyer_pseudonym")
    if not buyer:
        return state, Applied.NOT_A_BUYER_EVENT
    short_id = compact_id(record["event_id"])
    ms = to_ms(record["event_time"])
    if state is None:
        state = BuyerState(
            shop_id=record["shop_id"],
            buyer_pseudonym=buyer,
            currency=settings.currency,
            as_of=ms,
            as_of_id=short_id,
            pseudonym_key_id=record["pseudonym_key_id"],
        )
    else:
        if state.buyer_pseudonym != buyer or state.shop_id != record["shop_id"]:
            raise StateMismatchError("the state belongs to another shop or buyer", record)
        if state.currency != settings.currency:
            raise StateMismatchError(
                f"the state counts {state.currency}, the settings {settings.currency}", record
            )
        if short_id in state.recent_ids:
            return state, Applied.DUPLICATE
        state.advance(ms, short_id, record["pseudonym_key_id"], settings)
    state.remember_id(short_id, ms, settings)
    state.events += 1
    if event_type == "visit":
        _visit(state, record, ms, settings)
    elif event_type == "purchase":
        _purchase(state, record, ms, settings)
    elif event_type == "review":
        _review(state, record, ms)
    else:
        _signup(state, record, ms, short_id)
    return state, Applied.COUNTED


def _visit(
    state: BuyerState, record: Mapping[str, Any], ms: int, settings: AggregateSettings
) -> None:
    state.visits_total += 1
    state.dwell_ms_total += record["dwell_ms"]
    state.device_visits[_DEVICE_INDEX.get(record["device"], _OTHER_DEVICE)] += 1
    if state.last_visit_time is None or ms > state.last_visit_time:
        state.last_visit_time = ms
    state.count_day(state.visit_days, ms, settings)
    session = record.get("session_pseudonym")
    if session:
        state.see_session(compact_pseudonym(session), ms, settings)


def _purchase(
    state: BuyerState, record: Mapping[str, Any], ms: int, settings: AggregateSettings
) -> None:
    if record["currency"] != state.currency:
        state.foreign_currency_purchases += 1
        return
    status = record["status"]
    if status == "ordered":
        state.orders += 1
        state.gross_spend += record["total"]
        categories = state.category_quantity
        items = list_amount = discount = 0
        for item in record["items"]:
            quantity = item["quantity"]
            items += quantity
            list_amount += quantity * item["unit_price"]
            discount += item.get("discount", 0)
            category = item["category_id"]
            categories[category] = categories.get(category, 0) + quantity
        state.items += items
        state.list_amount += list_amount
        state.discount_amount += discount
        if state.first_purchase_time is None or ms < state.first_purchase_time:
            state.first_purchase_time = ms
        if state.last_purchase_time is None or ms > state.last_purchase_time:
            state.last_purchase_time = ms
        state.count_day(state.order_days, ms, settings)
    elif status == "cancelled":
        state.cancellations += 1
        state.cancelled_amount += record["total"]
    elif status == "refunded":
        state.refunds += 1
        state.refunded_amount += record["total"]
    # status unknown: counted in events (and as_of) only.


def _review(state: BuyerState, record: Mapping[str, Any], ms: int) -> None:
    state.reviews += 1
    state.rating_sum += record["rating"]
    if state.last_review_time is None or ms > state.last_review_time:
        state.last_review_time = ms


def _signup(state: BuyerState, record: Mapping[str, Any], ms: int, short_id: str) -> None:
    # The profile comes from the signup with the greatest (event_time, str(event_id)).
    latest, latest_id = state.signup_time, state.signup_id
    if (
        latest is not None
        and latest_id is not None
        and (ms < latest or (ms == latest and expand_id(short_id) <= expand_id(latest_id)))
    ):
        return
    state.signup_time = ms
    state.signup_id = short_id
    state.age_band = record.get("age_band")
    state.gender = record.get("gender")
    state.region = record.get("region")
    state.signup_channel = record.get("signup_channel")


__all__ = ["BUYER_EVENT_TYPES", "Applied", "apply_event", "buyer_key"]
