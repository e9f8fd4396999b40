"""The generic validator, schemas/validation.py as of 9e052ef, kept as the tests' oracle.

It walks every spec path of every record, splitting the path and expanding ``[]`` over
list items as it goes: slow, but short enough to read at a glance, which is what makes it
a good reference. The cross-field rules are here too, as the generators they were then.
test_validation_compiled.py asserts that schemas/validation.py agrees with all of it,
violation for violation and in the same order, so the validator can be made fast without
changing what it says.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from functools import cache
from typing import Any

from shopstream.schemas.contract import EventSchema, FieldSpec
from shopstream.schemas.currencies import MINOR_UNIT_DIGITS
from shopstream.schemas.validation import RuleContext, Violation


def reference_validate_record(
    schema: EventSchema, record: Mapping[str, Any], context: RuleContext
) -> list[Violation]:
    violations = list(reference_check_fields(schema, record))
    if not violations:  # rules assume well-formed fields
        violations.extend(reference_check_rules(schema, record, context))
    return violations


def reference_check_fields(schema: EventSchema, record: Mapping[str, Any]) -> Iterator[Violation]:
    for spec in schema.fields:
        for path, value in values_at(record, spec.path):
            if value is None:
                continue
            yield from _check_value(spec, path, value)


def reference_check_rules(
    schema: EventSchema, record: Mapping[str, Any], context: RuleContext
) -> Iterator[Violation]:
    for ref in schema.rules:
        rule = REFERENCE_RULES.get(ref.name)
        if rule is None:
            yield Violation(
                ref.path or "$", ref.name, "rule named in the schema is not implemented"
            )
            continue
        if not ref.path:
            for field_name, message in rule(record, context):
                yield Violation(field_name or "$", ref.name, message)
            continue
        for path, sub in values_at(record, ref.path):
            if sub is None:
                continue
            for field_name, message in rule(sub, context):
                where = ".".join(p for p in (path, field_name) if p) or "$"
                yield Violation(where, ref.name, message)


def values_at(record: Mapping[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    """Yield (concrete path, value) for a spec path, expanding ``[]`` over list items."""
    yield from _walk(record, path.split("."), "")


def _walk(node: Any, parts: list[str], prefix: str) -> Iterator[tuple[str, Any]]:
    head, rest = parts[0], parts[1:]
    is_list = head.endswith("[]")
    key = head[:-2] if is_list else head
    value = node.get(key) if isinstance(node, Mapping) else None
    here = f"{prefix}.{key}" if prefix else key
    if is_list:
        for i, item in enumerate(value or []):
            yield from _walk(item, rest, f"{here}[{i}]") if rest else [(f"{here}[{i}]", item)]
    elif rest:
        if value is not None:
            yield from _walk(value, rest, here)
    else:
        yield here, value


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_value(spec: FieldSpec, path: str, value: Any) -> Iterator[Violation]:
    if isinstance(value, str):
        if spec.min_length is not None and len(value) < spec.min_length:
            yield Violation(path, "min_length", f"shorter than {spec.min_length} characters")
        if spec.max_length is not None and len(value) > spec.max_length:
            yield Violation(path, "max_length", f"longer than {spec.max_length} characters")
        elif spec.pattern is not None and not _compiled(spec.pattern).fullmatch(value):
            yield Violation(
                path, "format", f"does not match the {spec.format or 'declared'} format"
            )
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if isinstance(spec.minimum, int) and value < spec.minimum:
            yield Violation(path, "min", f"below the minimum {spec.minimum}")
        if isinstance(spec.maximum, int) and value > spec.maximum:
            yield Violation(path, "max", f"above the maximum {spec.maximum}")
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        if isinstance(spec.minimum, str) and value < dt.date.fromisoformat(spec.minimum):
            yield Violation(path, "min", f"before {spec.minimum}")
        if isinstance(spec.maximum, str) and value > dt.date.fromisoformat(spec.maximum):
            yield Violation(path, "max", f"after {spec.maximum}")
    elif isinstance(value, list):
        if spec.min_items is not None and len(value) < spec.min_items:
            yield Violation(path, "min_items", f"fewer than {spec.min_items} items")
        if spec.max_items is not None and len(value) > spec.max_items:
            yield Violation(path, "max_items", f"more than {spec.max_items} items")
        if spec.item_max_length is not None:
            for i, item in enumerate(value):
                if isinstance(item, str) and len(item) > spec.item_max_length:
                    yield Violation(
                        f"{path}[{i}]",
                        "max_length",
                        f"longer than {spec.item_max_length} characters",
                    )


# -- the cross-field rules, as generators --------------------------------------------------
# Each takes the record it is declared on and yields (field, message) pairs.

RuleFn = Callable[[Mapping[str, Any], RuleContext], Iterator[tuple[str, str]]]
REFERENCE_RULES: dict[str, RuleFn] = {}


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _is_millis(value: Any) -> bool:
    """A time as epoch milliseconds (how a plain_ids_and_times codec decodes it)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(at: dt.datetime) -> Fraction:
    """Exact seconds since the epoch."""
    return Fraction((at - _EPOCH) // dt.timedelta(microseconds=1), 10**6)


def _rule(fn: RuleFn) -> RuleFn:
    REFERENCE_RULES[fn.__name__.lstrip("_")] = fn
    return fn


@_rule
def _event_time_window(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    event_time = r.get("event_time")
    if _is_millis(event_time):  # epoch milliseconds: compared as exact seconds
        if Fraction(event_time, 1000) > _seconds(ctx.now + ctx.clock_skew):
            yield "event_time", f"more than {ctx.clock_skew} in the future"
        elif Fraction(event_time, 1000) < _seconds(ctx.now - ctx.horizon):
            yield "event_time", f"older than the {ctx.horizon.days}-day aggregation horizon"
    elif isinstance(event_time, dt.datetime):
        if event_time > ctx.now + ctx.clock_skew:
            yield "event_time", f"more than {ctx.clock_skew} in the future"
        elif event_time < ctx.now - ctx.horizon:
            yield "event_time", f"older than the {ctx.horizon.days}-day aggregation horizon"


@_rule
def _sent_not_before_event(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    sent, event = r.get("sent_time"), r.get("event_time")
    if _is_millis(sent) and _is_millis(event):
        skew = Fraction(ctx.clock_skew // dt.timedelta(microseconds=1), 10**6)
        if Fraction(sent - event, 1000) < -skew:
            yield "sent_time", "earlier than event_time beyond the clock-skew tolerance"
    elif (
        isinstance(sent, dt.datetime)
        and isinstance(event, dt.datetime)
        and sent < event - ctx.clock_skew
    ):
        yield "sent_time", "earlier than event_time beyond the clock-skew tolerance"


@_rule
def _buyer_or_anonymous(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    if not r.get("buyer_id") and not r.get("anonymous_id"):
        yield "buyer_id", "neither buyer_id nor anonymous_id is set"


@_rule
def _buyer_id_required(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    if not r.get("buyer_id"):
        yield "buyer_id", "required for this event type"


@_rule
def _session_id_required(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    if not r.get("session_id"):
        yield "session_id", "required for this event type"


@_rule
def _product_page_has_product(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    if r.get("page_type") == "product" and not r.get("product_id"):
        yield "product_id", "required when page_type is product"


@_rule
def _birth_date_plausible(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    birth, event_time = r.get("birth_date"), r.get("event_time")
    if isinstance(birth, dt.date) and _is_millis(event_time):
        event_time = _EPOCH + dt.timedelta(milliseconds=event_time)
    if isinstance(birth, dt.date) and isinstance(event_time, dt.datetime):
        on = event_time.date()
        if birth > on:
            yield "birth_date", "after event_time"
        # the 120th birthday as a calendar date; tuples sidestep 29 February
        elif (birth.year + 120, birth.month, birth.day) < (on.year, on.month, on.day):
            yield "birth_date", "more than 120 years before event_time"


@_rule
def _line_discount_within_line(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    for i, item in enumerate(r.get("items") or []):
        if item["discount"] > item["quantity"] * item["unit_price"]:
            yield f"items[{i}].discount", "greater than quantity × unit_price"


@_rule
def _total_matches_items(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    expected = sum(i["quantity"] * i["unit_price"] - i["discount"] for i in r.get("items") or [])
    if r.get("total") != expected:
        yield "total", "does not equal the sum of quantity × unit_price − discount over items"


@_rule
def _currency_known(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    if r.get("currency") not in MINOR_UNIT_DIGITS:
        yield "currency", "not an ISO 4217 code the pipeline knows"


@_rule
def _attributes_match_product_type(
    r: Mapping[str, Any], ctx: RuleContext
) -> Iterator[tuple[str, str]]:
    kind = r.get("product_type")
    if r.get("tangible") is not None and kind != "tangible":
        yield "tangible", f"set but product_type is {kind}"
    if r.get("intangible") is not None and kind != "intangible":
        yield "intangible", f"set but product_type is {kind}"


@_rule
def _start_not_after_end(r: Mapping[str, Any], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    start, end = r.get("start_date"), r.get("end_date")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and start > end:
        yield "end_date", "before start_date"
