"""Checks a decoded record against the contract: field formats and ranges, then cross-field rules.

Pure functions over plain records (the shape fastavro decodes to). The SDK's models
enforce the field constraints through pydantic and then call :func:`check_rules`;
stage 1 calls :func:`validate_record`. Each failure is a :class:`Violation` naming the
field path and the rule. A schema's checks are compiled on its first use: this is the
hot path of stage 1 and of the SDK's ``track``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from shopstream.schemas.codec import EPOCH as _EPOCH
from shopstream.schemas.codec import datetime_from_millis
from shopstream.schemas.contract import EventSchema, FieldSpec, RuleRef
from shopstream.schemas.currencies import MINOR_UNIT_DIGITS
from shopstream.schemas.errors import SchemaDefinitionError


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint: where, which rule, and a message without the offending value."""

    path: str
    rule: str
    message: str


CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future an event time may be, by default."""
HORIZON = dt.timedelta(days=400)
"""How old an event time may be, by default (the aggregation horizon)."""

_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What the time rules compare against.

    Times in a record may be aware datetimes or integer epoch milliseconds (as a codec
    with ``plain_ids_and_times`` decodes them); the bounds are kept in both forms, the
    integer ones in microseconds so that the comparisons stay exact.
    """

    now: dt.datetime
    clock_skew: dt.timedelta = CLOCK_SKEW
    horizon: dt.timedelta = HORIZON
    latest: dt.datetime = field(init=False, repr=False, compare=False)
    """``now + clock_skew``: the latest acceptable event time (worked out once, not per event)."""
    earliest: dt.datetime = field(init=False, repr=False, compare=False)
    """``now - horizon``: the earliest acceptable event time."""
    now_ms: int = field(init=False, repr=False, compare=False)
    """``now`` in epoch milliseconds (truncated)."""
    latest_us: int = field(init=False, repr=False, compare=False)
    earliest_us: int = field(init=False, repr=False, compare=False)
    clock_skew_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "latest", self.now + self.clock_skew)
        set_(self, "earliest", self.now - self.horizon)
        set_(self, "now_ms", (self.now - _EPOCH) // dt.timedelta(milliseconds=1))
        set_(self, "latest_us", (self.latest - _EPOCH) // _MICROSECOND)
        set_(self, "earliest_us", (self.earliest - _EPOCH) // _MICROSECOND)
        set_(self, "clock_skew_us", self.clock_skew // _MICROSECOND)


class RuleClock:
    """Now, to the millisecond, and the rules' context for it, made once per millisecond.

    A datetime and a context per event cost more than a small event's rules; both hot paths
    (the SDK's helpers, stage 1) read the clock per event. Safe across threads: the cached
    pair is replaced whole.
    """

    __slots__ = ("_cached", "_clock", "_clock_skew", "_horizon")

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        clock_skew: dt.timedelta = CLOCK_SKEW,
        horizon: dt.timedelta = HORIZON,
    ) -> None:
        self._clock = clock
        self._clock_skew = clock_skew
        self._horizon = horizon
        self._cached: tuple[int, dt.datetime, RuleContext] = (-1, _EPOCH, RuleContext(now=_EPOCH))

    def now(self) -> tuple[dt.datetime, RuleContext]:
        ms = int(self._clock() * 1000)
        cached = self._cached
        if cached[0] != ms:
            now = datetime_from_millis(ms)
            context = RuleContext(now=now, clock_skew=self._clock_skew, horizon=self._horizon)
            cached = self._cached = (ms, now, context)
        return cached[1], cached[2]


def validate_record(
    schema: EventSchema, record: Mapping[str, Any], context: RuleContext
) -> list[Violation]:
    """Every field constraint and every cross-field rule of ``schema``; empty when valid."""
    checks = _checks_of(schema)
    violations = checks.fields(record)
    if not violations:  # rules assume well-formed fields
        violations = checks.rules(record, context)
    return violations


def check_fields(schema: EventSchema, record: Mapping[str, Any]) -> list[Violation]:
    """The broken field constraints (format, range, length, items), in schema field order."""
    return _checks_of(schema).fields(record)


def check_rules(
    schema: EventSchema, record: Mapping[str, Any], context: RuleContext
) -> list[Violation]:
    """The broken cross-field rules, in the order the schema names them."""
    return _checks_of(schema).rules(record, context)


# -- compiled checks -----------------------------------------------------------------------
# Each schema's specs are turned, once, into closures with their limits, regexes and dates
# bound: a record is then checked with a ``get`` per constrained field, no path parsing and
# no generators. Violation order is the spec order, and within an array-of-records field
# each item spec runs over every item before the next spec (as a walk per spec path would).
# Nested records are dicts (as fastavro decodes them): ``type(x) is dict`` first spares the
# ABC machinery of ``isinstance(x, Mapping)``, eight times slower, on every item.

_Problem = tuple[str, str, str]
"""(path below the checked value, rule, message); a caller prefixes its own path."""
_Check = Callable[[Any], Sequence[_Problem]]
"""Checks a value that is not None; empty (falsy) when it passes."""
_FINE: tuple[_Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class _SchemaChecks:
    fields: Callable[[Mapping[str, Any]], list[Violation]]
    rules: Callable[[Mapping[str, Any], RuleContext], list[Violation]]


_CHECKS: dict[int, tuple[EventSchema, _SchemaChecks]] = {}


def _checks_of(schema: EventSchema) -> _SchemaChecks:
    """The schema's compiled checks, built once per loaded schema object."""
    cached = _CHECKS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    checks = _SchemaChecks(_compile_fields(schema.fields), _compile_rules(schema.rules))
    _CHECKS[id(schema)] = (schema, checks)
    return checks


def _compile_fields(specs: Sequence[FieldSpec]) -> Callable[[Mapping[str, Any]], list[Violation]]:
    compiled = _record_check([(tuple(spec.path.split(".")), spec) for spec in specs], lead="")
    if compiled is None:
        return lambda record: []
    check: _Check = compiled

    def check_fields(record: Mapping[str, Any]) -> list[Violation]:
        problems = check(record)
        if not problems:
            return []
        return [Violation(path, rule, message) for path, rule, message in problems]

    return check_fields


_Entry = tuple[tuple[str, ...], FieldSpec]
"""A spec with its path split into parts, relative to the record being compiled."""


def _record_check(entries: Sequence[_Entry], lead: str) -> _Check | None:
    """The checks of a record's fields; ``lead`` is what separates them from the record's path.

    Consecutive specs under the same field share its look-up; a nested record's specs become
    one sub-check run when the record is present; each array-item spec becomes a pass over
    the items. None when no spec constrains anything.
    """
    steps: list[tuple[str, str, _Check]] = []
    for key, same_field in groupby(entries, key=lambda e: e[0][0].removesuffix("[]")):
        for kind, run in groupby(same_field, key=_kind):
            if kind == "nested":
                inner = _record_check([(parts[1:], spec) for parts, spec in run], lead=".")
                checks = [_in_record(inner) if inner is not None else None]
            elif kind == "items":
                checks = [_each_item(parts[1:], spec) for parts, spec in run]
            else:
                checks = [_value_check(spec) for _, spec in run]
            steps.extend((key, lead + key, check) for check in checks if check is not None)
    if not steps:
        return None
    return _record_steps(tuple(steps))


def _kind(entry: _Entry) -> str:
    head, *rest = entry[0]
    return "items" if head.endswith("[]") else "nested" if rest else "value"


def _record_steps(steps: tuple[tuple[str, str, _Check], ...]) -> _Check:
    """Each (field, path label, check) step on a record: the hot loop of stage 1."""

    def check(record: Any) -> Sequence[_Problem]:
        found: list[_Problem] | None = None
        for key, label, value_check in steps:
            value = record.get(key)
            if value is not None:
                problems = value_check(value)
                if problems:
                    found = found or []
                    found.extend([(label + below, rule, msg) for below, rule, msg in problems])
        return found or _FINE

    return check


def _in_record(check: _Check) -> _Check:
    """``check`` on a nested record; anything else has no fields to check."""

    def nested(value: Any) -> Sequence[_Problem]:
        return check(value) if type(value) is dict or isinstance(value, Mapping) else _FINE

    return nested


def _each_item(rest: tuple[str, ...], spec: FieldSpec) -> _Check | None:
    """One spec over every item of an array: the item itself, or a field path below it."""
    if len(rest) == 1 and not rest[0].endswith("[]"):  # a field of each item: the usual case
        value_check = _value_check(spec)
        return _each_item_field(rest[0], value_check) if value_check is not None else None
    item_check: _Check | None
    if rest:
        inner = _record_check([(rest, spec)], lead=".")
        item_check = _in_record(inner) if inner is not None else None
    else:
        item_check = _value_check(spec)
    return _each_item_value(item_check) if item_check is not None else None


def _each_item_value(item_check: _Check) -> _Check:
    """``item_check`` on every item that is not None."""

    def check(items: Any) -> Sequence[_Problem]:
        found: list[_Problem] | None = None
        for i, item in enumerate(items or ()):
            if item is not None:
                problems = item_check(item)
                if problems:
                    found = found or []
                    found.extend([(f"[{i}]{below}", rule, msg) for below, rule, msg in problems])
        return found or _FINE

    return check


def _each_item_field(key: str, value_check: _Check) -> _Check:
    """``value_check`` on the ``key`` field of every item that is a record."""

    def check(items: Any) -> Sequence[_Problem]:
        found: list[_Problem] | None = None
        for i, item in enumerate(items or ()):
            if type(item) is dict or isinstance(item, Mapping):
                value = item.get(key)
                if value is not None:
                    problems = value_check(value)
                    if problems:
                        found = found or []
                        found.extend(
                            [(f"[{i}].{key}{below}", rule, msg) for below, rule, msg in problems]
                        )
        return found or _FINE

    return check


def _value_check(spec: FieldSpec) -> _Check | None:
    """The spec's own constraints, by the type of the value (as many as apply), or None."""
    checks = [
        check
        for check in (_text_check(spec), _int_check(spec), _date_check(spec), _list_check(spec))
        if check is not None
    ]
    if len(checks) <= 1:
        return checks[0] if checks else None
    each = tuple(checks)

    def check(value: Any) -> Sequence[_Problem]:
        for one in each:  # one per value type, so at most one of them finds anything
            problems = one(value)
            if problems:
                return problems
        return _FINE

    return check


def _text_check(spec: FieldSpec) -> _Check | None:
    low, high = spec.min_length, spec.max_length
    if low is None and high is None and spec.pattern is None:
        return None
    fullmatch = re.compile(spec.pattern).fullmatch if spec.pattern is not None else None
    too_short = ("", "min_length", f"shorter than {low} characters")
    too_long = ("", "max_length", f"longer than {high} characters")
    malformed = ("", "format", f"does not match the {spec.format or 'declared'} format")

    def check(value: Any) -> Sequence[_Problem]:
        if not isinstance(value, str):
            return _FINE
        size = len(value)
        problems: tuple[_Problem, ...] = _FINE
        if high is not None and size > high:
            problems = (too_long,)
        elif fullmatch is not None and fullmatch(value) is None:
            problems = (malformed,)  # a pattern is only checked within the length limit
        if low is not None and size < low:
            problems = (too_short, *problems)
        return problems

    return check


def _int_check(spec: FieldSpec) -> _Check | None:
    low = spec.minimum if isinstance(spec.minimum, int) else None
    high = spec.maximum if isinstance(spec.maximum, int) else None
    if low is None and high is None:
        return None
    below = ("", "min", f"below the minimum {low}")
    above = ("", "max", f"above the maximum {high}")

    def check(value: Any) -> Sequence[_Problem]:
        if not isinstance(value, int) or isinstance(value, bool):
            return _FINE
        problems: tuple[_Problem, ...] = _FINE
        if low is not None and value < low:
            problems = (below,)
        if high is not None and value > high:
            problems = (*problems, above)
        return problems

    return check


def _date_check(spec: FieldSpec) -> _Check | None:
    low = _iso_date(spec, spec.minimum) if isinstance(spec.minimum, str) else None
    high = _iso_date(spec, spec.maximum) if isinstance(spec.maximum, str) else None
    if low is None and high is None:
        return None
    before = ("", "min", f"before {spec.minimum}")
    after = ("", "max", f"after {spec.maximum}")

    def check(value: Any) -> Sequence[_Problem]:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            return _FINE
        problems: tuple[_Problem, ...] = _FINE
        if low is not None and value < low:
            problems = (before,)
        if high is not None and value > high:
            problems = (*problems, after)
        return problems

    return check


def _iso_date(spec: FieldSpec, bound: str) -> dt.date:
    try:
        return dt.date.fromisoformat(bound)
    except ValueError as exc:
        raise SchemaDefinitionError(
            f"field {spec.path} has a bound {bound!r} that is not an ISO date"
        ) from exc


def _list_check(spec: FieldSpec) -> _Check | None:
    low, high, item_high = spec.min_items, spec.max_items, spec.item_max_length
    if low is None and high is None and item_high is None:
        return None
    too_few = ("", "min_items", f"fewer than {low} items")
    too_many = ("", "max_items", f"more than {high} items")
    item_too_long = f"longer than {item_high} characters"

    def check(value: Any) -> Sequence[_Problem]:
        if not isinstance(value, list):
            return _FINE
        problems: list[_Problem] = []
        if low is not None and len(value) < low:
            problems.append(too_few)
        if high is not None and len(value) > high:
            problems.append(too_many)
        if item_high is not None:
            for i, item in enumerate(value):
                if isinstance(item, str) and len(item) > item_high:
                    problems.append((f"[{i}]", "max_length", item_too_long))
        return problems

    return check


def _compile_rules(
    refs: Sequence[RuleRef],
) -> Callable[[Mapping[str, Any], RuleContext], list[Violation]]:
    steps = tuple(
        (ref, RULES.get(ref.name), _locator(ref.path.split(".")) if ref.path else None)
        for ref in refs
    )
    if all(rule is not None and locate is None for _, rule, locate in steps):
        # the usual case, every rule implemented and applied to the event itself
        event_rules = tuple((ref.name, rule) for ref, rule, _ in steps if rule is not None)

        def check_event_rules(record: Mapping[str, Any], context: RuleContext) -> list[Violation]:
            found: list[Violation] = []
            for name, rule in event_rules:
                pairs = rule(record, context)
                if pairs:  # an empty sequence: the rule holds (a generator is always truthy)
                    for field_name, message in pairs:
                        found.append(Violation(field_name or "$", name, message))
            return found

        return check_event_rules

    def check_rules(record: Mapping[str, Any], context: RuleContext) -> list[Violation]:
        found: list[Violation] = []
        for ref, rule, locate in steps:
            if rule is None:
                found.append(Violation(ref.path or "$", ref.name, _UNIMPLEMENTED))
            elif locate is None:
                for field_name, message in rule(record, context):
                    found.append(Violation(field_name or "$", ref.name, message))
            else:
                for path, sub in locate(record):
                    if sub is not None:
                        for field_name, message in rule(sub, context):
                            where = f"{path}.{field_name}" if field_name else path
                            found.append(Violation(where, ref.name, message))
        return found

    return check_rules


_UNIMPLEMENTED = "rule named in the schema is not implemented"

_Locator = Callable[[Any], list[tuple[str, Any]]]


def _locator(parts: Sequence[str]) -> _Locator:
    """(path, value) for every value at ``parts`` below a node, ``[]`` expanded over items."""
    head, rest = parts[0], parts[1:]
    key = head.removesuffix("[]")
    is_list = key != head
    inner = _locator(rest) if rest else None

    def locate(node: Any) -> list[tuple[str, Any]]:
        value = node.get(key) if type(node) is dict or isinstance(node, Mapping) else None
        if is_list:
            here = [(f"{key}[{i}]", item) for i, item in enumerate(value or ())]
        elif inner is None or value is not None:
            here = [(key, value)]
        else:
            return []
        if inner is None:
            return here
        return [(f"{path}.{below}", sub) for path, item in here for below, sub in inner(item)]

    return locate


# -- cross-field rules --------------------------------------------------------------------
# Each takes the record it is declared on and returns the (field, message) pairs it finds:
# an empty tuple when the rule holds, which is the usual case, so no generator is made.

Found = Sequence[tuple[str, str]]
RuleFn = Callable[[Mapping[str, Any], RuleContext], Iterable[tuple[str, str]]]
"""A rule; any iterable of pairs will do, but an empty sequence is what keeps valid events cheap."""
RULES: dict[str, RuleFn] = {}
_HOLDS: Found = ()


def _rule(fn: Callable[[Mapping[str, Any], RuleContext], Found]) -> RuleFn:
    RULES[fn.__name__.lstrip("_")] = fn
    return fn


@_rule
def _event_time_window(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    event_time = r.get("event_time")
    if type(event_time) is int:  # epoch milliseconds
        future, old = event_time * 1000 > ctx.latest_us, event_time * 1000 < ctx.earliest_us
    elif isinstance(event_time, dt.datetime):
        future, old = event_time > ctx.latest, event_time < ctx.earliest
    else:
        return _HOLDS
    if future:
        return [("event_time", f"more than {ctx.clock_skew} in the future")]
    if old:
        return [("event_time", f"older than the {ctx.horizon.days}-day aggregation horizon")]
    return _HOLDS


@_rule
def _sent_not_before_event(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    sent, event = r.get("sent_time"), r.get("event_time")
    if type(sent) is int and type(event) is int:  # epoch milliseconds
        early = (sent - event) * 1000 < -ctx.clock_skew_us
    else:
        early = (
            isinstance(sent, dt.datetime)
            and isinstance(event, dt.datetime)
            and sent < event - ctx.clock_skew
        )
    if early:
        return [("sent_time", "earlier than event_time beyond the clock-skew tolerance")]
    return _HOLDS


@_rule
def _buyer_or_anonymous(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    if not r.get("buyer_id") and not r.get("anonymous_id"):
        return [("buyer_id", "neither buyer_id nor anonymous_id is set")]
    return _HOLDS


@_rule
def _buyer_id_required(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    if not r.get("buyer_id"):
        return [("buyer_id", "required for this event type")]
    return _HOLDS


@_rule
def _session_id_required(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    if not r.get("session_id"):
        return [("session_id", "required for this event type")]
    return _HOLDS


@_rule
def _product_page_has_product(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    if r.get("page_type") == "product" and not r.get("product_id"):
        return [("product_id", "required when page_type is product")]
    return _HOLDS


@_rule
def _birth_date_plausible(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    birth, event_time = r.get("birth_date"), r.get("event_time")
    if type(event_time) is int and isinstance(birth, dt.date):  # epoch milliseconds
        event_time = datetime_from_millis(event_time)
    if isinstance(birth, dt.date) and isinstance(event_time, dt.datetime):
        on = event_time.date()
        if birth > on:
            return [("birth_date", "after event_time")]
        # the 120th birthday as a calendar date; tuples sidestep 29 February
        if (birth.year + 120, birth.month, birth.day) < (on.year, on.month, on.day):
            return [("birth_date", "more than 120 years before event_time")]
    return _HOLDS


@_rule
def _line_discount_within_line(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    return [
        (f"items[{i}].discount", "greater than quantity × unit_price")
        for i, item in enumerate(r.get("items") or [])
        if item["discount"] > item["quantity"] * item["unit_price"]
    ]


@_rule
def _total_matches_items(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    expected = sum(i["quantity"] * i["unit_price"] - i["discount"] for i in r.get("items") or [])
    if r.get("total") != expected:
        return [("total", "does not equal the sum of quantity × unit_price − discount over items")]
    return _HOLDS


@_rule
def _currency_known(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    if r.get("currency") not in MINOR_UNIT_DIGITS:
        return [("currency", "not an ISO 4217 code the pipeline knows")]
    return _HOLDS


@_rule
def _attributes_match_product_type(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    kind = r.get("product_type")
    found = []
    if r.get("tangible") is not None and kind != "tangible":
        found.append(("tangible", f"set but product_type is {kind}"))
    if r.get("intangible") is not None and kind != "intangible":
        found.append(("intangible", f"set but product_type is {kind}"))
    return found


@_rule
def _start_not_after_end(r: Mapping[str, Any], ctx: RuleContext) -> Found:
    start, end = r.get("start_date"), r.get("end_date")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and start > end:
        return [("end_date", "before start_date")]
    return _HOLDS


__all__ = [
    "RULES",
    "RuleClock",
    "RuleContext",
    "Violation",
    "check_fields",
    "check_rules",
    "validate_record",
]
