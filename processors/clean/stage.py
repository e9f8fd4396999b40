"""Stage 1 for one message: decode, validate, pseudonymise; or say exactly why not.

:meth:`CleanStage.process` takes the raw message's bytes and where it came from and
returns either a :class:`Cleaned` (key and value for the clean topic) or a
:class:`Rejected` (a sealed dead letter for the dead-letter topic). It never raises on
input: whatever goes wrong with a message, including a bug of ours, becomes a dead
letter with a reason, so the stage keeps running and nothing is lost. The Kafka
adapter (:mod:`shopstream.processors.engine`) only moves the bytes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopstream.processors.clean.transform import CleanTransform
from shopstream.processors.deadletter import (
    DeadLetterKey,
    Reason,
    build_dead_letter,
    encode_dead_letter,
    reason_from_decode_error,
    reasons_from_violations,
)
from shopstream.schemas.codec import Codec
from shopstream.schemas.contract import Contract
from shopstream.schemas.errors import DecodeError
from shopstream.schemas.pseudonymised import load_clean_contract
from shopstream.schemas.validation import RuleClock, RuleContext, validate_record

PROCESSOR = "clean"
PROCESSOR_VERSION = "1"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a raw message came from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None
    key: bytes | None = None


@dataclass(frozen=True, slots=True)
class Cleaned:
    """A valid event, pseudonymised and encoded for the clean topic."""

    event_type: str
    key: bytes
    value: bytes
    event_time_ms: int
    redactions: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid message, sealed into a dead letter for the dead-letter topic."""

    event_type: str | None
    reasons: tuple[Reason, ...]
    value: bytes
    """The encoded dead letter."""


Outcome = Cleaned | Rejected


@dataclass(frozen=True, slots=True)
class TimeRules:
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    horizon: dt.timedelta = dt.timedelta(days=400)


class CleanStage:
    """Decode, validate and pseudonymise raw messages; dead-letter the rest."""

    def __init__(
        self,
        transform: CleanTransform,
        dead_letter_key: DeadLetterKey,
        *,
        contract: Contract | None = None,
        time_rules: TimeRules = TimeRules(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._transform = transform
        self._dead_letter_key = dead_letter_key
        # Ids and times stay as they are on the wire (text, epoch milliseconds): the stage
        # passes them through, and fastavro's conversions to UUID and datetime and back
        # were a fifth of its work (docs/benchmarks.md, pipeline).
        self._codec = Codec(contract, plain_ids_and_times=True)
        self._clean_codec = Codec(load_clean_contract(), plain_ids_and_times=True)
        self._rule_clock = RuleClock(
            clock=clock, clock_skew=time_rules.clock_skew, horizon=time_rules.horizon
        )

    def process(self, value: bytes | None, source: Source) -> Outcome:
        now, context = self._rule_clock.now()
        try:
            return self._process(value or b"", source, now, context)
        except Exception as exc:  # a bug of ours must not stop the stage or lose the message
            log.exception(
                "internal error on %s[%d]@%d; dead-lettered",
                source.topic,
                source.partition,
                source.offset,
            )
            reason = Reason(path="$", rule="internal_error", message=type(exc).__name__)
            return self._reject(value or b"", source, now, (reason,))

    def _process(
        self, value: bytes, source: Source, now: dt.datetime, context: RuleContext
    ) -> Outcome:
        try:
            decoded = self._codec.decode(value)
        except DecodeError as exc:
            return self._reject(
                value,
                source,
                now,
                (reason_from_decode_error(exc),),
                fingerprint=getattr(exc, "fingerprint", None),
            )
        record = decoded.record
        event_type = decoded.name
        schema = self._codec.schema(event_type)
        violations = validate_record(schema, record, context)
        if violations:
            return self._reject(
                value,
                source,
                now,
                tuple(reasons_from_violations(violations)),
                event_type=event_type,
                record=record,
                fingerprint=decoded.fingerprint,
            )
        clean = self._transform.apply(event_type, record, processed_time=context.now_ms)
        out = clean.record
        subject = (
            out.get("buyer_pseudonym")
            or out.get("anonymous_pseudonym")
            or f"product:{out.get('product_id')}"
        )
        key = f"{out['shop_id']}|{subject}".encode()
        return Cleaned(
            event_type=event_type,
            key=key,
            value=self._clean_codec.encode(event_type, out),
            event_time_ms=record["event_time"],
            redactions=clean.redactions,
        )

    def _reject(
        self,
        value: bytes,
        source: Source,
        now: dt.datetime,
        reasons: tuple[Reason, ...],
        *,
        event_type: str | None = None,
        record: dict[str, Any] | None = None,
        fingerprint: bytes | None = None,
    ) -> Rejected:
        event_id = record.get("event_id") if record else None
        shop_id = record.get("shop_id") if record else None
        letter = build_dead_letter(
            processor=PROCESSOR,
            processor_version=PROCESSOR_VERSION,
            key=self._dead_letter_key,
            source_topic=source.topic,
            source_partition=source.partition,
            source_offset=source.offset,
            source_timestamp=source.timestamp_ms,
            raw_key=source.key,
            raw_value=value,
            reasons=reasons,
            event_type=event_type,
            event_id=_uuid_text(event_id),
            shop_id=shop_id if isinstance(shop_id, str) and len(shop_id) <= 64 else None,
            fingerprint=fingerprint,
            now_ms=int(now.timestamp() * 1000),
        )
        return Rejected(event_type, reasons, encode_dead_letter(letter))


def _uuid_text(value: Any) -> str | None:
    """The event id only if it is a well-formed UUID: an invalid one may be anything."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None
