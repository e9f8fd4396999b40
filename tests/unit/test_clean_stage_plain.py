"""Stage 1 on ids and times as they are on the wire gives what it gave on UUIDs and datetimes.

The reference here is stage 1's steps on a default codec's values (``uuid.UUID``, aware
datetimes), as the stage ran them before it kept ids and times plain: decode, validate,
pseudonymise, encode. Over simulated traffic with every kind of bad event, and over
damaged copies of it, the stage must write the same clean bytes under the same key for
every event the reference cleans, and reject with the same rules every event it rejects.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from typing import Any

import pytest
from pydantic import SecretStr

from shopstream.processors.clean.stage import Cleaned, CleanStage, Rejected, Source
from shopstream.processors.clean.transform import CleanTransform
from shopstream.processors.deadletter import DeadLetterKey
from shopstream.processors.privacy import Pseudonymiser, PseudonymKeys
from shopstream.producers.simulator import SimulationConfig, generate
from shopstream.schemas import Codec, DecodeError
from shopstream.schemas.pseudonymised import load_clean_contract
from shopstream.schemas.validation import RuleContext, validate_record

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CODEC, CLEAN_CODEC = Codec(), Codec(load_clean_contract())


@pytest.fixture(scope="module")
def transform() -> CleanTransform:
    return CleanTransform(Pseudonymiser(PseudonymKeys(SecretStr(secrets.token_urlsafe(32)))))


@pytest.fixture(scope="module")
def stage(transform: CleanTransform) -> CleanStage:
    return CleanStage(
        transform, DeadLetterKey(SecretStr(DeadLetterKey.generate())), clock=NOW.timestamp
    )


def reference(transform: CleanTransform, value: bytes) -> tuple[str, Any]:
    """("clean", (key, value)) or ("rejected", rules), from a default codec's values."""
    codec, clean_codec = CODEC, CLEAN_CODEC
    try:
        decoded = codec.decode(value)
    except DecodeError as exc:
        return "rejected", {exc.reason}
    violations = validate_record(codec.schema(decoded.name), decoded.record, RuleContext(NOW))
    if violations:
        return "rejected", {v.rule for v in violations}
    out = transform.apply(decoded.name, decoded.record, processed_time=NOW).record
    subject = (
        out.get("buyer_pseudonym")
        or out.get("anonymous_pseudonym")
        or f"product:{out.get('product_id')}"
    )
    return "clean", (f"{out['shop_id']}|{subject}".encode(), clean_codec.encode(decoded.name, out))


def outcome(stage: CleanStage, value: bytes, offset: int) -> tuple[str, Any]:
    result = stage.process(value, Source("raw", 0, offset))
    if isinstance(result, Cleaned):
        return "clean", (result.key, result.value)
    assert isinstance(result, Rejected)
    return "rejected", {r.rule for r in result.reasons}


def _damaged(rng: random.Random, value: bytes) -> bytes:
    at = rng.randrange(10, len(value))  # behind the header: the body is what is decoded
    how = rng.choice(["flip", "cut", "insert"])
    if how == "flip":
        return value[:at] + bytes([value[at] ^ rng.randrange(1, 256)]) + value[at + 1 :]
    if how == "cut":
        return value[:at]
    return value[:at] + rng.randbytes(rng.randrange(1, 6)) + value[at:]


def test_the_stage_agrees_with_the_logical_types_reference(
    stage: CleanStage, transform: CleanTransform
) -> None:
    codec = CODEC
    config = SimulationConfig(shops=2, buyers=40, events=1200, seed=11, bad_fraction=0.1)
    rng = random.Random(5)
    cleaned = rejected = 0
    for offset, sim in enumerate(generate(config, NOW - dt.timedelta(minutes=1))):
        if sim.raw is not None:
            values = [sim.raw]
        else:
            assert sim.event is not None
            assert sim.name is not None
            good = codec.encode(sim.name, sim.event.to_avro())
            values = [good, _damaged(rng, good)]
        for value in values:
            expected = reference(transform, value)
            got = outcome(stage, value, offset)
            if expected[0] == "rejected" and got[0] == "rejected":
                # doubly broken bytes may be called truncated by one and malformed by the other
                assert got[1] == expected[1] or got[1] | expected[1] <= {"truncated", "malformed"}
            else:
                assert got == expected
            cleaned += got[0] == "clean"
            rejected += got[0] == "rejected"
    assert cleaned > 1000
    assert rejected > 1000
