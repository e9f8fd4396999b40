"""buyer_features: the record against its schema, and against a from-scratch reference.

``reference_features`` computes docs/features.md directly from the whole event list
(global dedup, no bounded memories). Within the memories, apply_event in any arrival
order must agree with it exactly.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import given
from hypothesis import strategies as st

from shopstream.processors.aggregate import (
    FEATURE_VERSION,
    AggregateSettings,
    Applied,
    BuyerState,
    apply_event,
    buyer_features,
    features_schema,
)
from shopstream.schemas.contract import schemas_root

from .test_aggregate_records import (
    BUYER,
    DAY_MS,
    SHOP,
    CleanEventFactory,
    Event,
    at,
    event_lists,
    replay,
)

SETTINGS = AggregateSettings()
BUYER_TYPES = {"signup", "visit", "purchase", "review"}


@pytest.fixture
def event_factory() -> CleanEventFactory:
    return CleanEventFactory()


def encode(record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, features_schema(), record, strict=True)
    return buf.getvalue()


def decode(data: bytes) -> Any:
    return schemaless_reader(io.BytesIO(data), features_schema(), None)


def reference_features(events: list[Event], currency: str = "KRW") -> dict[str, Any] | None:
    """docs/features.md, computed directly: every counted event at once, global dedup."""
    counted: dict[str, Event] = {}
    for event_type, record in events:
        if event_type in BUYER_TYPES and record["buyer_pseudonym"]:
            counted.setdefault(str(record["event_id"]), (event_type, record))
    if not counted:
        return None

    def latest(of: list[dict[str, Any]]) -> dict[str, Any]:
        return max(of, key=lambda r: (r["event_time"], str(r["event_id"])))

    def of_type(event_type: str) -> list[dict[str, Any]]:
        return [r for t, r in counted.values() if t == event_type]

    last = latest([r for _, r in counted.values()])
    as_of: dt.datetime = last["event_time"]

    def age(t: dt.datetime) -> int:
        return (as_of.date() - t.date()).days

    def window(records: list[dict[str, Any]], days: int) -> int:
        return sum(1 for r in records if 0 <= age(r["event_time"]) < days)

    signups, visits, reviews = of_type("signup"), of_type("visit"), of_type("review")
    signup = latest(signups) if signups else None
    purchases = [r for r in of_type("purchase") if r["currency"] == currency]
    ordered = [r for r in purchases if r["status"] == "ordered"]
    cancelled = [r for r in purchases if r["status"] == "cancelled"]
    refunded = [r for r in purchases if r["status"] == "refunded"]
    lines = [item for r in ordered for item in r["items"]]
    quantity: Counter[str] = Counter()
    for item in lines:
        quantity[item["category_id"]] += item["quantity"]
    categories = sorted((c for c in quantity if quantity[c] > 0), key=lambda c: (-quantity[c], c))
    sessions = len({r["session_pseudonym"] for r in visits if r["session_pseudonym"]})
    dwell = sum(r["dwell_ms"] for r in visits)
    gross = sum(r["total"] for r in ordered)
    list_amount = sum(i["quantity"] * i["unit_price"] for i in lines)
    discount = sum(i["discount"] for i in lines)
    rating_sum = sum(r["rating"] for r in reviews)
    devices = Counter(
        r["device"] if r["device"] in {"pc", "mobile", "tablet", "app"} else "other_device"
        for r in visits
    )
    purchase_times = [r["event_time"] for r in ordered]
    return {
        "shop_id": last["shop_id"],
        "buyer_pseudonym": last["buyer_pseudonym"],
        "pseudonym_key_id": last["pseudonym_key_id"],
        "feature_version": 1,
        "as_of": as_of,
        "events": len(counted),
        "age_band": signup["age_band"] if signup else None,
        "gender": signup["gender"] if signup else None,
        "region": signup["region"] if signup else None,
        "signup_channel": signup["signup_channel"] if signup else None,
        "signup_time": signup["event_time"] if signup else None,
        "days_since_signup": age(signup["event_time"]) if signup else None,
        "visits_total": len(visits),
        "visits_7d": window(visits, 7),
        "visits_30d": window(visits, 30),
        "visits_90d": window(visits, 90),
        "sessions_total": sessions,
        "dwell_ms_total": dwell,
        "mean_session_dwell_ms": dwell / sessions if sessions else None,
        "last_visit_time": max((r["event_time"] for r in visits), default=None),
        **{f"visits_{d}": devices[d] for d in ("pc", "mobile", "tablet", "app", "other_device")},
        "currency": currency,
        "orders": len(ordered),
        "orders_7d": window(ordered, 7),
        "orders_30d": window(ordered, 30),
        "orders_90d": window(ordered, 90),
        "gross_spend": gross,
        "cancelled_amount": sum(r["total"] for r in cancelled),
        "refunded_amount": sum(r["total"] for r in refunded),
        "spend": gross - sum(r["total"] for r in cancelled + refunded),
        "average_order_value": gross / len(ordered) if ordered else None,
        "first_purchase_time": min(purchase_times, default=None),
        "last_purchase_time": max(purchase_times, default=None),
        "recency_days": age(max(purchase_times)) if purchase_times else None,
        "items": sum(i["quantity"] for i in lines),
        "distinct_categories": len(categories),
        "top_categories": categories[:3],
        "list_amount": list_amount,
        "discount_amount": discount,
        "discount_share": discount / list_amount if list_amount else None,
        "cancellations": len(cancelled),
        "refunds": len(refunded),
        "foreign_currency_purchases": sum(
            1 for r in of_type("purchase") if r["currency"] != currency
        ),
        "reviews": len(reviews),
        "rating_sum": rating_sum,
        "mean_rating": rating_sum / len(reviews) if reviews else None,
        "last_review_time": max((r["event_time"] for r in reviews), default=None),
        "conversion": len(ordered) / sessions if sessions else None,
    }


# ---- the record and its schema ---------------------------------------------------------


def test_the_record_has_the_schemas_fields_in_order(event_factory: CleanEventFactory) -> None:
    state = replay([event_factory.visit(0)])
    assert state is not None
    avsc = json.loads((schemas_root() / "features/buyer/v1.avsc").read_text("utf-8"))
    assert list(buyer_features(state, SETTINGS)) == [f["name"] for f in avsc["fields"]]


def test_a_full_record_encodes_and_decodes_to_itself(event_factory: CleanEventFactory) -> None:
    f = event_factory
    state = replay(
        [
            f.signup(0),
            f.visit(1, device="mobile"),
            f.purchase(2, items=[("C1", 2, 1_000, 50), ("C2", 1, 300, 0)]),
            f.purchase(3, status="refunded"),
            f.review(4, rating=3),
        ]
    )
    assert state is not None
    record = buyer_features(state, SETTINGS)
    assert record["feature_version"] == FEATURE_VERSION == 1
    assert record["as_of"] == at(4)
    assert record["as_of"].tzinfo is not None
    assert decode(encode(record)) == record  # timestamps: aware UTC datetimes both ways


def test_a_sparse_record_encodes_with_its_nulls(event_factory: CleanEventFactory) -> None:
    state = replay([event_factory.visit(0, session=None)])
    assert state is not None
    record = buyer_features(state, SETTINGS)
    nulls = [k for k, v in record.items() if v is None]
    assert "signup_time" in nulls
    assert "conversion" in nulls
    assert "mean_rating" in nulls
    assert decode(encode(record)) == record


def test_golden_bytes_of_a_small_record(event_factory: CleanEventFactory) -> None:
    state = replay([event_factory.visit(0, dwell_ms=1_500, device="app")])
    assert state is not None
    data = encode(buyer_features(state, SETTINGS))
    # shop_id, buyer_pseudonym, key id, version 1, as_of ms, then events = 1 ...
    assert data.startswith(b"\x18gildong-mart\x80\x01" + BUYER.encode() + b"\x10k2025-01\x02")
    assert decode(data)["as_of"] == at(0)


# ---- any arrival order gives the reference result --------------------------------------


def _check_against_reference(events: list[Event], order: list[Event]) -> None:
    expected = reference_features(events)
    state: BuyerState | None = None
    counted = 0
    for event_type, record in order:
        state, applied = apply_event(state, event_type, record, SETTINGS)
        counted += applied == Applied.COUNTED
    if expected is None:
        assert state is None
        return
    assert state is not None
    got = buyer_features(state, SETTINGS)
    assert got == expected
    assert counted == expected["events"]
    assert (got["shop_id"], got["buyer_pseudonym"]) == (SHOP, BUYER)


@given(data=st.data())
def test_any_order_within_the_memories_gives_the_reference(data: st.DataObject) -> None:
    # Everything within DEDUP_WINDOW (7 days, edge included): every resend is dropped and
    # every session remembered, whatever the order.
    events = data.draw(event_lists(span_ms=7 * DAY_MS, duplicates=True, shared_sessions=True))
    order = data.draw(st.permutations(events))
    _check_against_reference(events, order)


@given(data=st.data())
def test_late_events_over_months_give_the_reference(data: st.DataObject) -> None:
    # Over 400 days the daily buckets expire and come back; with no resends and no session
    # seen twice, the bounded memories do not show and any order is exact.
    events = data.draw(event_lists(span_ms=400 * DAY_MS, duplicates=False, shared_sessions=False))
    order = data.draw(st.permutations(events))
    _check_against_reference(events, order)


def test_reference_sanity(event_factory: CleanEventFactory) -> None:
    # The reference itself, on a case worked by hand in test_aggregate_update.py.
    f = event_factory
    events = [f.visit(10.0), f.visit(94.0), f.purchase(94.5), f.visit(100.5)]
    expected = reference_features(events)
    assert expected is not None
    assert (expected["visits_7d"], expected["visits_90d"], expected["orders_7d"]) == (2, 2, 1)
