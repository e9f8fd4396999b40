"""The drift test: the SDK's pydantic models say exactly what the Avro schemas say.

Names, Python types, optionality, defaults and constraints of every model field are
compared with the schema field they encode to; the cross-field rules are enforced by
the models with the rule's name as the error type; the SDK and the processor accept
the same values; and no validation error repeats the personal data it was given.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from shopstream.schemas import Codec, Contract
from shopstream.schemas.models import (
    EVENT_CLASSES,
    Address,
    Event,
    IntangibleAttributes,
    PurchaseItem,
    TangibleAttributes,
)
from shopstream.schemas.validation import RULES, check_fields

from .records import model_kwargs_at

CONTRACT = Contract.load()
NESTED_MODELS: dict[str, type[BaseModel]] = {
    "Address": Address,
    "PurchaseItem": PurchaseItem,
    "TangibleAttributes": TangibleAttributes,
    "IntangibleAttributes": IntangibleAttributes,
}
# Envelope fields the SDK fills in itself when the caller does not (client-generated).
GENERATED = {"event_id", "event_time", "sent_time"}
# The one schema field that is not a model field: the model / codec writes the version.
NOT_A_MODEL_FIELD = {"schema_version"}
ANNOTATIONS = {
    "x-pii",
    "x-treatment",
    "x-format",
    "x-unit",
    "x-pattern",
    "x-min",
    "x-max",
    "x-min-length",
    "x-max-length",
    "x-min-items",
    "x-max-items",
    "x-item-max-length",
}
AVRO_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _record_schemas() -> list[tuple[type[BaseModel], Mapping[str, Any], set[str]]]:
    """(model, Avro record, schema fields the model may lack) for events and nested records."""
    found: list[tuple[type[BaseModel], Mapping[str, Any], set[str]]] = []

    def walk(avro_type: Any) -> None:
        if isinstance(avro_type, list):
            for branch in avro_type:
                walk(branch)
        elif isinstance(avro_type, Mapping):
            if avro_type.get("type") == "record":
                found.append((NESTED_MODELS[avro_type["name"]], avro_type, set()))
                for f in avro_type["fields"]:
                    walk(f["type"])
            elif avro_type.get("type") == "array":
                walk(avro_type["items"])

    for name, cls in EVENT_CLASSES.items():
        avsc = CONTRACT.latest(name).avsc
        found.append((cls, avsc, NOT_A_MODEL_FIELD))
        for f in avsc["fields"]:
            walk(f["type"])
    return found


RECORDS = _record_schemas()


def _id(item: tuple[type[BaseModel], Mapping[str, Any], set[str]]) -> str:
    return item[0].__name__


def test_every_event_type_and_nested_record_has_a_model() -> None:
    assert set(EVENT_CLASSES) == set(CONTRACT.names)
    assert {cls.event_type for cls in EVENT_CLASSES.values()} == set(EVENT_CLASSES)
    assert {model for model, _, _ in RECORDS} == {*EVENT_CLASSES.values(), *NESTED_MODELS.values()}
    for model, record, _ in RECORDS:
        expected = f"{record['name']}Event" if issubclass(model, Event) else record["name"]
        assert model.__name__ == expected


@pytest.mark.parametrize("item", RECORDS, ids=_id)
def test_field_names_match(item: tuple[type[BaseModel], Mapping[str, Any], set[str]]) -> None:
    model, record, not_in_model = item
    schema_names = [f["name"] for f in record["fields"]]
    assert set(model.model_fields) == set(schema_names) - not_in_model
    assert set(schema_names) - set(model.model_fields) == not_in_model


def test_schema_version_is_written_by_the_model_not_a_field() -> None:
    for name, cls in EVENT_CLASSES.items():
        assert "schema_version" not in cls.model_fields
        assert "schema_version" in {f["name"] for f in CONTRACT.latest(name).avsc["fields"]}
        assert valid_event(name).to_avro()["schema_version"] == CONTRACT.latest(name).version


# -- types ----------------------------------------------------------------------------------


def _without_none(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1, f"{annotation}: a union other than Optional"
        return rest[0], len(rest) < len(args)
    return annotation, False


def assert_type_matches(annotation: Any, avro_type: Any, where: str) -> None:
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        assert len(branches) == 1, f"{where}: only [null, T] unions are modelled"
        inner, optional = _without_none(annotation)
        assert optional == ("null" in avro_type), f"{where}: Optional <-> nullable union"
        assert_type_matches(inner, branches[0], where)
        return
    inner, optional = _without_none(annotation)
    assert not optional, f"{where}: Optional in the model, not nullable in the schema"
    if isinstance(avro_type, Mapping) and "logicalType" in avro_type:
        expected = {
            "timestamp-millis": AwareDatetime,
            "date": dt.date,
            "uuid": uuid.UUID,
        }[avro_type["logicalType"]]
        assert inner is expected, f"{where}: {inner} for {avro_type['logicalType']}"
        return
    kind = avro_type["type"] if isinstance(avro_type, Mapping) else avro_type
    if kind in ("string", "int", "long", "boolean"):
        expected = {"string": str, "int": int, "long": int, "boolean": bool}[kind]
        assert inner is expected, f"{where}: {inner} for {kind}"
    elif kind == "enum":
        assert isinstance(inner, type), where
        assert issubclass(inner, StrEnum), f"{where}: {inner} is not a StrEnum"
        assert inner.__name__ == avro_type["name"], where
        assert [m.value for m in inner] == avro_type["symbols"], (
            f"{where}: enum symbols or order differ"
        )
    elif kind == "record":
        assert inner is NESTED_MODELS[avro_type["name"]], (
            f"{where}: {inner} for record {avro_type['name']}"
        )
    elif kind == "array":
        assert typing.get_origin(inner) is list, f"{where}: {inner} for an array"
        (item,) = typing.get_args(inner)
        if typing.get_origin(item) is typing.Annotated:  # per-item constraints (x-item-max-length)
            item = typing.get_args(item)[0]
        assert_type_matches(item, avro_type["items"], f"{where}[]")
    else:  # pragma: no cover - a new Avro type in the schemas needs a rule here
        pytest.fail(f"{where}: no mapping for Avro type {kind!r}")


@pytest.mark.parametrize("item", RECORDS, ids=_id)
def test_field_types_match(item: tuple[type[BaseModel], Mapping[str, Any], set[str]]) -> None:
    model, record, _ = item
    for fdef in record["fields"]:
        if fdef["name"] in model.model_fields:
            assert_type_matches(
                model.model_fields[fdef["name"]].annotation,
                fdef["type"],
                f"{model.__name__}.{fdef['name']}",
            )


# -- defaults -------------------------------------------------------------------------------


@pytest.mark.parametrize("item", RECORDS, ids=_id)
def test_defaults_match(item: tuple[type[BaseModel], Mapping[str, Any], set[str]]) -> None:
    model, record, _ = item
    for fdef in record["fields"]:
        name = fdef["name"]
        if name not in model.model_fields:
            continue
        info = model.model_fields[name]
        where = f"{model.__name__}.{name}"
        if "default" in fdef:
            assert not info.is_required(), f"{where}: the schema has a default"
            assert info.default_factory is None, where
            default = info.default
            if isinstance(default, StrEnum):
                default = default.value
            assert default == fdef["default"], where
            assert type(default) is type(fdef["default"]), where
        elif name in GENERATED and issubclass(model, Event):
            assert info.default_factory is not None, f"{where}: generated by the SDK"
        else:
            assert info.is_required(), (
                f"{where}: no default in the schema, so required in the model"
            )


def test_generated_fields_are_exactly_the_envelope_ones() -> None:
    generated = {
        name
        for cls in EVENT_CLASSES.values()
        for name, info in cls.model_fields.items()
        if info.default_factory
    }
    assert generated == GENERATED
    event = valid_event("visit", event_time=None, sent_time=None, event_id=None)
    assert isinstance(event.event_id, uuid.UUID)
    assert event.event_time.tzinfo is not None


# -- constraints ----------------------------------------------------------------------------


def _pydantic_constraints(info: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta in info.metadata:
        for key in ("pattern", "min_length", "max_length", "ge", "le", "gt", "lt", "multiple_of"):
            value = getattr(meta, key, None)
            if value is not None:
                assert key not in found, f"{key} given twice"
                found[key] = value
    return found


def _schema_constraints(fdef: Mapping[str, Any]) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    if "x-pattern" in fdef:
        expected["pattern"] = fdef["x-pattern"]
    for key, annotation in (
        ("min_length", "x-min-length"),
        ("max_length", "x-max-length"),
        ("min_length", "x-min-items"),
        ("max_length", "x-max-items"),
    ):
        if annotation in fdef:
            expected[key] = fdef[annotation]
    for key, annotation in (("ge", "x-min"), ("le", "x-max")):
        if annotation in fdef:
            bound = fdef[annotation]
            expected[key] = dt.date.fromisoformat(bound) if isinstance(bound, str) else bound
    return expected


def test_annotations_are_all_known() -> None:
    # A new kind of annotation must be handled by the models (and this test) before use.
    for schema in CONTRACT:
        for spec in schema.fields:
            fdef = _field_def(schema.avsc, spec.path)
            assert {k for k in fdef if k.startswith("x-")} <= ANNOTATIONS, spec.path


def _field_def(avsc: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    record: Any = avsc
    fdef: Mapping[str, Any] = {}
    for part in path.split("."):
        fdef = next(f for f in record["fields"] if f["name"] == part.removesuffix("[]"))
        record = fdef["type"]
        if isinstance(record, list):
            record = next(t for t in record if t != "null")
        if isinstance(record, Mapping) and record.get("type") == "array":
            record = record["items"]
    return fdef


@pytest.mark.parametrize("item", RECORDS, ids=_id)
def test_constraints_match(item: tuple[type[BaseModel], Mapping[str, Any], set[str]]) -> None:
    model, record, _ = item
    for fdef in record["fields"]:
        if fdef["name"] in model.model_fields:
            info = model.model_fields[fdef["name"]]
            assert _pydantic_constraints(info) == _schema_constraints(fdef), (
                f"{model.__name__}.{fdef['name']}"
            )


@pytest.mark.parametrize("item", RECORDS, ids=_id)
def test_every_integer_the_model_accepts_fits_the_avro_type(
    item: tuple[type[BaseModel], Mapping[str, Any], set[str]],
) -> None:
    model, record, _ = item
    for fdef in record["fields"]:
        avro_type = fdef["type"]
        kind = (
            next((t for t in avro_type if t != "null"), None)
            if isinstance(avro_type, list)
            else avro_type
        )
        if isinstance(kind, str) and kind in AVRO_INT_RANGE and fdef["name"] in model.model_fields:
            where = f"{model.__name__}.{fdef['name']}"
            bounds = _pydantic_constraints(model.model_fields[fdef["name"]])
            low, high = AVRO_INT_RANGE[kind]
            assert "ge" in bounds, f"{where}: no lower bound"
            assert "le" in bounds, f"{where}: no upper bound"
            assert low <= bounds["ge"] <= bounds["le"] <= high, where


# -- valid models ---------------------------------------------------------------------------


def _recent_ms() -> dt.datetime:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def valid_kwargs(name: str) -> dict[str, Any]:
    return model_kwargs_at(name, _recent_ms())


def valid_event(name: str, /, **change: Any) -> Event:
    """A valid event; ``None`` in ``change`` drops the argument (the model default applies)."""
    kwargs = valid_kwargs(name)
    for key, value in change.items():
        if value is None:
            kwargs.pop(key, None)
        else:
            kwargs[key] = value
    return EVENT_CLASSES[name](**kwargs)


@pytest.mark.parametrize("name", sorted(EVENT_CLASSES))
def test_valid_model_encodes_and_decodes_to_its_record(name: str) -> None:
    event = valid_event(name)
    codec = Codec()
    decoded = codec.decode(codec.encode(name, event.to_avro()))
    assert decoded.name == name
    assert decoded.record == event.to_avro()


def test_intangible_product_encodes() -> None:
    event = valid_event(
        "product",
        product_type="intangible",
        tangible=None,
        intangible={
            "kind": "travel",
            "destination": "제주",
            "start_date": dt.date(2025, 5, 1),
            "end_date": dt.date(2025, 5, 3),
        },
    )
    record = Codec().decode(Codec().encode("product", event.to_avro())).record
    assert record["intangible"]["kind"] == "travel"
    assert record["tangible"] is None


# -- cross-field rules ----------------------------------------------------------------------

_T = _recent_ms()

RULE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "event_time_window",
        "visit",
        {"event_time": _T + dt.timedelta(hours=1), "sent_time": _T + dt.timedelta(hours=1)},
    ),
    ("event_time_window", "review", {"event_time": _T - dt.timedelta(days=401), "sent_time": _T}),
    ("sent_not_before_event", "visit", {"sent_time": _T - dt.timedelta(minutes=6)}),
    ("buyer_or_anonymous", "review", {"buyer_id": None, "anonymous_id": None}),
    ("buyer_id_required", "signup", {"buyer_id": None}),
    ("session_id_required", "visit", {"session_id": None}),
    ("product_page_has_product", "visit", {"product_id": None}),
    ("birth_date_plausible", "signup", {"birth_date": _T.date() + dt.timedelta(days=1)}),
    ("birth_date_plausible", "signup", {"birth_date": dt.date(1900, 1, 1)}),
    (
        "line_discount_within_line",
        "purchase",
        {
            "items": [
                {
                    "product_id": "P-1",
                    "category_id": "C-1",
                    "quantity": 1,
                    "unit_price": 100,
                    "discount": 101,
                }
            ],
            "total": 0,
        },
    ),
    ("total_matches_items", "purchase", {"total": 69801}),
    ("currency_known", "purchase", {"currency": "XXX"}),
    ("currency_known", "product", {"currency": "ABC"}),
    ("attributes_match_product_type", "product", {"product_type": "intangible"}),
    ("attributes_match_product_type", "product", {"product_type": "unknown"}),
    (
        "start_not_after_end",
        "product",
        {
            "product_type": "intangible",
            "tangible": None,
            "intangible": {
                "kind": "ticket",
                "start_date": dt.date(2025, 5, 3),
                "end_date": dt.date(2025, 5, 1),
            },
        },
    ),
]


def test_every_rule_has_a_model_case() -> None:
    assert {rule for rule, _, _ in RULE_CASES} == set(RULES)


@pytest.mark.parametrize(
    ("rule", "name", "change"), RULE_CASES, ids=[f"{r}-{n}" for r, n, _ in RULE_CASES]
)
def test_model_rejects_a_broken_rule_with_the_rule_name(
    rule: str, name: str, change: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        valid_event(name, **change)
    assert [e["type"] for e in caught.value.errors()] == [rule]


# -- the SDK and the processor accept the same values ---------------------------------------


def _set_at(target: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    key = head.removesuffix("[]")
    if not rest:
        target[key] = value
    elif head.endswith("[]"):
        _set_at(target[key][0], rest, value)
    else:
        _set_at(target[key], rest, value)


def _tricky(value: str) -> list[str]:
    """The value, and variants that regex engines disagree on."""
    mid = len(value) // 2
    inserts = ["\x1c", "\x1f", "\x85", "\xa0", "\u2028", "\u3000", "\n", "\t", "０"]
    return [value, value + "\n", "\n" + value, value + " ", value.replace("0", "０")] + [
        value[:mid] + ch + value[mid:] for ch in inserts
    ]


def _pattern_fields() -> list[tuple[str, str]]:
    found = []
    for name in CONTRACT.names:
        for spec in CONTRACT.latest(name).fields:
            if spec.pattern is not None:
                found.append((name, spec.path))
    return found


def _example_value(name: str, path: str) -> str:
    record = valid_event(name).to_avro()
    node: Any = record
    for part in path.split("."):
        node = node[part.removesuffix("[]")]
        if part.endswith("[]"):
            node = node[0]
    assert isinstance(node, str), f"no example for {name}.{path}"
    return node


@pytest.mark.parametrize(
    ("name", "path"), _pattern_fields(), ids=[f"{n}.{p}" for n, p in _pattern_fields()]
)
def test_model_and_validator_agree_on_formats(name: str, path: str) -> None:
    schema = CONTRACT.latest(name)
    for candidate in _tricky(_example_value(name, path)):
        kwargs = valid_kwargs(name)
        _set_at(kwargs, path, candidate)
        try:
            record = EVENT_CLASSES[name](**kwargs).to_avro()
            model_accepts = True
        except ValidationError:
            model_accepts = False
        record = valid_event(name).to_avro()
        _set_at(record, path, candidate)
        validator_accepts = not [v for v in check_fields(schema, record)]
        assert model_accepts == validator_accepts, f"{name}.{path} = {candidate!r}"


def test_model_enforces_the_length_of_each_category_name() -> None:
    # x-item-max-length: stage 1 rejects a 51-character category name, so the SDK must too.
    spec = CONTRACT.latest("product").field("category_path")
    assert spec.item_max_length == 50
    valid_event("product", category_path=["식품", "과일", "가" * 50])
    with pytest.raises(ValidationError):
        valid_event("product", category_path=["식품", "과일", "가" * 51])


# -- errors never repeat personal data ------------------------------------------------------

PII = {
    "name": "김길동",
    "email": "gildong.kim@example.com",
    "phone": "010-2222-3333",
    "line": "여의도동 푸른아파트 3동 2호",
}


@pytest.mark.parametrize(
    "change",
    [
        {"buyer_id": None},  # a cross-field rule fails; the PII fields are valid
        {"email": "gildong.kim@example", "phone": "010-2222-3333x"},  # field formats fail
        {"name": "김길동" * 40},  # too long
        {"address": {"province": "서울특별시", "line": PII["line"] * 15}},  # nested, too long
        {"birth_date": dt.date(2999, 1, 1)},
    ],
    ids=["rule", "format", "length", "nested", "birth-date"],
)
def test_validation_errors_do_not_contain_the_input(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        valid_event("signup", **change)
    text = f"{caught.value}\n{caught.value!r}"
    for value in (*PII.values(), "gildong.kim@example", "1993-07-21", "2999"):
        assert value not in text


def test_review_text_is_not_repeated_in_errors() -> None:
    secret = "연락처 010-9876-5432 로 주세요"
    with pytest.raises(ValidationError) as caught:
        valid_event("review", text=secret, rating=6)
    assert secret not in str(caught.value)
    assert "010-9876-5432" not in repr(caught.value)
