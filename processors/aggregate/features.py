"""The features record of a state: ``shopstream.features.BuyerFeatures`` v1, field for field.

Timestamps in the record are aware UTC datetimes, as fastavro decodes timestamp-millis,
so a record equals its own encode-then-decode.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any, cast

from fastavro import parse_schema

from shopstream.processors.aggregate.compact import DAY_MS, to_datetime
from shopstream.processors.aggregate.errors import StateMismatchError
from shopstream.processors.aggregate.settings import AggregateSettings
from shopstream.processors.aggregate.state import BuyerState
from shopstream.schemas.contract import schemas_root

FEATURE_VERSION = 1
"""Version of the definitions in docs/features.md that this code computes."""

_TOP_CATEGORIES = 3


@cache
def features_schema() -> dict[str, Any]:
    """The parsed BuyerFeatures v1 schema (fastavro), to encode :func:`buyer_features` with."""
    path = schemas_root() / "features" / "buyer" / f"v{FEATURE_VERSION}.avsc"
    return cast(dict[str, Any], parse_schema(json.loads(path.read_text("utf-8"))))


def buyer_features(state: BuyerState, settings: AggregateSettings) -> dict[str, Any]:
    """The BuyerFeatures record of ``state``, as of its as_of (docs/features.md)."""
    if state.currency != settings.currency:
        raise StateMismatchError(
            f"the state counts {state.currency}, the settings {settings.currency}"
        )
    as_of_day = state.as_of // DAY_MS
    visits_7d, visits_30d, visits_90d = _windows(state.visit_days, as_of_day)
    orders_7d, orders_30d, orders_90d = _windows(state.order_days, as_of_day)
    pc, mobile, tablet, app, other_device = state.device_visits
    # Largest ordered quantity first, ties by category id; sorted() beats heapq at this size.
    categories = sorted([(-q, c) for c, q in state.category_quantity.items() if q > 0])
    top = [c for _, c in categories[:_TOP_CATEGORIES]]
    sessions, orders, reviews = state.sessions_total, state.orders, state.reviews
    return {
        "shop_id": state.shop_id,
        "buyer_pseudonym": state.buyer_pseudonym,
        "pseudonym_key_id": state.pseudonym_key_id,
        "feature_version": FEATURE_VERSION,
        "as_of": to_datetime(state.as_of),
        "events": state.events,
        "age_band": state.age_band,
        "gender": state.gender,
        "region": state.region,
        "signup_channel": state.signup_channel,
        "signup_time": _time(state.signup_time),
        "days_since_signup": _days_before(as_of_day, state.signup_time),
        "visits_total": state.visits_total,
        "visits_7d": visits_7d,
        "visits_30d": visits_30d,
        "visits_90d": visits_90d,
        "sessions_total": sessions,
        "dwell_ms_total": state.dwell_ms_total,
        "mean_session_dwell_ms": state.dwell_ms_total / sessions if sessions else None,
        "last_visit_time": _time(state.last_visit_time),
        "visits_pc": pc,
        "visits_mobile": mobile,
        "visits_tablet": tablet,
        "visits_app": app,
        "visits_other_device": other_device,
        "currency": state.currency,
        "orders": orders,
        "orders_7d": orders_7d,
        "orders_30d": orders_30d,
        "orders_90d": orders_90d,
        "gross_spend": state.gross_spend,
        "cancelled_amount": state.cancelled_amount,
        "refunded_amount": state.refunded_amount,
        "spend": state.gross_spend - state.cancelled_amount - state.refunded_amount,
        "average_order_value": state.gross_spend / orders if orders else None,
        "first_purchase_time": _time(state.first_purchase_time),
        "last_purchase_time": _time(state.last_purchase_time),
        "recency_days": _days_before(as_of_day, state.last_purchase_time),
        "items": state.items,
        "distinct_categories": len(categories),
        "top_categories": top,
        "list_amount": state.list_amount,
        "discount_amount": state.discount_amount,
        "discount_share": (
            state.discount_amount / state.list_amount if state.list_amount else None
        ),
        "cancellations": state.cancellations,
        "refunds": state.refunds,
        "foreign_currency_purchases": state.foreign_currency_purchases,
        "reviews": reviews,
        "rating_sum": state.rating_sum,
        "mean_rating": state.rating_sum / reviews if reviews else None,
        "last_review_time": _time(state.last_review_time),
        "conversion": orders / sessions if sessions else None,
    }


def _windows(days: dict[str, int], as_of_day: int) -> tuple[int, int, int]:
    """Counts in the 7, 30 and 90 days ending on as_of's date: 0 <= as_of_day - day < N."""
    last_7 = last_30 = last_90 = 0
    for day, count in days.items():
        age = as_of_day - int(day)
        if age < 90:
            last_90 += count
            if age < 30:
                last_30 += count
                if age < 7:
                    last_7 += count
    return last_7, last_30, last_90


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else to_datetime(ms)


def _days_before(as_of_day: int, ms: int | None) -> int | None:
    return None if ms is None else as_of_day - ms // DAY_MS


__all__ = ["FEATURE_VERSION", "buyer_features", "features_schema"]
