"""validate_record: field formats and ranges, then the cross-field rules, on decoded records.

Records here have the shape fastavro decodes to (str for enums, UUID, aware datetimes,
dates, nested dicts). Each rule gets a failing example and a passing one at its boundary.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import types
import typing
import uuid
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from shopstream.schemas import Codec, Contract
from shopstream.schemas.contract import schemas_root
from shopstream.schemas.currencies import MINOR_UNIT_DIGITS
from shopstream.schemas.models import EVENT_CLASSES, ProductType
from shopstream.schemas.validation import RULES, RuleContext, check_fields, validate_record

from .records import record_at

CONTRACT = Contract.load()
NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)
CTX = RuleContext(now=NOW)  # skew 5 minutes, horizon 400 days
MS = dt.timedelta(milliseconds=1)
T = NOW - dt.timedelta(hours=1)


def record(name: str) -> dict[str, Any]:
    """A valid record of ``name`` as fastavro decodes it, dated an hour before NOW."""
    return record_at(name, T, T + dt.timedelta(seconds=1))


_SEGMENT = re.compile(r"^(\w+)(?:\[(\d+)\])?$")


def changed(name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``record(name)`` with values set at paths like ``address.line`` or ``items[1].discount``."""
    result = record(name)
    for path, value in changes.items():
        node: Any = result
        parts = path.split(".")
        for i, part in enumerate(parts):
            match = _SEGMENT.match(part)
            assert match, part
            key, index = match.group(1), match.group(2)
            last = i == len(parts) - 1
            if index is None:
                if last:
                    node[key] = value
                else:
                    node = node[key]
            elif last:
                node[key][int(index)] = value
            else:
                node = node[key][int(index)]
    return result


def found(name: str, rec: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(v.path, v.rule) for v in validate_record(CONTRACT.latest(name), rec, CTX)]


@pytest.mark.parametrize("name", CONTRACT.names)
def test_base_records_are_valid(name: str) -> None:
    assert found(name, record(name)) == []


# -- field rules ----------------------------------------------------------------------------

LINE = {"product_id": "P-3", "category_id": "C-3", "quantity": 1, "unit_price": 10, "discount": 0}
EMAIL_254 = "a" * 64 + "@" + "b" * 185 + "." + "c" * 3  # exactly 254 characters
EMAIL_255 = "a" * 64 + "@" + "b" * 186 + "." + "c" * 3

FIELD_FAILURES: list[tuple[str, str, Any, str]] = [
    ("visit", "shop_id", "Gildong Mart", "format"),
    ("visit", "shop_id", "gildong-mart\n", "format"),  # `$` would allow it; fullmatch does not
    ("visit", "shop_id", "g", "format"),  # too short for the pattern
    ("signup", "email", "gildong.kim@example", "format"),
    ("signup", "email", "gildong.kim@example.com\n", "format"),
    ("signup", "email", "gildong kim@example.com", "format"),
    ("signup", "phone", "010-2222-333x", "format"),
    ("signup", "address.postal_code", "0732", "format"),
    ("purchase", "items[1].product_id", "-P-2002", "format"),
    ("purchase", "currency", "krw", "format"),
    ("product", "seller_id", "seller 42", "format"),
    ("visit", "schema_version", 0, "min"),
    ("visit", "dwell_ms", -1, "min"),
    ("review", "rating", 0, "min"),
    ("purchase", "items[0].quantity", 0, "min"),
    ("product", "list_price", -1, "min"),
    ("product", "tangible.weight_g", -1, "min"),
    ("signup", "birth_date", dt.date(1899, 12, 31), "min"),
    ("review", "rating", 6, "max"),
    ("visit", "dwell_ms", 86_400_001, "max"),
    ("purchase", "items[0].quantity", 1000, "max"),
    ("purchase", "total", 10**15 + 1, "max"),
    ("product", "tangible.weight_g", 1_000_001, "max"),
    ("product", "product_name", "", "min_length"),
    ("visit", "buyer_id", "b" * 65, "max_length"),
    ("review", "text", "가" * 5001, "max_length"),
    ("signup", "address.province", "가" * 21, "max_length"),
    ("signup", "email", EMAIL_255, "max_length"),  # matches the pattern, too long
    ("product", "category_path[2]", "가" * 51, "max_length"),
    ("purchase", "items", [], "min_items"),
    ("product", "category_path", ["식품", "과일"], "min_items"),
    ("purchase", "items", [LINE] * 501, "max_items"),
    ("product", "category_path", ["식품", "과일", "감귤", "제주"], "max_items"),
]

FIELD_PASSES: list[tuple[str, str, Any]] = [
    ("visit", "shop_id", "g1"),
    ("signup", "email", EMAIL_254),
    ("signup", "phone", "+82 10 2222 3333"),
    ("signup", "phone", None),
    ("signup", "address.postal_code", None),
    ("signup", "address", None),
    ("visit", "schema_version", 1),
    ("visit", "dwell_ms", 0),
    ("visit", "dwell_ms", 86_400_000),
    ("review", "rating", 1),
    ("review", "rating", 5),
    ("purchase", "items[0].quantity", 999),
    ("purchase", "total", 10**15),
    ("product", "tangible.weight_g", 0),
    ("signup", "birth_date", dt.date(1900, 1, 1)),
    ("product", "product_name", "귤"),
    ("visit", "buyer_id", "b" * 64),
    ("review", "text", "가" * 5000),
    ("signup", "address.province", "가" * 20),
    ("product", "category_path[2]", "가" * 50),
    ("purchase", "items", [LINE]),
    ("purchase", "items", [LINE] * 500),
]


def test_every_field_rule_has_a_failing_case() -> None:
    rules = {"format", "min", "max", "min_length", "max_length", "min_items", "max_items"}
    assert {rule for *_, rule in FIELD_FAILURES} == rules


@pytest.mark.parametrize(
    ("name", "path", "value", "rule"),
    FIELD_FAILURES,
    ids=[f"{r}-{n}.{p}" for n, p, _, r in FIELD_FAILURES],
)
def test_field_rule_fails(name: str, path: str, value: Any, rule: str) -> None:
    # The other rules do not run when a field is wrong, so this is the only violation.
    assert found(name, changed(name, {path: value})) == [(path, rule)]


@pytest.mark.parametrize(
    ("name", "path", "value"), FIELD_PASSES, ids=[f"{n}.{p}" for n, p, _ in FIELD_PASSES]
)
def test_field_rule_passes_at_the_boundary(name: str, path: str, value: Any) -> None:
    assert list(check_fields(CONTRACT.latest(name), changed(name, {path: value}))) == []


def test_violations_name_every_broken_field() -> None:
    rec = changed(
        "purchase", {"items[0].quantity": 0, "items[1].product_id": "?", "currency": "won"}
    )
    assert set(found("purchase", rec)) == {
        ("items[0].quantity", "min"),
        ("items[1].product_id", "format"),
        ("currency", "format"),
    }


def test_messages_do_not_repeat_the_value() -> None:
    secret = "gildong.kim@example"
    violations = validate_record(
        CONTRACT.latest("signup"), changed("signup", {"email": secret}), CTX
    )
    assert [v.rule for v in violations] == ["format"]
    assert secret not in violations[0].message


# -- cross-field rules ----------------------------------------------------------------------

_120_YEARS_BEFORE = dt.date(T.year - 120, T.month, T.day)

# (rule, event, changes, the violation's path or None when the case must pass)
RULE_CASES: list[tuple[str, str, dict[str, Any], str | None]] = [
    (
        "event_time_window",
        "visit",
        {
            "event_time": NOW + dt.timedelta(minutes=5) + MS,
            "sent_time": NOW + dt.timedelta(minutes=5) + MS,
        },
        "event_time",
    ),
    (
        "event_time_window",
        "visit",
        {"event_time": NOW + dt.timedelta(minutes=5), "sent_time": NOW + dt.timedelta(minutes=5)},
        None,
    ),
    (
        "event_time_window",
        "review",
        {"event_time": NOW - dt.timedelta(days=400) - MS, "sent_time": NOW},
        "event_time",
    ),
    (
        "event_time_window",
        "review",
        {"event_time": NOW - dt.timedelta(days=400), "sent_time": NOW},
        None,
    ),
    (
        "sent_not_before_event",
        "purchase",
        {"sent_time": T - dt.timedelta(minutes=5) - MS},
        "sent_time",
    ),
    ("sent_not_before_event", "purchase", {"sent_time": T - dt.timedelta(minutes=5)}, None),
    ("buyer_or_anonymous", "review", {"buyer_id": None, "anonymous_id": None}, "buyer_id"),
    ("buyer_or_anonymous", "review", {"buyer_id": "", "anonymous_id": None}, "buyer_id"),
    ("buyer_or_anonymous", "review", {"buyer_id": None, "anonymous_id": "dev-1"}, None),
    ("buyer_or_anonymous", "purchase", {"buyer_id": "member-1", "anonymous_id": None}, None),
    ("buyer_id_required", "signup", {"buyer_id": None}, "buyer_id"),
    ("buyer_id_required", "signup", {"anonymous_id": None}, None),
    ("session_id_required", "visit", {"session_id": None}, "session_id"),
    ("session_id_required", "visit", {"buyer_id": None}, None),
    ("product_page_has_product", "visit", {"product_id": None}, "product_id"),
    ("product_page_has_product", "visit", {"page_type": "home", "product_id": None}, None),
    (
        "birth_date_plausible",
        "signup",
        {"birth_date": T.date() + dt.timedelta(days=1)},
        "birth_date",
    ),
    ("birth_date_plausible", "signup", {"birth_date": T.date()}, None),
    (
        "birth_date_plausible",
        "signup",
        {"birth_date": _120_YEARS_BEFORE - dt.timedelta(days=1)},
        "birth_date",
    ),
    ("birth_date_plausible", "signup", {"birth_date": _120_YEARS_BEFORE}, None),
    ("birth_date_plausible", "signup", {"birth_date": None}, None),
    (
        "line_discount_within_line",
        "purchase",
        {"items[1].discount": 45001, "total": 24799},
        "items[1].discount",
    ),
    ("line_discount_within_line", "purchase", {"items[1].discount": 45000, "total": 24800}, None),
    ("total_matches_items", "purchase", {"total": 69801}, "total"),
    ("total_matches_items", "purchase", {"total": 69799}, "total"),
    (
        "total_matches_items",
        "purchase",
        {"items[0].discount": 25800, "items[1].discount": 45000, "total": 0},
        None,
    ),
    ("currency_known", "purchase", {"currency": "XXX"}, "currency"),
    ("currency_known", "product", {"currency": "ABC"}, "currency"),
    ("currency_known", "purchase", {"currency": "JPY"}, None),
    ("attributes_match_product_type", "product", {"product_type": "intangible"}, "tangible"),
    (
        "attributes_match_product_type",
        "product",
        {
            "tangible": None,
            "intangible": {
                "kind": "travel",
                "destination": None,
                "venue": None,
                "start_date": None,
                "end_date": None,
                "duration_minutes": None,
            },
        },
        "intangible",
    ),
    (
        "attributes_match_product_type",
        "product",
        {"product_type": "unknown", "tangible": None},
        None,
    ),
    (
        "start_not_after_end",
        "product",
        {
            "product_type": "intangible",
            "tangible": None,
            "intangible": {
                "kind": "ticket",
                "destination": None,
                "venue": "고척돔",
                "start_date": dt.date(2025, 8, 2),
                "end_date": dt.date(2025, 8, 1),
                "duration_minutes": 150,
            },
        },
        "intangible.end_date",
    ),
    (
        "start_not_after_end",
        "product",
        {
            "product_type": "intangible",
            "tangible": None,
            "intangible": {
                "kind": "ticket",
                "destination": None,
                "venue": "고척돔",
                "start_date": dt.date(2025, 8, 2),
                "end_date": dt.date(2025, 8, 2),
                "duration_minutes": 150,
            },
        },
        None,
    ),
    (
        "start_not_after_end",
        "product",
        {
            "product_type": "intangible",
            "tangible": None,
            "intangible": {
                "kind": "ticket",
                "destination": None,
                "venue": "고척돔",
                "start_date": dt.date(2025, 8, 2),
                "end_date": None,
                "duration_minutes": None,
            },
        },
        None,
    ),
]


def test_every_rule_has_a_failing_and_a_passing_case() -> None:
    assert {rule for rule, _, _, path in RULE_CASES if path is not None} == set(RULES)
    assert {rule for rule, _, _, path in RULE_CASES if path is None} == set(RULES)


@pytest.mark.parametrize(
    ("rule", "name", "changes", "path"),
    RULE_CASES,
    ids=[f"{r}-{'fails' if p else 'passes'}-{i}" for i, (r, _, _, p) in enumerate(RULE_CASES)],
)
def test_cross_field_rule(rule: str, name: str, changes: dict[str, Any], path: str | None) -> None:
    assert rule in {ref.name for ref in CONTRACT.latest(name).rules}
    assert found(name, changed(name, changes)) == ([] if path is None else [(path, rule)])


@pytest.mark.parametrize(
    ("birth", "on", "plausible"),
    [
        (dt.date(1904, 2, 29), dt.date(2024, 2, 29), True),
        (dt.date(1904, 2, 29), dt.date(2024, 3, 1), False),
        (dt.date(1905, 2, 28), dt.date(2025, 2, 28), True),
        (dt.date(1905, 3, 1), dt.date(2025, 2, 28), True),
        (dt.date(1905, 1, 1), dt.date(2025, 12, 31), False),  # 120 years and 364 days
    ],
)
def test_birth_date_120_years_is_calendar_exact(
    birth: dt.date, on: dt.date, plausible: bool
) -> None:
    when = dt.datetime.combine(on, dt.time(12), tzinfo=dt.UTC)
    rec = changed("signup", {"birth_date": birth, "event_time": when, "sent_time": when})
    context = RuleContext(now=when)
    violations = validate_record(CONTRACT.latest("signup"), rec, context)
    assert [(v.path, v.rule) for v in violations] == (
        [] if plausible else [("birth_date", "birth_date_plausible")]
    )


def test_time_window_follows_the_context() -> None:
    rec = changed("visit", {"event_time": NOW - dt.timedelta(days=30), "sent_time": NOW})
    narrow = RuleContext(now=NOW, horizon=dt.timedelta(days=7))
    assert [(v.path, v.rule) for v in validate_record(CONTRACT.latest("visit"), rec, narrow)] == [
        ("event_time", "event_time_window")
    ]
    assert "7-day" in validate_record(CONTRACT.latest("visit"), rec, narrow)[0].message


def test_rules_do_not_run_on_broken_fields() -> None:
    rec = changed("purchase", {"items[0].quantity": 0, "total": 1})
    assert found("purchase", rec) == [("items[0].quantity", "min")]


def test_every_rule_named_in_a_schema_is_implemented_and_every_rule_is_used() -> None:
    named = {ref.name for schema in CONTRACT for ref in schema.rules}
    assert named <= set(RULES)
    assert set(RULES) <= named


def test_a_rule_without_implementation_never_passes_silently(tmp_path: Path) -> None:
    root = tmp_path / "avro"
    shutil.copytree(schemas_root(), root)
    path = root / "review" / "v1.avsc"
    avsc = json.loads(path.read_text("utf-8"))
    avsc["x-rules"].append({"name": "review_is_polite", "doc": "No shouting."})
    path.write_text(json.dumps(avsc, ensure_ascii=False), "utf-8")
    schema = Contract.load(root).latest("review")
    assert [(v.path, v.rule) for v in validate_record(schema, record("review"), CTX)] == [
        ("$", "review_is_polite")
    ]


# -- the SDK and the processor agree: random valid models pass validate_record ----------------


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for meta in metadata:
        for key in ("pattern", "min_length", "max_length", "ge", "le"):
            if getattr(meta, key, None) is not None:
                out[key] = getattr(meta, key)
    return out


def _values(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """Values the model's own pydantic constraints allow (not the schema's, on purpose)."""
    if typing.get_origin(annotation) is typing.Annotated:  # per-item constraints of a list
        inner, *extra = typing.get_args(annotation)
        return _values(inner, [*metadata, *(m for f in extra for m in getattr(f, "metadata", [f]))])
    c = _constraints(metadata)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return st.none() | _values(inner, metadata)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_kwargs(annotation)
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return st.sampled_from(list(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(c.get("ge"), c.get("le"))
    if annotation is uuid.UUID:
        return st.uuids()
    if annotation is dt.date:
        return st.dates(min_value=c.get("ge", dt.date.min), max_value=c.get("le", dt.date.max))
    if annotation is str:
        low, high = c.get("min_length", 0), c.get("max_length")
        if "pattern" in c:
            return st.from_regex(c["pattern"], fullmatch=True).filter(
                lambda s: low <= len(s) and (high is None or len(s) <= high)
            )
        return st.text(min_size=low, max_size=high)
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        # A cap on list sizes keeps examples fast; the item limits are tested on their own.
        return st.lists(
            _values(item, []),
            min_size=c.get("min_length", 0),
            max_size=min(c.get("max_length", 4), 4),
        )
    raise NotImplementedError(annotation)  # pragma: no cover


def model_kwargs(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, FieldInfo] = dict(model.model_fields)
    return st.fixed_dictionaries(
        {
            name: _values(info.annotation, info.metadata)
            for name, info in fields.items()
            if info.annotation is not AwareDatetime
        }
    )


_IDENTIFIER = st.from_regex(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$", fullmatch=True)
_NON_EMPTY_ID = st.text(min_size=1, max_size=64).filter(bool)


@st.composite
def valid_event_kwargs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """Model arguments, then the cross-field rules made to hold (domain knowledge, not Avro)."""
    kwargs = draw(model_kwargs(EVENT_CLASSES[name]))
    now = dt.datetime.now(dt.UTC)
    event_time = now - dt.timedelta(milliseconds=draw(st.integers(60_000, 390 * 86_400_000)))
    kwargs["event_time"] = event_time
    kwargs["sent_time"] = event_time + dt.timedelta(milliseconds=draw(st.integers(0, 3_600_000)))
    if not kwargs["buyer_id"] and not kwargs["anonymous_id"]:
        kwargs["anonymous_id"] = draw(_NON_EMPTY_ID)
    if name == "signup":
        kwargs["buyer_id"] = kwargs["buyer_id"] or draw(_NON_EMPTY_ID)
        if kwargs["birth_date"] is not None:
            day = event_time.date()
            earliest = max(dt.date(1900, 1, 1), dt.date(day.year - 119, 1, 1))
            kwargs["birth_date"] = draw(st.dates(min_value=earliest, max_value=day))
    elif name == "visit":
        kwargs["session_id"] = kwargs["session_id"] or draw(_NON_EMPTY_ID)
        if kwargs["page_type"] == "product" and not kwargs["product_id"]:
            kwargs["product_id"] = draw(_IDENTIFIER)
    elif name == "purchase":
        for item in kwargs["items"]:
            item["discount"] = draw(
                st.integers(0, min(item["quantity"] * item["unit_price"], 10**12))
            )
        kwargs["total"] = sum(
            i["quantity"] * i["unit_price"] - i["discount"] for i in kwargs["items"]
        )
        kwargs["currency"] = draw(st.sampled_from(sorted(MINOR_UNIT_DIGITS)))
    elif name == "product":
        kwargs["currency"] = draw(st.sampled_from(sorted(MINOR_UNIT_DIGITS)))
        if kwargs["product_type"] != ProductType.TANGIBLE:
            kwargs["tangible"] = None
        if kwargs["product_type"] != ProductType.INTANGIBLE:
            kwargs["intangible"] = None
        intangible = kwargs["intangible"]
        if intangible and intangible["start_date"] and intangible["end_date"]:
            start, end = sorted([intangible["start_date"], intangible["end_date"]])
            intangible.update(start_date=start, end_date=end)
    return kwargs


@pytest.mark.parametrize("name", sorted(EVENT_CLASSES))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_valid_models_pass_the_processor(name: str, data: st.DataObject) -> None:
    kwargs = data.draw(valid_event_kwargs(name))
    try:
        event = EVENT_CLASSES[name](**kwargs)
    except ValidationError:
        reject()  # rare: e.g. a purchase total beyond 10^15, a category name over 50 characters
    schema = CONTRACT.latest(name)
    context = RuleContext(now=dt.datetime.now(dt.UTC))
    assert validate_record(schema, event.to_avro(), context) == []
    codec = Codec()
    decoded = codec.decode(codec.encode(name, event.to_avro()))
    assert validate_record(schema, decoded.record, context) == []
