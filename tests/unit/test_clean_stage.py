"""Stage 1 without Kafka: simulated traffic in, clean events and dead letters out."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from typing import Any

import pytest
from pydantic import SecretStr

from shopstream.processors.clean.stage import Cleaned, CleanStage, Rejected, Source
from shopstream.processors.clean.transform import CleanTransform
from shopstream.processors.deadletter import DeadLetterKey, DeadLetterKeyError, decode_dead_letter
from shopstream.processors.privacy import Pseudonymiser, PseudonymKeys
from shopstream.producers.simulator import SimulationConfig, generate
from shopstream.schemas.codec import Codec
from shopstream.schemas.pseudonymised import load_clean_contract

# What each bad kind must be rejected for (the rule in the dead letter's reasons).
EXPECTED_RULES = {
    "random_bytes": {"not_avro"},
    "truncated": {"truncated"},
    "unknown_fingerprint": {"unknown_schema"},
    "far_future": {"event_time_window"},
    "ancient": {"event_time_window"},
    "inconsistent_total": {"total_matches_items"},
}


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return {"pseudonym": secrets.token_urlsafe(32), "dlq": DeadLetterKey.generate()}


@pytest.fixture(scope="module")
def stage(keys: dict[str, str]) -> CleanStage:
    pseudonymiser = Pseudonymiser(PseudonymKeys(SecretStr(keys["pseudonym"]), key_id="t1"))
    return CleanStage(
        CleanTransform(pseudonymiser), DeadLetterKey(SecretStr(keys["dlq"]), key_id="d-test")
    )


@pytest.fixture(scope="module")
def traffic(stage: CleanStage) -> list[tuple[Any, Any]]:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    config = SimulationConfig(shops=2, buyers=40, events=1500, seed=7, bad_fraction=0.08)
    codec = Codec()
    results = []
    for offset, sim in enumerate(generate(config, now)):
        value = sim.raw if sim.raw is not None else codec.encode(sim.name, sim.event.to_avro())  # type: ignore[union-attr,arg-type]
        outcome = stage.process(value, Source("raw", 0, offset, None, sim.key))
        results.append((sim, outcome))
    return results


def test_every_valid_event_is_cleaned_and_every_bad_one_rejected(traffic: list[Any]) -> None:
    kinds: Counter[str] = Counter()
    for sim, outcome in traffic:
        if sim.bad is None:
            assert isinstance(outcome, Cleaned), (sim.name, getattr(outcome, "reasons", None))
        else:
            assert isinstance(outcome, Rejected), sim.bad
            kinds[sim.bad] += 1
            rules = {r.rule for r in outcome.reasons}
            if sim.bad in EXPECTED_RULES:
                assert rules & EXPECTED_RULES[sim.bad], (sim.bad, rules)
            else:  # out_of_range, huge_string: a field constraint names the field
                assert all(r.path for r in outcome.reasons), (sim.bad, outcome.reasons)
    assert len(kinds) == 8  # every kind of bad event was tried


def test_clean_events_decode_under_the_clean_schemas_with_pseudonyms(traffic: list[Any]) -> None:
    codec = Codec(load_clean_contract())
    for sim, outcome in traffic:
        if not isinstance(outcome, Cleaned):
            continue
        decoded = codec.decode(outcome.value)
        record = decoded.record
        assert decoded.name == sim.name
        assert str(record["event_id"]) == str(sim.event_id)
        assert record["pseudonym_key_id"] == "t1"
        for field in ("buyer_pseudonym", "anonymous_pseudonym", "session_pseudonym"):
            value = record.get(field)
            assert value is None or (len(value) == 64 and int(value, 16) >= 0)
        source = sim.event.to_avro()
        assert (record["buyer_pseudonym"] is None) == (source.get("buyer_id") is None)
        shop, _, subject = outcome.key.decode().partition("|")
        assert shop == source["shop_id"]
        assert subject in (record["buyer_pseudonym"], record["anonymous_pseudonym"]) or (
            subject == f"product:{source.get('product_id')}"
        )


def test_one_buyer_gets_one_pseudonym_and_shops_differ(traffic: list[Any]) -> None:
    codec = Codec(load_clean_contract())
    seen: dict[tuple[str, str], set[str]] = {}
    for sim, outcome in traffic:
        if isinstance(outcome, Cleaned):
            source = sim.event.to_avro()
            if source.get("buyer_id"):
                pseudonym = codec.decode(outcome.value).record["buyer_pseudonym"]
                seen.setdefault((source["shop_id"], source["buyer_id"]), set()).add(pseudonym)
    assert seen
    assert all(len(p) == 1 for p in seen.values())
    assert len({next(iter(p)) for p in seen.values()}) == len(seen)


def _personal_strings(traffic: list[Any]) -> set[str]:
    found: set[str] = set()
    for sim, _ in traffic:
        record = sim.event.to_avro() if sim.event is not None else (sim.record or {})
        for field in ("buyer_id", "anonymous_id", "session_id", "name", "email"):
            if record.get(field):
                found.add(str(record[field]))
        if record.get("phone"):
            phone = str(record["phone"])
            digits = "".join(c for c in phone if c.isdigit())
            found.update({phone, digits, "+82" + digits.removeprefix("0")})
        address = record.get("address") or {}
        if address.get("line"):
            found.add(address["line"])
    return {s for s in found if len(s) >= 6}


def test_no_personal_data_in_any_output_byte(traffic: list[Any], keys: dict[str, str]) -> None:
    personal = _personal_strings(traffic)
    assert len(personal) > 100
    out = bytearray()
    for _, outcome in traffic:
        out += outcome.value
        if isinstance(outcome, Cleaned):
            out += outcome.key
    blob = bytes(out)
    leaks = [s for s in personal if s.encode() in blob]
    assert leaks == []


def test_dead_letters_say_where_from_and_open_only_with_the_key(
    traffic: list[Any], keys: dict[str, str]
) -> None:
    right = DeadLetterKey(SecretStr(keys["dlq"]), key_id="d-test")
    wrong = DeadLetterKey(SecretStr(DeadLetterKey.generate()), key_id="d-test")
    codec = Codec()
    rejected = [
        (offset, sim, o) for offset, (sim, o) in enumerate(traffic) if isinstance(o, Rejected)
    ]
    assert rejected
    for offset, sim, outcome in rejected:
        letter = decode_dead_letter(outcome.value)
        assert (letter.processor, letter.source_topic, letter.source_offset) == (
            "clean",
            "raw",
            offset,
        )
        assert letter.encryption_key_id == "d-test"
        assert {r.rule for r in letter.reasons} == {r.rule for r in outcome.reasons}
        sent = sim.raw if sim.raw is not None else codec.encode(sim.name, sim.event.to_avro())
        assert letter.open_value(right) == sent
        assert letter.open_key(right) == sim.key
        with pytest.raises(DeadLetterKeyError):
            letter.open_value(wrong)
