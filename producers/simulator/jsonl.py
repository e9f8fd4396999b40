"""The simulator's record of what it sent: one JSON object per line, in the order sent.

Tests, and an oracle that computes the expected per-buyer aggregates on its own, read
this file instead of the topic. Every line is an object with these keys:

``type``
    Event type (``signup``, ``visit``, ``review``, ``purchase``, ``product``), or null
    for a bad event of random bytes.
``event_id``
    The event's UUID as a string; null for random bytes.
``bad``
    null for a valid event, else the label of the bad event: ``random_bytes``,
    ``truncated``, ``unknown_fingerprint``, ``out_of_range``, ``inconsistent_total``,
    ``far_future``, ``ancient`` or ``huge_string``. Stage 1 must dead-letter every line
    whose ``bad`` is not null and pass every other one.
``key``
    The Kafka message key, as text (``<shop_id>|<buyer_id, anonymous_id or product_id>``).
``event_time_ms``
    ``record.event_time`` in milliseconds since the Unix epoch, UTC; null without a record.
``record``
    The full record, field for field as in the Avro schema (``schema_version``
    included): timestamps as ISO 8601 strings in UTC with milliseconds
    (``2025-03-14T09:26:53.589+00:00``), dates as ``YYYY-MM-DD``, UUIDs as strings,
    enums as their symbols, money as integers of KRW. For a valid event, what
    ``event.to_avro()`` returns; for a bad one, the record its bytes were made from
    (already out of range or inconsistent where that is the fault); null for random bytes.
    The SDK stamps ``sent_time`` when it sends, so the topic's ``sent_time`` may differ
    from the one here; every other field is what was sent.
``raw``
    For bad events, the exact message value produced, base64 (standard alphabet);
    null for valid events (their bytes are the SDK's encoding of ``record``).

Lines are UTF-8 with Hangul as is (not ``\\u`` escaped).

What the stream means, for whoever recomputes the aggregates:

- Each shop's catalogue comes first (``product`` events); a later ``product`` event with
  the same ``product_id`` is a price change. Every product a visit, order or review
  names is in its shop's catalogue.
- A member browses with ``anonymous_id`` only until the ``signup`` event; from that event
  on, their events carry ``buyer_id`` and the same ``anonymous_id``. A member who came
  only briefly may never sign up; visitors who never sign up have ``anonymous_id`` only.
- A ``purchase`` with status ``cancelled`` or ``refunded`` repeats the ``order_id``,
  ``items`` and ``total`` of an earlier ``ordered`` purchase of the same buyer in the
  same shop; an order is undone at most once. Reviews name an order of their author.
- One person's events are in non-decreasing ``event_time`` order, in file order too;
  across people the file is only roughly time-ordered (a session is written whole).
- Bad lines change no state: whatever their record says, it is not an event that happened.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

from shopstream.producers.simulator.base import SimulatedEvent

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_jsonl_line(simulated: SimulatedEvent) -> str:
    """One line of the file for ``simulated``, without the trailing newline."""
    record: Mapping[str, Any] | None
    record = simulated.event.to_avro() if simulated.event is not None else simulated.record
    event_time = record.get("event_time") if record is not None else None
    line = {
        "type": simulated.name,
        "event_id": str(simulated.event_id) if simulated.event_id is not None else None,
        "bad": simulated.bad,
        "key": simulated.key.decode("utf-8", "replace"),
        "event_time_ms": _millis(event_time) if isinstance(event_time, dt.datetime) else None,
        "record": record,
        "raw": base64.b64encode(simulated.raw).decode("ascii")
        if simulated.raw is not None
        else None,
    }
    return json.dumps(line, ensure_ascii=False, default=_plain, separators=(",", ":"))


def _millis(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


__all__ = ["to_jsonl_line"]
