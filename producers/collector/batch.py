"""A request's batch: JSON to a list of items, each item to an SDK event or its errors.

An item is an SDK event's fields plus ``"type"`` (``signup``, ``visit``, ``review``,
``purchase``, ``product``). ``event_id``, ``event_time`` and ``sent_time`` may be left
out (the model fills them in); ``shop_id`` may come from the ``X-Shop-Id`` header.

Errors name field paths (``items[0].quantity``) and rule names (pydantic's error types,
or the contract's rule names), never the values sent: browsers post personal data, and
these errors go back over the wire and into logs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from pydantic import ValidationError

from shopstream.producers.collector.errors import MalformedBatchError, TooManyEventsError
from shopstream.producers.rejections import FieldError, field_errors, field_path
from shopstream.schemas.models import EVENT_CLASSES, Event


class Rejection(TypedDict):
    index: int
    errors: list[FieldError]


@dataclass(slots=True)
class Batch:
    """The valid events of a batch in their order, and the rejected items by index."""

    events: list[Event] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_batch(body: bytes, *, max_events: int) -> list[Any]:
    """The items of ``{"events": [...]}`` or of a bare JSON list; 400 or 413 otherwise."""
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        raise MalformedBatchError("body is not JSON") from None
    if isinstance(document, dict) and document.keys() == {"events"}:
        items = document["events"]
    else:
        items = document
    if not isinstance(items, list):
        raise MalformedBatchError('expected {"events": [...]} or a JSON list of events')
    if len(items) > max_events:
        raise TooManyEventsError(f"{len(items)} events in one batch, at most {max_events}")
    return items


def build_events(items: Sequence[Any], *, shop_id: str | None = None) -> Batch:
    """Validate every item; the valid and the invalid ones go their separate ways."""
    batch = Batch()
    for index, item in enumerate(items):
        result = build_event(item, shop_id=shop_id)
        if isinstance(result, Event):
            batch.events.append(result)
        else:
            batch.rejected.append(Rejection(index=index, errors=result))
    return batch


def build_event(item: Any, *, shop_id: str | None = None) -> Event | list[FieldError]:
    """The SDK model of one item, or what is wrong with it (without the values)."""
    if not isinstance(item, dict):
        return [FieldError(field="$", rule="object_type")]
    fields = dict(item)
    kind = fields.pop("type", None)
    if kind is None:
        return [FieldError(field="type", rule="missing")]
    cls = EVENT_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return [FieldError(field="type", rule="unknown_event_type")]
    if shop_id is not None and fields.get("shop_id") is None:
        fields["shop_id"] = shop_id
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        return field_errors(exc)


__all__ = [
    "Batch",
    "FieldError",
    "Rejection",
    "build_event",
    "build_events",
    "field_errors",
    "field_path",
    "parse_batch",
]
