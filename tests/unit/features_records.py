"""Hand-made BuyerFeatures records for the sink tests (valid under features/buyer/v1)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def pseudonym(n: int) -> str:
    """A 64-hex buyer pseudonym, stable for ``n``."""
    return hashlib.sha256(f"buyer-{n}".encode()).hexdigest()


def features_record(
    shop_id: str = "shop-a",
    buyer: int = 1,
    *,
    as_of: dt.datetime = T0,
    events: int = 1,
    **overrides: Any,
) -> dict[str, Any]:
    """One version of a buyer's aggregate; ``events`` also drives the counts, to tell
    versions apart."""
    record: dict[str, Any] = {
        "shop_id": shop_id,
        "buyer_pseudonym": pseudonym(buyer),
        "pseudonym_key_id": "k1",
        "feature_version": 1,
        "as_of": as_of,
        "events": events,
        "age_band": "30-39",
        "gender": "F",
        "region": "KR-11",
        "signup_channel": "web",
        "signup_time": T0 - dt.timedelta(days=40),
        "days_since_signup": 40,
        "visits_total": events,
        "visits_7d": min(events, 7),
        "visits_30d": min(events, 30),
        "visits_90d": min(events, 90),
        "sessions_total": 2,
        "dwell_ms_total": 61_000 * events,
        "mean_session_dwell_ms": 30_500.0 * events,
        "last_visit_time": as_of,
        "visits_pc": events,
        "visits_mobile": 0,
        "visits_tablet": 0,
        "visits_app": 0,
        "visits_other_device": 0,
        "currency": "KRW",
        "orders": 1,
        "orders_7d": 1,
        "orders_30d": 1,
        "orders_90d": 1,
        "gross_spend": 12_000 + events,
        "cancelled_amount": 0,
        "refunded_amount": 0,
        "spend": 12_000 + events,
        "average_order_value": 12_000.0 + events,
        "first_purchase_time": T0 - dt.timedelta(days=3),
        "last_purchase_time": T0 - dt.timedelta(days=3),
        "recency_days": 3,
        "items": 2,
        "distinct_categories": 2,
        "top_categories": ["c-10", "c-7"],
        "list_amount": 13_000,
        "discount_amount": 1_000,
        "discount_share": 1_000 / 13_000,
        "cancellations": 0,
        "refunds": 0,
        "foreign_currency_purchases": 0,
        "reviews": 0,
        "rating_sum": 0,
        "mean_rating": None,
        "last_review_time": None,
        "conversion": 0.5,
    }
    record.update(overrides)
    return record
