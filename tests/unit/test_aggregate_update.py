"""apply_event on small hand-built sequences: each feature, dedup, memories, what is ignored."""

from __future__ import annotations

import dataclasses
import datetime as dt
from datetime import timedelta
from typing import Any

import pytest

from shopstream.processors.aggregate import (
    AggregateSettings,
    AggregateSettingsError,
    Applied,
    BuyerState,
    StateMismatchError,
    apply_event,
    buyer_features,
    buyer_key,
)

from .test_aggregate_records import BUYER, SHOP, CleanEventFactory, Event, at, pseudonym

SETTINGS = AggregateSettings()


@pytest.fixture
def event_factory() -> CleanEventFactory:
    return CleanEventFactory()


def run(events: list[Event], settings: AggregateSettings = SETTINGS) -> BuyerState:
    state: BuyerState | None = None
    for event_type, record in events:
        state, applied = apply_event(state, event_type, record, settings)
        assert applied == Applied.COUNTED, (event_type, record["event_time"])
    assert state is not None
    return state


def features(events: list[Event], settings: AggregateSettings = SETTINGS) -> dict[str, Any]:
    return buyer_features(run(events, settings), settings)


# ---- visits ---------------------------------------------------------------------------


def test_visits_devices_dwell_and_sessions(event_factory: CleanEventFactory) -> None:
    f = event_factory
    got = features(
        [
            f.visit(0.1, device="pc", dwell_ms=1_000, session="s1"),
            f.visit(0.2, device="pc", dwell_ms=2_000, session="s1"),
            f.visit(0.3, device="mobile", dwell_ms=3_000, session="s2"),
            f.visit(0.4, device="tablet", dwell_ms=4_000, session=None),  # no session
            f.visit(0.5, device="app", dwell_ms=5_000, session="s3"),
            f.visit(0.6, device="unknown", dwell_ms=6_000, session="s3"),
        ]
    )
    assert got["visits_total"] == 6
    assert got["sessions_total"] == 3
    assert got["dwell_ms_total"] == 21_000
    assert got["mean_session_dwell_ms"] == 21_000 / 3  # session-less dwell counts too
    assert [got[f"visits_{d}"] for d in ("pc", "mobile", "tablet", "app", "other_device")] == [
        2,
        1,
        1,
        1,
        1,
    ]
    assert got["last_visit_time"] == at(0.6)
    assert got["conversion"] == 0.0
    assert got["events"] == 6


def test_visits_without_sessions_have_no_ratios(event_factory: CleanEventFactory) -> None:
    got = features([event_factory.visit(0, session=None)])
    assert (got["sessions_total"], got["mean_session_dwell_ms"], got["conversion"]) == (
        0,
        None,
        None,
    )


# ---- rolling windows and daily buckets -----------------------------------------------


def test_windows_count_utc_dates_relative_to_as_of(event_factory: CleanEventFactory) -> None:
    f = event_factory
    # as_of is day 100, 12:00; day 100 - 7 = 93 is the first day outside the 7-day window.
    got = features(
        [
            f.visit(10.0),  # 90 days before: outside every window
            f.visit(11.0),  # 89: in the 90-day window
            f.visit(70.99),  # 30: outside the 30-day window
            f.visit(71.0),  # 29
            f.visit(93.9999),  # 7, late in the UTC day: outside the 7-day window
            f.visit(94.0),  # 6, midnight UTC
            f.purchase(94.5),
            f.purchase(60.0),
            f.visit(100.5),
        ]
    )
    assert (got["visits_7d"], got["visits_30d"], got["visits_90d"]) == (2, 4, 6)
    assert (got["orders_7d"], got["orders_30d"], got["orders_90d"]) == (1, 1, 2)
    assert got["visits_total"] == 7
    assert got["as_of"] == at(100.5)


def test_buckets_older_than_90_days_are_dropped(event_factory: CleanEventFactory) -> None:
    f = event_factory
    state = run([f.visit(0), f.visit(1), f.purchase(1), f.visit(50)])
    assert sorted(map(int, state.visit_days)) == [20148, 20149, 20198]  # day numbers
    state, _ = apply_event(state, *f.visit(90.5), SETTINGS)  # day 0 is now 90 days old
    assert sorted(map(int, state.visit_days)) == [20149, 20198, 20238]
    assert sorted(map(int, state.order_days)) == [20149]
    state, _ = apply_event(state, *f.visit(200), SETTINGS)
    assert sorted(map(int, state.visit_days)) == [20348]
    assert state.order_days == {}
    got = buyer_features(state, SETTINGS)
    assert (got["visits_total"], got["visits_90d"], got["orders"], got["orders_90d"]) == (
        5,
        1,
        1,
        0,
    )


def test_a_late_event_older_than_the_buckets_counts_in_totals_only(
    event_factory: CleanEventFactory,
) -> None:
    f = event_factory
    state = run([f.visit(100), f.visit(5), f.purchase(3)])
    assert list(state.visit_days) == ["20248"]
    assert state.order_days == {}
    got = buyer_features(state, SETTINGS)
    assert (got["visits_total"], got["visits_90d"], got["orders"], got["orders_90d"]) == (
        2,
        1,
        1,
        0,
    )
    assert got["recency_days"] == 97


# ---- purchases ----------------------------------------------------------------------


def test_ordered_purchases(event_factory: CleanEventFactory) -> None:
    f = event_factory
    got = features(
        [
            f.visit(0, session="s1"),
            f.visit(1, session="s2"),
            f.purchase(2, items=[("C2", 2, 1_000, 100), ("C1", 1, 5_000, 0)]),
            f.purchase(1, items=[("C3", 3, 2_000, 600), ("C9", 1, 10, 0)]),
            f.purchase(5, items=[("C1", 1, 3_000, 0)]),
        ]
    )
    assert got["orders"] == 3
    assert got["gross_spend"] == (2_000 - 100 + 5_000) + (6_000 - 600 + 10) + 3_000
    assert got["spend"] == got["gross_spend"]
    assert got["items"] == 8
    assert got["list_amount"] == 2_000 + 5_000 + 6_000 + 10 + 3_000
    assert got["discount_amount"] == 700
    assert got["discount_share"] == 700 / 16_010
    assert got["average_order_value"] == got["gross_spend"] / 3
    assert got["first_purchase_time"] == at(1)
    assert got["last_purchase_time"] == at(5)
    assert got["recency_days"] == 0
    assert got["distinct_categories"] == 4
    # C3: 3, C1: 2, C2: 2 (tie: C1 before C2), C9: 1
    assert got["top_categories"] == ["C3", "C1", "C2"]
    assert got["conversion"] == 3 / 2


def test_cancelled_refunded_and_unknown_status(event_factory: CleanEventFactory) -> None:
    f = event_factory
    got = features(
        [
            f.purchase(1, items=[("C1", 2, 10_000, 0)]),
            f.purchase(2, items=[("C2", 1, 5_000, 0)], status="cancelled"),
            f.purchase(3, items=[("C1", 1, 3_000, 0)], status="refunded"),
            f.purchase(4, items=[("C3", 1, 7_000, 0)], status="unknown"),
        ]
    )
    assert (got["orders"], got["gross_spend"], got["items"]) == (1, 20_000, 2)
    assert (got["cancellations"], got["cancelled_amount"]) == (1, 5_000)
    assert (got["refunds"], got["refunded_amount"]) == (1, 3_000)
    assert got["spend"] == 20_000 - 5_000 - 3_000
    assert (got["top_categories"], got["distinct_categories"]) == (["C1"], 1)
    assert got["last_purchase_time"] == at(1)
    assert (got["orders_7d"], got["events"]) == (1, 4)
    assert got["as_of"] == at(4)  # the unknown-status purchase still moves as_of


def test_spend_can_go_negative_when_only_the_refund_is_seen(
    event_factory: CleanEventFactory,
) -> None:
    got = features([event_factory.purchase(1, status="refunded")])
    assert (got["spend"], got["orders"], got["average_order_value"]) == (-10_000, 0, None)
    assert (got["first_purchase_time"], got["recency_days"], got["discount_share"]) == (
        None,
        None,
        None,
    )


def test_foreign_currency_counts_only_as_foreign(event_factory: CleanEventFactory) -> None:
    f = event_factory
    got = features(
        [
            f.purchase(1),
            f.purchase(2, currency="USD", items=[("C7", 5, 999, 0)]),
            f.purchase(3, currency="USD", status="refunded"),
        ]
    )
    assert got["foreign_currency_purchases"] == 2
    assert (got["orders"], got["gross_spend"], got["refunds"], got["items"]) == (1, 10_000, 0, 1)
    assert got["top_categories"] == ["C1"]
    assert (got["events"], got["as_of"], got["currency"]) == (3, at(3), "KRW")


def test_aggregate_currency_is_a_setting(event_factory: CleanEventFactory) -> None:
    usd = AggregateSettings(currency="USD")
    f = event_factory
    got = features([f.purchase(1), f.purchase(2, currency="USD")], usd)
    assert (got["currency"], got["orders"], got["gross_spend"]) == ("USD", 1, 10_000)
    assert got["foreign_currency_purchases"] == 1


# ---- reviews, profile, key id --------------------------------------------------------


def test_reviews(event_factory: CleanEventFactory) -> None:
    f = event_factory
    got = features([f.review(3, rating=5), f.review(1, rating=2), f.review(2, rating=4)])
    assert (got["reviews"], got["rating_sum"], got["mean_rating"]) == (3, 11, 11 / 3)
    assert got["last_review_time"] == at(3)
    none = features([f.visit(0)])
    assert (none["reviews"], none["mean_rating"], none["last_review_time"]) == (0, None, None)


def test_profile_comes_from_the_latest_signup(event_factory: CleanEventFactory) -> None:
    f = event_factory
    newer = f.signup(5, age_band="40-49", gender="M", region="KR-26", signup_channel="app")
    older = f.signup(1, age_band="30-39", gender="F", region="KR-11", signup_channel="web")
    got = features([newer, older, f.visit(12.5)])  # the older signup arrives late
    assert (got["age_band"], got["gender"], got["region"], got["signup_channel"]) == (
        "40-49",
        "M",
        "KR-26",
        "app",
    )
    assert (got["signup_time"], got["days_since_signup"]) == (at(5), 7)


def test_signups_at_the_same_time_are_ordered_by_event_id(
    event_factory: CleanEventFactory,
) -> None:
    f = event_factory
    low = f.signup(1, event_id="00000000-0000-4000-8000-000000000001", region="KR-11")
    high = f.signup(1, event_id="f0000000-0000-4000-8000-000000000000", region="KR-26")
    assert features([low, high])["region"] == "KR-26"
    assert features([high, low])["region"] == "KR-26"


def test_without_a_signup_the_profile_is_null(event_factory: CleanEventFactory) -> None:
    got = features([event_factory.visit(3)])
    profile = ("age_band", "gender", "region", "signup_channel", "signup_time", "days_since_signup")
    assert [got[k] for k in profile] == [None] * 6


def test_pseudonym_key_id_is_the_latest_events(event_factory: CleanEventFactory) -> None:
    f = event_factory
    got = features([f.visit(2, pseudonym_key_id="k-new"), f.visit(1, pseudonym_key_id="k-old")])
    assert got["pseudonym_key_id"] == "k-new"
    # Same event_time: the greater event_id wins, whichever arrives first.
    a = f.visit(3, event_id="10000000-0000-4000-8000-000000000000", pseudonym_key_id="k-a")
    b = f.visit(3, event_id="20000000-0000-4000-8000-000000000000", pseudonym_key_id="k-b")
    assert features([a, b])["pseudonym_key_id"] == features([b, a])["pseudonym_key_id"] == "k-b"


# ---- duplicates ---------------------------------------------------------------------


def test_a_duplicate_is_dropped_and_leaves_the_state_unchanged(
    event_factory: CleanEventFactory,
) -> None:
    f = event_factory
    purchase = f.purchase(1)
    state = run([f.visit(0), purchase, f.visit(2)])
    before = state.to_json()
    again, applied = apply_event(state, *purchase, SETTINGS)
    assert applied == Applied.DUPLICATE == "duplicate"
    assert again is state
    assert state.to_json() == before
    # The same id spelt as a str is the same event.
    event_type, record = purchase
    _, applied = apply_event(
        state, event_type, {**record, "event_id": str(record["event_id"])}, SETTINGS
    )
    assert applied == Applied.DUPLICATE
    assert buyer_features(state, SETTINGS)["orders"] == 1


def test_a_duplicate_exactly_at_the_window_edge_is_still_dropped(
    event_factory: CleanEventFactory,
) -> None:
    f = event_factory
    first = f.visit(0)
    state = run([first, f.visit(7)])  # first.event_time == as_of - 7 days: remembered
    assert apply_event(state, *first, SETTINGS)[1] == Applied.DUPLICATE


def test_a_duplicate_beyond_the_window_counts_again(event_factory: CleanEventFactory) -> None:
    # Documented behaviour (docs/features.md): the id was forgotten once as_of moved more
    # than DEDUP_WINDOW past its event_time, so the resend is counted a second time.
    f = event_factory
    first = f.purchase(0)
    state = run([first, f.visit(7.001)])
    assert state.recent_ids.keys() == {state.as_of_id}
    state, applied = apply_event(state, *first, SETTINGS)
    assert applied == Applied.COUNTED
    got = buyer_features(state, SETTINGS)
    assert (got["events"], got["orders"], got["gross_spend"]) == (3, 2, 20_000)
    # A late event older than the window is counted but not remembered either.
    late = f.visit(-1)
    state, _ = apply_event(state, *late, SETTINGS)
    assert apply_event(state, *late, SETTINGS)[1] == Applied.COUNTED


def test_the_dedup_memory_keeps_the_newest_ids(event_factory: CleanEventFactory) -> None:
    small = AggregateSettings(dedup_max_ids=3)
    f = event_factory
    events = [f.visit(day) for day in (1.0, 1.1, 1.2, 1.3)]
    # The oldest by event_time is evicted, whatever the arrival order.
    state = run([events[2], events[0], events[3], events[1]], small)
    assert len(state.recent_ids) == 3
    assert apply_event(state, *events[0], small)[1] == Applied.COUNTED
    assert len(state.recent_ids) == 3
    for event in events[1:]:
        assert apply_event(state, *event, small)[1] == Applied.DUPLICATE


# ---- order and the session memory ----------------------------------------------------


def test_late_and_out_of_order_events_give_the_in_order_result(
    event_factory: CleanEventFactory,
) -> None:
    f = event_factory
    events = [
        f.signup(0),
        f.visit(0.1, session="s1"),
        f.visit(3, session="s2", device="mobile"),
        f.purchase(3.1, items=[("C1", 2, 1_000, 0)]),
        f.visit(20, session="s3"),
        f.review(21, rating=4),
        f.purchase(25, status="cancelled"),
        f.visit(29, session="s1"),
    ]
    in_order = features(events)
    shuffled = [events[i] for i in (7, 3, 0, 5, 1, 6, 2, 4)]
    assert features(shuffled) == in_order
    assert in_order["sessions_total"] == 3


def test_a_session_is_forgotten_after_the_session_memory(
    event_factory: CleanEventFactory,
) -> None:
    # Documented limitation: a late visit to a session not seen for 30 days counts it again.
    f = event_factory
    state = run([f.visit(0, session="s1"), f.visit(30.5, session="s2")])
    assert len(state.recent_sessions) == 1
    state, _ = apply_event(state, *f.visit(0.1, session="s1"), SETTINGS)
    assert buyer_features(state, SETTINGS)["sessions_total"] == 3
    # So does a session reused after a 30-day gap, in order.
    state = run([f.visit(0, session="s1"), f.visit(30.5, session="s1")])
    assert buyer_features(state, SETTINGS)["sessions_total"] == 2
    # Within the memory, the same late visit is no new session.
    state = run([f.visit(0, session="s1"), f.visit(29.5, session="s2"), f.visit(0.1, session="s1")])
    assert buyer_features(state, SETTINGS)["sessions_total"] == 2


# ---- what is not counted --------------------------------------------------------------


def test_product_and_anonymous_events_change_nothing(event_factory: CleanEventFactory) -> None:
    f = event_factory
    anonymous = CleanEventFactory(buyer=None)
    for event in (f.product(1), anonymous.visit(1), anonymous.purchase(1), anonymous.signup(1)):
        state, applied = apply_event(None, *event, SETTINGS)
        assert (state, applied) == (None, Applied.NOT_A_BUYER_EVENT)
    state = run([f.visit(0)])
    before = state.to_json()
    for event in (f.product(5), anonymous.visit(6)):
        same, applied = apply_event(state, *event, SETTINGS)
        assert same is state
        assert applied == "not_a_buyer_event"
    assert state.to_json() == before


def test_buyer_key(event_factory: CleanEventFactory) -> None:
    _, visit = event_factory.visit(0)
    assert buyer_key(visit) == buyer_key(visit, "visit") == (SHOP, BUYER)
    _, product = event_factory.product(0)
    assert buyer_key(product) == (SHOP, BUYER)  # it carries a buyer ...
    assert buyer_key(product, "product") is None  # ... but counts for none
    _, anonymous = CleanEventFactory(buyer=None).visit(0)
    assert buyer_key(anonymous) is None


# ---- mutation, misuse, settings -------------------------------------------------------


def test_apply_event_updates_the_state_in_place(event_factory: CleanEventFactory) -> None:
    f = event_factory
    state = run([f.visit(0)])
    kept = state.copy()
    same, _ = apply_event(state, *f.purchase(1), SETTINGS)
    assert same is state
    assert state.orders == 1
    assert kept.orders == 0
    assert kept != state
    assert apply_event(kept, *f.purchase(2), SETTINGS)[0] is kept
    assert state.orders == 1
    assert state.recent_ids != kept.recent_ids


def test_an_event_of_another_buyer_or_shop_is_refused(event_factory: CleanEventFactory) -> None:
    state = run([event_factory.visit(0)])
    for other in (CleanEventFactory(buyer=pseudonym("buyer-2")), CleanEventFactory(shop_id="x1")):
        event_type, record = other.visit(1)
        with pytest.raises(StateMismatchError) as caught:
            apply_event(state, event_type, record, SETTINGS)
        assert caught.value.record is record
    with pytest.raises(StateMismatchError, match="KRW"):
        apply_event(state, *event_factory.visit(1), AggregateSettings(currency="USD"))
    with pytest.raises(StateMismatchError):
        buyer_features(state, AggregateSettings(currency="USD"))


def test_event_time_may_be_int_ms_or_a_naive_utc_datetime(
    event_factory: CleanEventFactory,
) -> None:
    event_type, record = event_factory.visit(1.5)
    aware: dt.datetime = record["event_time"]
    as_int = {**record, "event_time": int(aware.timestamp()) * 1000 + aware.microsecond // 1000}
    naive = {**record, "event_time": aware.replace(tzinfo=None)}
    for variant in (as_int, naive):
        state, _ = apply_event(None, event_type, variant, SETTINGS)
        assert state is not None
        assert buyer_features(state, SETTINGS)["as_of"] == aware


@pytest.mark.parametrize(
    "change",
    [
        {"currency": "krw"},
        {"dedup_window": timedelta(0)},
        {"session_memory": timedelta(seconds=-1)},
        {"dedup_max_ids": 0},
        {"bucket_days": 89},
    ],
)
def test_settings_that_cannot_work_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(AggregateSettingsError):
        dataclasses.replace(AggregateSettings(), **change)


def test_settings_defaults() -> None:
    s = AggregateSettings()
    assert (s.currency, s.dedup_window, s.dedup_max_ids, s.session_memory, s.bucket_days) == (
        "KRW",
        timedelta(days=7),
        10_000,
        timedelta(days=30),
        90,
    )
    assert (s.dedup_window_ms, s.session_memory_ms) == (7 * 86_400_000, 30 * 86_400_000)
