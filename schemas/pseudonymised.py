"""The pseudonymised (clean) schemas, derived from the event schemas' annotations.

Every field of an event schema names its treatment in ``x-treatment``; the word before
the first ``:`` or ``;`` is the machine-readable part:

========================  ==================================================================
``keep``                  copied unchanged
``hmac``                  replaced by ``<name minus _id>_pseudonym``: HMAC-SHA-256 hex, per-shop key
``hmac_contact``          replaced by ``<name>_pseudonym``: normalised, then HMAC with the contact key
``delete``                removed
``region``                an address record replaced by ``region``, an ISO 3166-2:KR code
``age_band``              a birth date replaced by ``age_band`` at event time
``scrub``                 free text kept with personal data replaced by type tokens
========================  ==================================================================

:func:`clean_schema` turns an event schema into its clean counterpart. The clean
schemas are checked in under ``avro/clean/<type>/v<N>.avsc`` (so that their evolution is
checked like any other schema's) and a test proves they equal what this module derives;
``shopstream schemas docs`` rewrites them. Stage 1 follows the same treatments
(:mod:`shopstream.processors.clean`), so the schema and the transform cannot disagree.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from shopstream.schemas.contract import Contract, EventSchema, schemas_root
from shopstream.schemas.errors import SchemaDefinitionError

Treatment = Literal["keep", "hmac", "hmac_contact", "delete", "region", "age_band", "scrub"]
TREATMENTS: tuple[Treatment, ...] = (
    "keep",
    "hmac",
    "hmac_contact",
    "delete",
    "region",
    "age_band",
    "scrub",
)
CLEAN_NAMESPACE = "shopstream.clean"
AGE_BAND_PATTERN = r"^(<20|[2-6]0-[2-6]9|70\+)$"
REGION_PATTERN = r"^KR-[0-9A-Z]{2,3}(:[가-힣 ]{1,20})?$"

PSEUDONYM_KEY_ID = {
    "name": "pseudonym_key_id",
    "type": "string",
    "doc": "Id of the pseudonymisation key that made this event's pseudonyms; it changes when keys rotate, so pseudonyms only join within one key id.",
    "x-max-length": 32,
    "x-pii": "none",
    "x-treatment": "keep",
}
PROCESSED_TIME = {
    "name": "processed_time",
    "type": {"type": "long", "logicalType": "timestamp-millis"},
    "doc": "When stage 1 validated and pseudonymised the event, UTC, milliseconds.",
    "x-unit": "ms since the Unix epoch, UTC",
    "x-pii": "none",
    "x-treatment": "keep; truncated to the date in exports",
}
REDACTIONS = {
    "name": "redactions",
    "type": "int",
    "default": 0,
    "doc": "How many pieces of personal data the scrubber replaced by type tokens in this event's free text.",
    "x-min": 0,
    "x-pii": "none",
    "x-treatment": "keep",
}


def treatment_of(field: Mapping[str, Any]) -> Treatment:
    """The machine-readable treatment of a field definition (see the module docstring)."""
    text = str(field.get("x-treatment", ""))
    word = text.split(":", 1)[0].split(";", 1)[0].strip()
    if word not in TREATMENTS:
        raise SchemaDefinitionError(
            f"field {field.get('name')!r}: x-treatment {text!r} does not start with one of {TREATMENTS}"
        )
    return word  # checked against TREATMENTS above


def pseudonym_name(field_name: str) -> str:
    """``buyer_id`` → ``buyer_pseudonym``; ``email`` → ``email_pseudonym``."""
    return field_name.removesuffix("_id") + "_pseudonym"


def clean_schema(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The pseudonymised counterpart of an event schema (a new dict; ``raw`` is untouched)."""
    fields: list[dict[str, Any]] = []
    has_free_text = False
    for fdef in raw["fields"]:
        treatment = treatment_of(fdef)
        name = fdef["name"]
        if treatment == "keep":
            fields.append(copy.deepcopy(dict(fdef)))
        elif treatment in ("hmac", "hmac_contact"):
            fields.append(_pseudonym_field(fdef, treatment))
        elif treatment == "region":
            fields.append(
                _optional_string(
                    "region",
                    f"Region of the {name}: ISO 3166-2:KR province code, with the district after a colon only where it is allow-listed (k-anonymity).",
                    pattern=REGION_PATTERN,
                    pii="quasi",
                )
            )
        elif treatment == "age_band":
            fields.append(
                _optional_string(
                    "age_band",
                    f"Age band at event time, from {name}: 10-year bands, bottom-coded <20 and top-coded 70+.",
                    pattern=AGE_BAND_PATTERN,
                    pii="quasi",
                )
            )
        elif treatment == "scrub":
            kept = copy.deepcopy(dict(fdef))
            kept["doc"] = (
                f"{fdef['doc']} Scrubbed: phone numbers, e-mails, registration, card and account numbers are replaced by [PHONE], [EMAIL], [RRN], [FRN], [CARD], [ACCOUNT]."
            )
            kept["x-treatment"] = "keep; scrubbed in stage 1"
            fields.append(kept)
            has_free_text = True
        # "delete": nothing of the field survives
        if name == "session_id":
            fields.extend([copy.deepcopy(PSEUDONYM_KEY_ID), copy.deepcopy(PROCESSED_TIME)])
    if has_free_text:
        fields.append(copy.deepcopy(REDACTIONS))
    return {
        "type": "record",
        "name": raw["name"],
        "namespace": CLEAN_NAMESPACE,
        "doc": f"Pseudonymised: {raw['doc']}",
        "fields": fields,
    }


def _pseudonym_field(fdef: Mapping[str, Any], treatment: Treatment) -> dict[str, Any]:
    name = fdef["name"]
    how = (
        "HMAC-SHA-256 with the shop's identifier key"
        if treatment == "hmac"
        else "normalised (E.164 or lower-case), then HMAC-SHA-256 with the shop's contact key"
    )
    out = _optional_string(
        pseudonym_name(name),
        f"Pseudonym of {name}: {how}, lower-case hex. Null when {name} was null.",
        pattern="^[0-9a-f]{64}$",
        pii="pseudonym",
    )
    out["x-format"] = "hex HMAC-SHA-256"
    return out


def _optional_string(name: str, doc: str, *, pattern: str, pii: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": ["null", "string"],
        "default": None,
        "doc": doc,
        "x-pattern": pattern,
        "x-pii": pii,
        "x-treatment": "keep",
    }


def clean_root() -> Path:
    return schemas_root() / "clean"


def load_clean_contract(root: Path | None = None) -> Contract:
    """The checked-in clean schemas, every version, as a :class:`Contract`."""
    return Contract.load(root or clean_root())


def render_clean(schema: EventSchema) -> str:
    return json.dumps(clean_schema(schema.avsc), indent=2, ensure_ascii=False) + "\n"
