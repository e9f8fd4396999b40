"""Test oracle: the per-buyer features a simulator JSONL file should produce, from scratch.

An independent second implementation of ``docs/features.md`` and the field docs of
``schemas/avro/features/buyer/v1.avsc``: it reads every line of a ``shopstream simulate
--jsonl`` file, keeps the valid events, and computes each feature directly from its
definition over all of a buyer's events at once (no state, no buckets, no windows kept
incrementally). It shares no code with ``processors/aggregate/``; the two must agree.

Conventions of the expected records (dicts with the schema's field names, schema order):

- Timestamps (``as_of``, ``signup_time``, ``last_visit_time``, ``first_purchase_time``,
  ``last_purchase_time``, ``last_review_time``) are int milliseconds since the Unix
  epoch, UTC. "Date" is the UTC calendar date of such a timestamp.
- Counts and sums are ints; ratios are the Python float division of two of them, or None.
- ``pseudonym_key_id`` and ``feature_version`` are filled only when passed to
  :func:`expected_features`; by default they are left out, and :func:`compare_features`
  then does not compare them.

Readings of the definitions (where the docs leave room):

- A line whose ``bad`` is not null is skipped before deduplication: a dead-lettered event
  never reaches stage 2, so it does not "use up" its event_id.
- Deduplication is global by event_id over the valid lines; the first line wins.
- sessions_total counts distinct non-null session_ids (the contract requires one on every
  visit); a session_id maps to one session pseudonym within a shop.
- age_band is computed at the UTC date of the chosen signup's event_time (stage 1 bands
  the birth date "at event time"); region is ``region(province, district)`` of its address.
  Either is None when the signup has no birth date / no address.
- Ties between signups on event_time go to the greater event_id, compared as the
  canonical lower-case UUID text (the same order as comparing the UUIDs).
- Purchases in a foreign currency, and purchases of status ``unknown``, are counted events:
  they count in ``events`` and can set ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

FEATURES_SCHEMA = Path(__file__).resolve().parents[1] / "schemas/avro/features/buyer/v1.avsc"

COUNTED_TYPES = frozenset({"signup", "visit", "purchase", "review"})
DEVICES = ("pc", "mobile", "tablet", "app")
OMITTABLE_FIELDS = frozenset({"pseudonym_key_id", "feature_version"})

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def _field_kind(avro_type: Any) -> str:
    """``timestamp``, ``ratio``, ``integer``, ``list`` or ``string``: how to compare a field."""
    branches = avro_type if isinstance(avro_type, list) else [avro_type]
    (value,) = [branch for branch in branches if branch != "null"]
    if isinstance(value, dict):
        if value.get("logicalType") == "timestamp-millis":
            return "timestamp"
        if value["type"] == "array":
            return "list"
        value = value["type"]
    return {"int": "integer", "long": "integer", "double": "ratio", "string": "string"}[value]


def _load_field_kinds() -> dict[str, str]:
    schema = json.loads(FEATURES_SCHEMA.read_text(encoding="utf-8"))
    return {field["name"]: _field_kind(field["type"]) for field in schema["fields"]}


#: Every field of the features schema, in schema order, with how it is compared.
FIELD_KINDS: dict[str, str] = _load_field_kinds()


class _Event(NamedTuple):
    type: str
    record: dict[str, Any]
    time_ms: int

    @property
    def date(self) -> dt.date:
        return _utc_date(self.time_ms)


def _utc_date(ms: int) -> dt.date:
    return (_EPOCH + ms * _MS).date()


def _millis(timestamp: dt.datetime) -> int:
    if timestamp.tzinfo is None:  # a naive timestamp is taken to be UTC
        timestamp = timestamp.replace(tzinfo=dt.UTC)
    return (timestamp - _EPOCH) // _MS


def read_lines(jsonl_path: Path) -> Iterator[dict[str, Any]]:
    """Every line of a simulator JSONL file as a dict; blank lines are skipped."""
    with Path(jsonl_path).open(encoding="utf-8") as lines:
        for text in lines:
            if text.strip():
                yield json.loads(text)


def _clean_events(jsonl_path: Path) -> Iterator[_Event]:
    """Valid events, the first line of each event_id only, in file order."""
    seen: set[str] = set()
    for line in read_lines(jsonl_path):
        if line["bad"] is not None:
            continue
        record = line["record"]
        if record["event_id"] in seen:
            continue
        seen.add(record["event_id"])
        time_ms = _millis(dt.datetime.fromisoformat(record["event_time"]))
        if line["event_time_ms"] != time_ms:
            raise ValueError(
                f"event {record['event_id']}: event_time_ms {line['event_time_ms']} "
                f"is not record.event_time {record['event_time']}"
            )
        yield _Event(line["type"], record, time_ms)


def expected_features(
    jsonl_path: Path,
    *,
    pseudonymise: Callable[[str, str], str],
    region: Callable[[str, str | None], str],
    age_band: Callable[[dt.date, dt.date], str],
    currency: str = "KRW",
    pseudonym_key_id: str | None = None,
    feature_version: int | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Each buyer's features record, keyed by (shop_id, buyer_pseudonym).

    ``pseudonymise(shop_id, buyer_id)`` makes the buyer pseudonym; ``region(province,
    district)`` and ``age_band(birth_date, at_date)`` do what stage 1 does to a signup.
    ``pseudonym_key_id`` and ``feature_version`` are put in every record when given.
    """
    by_buyer: dict[tuple[str, str], list[_Event]] = defaultdict(list)
    for event in _clean_events(jsonl_path):
        buyer_id = event.record["buyer_id"]
        if event.type in COUNTED_TYPES and buyer_id is not None:
            shop_id = event.record["shop_id"]
            by_buyer[(shop_id, pseudonymise(shop_id, buyer_id))].append(event)

    features: dict[tuple[str, str], dict[str, Any]] = {}
    for (shop_id, buyer_pseudonym), events in by_buyer.items():
        record = _buyer_features(events, region=region, age_band=age_band, currency=currency)
        record["shop_id"] = shop_id
        record["buyer_pseudonym"] = buyer_pseudonym
        if pseudonym_key_id is not None:
            record["pseudonym_key_id"] = pseudonym_key_id
        if feature_version is not None:
            record["feature_version"] = feature_version
        features[(shop_id, buyer_pseudonym)] = {
            name: record[name] for name in FIELD_KINDS if name in record
        }
    return features


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _buyer_features(
    events: list[_Event],
    *,
    region: Callable[[str, str | None], str],
    age_band: Callable[[dt.date, dt.date], str],
    currency: str,
) -> dict[str, Any]:
    """The features of one buyer's distinct counted events (all of them, any order)."""
    as_of = max(event.time_ms for event in events)
    as_of_date = _utc_date(as_of)

    def days_before_as_of(event: _Event) -> int:
        return (as_of_date - event.date).days

    def within(days: int, chosen: list[_Event]) -> int:
        return sum(1 for event in chosen if 0 <= days_before_as_of(event) < days)

    of_type: dict[str, list[_Event]] = defaultdict(list)
    for event in events:
        of_type[event.type].append(event)
    visits, reviews = of_type["visit"], of_type["review"]
    in_currency = [p for p in of_type["purchase"] if p.record["currency"] == currency]
    ordered = [p for p in in_currency if p.record["status"] == "ordered"]
    cancelled = [p for p in in_currency if p.record["status"] == "cancelled"]
    refunded = [p for p in in_currency if p.record["status"] == "refunded"]
    ordered_items = [item for p in ordered for item in p.record["items"]]

    # Profile: the signup with the greatest (event_time, event_id).
    signup = max(
        of_type["signup"], key=lambda e: (e.time_ms, e.record["event_id"].lower()), default=None
    )
    profile: dict[str, Any] = {
        "age_band": None,
        "gender": None,
        "region": None,
        "signup_channel": None,
        "signup_time": None,
        "days_since_signup": None,
    }
    if signup is not None:
        address, birth_date = signup.record["address"], signup.record["birth_date"]
        profile = {
            "age_band": age_band(dt.date.fromisoformat(birth_date), signup.date)
            if birth_date is not None
            else None,
            "gender": signup.record["gender"],
            "region": region(address["province"], address.get("district"))
            if address is not None
            else None,
            "signup_channel": signup.record["signup_channel"],
            "signup_time": signup.time_ms,
            "days_since_signup": days_before_as_of(signup),
        }

    sessions_total = len({v.record["session_id"] for v in visits} - {None})
    dwell_ms_total = sum(v.record["dwell_ms"] for v in visits)
    devices = Counter(v.record["device"] for v in visits)

    orders = len(ordered)
    gross_spend = sum(p.record["total"] for p in ordered)
    cancelled_amount = sum(p.record["total"] for p in cancelled)
    refunded_amount = sum(p.record["total"] for p in refunded)
    list_amount = sum(item["quantity"] * item["unit_price"] for item in ordered_items)
    discount_amount = sum(item["discount"] for item in ordered_items)
    last_purchase = max(ordered, key=lambda p: p.time_ms, default=None)
    category_quantity: Counter[str] = Counter()
    for item in ordered_items:
        category_quantity[item["category_id"]] += item["quantity"]
    by_quantity = sorted(
        (category for category, quantity in category_quantity.items() if quantity > 0),
        key=lambda category: (-category_quantity[category], category),
    )
    rating_sum = sum(r.record["rating"] for r in reviews)

    return {
        "as_of": as_of,
        "events": len(events),
        **profile,
        "visits_total": len(visits),
        "visits_7d": within(7, visits),
        "visits_30d": within(30, visits),
        "visits_90d": within(90, visits),
        "sessions_total": sessions_total,
        "dwell_ms_total": dwell_ms_total,
        "mean_session_dwell_ms": _ratio(dwell_ms_total, sessions_total),
        "last_visit_time": max((v.time_ms for v in visits), default=None),
        **{f"visits_{device}": devices[device] for device in DEVICES},
        "visits_other_device": sum(n for device, n in devices.items() if device not in DEVICES),
        "currency": currency,
        "orders": orders,
        "orders_7d": within(7, ordered),
        "orders_30d": within(30, ordered),
        "orders_90d": within(90, ordered),
        "gross_spend": gross_spend,
        "cancelled_amount": cancelled_amount,
        "refunded_amount": refunded_amount,
        "spend": gross_spend - cancelled_amount - refunded_amount,
        "average_order_value": _ratio(gross_spend, orders),
        "first_purchase_time": min((p.time_ms for p in ordered), default=None),
        "last_purchase_time": last_purchase.time_ms if last_purchase else None,
        "recency_days": days_before_as_of(last_purchase) if last_purchase else None,
        "items": sum(item["quantity"] for item in ordered_items),
        "distinct_categories": len(by_quantity),
        "top_categories": by_quantity[:3],
        "list_amount": list_amount,
        "discount_amount": discount_amount,
        "discount_share": _ratio(discount_amount, list_amount),
        "cancellations": len(cancelled),
        "refunds": len(refunded),
        "foreign_currency_purchases": len(of_type["purchase"]) - len(in_currency),
        "reviews": len(reviews),
        "rating_sum": rating_sum,
        "mean_rating": _ratio(rating_sum, len(reviews)),
        "last_review_time": max((r.time_ms for r in reviews), default=None),
        "conversion": _ratio(orders, sessions_total),
    }


def expected_counts(jsonl_path: Path) -> Counter[str]:
    """Lines of the file: ``raw`` (all), ``clean`` (bad is null), ``bad`` and ``bad:<label>``.

    Stage 1 passes every clean line (duplicates and product events included) and
    dead-letters every bad one, so raw = clean + bad.
    """
    counts: Counter[str] = Counter()
    for line in read_lines(jsonl_path):
        counts["raw"] += 1
        if line["bad"] is None:
            counts["clean"] += 1
        else:
            counts["bad"] += 1
            counts[f"bad:{line['bad']}"] += 1
    return counts


def compare_features(
    expected: Mapping[tuple[str, str], Mapping[str, Any]],
    actual: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    float_tol: float = 1e-9,
) -> list[str]:
    """Human-readable differences between two sets of features records; [] when they agree.

    Counts, sums, strings and lists must be equal (an int field must hold an integer);
    ratios must agree within ``float_tol`` (relative or absolute); timestamps are
    compared as int ms, an aware or naive-UTC ``datetime`` being converted first. A field
    of :data:`OMITTABLE_FIELDS` missing from an expected record is not compared.
    """
    differences = [f"missing buyer {key}" for key in sorted(expected.keys() - actual.keys())]
    differences += [f"extra buyer {key}" for key in sorted(actual.keys() - expected.keys())]
    for key in sorted(expected.keys() & actual.keys()):
        want, got = expected[key], actual[key]
        for name in want:
            if name not in got:
                differences.append(f"{key} {name}: expected {want[name]!r}, field missing")
            elif not _field_equal(FIELD_KINDS.get(name), want[name], got[name], float_tol):
                differences.append(f"{key} {name}: expected {want[name]!r}, actual {got[name]!r}")
        for name in got:
            if name not in want and name not in OMITTABLE_FIELDS:
                differences.append(f"{key} {name}: unexpected field, actual {got[name]!r}")
    return differences


def _field_equal(kind: str | None, want: Any, got: Any, float_tol: float) -> bool:
    if want is None or got is None:
        return want is None and got is None
    if kind == "timestamp":
        got = _millis(got) if isinstance(got, dt.datetime) else got
        return _is_integer(got) and int(got) == want
    if kind == "integer":
        return _is_integer(got) and int(got) == want
    if kind == "ratio":
        return (
            not isinstance(got, bool)
            and isinstance(got, numbers.Real)
            and math.isclose(want, float(got), rel_tol=float_tol, abs_tol=float_tol)
        )
    if kind == "list":
        return not isinstance(got, str | bytes) and list(got) == list(want)
    return bool(want == got)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


__all__ = [
    "FIELD_KINDS",
    "OMITTABLE_FIELDS",
    "compare_features",
    "expected_counts",
    "expected_features",
    "read_lines",
]
