"""The test oracle (tests/oracle.py): hand-computed features of a tiny file, and the simulator.

The tiny file is written by hand, line for line in the simulator's JSONL format, and its
expected features are worked out by hand below (as_of of member-1 is 2025-03-31, so the
7/30/90-day windows start on 03-25, 03-02 and 2025-01-01). The simulator run is checked
against the simulator's own running totals, which are a third, independent count.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from shopstream.producers.simulator import (
    BAD_KINDS,
    SimulationConfig,
    SimulationSummary,
    generate,
    to_jsonl_line,
)
from tests.oracle import (
    FIELD_KINDS,
    OMITTABLE_FIELDS,
    compare_features,
    expected_counts,
    expected_features,
)

from .records import record_at

SHOP, OTHER_SHOP = "gildong-mart", "hanbit-mall"


def pseudonymise(shop_id: str, buyer_id: str) -> str:
    return f"ps({shop_id},{buyer_id})"


def region(province: str, district: str | None) -> str:
    return f"{province}|{district}"


def age_band(birth_date: dt.date, at_date: dt.date) -> str:
    """Says what it was given, so the test sees which signup and which date were used."""
    return f"{birth_date.isoformat()}@{at_date.isoformat()}"


FAKES: dict[str, Any] = {"pseudonymise": pseudonymise, "region": region, "age_band": age_band}
B1, B2 = (SHOP, pseudonymise(SHOP, "member-1")), (SHOP, pseudonymise(SHOP, "member-2"))
B3 = (OTHER_SHOP, pseudonymise(OTHER_SHOP, "member-1"))  # same member id, another shop


# -- writing a JSONL file by hand -------------------------------------------------------------


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def ms(text: str) -> int:
    return (utc(text) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def event_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def record(name: str, n: int, when: str, **fields: Any) -> dict[str, Any]:
    """The golden ``name`` record with event id ``n``, dated ``when`` (UTC), ``fields`` set."""
    result = record_at(name, utc(when))
    result.update(event_id=event_id(n), shop_id=SHOP, **fields)
    return result


def signup(n: int, when: str, buyer: str, **fields: Any) -> dict[str, Any]:
    return record("signup", n, when, buyer_id=buyer, anonymous_id="dev-1", **fields)


def visit(
    n: int, when: str, session: str, device: str, dwell_ms: int, **ids: Any
) -> dict[str, Any]:
    ids = {"buyer_id": "member-1", "anonymous_id": "dev-1", **ids}
    return record("visit", n, when, session_id=session, device=device, dwell_ms=dwell_ms, **ids)


def purchase(
    n: int,
    when: str,
    order: str,
    items: list[tuple[str, int, int, int]],
    *,
    status: str = "ordered",
    currency: str = "KRW",
) -> dict[str, Any]:
    """items: (category_id, quantity, unit_price, discount); total is their sum."""
    lines = [
        {"product_id": f"P-{category}", "category_id": category, "quantity": q, "unit_price": p}
        | {"discount": d}
        for category, q, p, d in items
    ]
    total = sum(q * p - d for _, q, p, d in items)
    return record(
        "purchase",
        n,
        when,
        buyer_id="member-1",
        order_id=order,
        items=lines,
        total=total,
        currency=currency,
        status=status,
    )


def review(n: int, when: str, rating: int, **fields: Any) -> dict[str, Any]:
    return record("review", n, when, buyer_id="member-1", rating=rating, **fields)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def line(rec: dict[str, Any], *, bad: str | None = None) -> dict[str, Any]:
    """One JSONL line for ``rec``, the way the simulator writes it (the type from its fields)."""
    name = next(
        t
        for t, field in [
            ("signup", "signup_channel"),
            ("visit", "dwell_ms"),
            ("purchase", "items"),
            ("review", "rating"),
            ("product", "product_type"),
        ]
        if field in rec
    )
    ident = rec["buyer_id"] or rec["anonymous_id"] or rec.get("product_id")
    return {
        "type": name,
        "event_id": rec["event_id"],
        "bad": bad,
        "key": f"{rec['shop_id']}|{ident}",
        "event_time_ms": (rec["event_time"] - dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        // dt.timedelta(milliseconds=1),
        "record": rec,
        "raw": None if bad is None else base64.b64encode(b"\xc3\x01broken").decode(),
    }


RANDOM_BYTES_LINE = {
    "type": None,
    "event_id": None,
    "bad": "random_bytes",
    "key": f"{SHOP}|dev-x",
    "event_time_ms": None,
    "record": None,
    "raw": base64.b64encode(bytes(range(40))).decode(),
}


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(x, ensure_ascii=False, default=_plain) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


# -- the tiny file ----------------------------------------------------------------------------

SEOUL = {
    "province": "서울특별시",
    "district": "영등포구",
    "line": "여의도동 1",
    "postal_code": "07327",
}
GYEONGGI = {"province": "경기도", "district": None, "line": None, "postal_code": None}
# fmt: off
LATEST_REVIEW = review(31, "2025-03-31T20:00:00", 2, order_id="O-4")  # member-1's as_of
LATEST_VISIT = visit(17, "2025-03-31T08:00:00", "s4", "mobile", 7000)
MOBILE_ORDER = purchase(22, "2025-03-28T10:00:00", "O-2", [("C-BEAUTY", 3, 5000, 0), ("C-BOOK", 1, 12000, 2000)])

TINY_LINES: list[dict[str, Any]] = [
    # A dead-lettered line does not use up its event_id: the valid r2 below still counts.
    line(LATEST_REVIEW, bad="truncated"),
    line(record("product", 51, "2024-11-01T00:00:00")),
    # Signups, not in time order: of the two at 12-02 23:30, the greater event_id wins.
    line(signup(2, "2024-12-02T23:30:00", "member-1", address=SEOUL, birth_date=dt.date(1990, 1, 1), gender="U", signup_channel="offline")),
    line(signup(3, "2024-12-02T23:30:00", "member-1", address=GYEONGGI, birth_date=dt.date(1993, 5, 5), gender="F", signup_channel="app")),
    line(signup(1, "2024-12-01T10:00:00", "member-1", address=SEOUL, birth_date=dt.date(1990, 1, 1), gender="M", signup_channel="web")),
    # Before sign-up, anonymous only: no identity stitching.
    line(visit(10, "2024-11-30T09:00:00", "s0", "pc", 99_000, buyer_id=None)),
    # Visits around the window edges (days before 2025-03-31 in the comments).
    line(visit(11, "2024-12-31T23:59:59.999", "s1", "pc", 1000)),  # 90: outside 90d
    line(visit(12, "2025-01-01T00:00:00", "s1", "mobile", 2000)),  # 89
    line(visit(13, "2025-03-01T23:00:00", "s2", "tablet", 3000)),  # 30: outside 30d
    line(visit(14, "2025-03-02T00:00:00", "s2", "app", 4000)),  # 29
    line(visit(15, "2025-03-24T12:00:00", "s3", "mobile", 5000)),  # 7: outside 7d
    line(visit(16, "2025-03-25T00:00:00", "s3", "unknown", 6000)),  # 6
    line(LATEST_VISIT),  # 0
    # Purchases: five orders, one cancelled, one refunded, one in USD, one of unknown status.
    line(purchase(20, "2024-12-20T12:00:00", "O-0", [("C-BOOK", 1, 9000, 0)])),  # 101
    line(purchase(21, "2025-01-10T09:00:00", "O-1", [("C-FOOD", 2, 10000, 1000), ("C-BOOK", 1, 15000, 0)])),
    line(MOBILE_ORDER),  # 3
    line(purchase(23, "2025-03-05T10:00:00", "O-3", [("C-TOY", 1, 40000, 0)])),  # 26
    line(purchase(24, "2025-03-06T10:00:00", "O-3", [("C-TOY", 1, 40000, 0)], status="cancelled")),
    line(purchase(25, "2025-02-01T10:00:00", "O-4", [("C-FOOD", 1, 8000, 0)])),  # 58
    line(purchase(26, "2025-03-29T10:00:00", "O-4", [("C-FOOD", 1, 8000, 0)], status="refunded")),
    line(purchase(27, "2025-03-30T23:59:59.999", "O-5", [("C-TOY", 5, 1000, 0)], currency="USD")),
    line(purchase(28, "2025-03-15T10:00:00", "O-6", [("C-FOOD", 1, 1000, 0)], status="unknown")),
    # A bad purchase after as_of: changes nothing.
    line(purchase(40, "2025-04-10T10:00:00", "O-9", [("C-TOY", 9, 99000, 0)]), bad="far_future"),
    RANDOM_BYTES_LINE,
    line(review(30, "2025-02-02T10:00:00", 5, order_id="O-4")),
    line(LATEST_REVIEW),
    # Resends: the same event_ids again.
    line(LATEST_VISIT),
    line(MOBILE_ORDER),
    # Someone who never signs up, and two more buyers.
    line(visit(50, "2025-04-01T23:00:00", "s8", "pc", 500, buyer_id=None, anonymous_id="dev-9")),
    line(signup(60, "2025-02-10T10:00:00", "member-2", address=None, birth_date=None, gender="U", signup_channel="unknown")),
    line(visit(61, "2025-02-11T10:00:00", "s9", "pc", 1234, buyer_id="member-2")),
    line(review(70, "2025-03-01T10:00:00", 4) | {"shop_id": OTHER_SHOP}),
]
# fmt: on


def no_activity(key: tuple[str, str], as_of: str, events: int) -> dict[str, Any]:
    """A buyer with nothing: the baseline the hand-computed records below override."""
    return {
        "shop_id": key[0],
        "buyer_pseudonym": key[1],
        "as_of": ms(as_of),
        "events": events,
        "age_band": None,
        "gender": None,
        "region": None,
        "signup_channel": None,
        "signup_time": None,
        "days_since_signup": None,
        "visits_total": 0,
        "visits_7d": 0,
        "visits_30d": 0,
        "visits_90d": 0,
        "sessions_total": 0,
        "dwell_ms_total": 0,
        "mean_session_dwell_ms": None,
        "last_visit_time": None,
        "visits_pc": 0,
        "visits_mobile": 0,
        "visits_tablet": 0,
        "visits_app": 0,
        "visits_other_device": 0,
        "currency": "KRW",
        "orders": 0,
        "orders_7d": 0,
        "orders_30d": 0,
        "orders_90d": 0,
        "gross_spend": 0,
        "cancelled_amount": 0,
        "refunded_amount": 0,
        "spend": 0,
        "average_order_value": None,
        "first_purchase_time": None,
        "last_purchase_time": None,
        "recency_days": None,
        "items": 0,
        "distinct_categories": 0,
        "top_categories": [],
        "list_amount": 0,
        "discount_amount": 0,
        "discount_share": None,
        "cancellations": 0,
        "refunds": 0,
        "foreign_currency_purchases": 0,
        "reviews": 0,
        "rating_sum": 0,
        "mean_rating": None,
        "last_review_time": None,
        "conversion": None,
    }


TINY_EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    B1: no_activity(B1, "2025-03-31T20:00:00", events=3 + 7 + 9 + 2)
    | {
        "age_band": "1993-05-05@2024-12-02",
        "gender": "F",
        "region": "경기도|None",
        "signup_channel": "app",
        "signup_time": ms("2024-12-02T23:30:00"),
        "days_since_signup": 119,
        "visits_total": 7,
        "visits_7d": 2,
        "visits_30d": 4,
        "visits_90d": 6,
        "sessions_total": 4,
        "dwell_ms_total": 28000,
        "mean_session_dwell_ms": 7000.0,
        "last_visit_time": ms("2025-03-31T08:00:00"),
        "visits_pc": 1,
        "visits_mobile": 3,
        "visits_tablet": 1,
        "visits_app": 1,
        "visits_other_device": 1,
        "orders": 5,
        "orders_7d": 1,
        "orders_30d": 2,
        "orders_90d": 4,
        "gross_spend": 9000 + 34000 + 25000 + 40000 + 8000,
        "cancelled_amount": 40000,
        "refunded_amount": 8000,
        "spend": 116000 - 40000 - 8000,
        "average_order_value": 23200.0,
        "first_purchase_time": ms("2024-12-20T12:00:00"),
        "last_purchase_time": ms("2025-03-28T10:00:00"),
        "recency_days": 3,
        "items": 1 + 3 + 4 + 1 + 1,
        "distinct_categories": 4,
        # BEAUTY 3, BOOK 3, FOOD 3, TOY 1 (the 5 USD toys do not count)
        "top_categories": ["C-BEAUTY", "C-BOOK", "C-FOOD"],
        "list_amount": 9000 + 35000 + 27000 + 40000 + 8000,
        "discount_amount": 3000,
        "discount_share": 3000 / 119000,
        "cancellations": 1,
        "refunds": 1,
        "foreign_currency_purchases": 1,
        "reviews": 2,
        "rating_sum": 7,
        "mean_rating": 3.5,
        "last_review_time": ms("2025-03-31T20:00:00"),
        "conversion": 1.25,
    },
    B2: no_activity(B2, "2025-02-11T10:00:00", events=2)
    | {
        "gender": "U",
        "signup_channel": "unknown",
        "signup_time": ms("2025-02-10T10:00:00"),
        "days_since_signup": 1,
        "visits_total": 1,
        "visits_7d": 1,
        "visits_30d": 1,
        "visits_90d": 1,
        "sessions_total": 1,
        "dwell_ms_total": 1234,
        "mean_session_dwell_ms": 1234.0,
        "last_visit_time": ms("2025-02-11T10:00:00"),
        "visits_pc": 1,
        "conversion": 0.0,
    },
    B3: no_activity(B3, "2025-03-01T10:00:00", events=1)
    | {
        "reviews": 1,
        "rating_sum": 4,
        "mean_rating": 4.0,
        "last_review_time": ms("2025-03-01T10:00:00"),
    },
}


@pytest.fixture
def tiny_jsonl(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "tiny.jsonl", TINY_LINES)


def test_tiny_file_gives_the_hand_computed_features(tiny_jsonl: Path) -> None:
    features = expected_features(tiny_jsonl, **FAKES)
    assert features == TINY_EXPECTED
    assert compare_features(TINY_EXPECTED, features, float_tol=0.0) == []


def test_records_have_the_schema_fields_in_schema_order(tiny_jsonl: Path) -> None:
    schema_order = [name for name in FIELD_KINDS if name not in OMITTABLE_FIELDS]
    for features in expected_features(tiny_jsonl, **FAKES).values():
        assert list(features) == schema_order
    filled = expected_features(tiny_jsonl, **FAKES, pseudonym_key_id="k7", feature_version=1)
    assert list(filled[B1]) == list(FIELD_KINDS)
    assert (filled[B1]["pseudonym_key_id"], filled[B1]["feature_version"]) == ("k7", 1)


def test_aggregate_currency_is_a_parameter(tiny_jsonl: Path) -> None:
    in_usd = expected_features(tiny_jsonl, **FAKES, currency="USD")[B1]
    assert in_usd["currency"] == "USD"
    assert (in_usd["orders"], in_usd["gross_spend"], in_usd["items"]) == (1, 5000, 5)
    assert in_usd["top_categories"] == ["C-TOY"]
    assert in_usd["foreign_currency_purchases"] == 8  # every KRW purchase, any status


def test_line_order_does_not_matter(tmp_path: Path) -> None:
    forwards = expected_features(write_jsonl(tmp_path / "f.jsonl", TINY_LINES), **FAKES)
    backwards = expected_features(write_jsonl(tmp_path / "b.jsonl", TINY_LINES[::-1]), **FAKES)
    assert backwards == forwards


def test_counts_of_the_tiny_file(tiny_jsonl: Path) -> None:
    counts = expected_counts(tiny_jsonl)
    assert counts["raw"] == len(TINY_LINES) == counts["clean"] + counts["bad"]
    assert counts["bad"] == 3
    assert (counts["bad:truncated"], counts["bad:far_future"], counts["bad:random_bytes"]) == (
        1,
        1,
        1,
    )


def test_empty_file_has_no_buyers(tmp_path: Path) -> None:
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    assert expected_features(empty, **FAKES) == {}
    assert expected_counts(empty)["raw"] == 0


# -- compare_features ---------------------------------------------------------------------


def as_decoded(features: dict[str, Any]) -> dict[str, Any]:
    """What a reader of the topic sees: timestamps as aware datetimes, arrays as lists."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return {
        name: epoch + dt.timedelta(milliseconds=value)
        if FIELD_KINDS[name] == "timestamp" and value is not None
        else value
        for name, value in features.items()
    } | {"pseudonym_key_id": "k1", "feature_version": 1}


def planted(key: tuple[str, str], **changes: Any) -> dict[tuple[str, str], dict[str, Any]]:
    actual = {k: as_decoded(v) for k, v in TINY_EXPECTED.items()}
    actual[key] = actual[key] | changes
    return actual


def test_decoded_features_compare_equal_to_the_expected() -> None:
    assert compare_features(TINY_EXPECTED, planted(B1)) == []
    naive = planted(B1, as_of=dt.datetime(2025, 3, 31, 20, 0))  # naive datetimes are UTC
    assert compare_features(TINY_EXPECTED, naive) == []
    kst = dt.timezone(dt.timedelta(hours=9))
    assert (
        compare_features(
            TINY_EXPECTED, planted(B1, as_of=dt.datetime(2025, 4, 1, 5, 0, tzinfo=kst))
        )
        == []
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"orders": 6}, "orders"),
        ({"orders": 5.0}, "orders"),  # a float where a count belongs
        ({"spend": 68001}, "spend"),
        ({"visits_7d": None}, "visits_7d"),
        ({"as_of": ms("2025-03-31T20:00:00") + 1}, "as_of"),
        (
            {"last_visit_time": dt.datetime(2025, 3, 31, 8, 0, 0, 1000, tzinfo=dt.UTC)},
            "last_visit_time",
        ),
        ({"mean_rating": 3.5 + 1e-6}, "mean_rating"),
        ({"conversion": None}, "conversion"),
        ({"top_categories": ["C-BEAUTY", "C-FOOD", "C-BOOK"]}, "top_categories"),
        ({"region": "경기도"}, "region"),
    ],
)
def test_a_planted_difference_is_reported(change: dict[str, Any], field: str) -> None:
    differences = compare_features(TINY_EXPECTED, planted(B1, **change))
    assert len(differences) == 1
    assert differences[0].startswith(f"{B1} {field}: expected {TINY_EXPECTED[B1][field]!r}")
    assert repr(change[field]) in differences[0]


def test_ratios_within_tolerance_and_sequences_of_the_same_ids_agree() -> None:
    close = planted(
        B1, mean_rating=3.5 * (1 + 1e-12), top_categories=("C-BEAUTY", "C-BOOK", "C-FOOD")
    )
    assert compare_features(TINY_EXPECTED, close) == []
    assert len(compare_features(TINY_EXPECTED, close, float_tol=0.0)) == 1


def test_missing_and_extra_buyers_and_fields_are_reported() -> None:
    actual = planted(B1)
    del actual[B2]
    actual[(SHOP, "ps(stranger)")] = actual[B3]
    del actual[B1]["refunds"]
    actual[B1]["lifetime_value"] = 1
    differences = compare_features(TINY_EXPECTED, actual)
    assert f"missing buyer {B2}" in differences
    assert f"extra buyer {(SHOP, 'ps(stranger)')}" in differences
    assert f"{B1} refunds: expected 1, field missing" in differences
    assert f"{B1} lifetime_value: unexpected field, actual 1" in differences
    assert len(differences) == 4


# -- a simulator run ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    """A run written to JSONL in-process (no Kafka), with the simulator's own totals."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    config = SimulationConfig(events=4_000, bad_fraction=0.05, seed=11, days=120)
    summary = SimulationSummary()
    path = tmp_path_factory.mktemp("simulated") / "run.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for event in generate(config, now):
            summary.add(event)
            out.write(to_jsonl_line(event) + "\n")
    return path, summary


def test_simulated_counts_match_the_simulator(simulated: tuple[Path, SimulationSummary]) -> None:
    path, summary = simulated
    counts = expected_counts(path)
    assert counts["raw"] == 4_000 == counts["clean"] + counts["bad"]
    assert (counts["clean"], counts["bad"]) == (summary.valid, summary.bad)
    assert {label: counts[f"bad:{label}"] for label in summary.bad_by_kind} == dict(
        summary.bad_by_kind
    )
    assert set(summary.bad_by_kind) == set(BAD_KINDS)


def test_simulated_features_match_the_simulators_totals(
    simulated: tuple[Path, SimulationSummary],
) -> None:
    path, summary = simulated
    features = expected_features(path, **FAKES).values()

    def total(field: str) -> int:
        return sum(f[field] for f in features)

    assert len(features) == summary.buyers
    assert (total("orders"), total("cancellations"), total("refunds")) == (
        summary.orders,
        summary.cancellations,
        summary.refunds,
    )
    assert (total("gross_spend"), total("spend")) == (summary.gross_revenue, summary.net_revenue)
    assert total("visits_total") < summary.by_type["visit"]  # anonymous visits do not count
    assert total("reviews") <= summary.by_type["review"]
    # Members carry buyer_id only from their sign-up on, so every buyer has a profile.
    assert all(f["signup_time"] is not None for f in features)
    assert any(f["orders"] for f in features)
    assert any(f["reviews"] for f in features)


def test_simulated_features_do_not_depend_on_line_order(
    simulated: tuple[Path, SimulationSummary], tmp_path: Path
) -> None:
    path, _ = simulated
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    reversed_path = tmp_path / "reversed.jsonl"
    reversed_path.write_text("".join(reversed(lines)), encoding="utf-8")
    assert (
        compare_features(
            expected_features(path, **FAKES),
            expected_features(reversed_path, **FAKES),
            float_tol=0.0,
        )
        == []
    )
