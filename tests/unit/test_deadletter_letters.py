"""Building dead letters: sealed originals, value-free reasons, identity fields kept only when safe."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from shopstream.processors.deadletter import (
    DeadLetterKey,
    DeadLetterKeyError,
    Reason,
    build_dead_letter,
    decode_dead_letter,
    encode_dead_letter,
    reason_from_decode_error,
    reasons_from_violations,
)
from shopstream.processors.deadletter.letters import DECODE_RULES, safe_message
from shopstream.processors.deadletter.replay import open_for_replay
from shopstream.processors.deadletter.selection import Selection, count_by_rule
from shopstream.schemas.codec import Codec
from shopstream.schemas.contract import Contract
from shopstream.schemas.errors import (
    DecodeError,
    MalformedError,
    NotAvroError,
    TruncatedError,
    UnknownSchemaError,
)
from shopstream.schemas.validation import RuleContext, Violation, validate_record

from .records import GOLDEN_RECORDS, T_EVENT

KEY = DeadLetterKey(SecretStr(DeadLetterKey.generate()))
CODEC = Codec()
SIGNUP = CODEC.encode("signup", GOLDEN_RECORDS["signup"])
RAW_KEY = b"gildong-mart|member-000123"
# The personal data of the golden signup, and pieces of it a message might quote.
PII = ("김길동", "gildong", "example.com", "010-2222-3333", "2222", "여의도", "푸른아파트", "07327")


def letter_for(raw_value: bytes = SIGNUP, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "processor": "clean",
        "processor_version": "0.1.0",
        "key": KEY,
        "source_topic": "shop.events.raw",
        "source_partition": 2,
        "source_offset": 41,
        "source_timestamp": 1741944413589,
        "raw_key": RAW_KEY,
        "raw_value": raw_value,
        "reasons": [Reason("email", "format", "does not match the email format")],
        "now_ms": 1741944414123,
    }
    args.update(overrides)
    return build_dead_letter(**args)


def test_build_seals_the_original_bytes_and_records_the_source() -> None:
    letter = letter_for(event_id=GOLDEN_RECORDS["signup"]["event_id"], shop_id="gildong-mart")
    assert letter.source == "shop.events.raw[2]@41"
    assert letter.failed_time == 1741944414123
    assert letter.failed_at == dt.datetime(2025, 3, 14, 9, 26, 54, 123000, tzinfo=dt.UTC)
    assert letter.encryption_key_id == KEY.key_id
    assert letter.open_key(KEY) == RAW_KEY
    assert letter.open_value(KEY) == SIGNUP
    assert letter.event_id == "0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5b"
    assert letter.shop_id == "gildong-mart"
    uuid.UUID(letter.dead_letter_id)


def test_nothing_personal_is_left_in_the_encoded_letter() -> None:
    encoded = encode_dead_letter(letter_for(shop_id="gildong-mart"))
    for piece in PII:
        if piece != "gildong":  # the shop id is the tenant's name, not a person's
            assert piece.encode() not in encoded, piece
    assert RAW_KEY not in encoded


def test_encode_decode_open_round_trip() -> None:
    letter = letter_for()
    decoded = decode_dead_letter(encode_dead_letter(letter))
    assert decoded == letter
    assert decoded.open_value(KEY) == SIGNUP
    assert decoded.open_key(KEY) == RAW_KEY


def test_a_missing_message_key_stays_missing() -> None:
    letter = letter_for(raw_key=None)
    assert letter.encrypted_key is None
    assert letter.open_key(KEY) is None
    assert letter_for(raw_key=b"").open_key(KEY) == b""


def test_the_header_names_fingerprint_and_event_type() -> None:
    letter = letter_for()
    assert letter.schema_fingerprint == Contract.load().latest("signup").fingerprint_hex
    assert letter.event_type == "signup"
    unknown = letter_for(raw_value=b"\xc3\x01" + b"\x07" * 8 + b"body")
    assert unknown.schema_fingerprint == "07" * 8
    assert unknown.event_type is None
    no_header = letter_for(raw_value=b"\x00\x00\x00\x00\x01body")
    assert no_header.schema_fingerprint is None
    assert no_header.event_type is None


def test_an_explicit_fingerprint_and_event_type_win() -> None:
    letter = letter_for(fingerprint=b"\x01" * 8, event_type="visit")
    assert (letter.schema_fingerprint, letter.event_type) == ("01" * 8, "visit")
    with pytest.raises(ValueError, match="8 bytes"):
        letter_for(fingerprint=b"\x01" * 4)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "kim-gildong-0102222333"),
        ("event_id", "010-2222-3333"),
        ("shop_id", "김길동 shop"),
        ("shop_id", "Gildong.Kim@example.com"),
        ("event_type", "gildong.kim@example.com"),
    ],
)
def test_identity_fields_without_their_shape_are_dropped(field: str, value: str) -> None:
    letter = letter_for(raw_value=b"not avro", **{field: value})
    assert getattr(letter, field) is None


def test_identity_fields_are_normalised() -> None:
    event_id = uuid.uuid4()
    assert letter_for(event_id=event_id).event_id == str(event_id)
    assert letter_for(event_id=str(event_id).upper()).event_id == str(event_id)


def test_kafka_timestamp_none_is_null() -> None:
    assert letter_for(source_timestamp=-1).source_timestamp is None
    assert letter_for(source_timestamp=None).source_timestamp is None


def test_a_letter_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="at least one reason"):
        letter_for(reasons=[])


def test_failed_time_defaults_to_now() -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    letter = letter_for(now_ms=None)
    assert before <= letter.failed_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)


def test_a_letter_opens_only_under_its_key_and_at_its_source() -> None:
    letter = letter_for()
    with pytest.raises(DeadLetterKeyError, match="sealed under key id"):
        letter.open_value(DeadLetterKey(SecretStr(DeadLetterKey.generate())))
    moved = dataclasses.replace(letter, source_offset=42)
    with pytest.raises(DeadLetterKeyError, match="moved"):
        moved.open_value(KEY)
    swapped = dataclasses.replace(letter, encrypted_value=letter.encrypted_key)
    with pytest.raises(DeadLetterKeyError):
        swapped.open_value(KEY)


# -- reasons -----------------------------------------------------------------------------------


def bad_signup() -> dict[str, Any]:
    record = copy.deepcopy(GOLDEN_RECORDS["signup"])
    record["email"] = "김길동 gildong.kim@example.com"
    record["phone"] = "010-2222-3333 내선 7"
    record["address"]["postal_code"] = "여의도 07327"
    record["name"] = "김길동" * 100
    return record


def test_reasons_from_violations_on_personal_fields_hold_no_values() -> None:
    record = bad_signup()
    violations = validate_record(Contract.load().latest("signup"), record, RuleContext(now=T_EVENT))
    paths = {v.path for v in violations}
    assert {"email", "phone", "name"} <= paths
    reasons = reasons_from_violations(violations)
    assert [(r.path, r.rule) for r in reasons] == [(v.path, v.rule) for v in violations]
    text = " ".join(f"{r.path} {r.rule} {r.message}" for r in reasons)
    for piece in PII:
        assert piece not in text, piece
    for field in ("email", "phone", "name"):
        assert str(record[field]) not in text


PERSONAL_TEXT = st.text(alphabet="김길동여의도 0123456789@.-+()", min_size=6, max_size=300).filter(
    lambda s: any("가" <= c <= "힣" for c in s)
)


@given(value=PERSONAL_TEXT, field=st.sampled_from(["name", "email", "phone", "address.line"]))
def test_no_personal_value_reaches_a_reason(value: str, field: str) -> None:
    record = copy.deepcopy(GOLDEN_RECORDS["signup"])
    if field == "address.line":
        record["address"]["line"] = value
    else:
        record[field] = value
    violations = validate_record(Contract.load().latest("signup"), record, RuleContext(now=T_EVENT))
    for reason in reasons_from_violations(violations):
        assert value not in f"{reason.path} {reason.rule} {reason.message}"


def test_violation_messages_pass_through_the_sanitiser() -> None:
    (reason,) = reasons_from_violations(
        [Violation("text", "format", "bad\x1b[31m\nline" + "x" * 400)]
    )
    assert "\x1b" not in reason.message
    assert "\n" not in reason.message
    assert len(reason.message) <= 300


def _decode_error(data: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        CODEC.decode(data)
    return caught.value


GARBAGE = {
    "not_avro": '{"name": "김길동", "phone": "010-2222-3333"}'.encode(),
    "truncated": SIGNUP[: len(SIGNUP) - 30],
    "unknown_schema": b"\xc3\x01" + b"\x00" * 8 + "김길동 010-2222-3333".encode(),
    # A valid header and a body whose first string is not UTF-8 after a valid uuid.
    "malformed": SIGNUP[:10] + b"\x48" + b"0" * 36 + b"\xff\xfe" + "김길동".encode() + b"\x00" * 40,
}


@pytest.mark.parametrize("rule", sorted(GARBAGE))
def test_decode_error_reasons_have_stable_rules_and_no_bytes(rule: str) -> None:
    data = GARBAGE[rule]
    exc = _decode_error(data)
    reason = reason_from_decode_error(exc)
    assert reason.rule == rule
    assert reason.rule in DECODE_RULES
    assert reason.path == "$"
    assert f"{len(data)} bytes" in reason.message
    for piece in PII:
        assert piece not in reason.message, piece
    assert data[:2].hex() not in reason.message.replace("c301", "")


def test_each_decode_error_class_has_its_rule() -> None:
    cases = [
        (NotAvroError("x 김길동", raw=b"abc"), "not_avro"),
        (TruncatedError("x 김길동", raw=b"abc"), "truncated"),
        (UnknownSchemaError("x 김길동", raw=b"abc", fingerprint=b"\x01" * 8), "unknown_schema"),
        (MalformedError("x 김길동", raw=b"abc"), "malformed"),
    ]
    for exc, rule in cases:
        reason = reason_from_decode_error(exc)
        assert reason.rule == rule
        assert "김길동" not in reason.message
    assert "0101010101010101" in reason_from_decode_error(cases[2][0]).message


def test_a_malformed_reason_names_the_cause_type_not_its_text() -> None:
    exc = MalformedError("visit v1: not a valid record (ValueError: 김길동)", raw=b"abc")
    exc.__cause__ = UnicodeDecodeError("utf-8", "김길동".encode(), 0, 1, "invalid start byte")
    reason = reason_from_decode_error(exc)
    assert "UnicodeDecodeError" in reason.message
    assert "김길동" not in reason.message
    assert "invalid start byte" not in reason.message


def test_other_failures_give_processing_error_with_the_type_only() -> None:
    reason = reason_from_decode_error(KeyError("gildong.kim@example.com"))
    assert reason == Reason("$", "processing_error", "KeyError while processing")


def test_build_sanitises_reasons_made_by_hand() -> None:
    letter = letter_for(reasons=[Reason("$", "odd\x00rule", "line one\nline two\x1b[2J")])
    assert letter.reasons == (Reason("$", "odd?rule", "line one?line two?[2J"),)


def test_safe_message_keeps_readable_text() -> None:
    message = "greater than quantity × unit_price − 할인"
    assert safe_message(message) == message
    assert safe_message("a\u202eb") == "a?b"  # a right-to-left override


# -- selection ---------------------------------------------------------------------------------


def test_selection_by_rule_id_and_time() -> None:
    a = letter_for(now_ms=1_000, reasons=[Reason("$", "not_avro", "m")])
    b = letter_for(now_ms=2_000, reasons=[Reason("email", "format", "m"), Reason("$", "x", "m")])
    c = letter_for(now_ms=3_000, reasons=[Reason("phone", "format", "m")])
    letters = [a, b, c]

    def chosen(selection: Selection) -> list[Any]:
        return [d for d in letters if selection.matches(d)]

    assert chosen(Selection()) == letters
    assert chosen(Selection(rules=frozenset({"format"}))) == [b, c]
    assert chosen(Selection(rules=frozenset({"not_avro", "x"}))) == [a, b]
    assert chosen(Selection(ids=frozenset({c.dead_letter_id.upper()}))) == [c]
    assert chosen(Selection(since_ms=2_000)) == [b, c]
    assert chosen(Selection(until_ms=2_000)) == [a]
    assert chosen(Selection(rules=frozenset({"format"}), until_ms=3_000)) == [b]
    assert count_by_rule(letters) == {"format": 2, "not_avro": 1, "x": 1}


def test_open_for_replay_restores_source_order() -> None:
    letters = [
        letter_for(source_partition=1, source_offset=9, raw_value=b"p1-9"),
        letter_for(source_partition=0, source_offset=10, raw_value=b"p0-10"),
        letter_for(source_partition=0, source_offset=2, raw_value=b"p0-2", raw_key=None),
    ]
    messages = open_for_replay(letters, KEY)
    assert [m.value for m in messages] == [b"p0-2", b"p0-10", b"p1-9"]
    assert [m.key for m in messages] == [None, RAW_KEY, RAW_KEY]
    assert messages[0].dead_letter_id == letters[2].dead_letter_id


def test_open_for_replay_refuses_a_wrong_key_before_anything() -> None:
    with pytest.raises(DeadLetterKeyError):
        open_for_replay([letter_for()], DeadLetterKey(SecretStr(DeadLetterKey.generate())))
