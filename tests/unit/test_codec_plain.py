"""A ``plain_ids_and_times`` codec agrees with the default one, only without the conversions.

It must accept and refuse the same bytes, give the same values with uuids as canonical
text and times as epoch milliseconds, and write the same bytes from those values: on
random records of every raw and clean schema, on damaged and random bytes, at the edges
of a datetime's range, and on every spelling of a uuid that ``uuid.UUID`` reads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopstream.schemas import Codec, Contract, DecodeError
from shopstream.schemas.codec import MAGIC, _PlainSchema
from shopstream.schemas.errors import MalformedError, SchemaDefinitionError, TruncatedError
from shopstream.schemas.pseudonymised import load_clean_contract

from .records import GOLDEN_RECORDS
from .schema_strategies import avro_records
from .test_codec import EVENT_NAMES, PROPERTY, _mutated

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FIRST_MS = (dt.datetime(1, 1, 1, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(milliseconds=1)
LAST_MS = (dt.datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(
    milliseconds=1
)

CONTRACTS = {"raw": Contract.load(), "clean": load_clean_contract()}
LOGICAL = {kind: Codec(contract) for kind, contract in CONTRACTS.items()}
PLAIN = {kind: Codec(contract, plain_ids_and_times=True) for kind, contract in CONTRACTS.items()}


def plain_form(value: Any) -> Any:
    """What a plain codec gives for a default codec's value: uuid text, epoch milliseconds."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return (value - EPOCH) // dt.timedelta(milliseconds=1)
    if isinstance(value, Mapping):
        return {k: plain_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_form(v) for v in value]
    return value


def outcome(codec: Codec, raw: bytes) -> Any:
    """The decoded record in plain form, or the class of the decode error."""
    try:
        decoded = codec.decode(raw)
    except DecodeError as exc:
        return type(exc)
    return decoded.name, decoded.fingerprint, plain_form(decoded.record)


def assert_same_outcome(kind: str, raw: bytes) -> None:
    logical, plain = outcome(LOGICAL[kind], raw), outcome(PLAIN[kind], raw)
    if isinstance(logical, type) and isinstance(plain, type):
        # Both refuse. The class may differ only for bytes broken twice over: a bad uuid that
        # the default codec trips on before it reaches where the bytes run out.
        assert plain is logical or {plain, logical} == {TruncatedError, MalformedError}
    else:
        assert plain == logical


def test_a_time_below_the_top_level_is_refused_when_the_codec_is_built() -> None:
    # The codec checks top-level fields only, so it must not accept a schema it cannot check.
    visit = CONTRACTS["raw"].latest("visit")
    nested = {
        "name": "shipped",
        "type": {
            "type": "record",
            "name": "Shipped",
            "fields": [{"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}],
        },
    }
    changed = dataclasses.replace(
        visit, avsc={**visit.avsc, "fields": [*visit.avsc["fields"], nested]}
    )
    with pytest.raises(SchemaDefinitionError, match="below the top level"):
        _PlainSchema.of(changed)
    assert _PlainSchema.of(visit).times == ("event_time", "sent_time")


@pytest.mark.parametrize("kind", ["raw", "clean"])
@pytest.mark.parametrize("name", EVENT_NAMES)
@PROPERTY
@given(data=st.data())
def test_random_records_give_the_same_bytes_and_values(
    kind: str, name: str, data: st.DataObject
) -> None:
    schema = CONTRACTS[kind].latest(name)
    drawn = data.draw(avro_records(schema.avsc))
    encoded = LOGICAL[kind].encode(name, drawn)
    assert PLAIN[kind].encode(name, plain_form(drawn)) == encoded
    assert PLAIN[kind].decode(encoded).record == plain_form(LOGICAL[kind].decode(encoded).record)
    assert_same_outcome(kind, _mutated(data, encoded))


@PROPERTY
@given(
    fingerprint=st.sampled_from([s.fingerprint for s in CONTRACTS["raw"]]),
    body=st.binary(max_size=300),
)
def test_random_bodies_are_refused_alike(fingerprint: bytes, body: bytes) -> None:
    assert_same_outcome("raw", MAGIC + fingerprint + body)


@pytest.mark.parametrize(
    ("millis", "accepted"),
    [
        (FIRST_MS, True),
        (LAST_MS, True),  # 9999-12-31T23:59:59.999
        (0, True),
        (FIRST_MS - 1, False),
        (LAST_MS + 1, False),
        (2**62, False),
        (-(2**62), False),
    ],
)
@pytest.mark.parametrize("field", ["event_time", "sent_time"])
def test_times_a_datetime_cannot_hold_are_refused_alike(
    field: str, millis: int, accepted: bool
) -> None:
    record = {**plain_form(GOLDEN_RECORDS["visit"]), field: millis}
    raw = PLAIN["raw"].encode("visit", record)
    assert_same_outcome("raw", raw)
    if accepted:
        assert PLAIN["raw"].decode(raw).record[field] == millis
    else:
        with pytest.raises(MalformedError, match=field):
            PLAIN["raw"].decode(raw)


_ID = uuid.UUID("0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5b")


@pytest.mark.parametrize(
    "spelling",
    [
        str(_ID),
        str(_ID).upper(),
        "{" + str(_ID) + "}",
        "urn:uuid:" + str(_ID),
        _ID.hex,
        _ID.hex.upper(),
    ],
)
def test_every_spelling_uuid_reads_becomes_the_canonical_text(spelling: str) -> None:
    raw = PLAIN["raw"].encode(
        "visit", {**plain_form(GOLDEN_RECORDS["visit"]), "event_id": spelling}
    )
    assert_same_outcome("raw", raw)
    assert PLAIN["raw"].decode(raw).record["event_id"] == str(_ID)


@pytest.mark.parametrize(
    "spelling", ["", "not-a-uuid", str(_ID)[:-1], str(_ID) + "0", str(_ID).replace("a", "g")]
)
def test_text_that_is_no_uuid_is_refused_alike(spelling: str) -> None:
    raw = PLAIN["raw"].encode(
        "visit", {**plain_form(GOLDEN_RECORDS["visit"]), "event_id": spelling}
    )
    assert_same_outcome("raw", raw)
    with pytest.raises(MalformedError, match="event_id"):
        PLAIN["raw"].decode(raw)
