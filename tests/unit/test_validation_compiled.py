"""schemas/validation.py agrees with the generic validator it started as.

The reference (tests/unit/validation_reference.py) walks every spec path on every record
and runs the rules as generators. Agreement means the same violations in the same order,
or the same exception type, from check_fields, check_rules and validate_record: on the
examples, on records broken one value at a time and many at once, on random records of
every schema (the contract's and a synthetic one with lists in lists), and on the
simulator's output, bad events included.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopstream.producers.simulator import SimulationConfig, generate
from shopstream.schemas import Codec, Contract, EventSchema, FieldSpec
from shopstream.schemas.errors import DecodeError, SchemaDefinitionError
from shopstream.schemas.examples import example_events, example_tangible_product
from shopstream.schemas.validation import (
    RULES,
    RuleContext,
    check_fields,
    check_rules,
    validate_record,
)

from .records import record_at
from .schema_strategies import avro_records
from .validation_reference import (
    REFERENCE_RULES,
    reference_check_fields,
    reference_check_rules,
    reference_validate_record,
    values_at,
)

CONTRACT = Contract.load()
CODEC = Codec()
# The SDK models behind the examples check their times against the clock, so "now" is now.
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
T = NOW - dt.timedelta(hours=1)
CONTEXTS = (
    RuleContext(now=NOW),
    RuleContext(now=NOW, clock_skew=dt.timedelta(0), horizon=dt.timedelta(days=7)),
)


def outcome(call: Callable[[], Any]) -> Any:
    """What a call gives: its result as a list, or the type of what it raised."""
    try:
        return list(call())
    except Exception as exc:  # a malformed record may break a rule; both must break alike
        return type(exc)


def assert_agree(schema: EventSchema, record: Mapping[str, Any]) -> None:
    assert outcome(lambda: check_fields(schema, record)) == outcome(
        lambda: reference_check_fields(schema, record)
    ), record
    for context in CONTEXTS:
        assert outcome(lambda c=context: check_rules(schema, record, c)) == outcome(
            lambda c=context: reference_check_rules(schema, record, c)
        ), record
        assert outcome(lambda c=context: validate_record(schema, record, c)) == outcome(
            lambda c=context: reference_validate_record(schema, record, c)
        ), record


def test_the_reference_has_every_rule() -> None:
    assert set(REFERENCE_RULES) == set(RULES)


# -- (a) the examples ----------------------------------------------------------------------


@pytest.mark.parametrize("now", [NOW, NOW - dt.timedelta(days=30, milliseconds=1)])
def test_examples_agree(now: dt.datetime) -> None:
    events = [*example_events(now, seed=3).values(), example_tangible_product(now)]
    for event in events:
        schema = CONTRACT.latest(event.event_type)
        record = event.to_avro()
        assert_agree(schema, record)
        assert_agree(schema, CODEC.decode(CODEC.encode(event.event_type, record)).record)


# -- (b) records broken value by value ------------------------------------------------------

_SEGMENT = re.compile(r"^(\w+)(?:\[(\d+)\])?$")
_DAY = dt.timedelta(days=1)
# Values of every type the checks tell apart, at every spec: the wrong type must be ignored
# (or fail) alike, and ``0`` or ``""`` where a list or a record belongs must not be iterated.
_ANY_TYPE: list[Any] = [True, False, 0, -1, 10**20, "", "x\n", "가나다", [], ["x"], {}, T, T.date()]


def base_records(name: str) -> list[dict[str, Any]]:
    records = [record_at(name, T, T + dt.timedelta(seconds=1))]
    for event in [*example_events(T).values(), example_tangible_product(T)]:
        if event.event_type == name:
            records.append(event.to_avro())
    return records


def set_at(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``record`` with ``value`` at a concrete path (``items[1].discount``)."""
    result = copy.deepcopy(record)
    node: Any = result
    parts = path.split(".")
    for i, part in enumerate(parts):
        match = _SEGMENT.match(part)
        assert match, part
        key, index = match.group(1), match.group(2)
        if i == len(parts) - 1:
            if index is None:
                node[key] = value
            else:
                node[key][int(index)] = value
        else:
            node = node[key] if index is None else node[key][int(index)]
    return result


def bad_values(spec: FieldSpec) -> list[Any]:
    """Each limit of the spec just broken and just kept, and values of every other type."""
    values = list(_ANY_TYPE)
    if spec.min_length is not None:
        values += ["a" * (spec.min_length - 1), "a" * spec.min_length]
    if spec.max_length is not None:
        values += ["a" * (spec.max_length + 1), "a" * spec.max_length, " " * (spec.max_length + 1)]
    if spec.pattern is not None:
        values += [" ", "-", "a b", "A" * 3, "+1 (2)"]
    for bound, step in ((spec.minimum, -1), (spec.maximum, 1)):
        if isinstance(bound, int):
            values += [bound + step, bound]
        elif isinstance(bound, str):
            day = dt.date.fromisoformat(bound)
            values += [day + step * _DAY, day]
    if spec.min_items is not None:
        values += [["x"] * (spec.min_items - 1), ["x"] * spec.min_items]
    if spec.max_items is not None:
        values += [["x"] * (spec.max_items + 1), ["x"] * spec.max_items]
    if spec.item_max_length is not None:
        long = "가" * (spec.item_max_length + 1)
        values += [[long, "ok", long], [None, 1, long]]
    return values


def mutations(name: str) -> list[tuple[dict[str, Any], str, Any]]:
    """(base record, concrete path, value) for every value at every place of every spec."""
    schema = CONTRACT.latest(name)
    found = []
    for base in base_records(name):
        for spec in schema.fields:
            for path, _ in values_at(base, spec.path):
                found.extend((base, path, value) for value in bad_values(spec))
    return found


_MUTATIONS = {name: mutations(name) for name in CONTRACT.names}


@pytest.mark.parametrize("name", CONTRACT.names)
def test_records_broken_one_value_at_a_time_agree(name: str) -> None:
    schema = CONTRACT.latest(name)
    cases = _MUTATIONS[name]
    assert len(cases) > 100
    for base, path, value in cases:
        assert_agree(schema, set_at(base, path, value))


@pytest.mark.parametrize("name", CONTRACT.names)
@given(data=st.data())
def test_records_broken_in_many_places_agree(name: str, data: st.DataObject) -> None:
    # Several broken fields at once: the order of the violations is what this checks.
    schema = CONTRACT.latest(name)
    cases = _MUTATIONS[name]
    base = data.draw(st.sampled_from(base_records(name)))
    for _, path, value in data.draw(st.lists(st.sampled_from(cases), min_size=2, max_size=8)):
        try:
            base = set_at(base, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier change took the place away
            continue
    assert_agree(schema, base)


# -- (c) random records of every schema ----------------------------------------------------


@pytest.mark.parametrize("name", CONTRACT.names)
@given(data=st.data())
def test_random_avro_records_agree(name: str, data: st.DataObject) -> None:
    schema = CONTRACT.latest(name)
    assert_agree(schema, data.draw(avro_records(schema.avsc)))


def _field(name: str, avro_type: Any, **annotations: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": avro_type,
        "doc": "A synthetic field.",
        "x-pii": "none",
        "x-treatment": "keep",
        **{f"x-{key.replace('_', '-')}": value for key, value in annotations.items()},
    }


def _record(name: str, fields: list[dict[str, Any]], rules: tuple[str, ...] = ()) -> Any:
    return {
        "type": "record",
        "name": name,
        "fields": fields,
        "x-rules": [{"name": rule, "doc": "A synthetic rule."} for rule in rules],
    }


_DATE = {"type": "int", "logicalType": "date"}
# Paths the contract does not have (yet): lists of records in lists of records, a list in a
# nested record, a record in a list item, specs with limits for several value types, rules
# declared on list items, a rule with no implementation.
SYNTHETIC = {
    **_record(
        "Crate",
        [
            _field("code", ["null", "string"], pattern="^[A-Z]{3}$", min_length=4),
            _field(
                "mixed",
                ["null", "string", "long", {"type": "array", "items": "string"}],
                min=0,
                max=9,
                max_length=2,
                max_items=1,
                item_max_length=1,
            ),
            _field("day", ["null", _DATE], min="2020-01-01", max="2020-12-31"),
            _field(
                "boxes",
                {
                    "type": "array",
                    "items": _record(
                        "Box",
                        [
                            _field("label", ["null", "string"], max_length=3),
                            _field("start_date", ["null", _DATE], min="2000-01-01"),
                            _field("end_date", ["null", _DATE], max="2030-01-01"),
                            _field(
                                "tags",
                                {"type": "array", "items": "string"},
                                max_items=2,
                                item_max_length=3,
                            ),
                            _field(
                                "parts",
                                {
                                    "type": "array",
                                    "items": _record(
                                        "Part",
                                        [_field("n", "int", min=1), _field("buyer_id", "string")],
                                        rules=("buyer_or_anonymous",),
                                    ),
                                },
                            ),
                            _field(
                                "inner",
                                [
                                    "null",
                                    _record(
                                        "Inner",
                                        [
                                            _field("depth", "int", max=3),
                                            _field("code", "string", pattern="^[a-c]+$"),
                                        ],
                                    ),
                                ],
                            ),
                        ],
                        rules=("start_not_after_end",),
                    ),
                },
                min_items=1,
                max_items=3,
            ),
            _field(
                "outer",
                [
                    "null",
                    _record(
                        "Outer",
                        [
                            _field(
                                "rows",
                                {
                                    "type": "array",
                                    "items": _record("Row", [_field("v", "int", max=9)]),
                                },
                            ),
                            _field("note", "string", max_length=2),
                        ],
                    ),
                ],
            ),
            _field("free", "string"),
        ],
        rules=("buyer_or_anonymous", "not_implemented_anywhere"),
    ),
    "namespace": "test.synthetic",
}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> EventSchema:
    root: Path = tmp_path_factory.mktemp("avro")
    (root / "crate").mkdir()
    (root / "crate" / "v1.avsc").write_text(json.dumps(SYNTHETIC), "utf-8")
    schema = Contract.load(root).latest("crate")
    assert "boxes[].parts[].n" in {spec.path for spec in schema.fields}
    assert {ref.path for ref in schema.rules} == {"", "boxes[]", "boxes[].parts[]"}
    return schema


@given(data=st.data())
def test_random_records_of_a_schema_with_lists_in_lists_agree(
    synthetic: EventSchema, data: st.DataObject
) -> None:
    assert_agree(synthetic, data.draw(avro_records(synthetic.avsc, max_items=4)))


def test_a_date_bound_that_is_not_a_date_is_a_schema_error(tmp_path: Path) -> None:
    # The generic walker parsed the bound at each check and raised ValueError when a date
    # met it; compiled, the bound is parsed once and the schema is at fault from the start.
    (tmp_path / "crate").mkdir()
    avsc = {
        **_record("Crate", [_field("day", ["null", _DATE], min="the first of May")]),
        "namespace": "test.synthetic",
    }
    (tmp_path / "crate" / "v1.avsc").write_text(json.dumps(avsc), "utf-8")
    schema = Contract.load(tmp_path).latest("crate")
    with pytest.raises(SchemaDefinitionError, match="day"):
        check_fields(schema, {"day": None})


# -- (d) the simulator, bad events included -------------------------------------------------


def test_simulated_events_agree() -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    valid = bad = 0
    for simulated in generate(SimulationConfig(events=1000, bad_fraction=0.3, seed=11), now):
        if simulated.event is not None:
            record = simulated.event.to_avro()
            valid += 1
        else:
            assert simulated.raw is not None
            try:
                record = CODEC.decode(simulated.raw).record
            except DecodeError:
                continue
            bad += 1
        assert simulated.name is not None
        assert_agree(CONTRACT.latest(simulated.name), record)
    assert valid > 600
    assert bad > 100


# -- results are the caller's to keep -------------------------------------------------------


def test_every_call_returns_a_fresh_list() -> None:
    schema = CONTRACT.latest("visit")
    record = record_at("visit", T)
    first = check_fields(schema, record)
    first.append(None)  # type: ignore[arg-type]
    assert check_fields(schema, record) == []
    rules = check_rules(schema, record, CONTEXTS[0])
    rules.append(None)  # type: ignore[arg-type]
    assert check_rules(schema, record, CONTEXTS[0]) == []
    assert validate_record(schema, record, CONTEXTS[0]) == []
