"""The helpers' validation on the caller's thread, without building a model.

``VisitEvent(**fields)`` checks the fields, builds the model, dumps it back to a dict
for the contract's cross-field rules and reads the clock three times: about 14 µs for
a page view, most of a ``tracker.visit(...)`` call. A :class:`FieldsValidator` checks
the same keyword arguments against the same pydantic constraints, compiled once per
event type into a validator of plain dicts (a ``TypedDict`` schema made from the
model's own fields, nested models included), fills in the defaults, reads the clock
once and runs the same rules (:func:`~shopstream.schemas.validation.check_rules`) on
the result, which is the Avro record itself: about 4 µs.

It is a fast path only. Whatever it refuses, the tracker hands to the model, which
accepts it or reports it exactly as it always has; whatever it accepts, the model
accepts too, as the same record (``tests/unit/test_tracker_validators.py``). A model
with validators or serializers beyond the contract's rules gets no fast path at all.
"""

from __future__ import annotations

import copy
import datetime as dt
import types
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, Required

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined
from typing_extensions import TypedDict

from shopstream.schemas.contract import Contract
from shopstream.schemas.models import Event, new_event_id
from shopstream.schemas.validation import RuleClock, check_rules

# What the models' config may say for a dict validator to mean the same.
_SAME_CONFIG = {"extra": "forbid", "frozen": True, "hide_input_in_errors": True}
_DICT_CONFIG = ConfigDict(extra="forbid", hide_input_in_errors=True)
# Stamped here from one clock read (event_time) or on the sender thread (sent_time).
_CLOCK_FIELDS = ("event_time", "sent_time")


@dataclass(frozen=True, slots=True)
class _Defaults:
    """What ``model_dump`` has that the validated dict lacks: defaults, also nested."""

    values: tuple[tuple[str, Any], ...]
    factories: tuple[tuple[str, Callable[[], Any]], ...]
    nested: tuple[tuple[str, _Defaults, bool], ...]  # field, its model's defaults, a list of them

    def fill(self, record: dict[str, Any]) -> None:
        for name, value in self.values:
            if name not in record:
                record[name] = copy.copy(value) if isinstance(value, (list, dict)) else value
        for name, factory in self.factories:
            if name not in record:
                record[name] = factory()
        for name, defaults, many in self.nested:
            sub = record.get(name)
            if sub is None:
                continue
            for item in sub if many else (sub,):
                defaults.fill(item)


class _UnsupportedModelError(Exception):
    """The model does something a dict validator would not: no fast path for it."""


class FieldsValidator:
    """One event type's helper validation into its Avro record; ``None`` means "ask the model"."""

    def __init__(self, cls: type[Event]) -> None:
        self.event_type = cls.event_type
        shape, self._defaults = _compile(cls, top=True)
        self._validate = TypeAdapter(shape).validator.validate_python
        self._schema = Contract.load().latest(cls.event_type)

    @classmethod
    def of(cls, model: type[Event]) -> FieldsValidator | None:
        try:
            return cls(model)
        except _UnsupportedModelError:
            return None

    def record(self, fields: dict[str, Any]) -> dict[str, Any] | None:
        """The Avro record of a valid event (``sent_time`` left to the sender unless given),
        or None when the fields or the rules refuse it: the model then decides and reports."""
        try:
            record: dict[str, Any] = self._validate(fields)
        except ValidationError:
            return None
        self._defaults.fill(record)
        now, context = _CLOCK.now()
        if "event_time" not in record:
            record["event_time"] = now
        if "event_id" not in record:
            record["event_id"] = new_event_id()
        record["schema_version"] = self._schema.version
        for _ in check_rules(self._schema, record, context):
            return None
        return record


_CLOCK = RuleClock()
"""One for the process: the caller's thread and the sender's read it."""


def now_millis() -> dt.datetime:
    """Now, truncated to the millisecond (what ``sent_time`` holds)."""
    return _CLOCK.now()[0]


def validators(classes: typing.Iterable[type[Event]]) -> dict[type[Event], FieldsValidator]:
    """A validator per event class that can have one."""
    found = {cls: FieldsValidator.of(cls) for cls in classes}
    return {cls: v for cls, v in found.items() if v is not None}


def _compile(model: type[BaseModel], *, top: bool = False) -> tuple[Any, _Defaults]:
    """A TypedDict equivalent to ``model``'s fields, and the defaults it leaves out."""
    _require_plain(model, top=top)
    annotations: dict[str, Any] = {}
    values: list[tuple[str, Any]] = []
    factories: list[tuple[str, Callable[[], Any]]] = []
    nested: list[tuple[str, _Defaults, bool]] = []
    for name, field in model.model_fields.items():
        annotation, inner, many = _substitute(field.annotation)
        if inner is not None:
            nested.append((name, inner, many))
        if field.metadata:
            annotation = Annotated[(annotation, *field.metadata)]
        required = field.is_required()
        annotations[name] = Required[annotation] if required else NotRequired[annotation]
        if required:
            continue
        if field.default_factory is not None:
            if top and name in _CLOCK_FIELDS:
                continue
            if top and name == "event_id" and field.default_factory is new_event_id:
                continue
            if field.default_factory_takes_validated_data:
                raise _UnsupportedModelError(
                    f"{model.__name__}.{name}: a factory of the other fields"
                )
            factories.append((name, typing.cast(Callable[[], Any], field.default_factory)))
        elif field.default is not PydanticUndefined:
            values.append((name, field.default))
    shape = TypedDict(f"{model.__name__}Fields", annotations, total=False)  # type: ignore[misc]
    shape.__pydantic_config__ = _DICT_CONFIG  # type: ignore[attr-defined]
    return shape, _Defaults(tuple(values), tuple(factories), tuple(nested))


def _substitute(annotation: Any) -> tuple[Any, _Defaults | None, bool]:
    """``annotation`` with nested models replaced by their TypedDicts (``X``, ``X | None``,
    ``list[X]``), the nested model's defaults, and whether it is a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        shape, own = _compile(annotation)
        return shape, own, False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            inner, defaults, many = _substitute(rest[0])
            if defaults is not None:
                return inner | None, defaults, many
    if origin is list and len(args) == 1:
        inner, defaults, many = _substitute(args[0])
        if defaults is not None and not many:
            return list[inner], defaults, True  # type: ignore[valid-type]
    if _mentions_model(annotation):
        raise _UnsupportedModelError(f"a nested model in {annotation!r}")
    return annotation, None, False


def _mentions_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_mentions_model(a) for a in typing.get_args(annotation))


def _require_plain(model: type[BaseModel], *, top: bool) -> None:
    decorators = model.__pydantic_decorators__
    validators = set(decorators.model_validators)
    if validators != ({"_check_rules"} if top else set()):
        raise _UnsupportedModelError(f"{model.__name__}: model validators {sorted(validators)}")
    if (
        decorators.field_validators
        or decorators.validators
        or decorators.root_validators
        or decorators.field_serializers
        or decorators.model_serializers
        or decorators.computed_fields
    ):
        raise _UnsupportedModelError(f"{model.__name__}: validators or serializers of its own")
    if dict(model.model_config) != _SAME_CONFIG:
        raise _UnsupportedModelError(f"{model.__name__}: config {dict(model.model_config)}")
    if top and "event_id" in model.model_fields:
        field = model.model_fields["event_id"]
        if field.annotation is not uuid.UUID or field.default_factory is not new_event_id:
            raise _UnsupportedModelError(f"{model.__name__}.event_id is not a generated UUID")


__all__ = ["FieldsValidator", "now_millis", "validators"]
