"""The clean schemas are derived from the event schemas' treatments, and checked in."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.conventions import check_contract
from shopstream.schemas.errors import SchemaDefinitionError
from shopstream.schemas.pseudonymised import (
    load_clean_contract,
    pseudonym_name,
    render_clean,
    treatment_of,
)

CONTRACT = Contract.load()
CLEAN = load_clean_contract()


@pytest.mark.parametrize("name", CONTRACT.names)
def test_checked_in_clean_schema_is_what_the_treatments_derive(name: str) -> None:
    schema = CONTRACT.latest(name)
    path = schemas_root() / "clean" / name / f"v{schema.version}.avsc"
    assert path.read_text("utf-8") == render_clean(schema), "run `shopstream schemas derive`"


@pytest.mark.parametrize("name", CONTRACT.names)
def test_no_direct_identifier_survives_into_a_clean_schema(name: str) -> None:
    raw, clean = CONTRACT.latest(name), CLEAN.latest(name)
    clean_paths = {spec.path for spec in clean.fields}
    for spec in raw.fields:
        if spec.pii == "direct":
            assert spec.path not in clean_paths, spec.path
    assert all(spec.pii != "direct" for spec in clean.fields)


def test_each_treatment_has_its_clean_shape() -> None:
    signup = {spec.path: spec for spec in CLEAN.latest("signup").fields}
    assert "name" not in signup
    assert "address" not in signup
    assert "birth_date" not in signup
    assert signup["buyer_pseudonym"].pii == "pseudonym"
    assert signup["email_pseudonym"].pattern == "^[0-9a-f]{64}$"
    assert signup["phone_pseudonym"].nullable
    assert signup["region"].pii == "quasi"
    assert signup["age_band"].pattern is not None
    assert signup["gender"].symbols == ("M", "F", "U")
    review = {spec.path: spec for spec in CLEAN.latest("review").fields}
    assert "[PHONE]" in review["text"].doc
    assert review["redactions"].default == 0
    visit = [spec.path for spec in CLEAN.latest("visit").fields]
    assert visit[:10] == [
        "event_id",
        "schema_version",
        "shop_id",
        "event_time",
        "sent_time",
        "buyer_pseudonym",
        "anonymous_pseudonym",
        "session_pseudonym",
        "pseudonym_key_id",
        "processed_time",
    ]


def test_clean_schemas_live_in_their_own_namespace() -> None:
    names = {CLEAN.latest(n).full_name for n in CLEAN.names}
    assert names == {f"shopstream.clean.{CONTRACT.latest(n).avsc['name']}" for n in CONTRACT.names}
    raw_fingerprints = {CONTRACT.latest(n).fingerprint for n in CONTRACT.names}
    assert raw_fingerprints.isdisjoint(CLEAN.latest(n).fingerprint for n in CLEAN.names)


def test_pseudonym_names() -> None:
    assert pseudonym_name("buyer_id") == "buyer_pseudonym"
    assert pseudonym_name("anonymous_id") == "anonymous_pseudonym"
    assert pseudonym_name("email") == "email_pseudonym"


def test_an_unknown_treatment_is_refused_with_the_field_named() -> None:
    with pytest.raises(SchemaDefinitionError, match=r"'nickname'.*blur"):
        treatment_of({"name": "nickname", "x-treatment": "blur: make it vague"})
    assert treatment_of({"name": "x", "x-treatment": "keep; truncated to the date"}) == "keep"
    assert treatment_of({"name": "x", "x-treatment": "hmac_contact: lower-cased"}) == "hmac_contact"


def test_the_contract_check_reports_an_unknown_treatment() -> None:
    review = CONTRACT.latest("review")
    avsc = copy.deepcopy(dict(review.avsc))
    avsc["fields"][-1]["x-treatment"] = "blur"
    broken = Contract(
        {"review": (dataclasses.replace(review, avsc=avsc),)}, list(CONTRACT.envelope_fields)
    )
    problems = [p for p in check_contract(broken) if p.rule == "unknown_treatment"]
    assert len(problems) == 1
    assert "blur" in problems[0].message
    assert not [p for p in check_contract(CONTRACT) if p.rule == "unknown_treatment"]
