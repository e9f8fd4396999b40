"""Renders the data dictionary (docs/data-dictionary.md) from the schemas."""

from __future__ import annotations

import json
from typing import Any

from shopstream.schemas.contract import Contract, FieldSpec

PII_LABELS = {
    "direct": "direct identifier",
    "quasi": "quasi-identifier",
    "free_text": "sensitive free text",
    "none": "none",
}

_HEADER = """\
# Data dictionary

Generated from `schemas/avro/` by `shopstream schemas docs`; do not edit by hand
(`tests/unit/test_data_dictionary.py` fails when this file is stale).

Every event is Avro, framed with single-object encoding (`C3 01`, the 8-byte
CRC-64-AVRO fingerprint of the schema, the Avro binary). Money is an integer count of
minor units of the stated currency. Times are UTC milliseconds. Personal-data classes
follow Korea's PIPA and GDPR Art. 4(5): *direct identifiers* single a person out,
*quasi-identifiers* can in combination, *sensitive free text* may contain either.
"""


def render(contract: Contract) -> str:
    out = [_HEADER]
    for name in contract.names:
        schema = contract.latest(name)
        earlier = ", ".join(f"v{s.version}" for s in contract.versions(name)[:-1]) or "none"
        out.append(f"\n## {name} (`{schema.full_name}`, v{schema.version})\n")
        out.append(f"{schema.avsc.get('doc', '')}\n")
        out.append(f"Fingerprint `{schema.fingerprint_hex}`; earlier versions kept: {earlier}.\n")
        out.append("| field | type | format | range | personal data | pipeline | description |")
        out.append("|---|---|---|---|---|---|---|")
        for spec in schema.fields:
            out.append(
                f"| `{spec.path}` | {_type(spec)} | {_format(spec)} | {_range(spec)} | {PII_LABELS[spec.pii]} | {_cell(spec.treatment)} | {_cell(spec.doc)} |"
            )
        if schema.rules:
            out.append("\nCross-field rules:\n")
            for rule in schema.rules:
                where = f" (on `{rule.path}`)" if rule.path else ""
                out.append(f"- `{rule.name}`{where}: {rule.doc}")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type_name(t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return " or ".join(_type_name(x) for x in t)
    kind = t.get("type")
    if t.get("logicalType"):
        return f"{kind} ({t['logicalType']})"
    if kind == "array":
        return f"array of {_type_name(t['items'])}"
    if kind in ("record", "enum", "fixed"):
        return f"{kind} {t['name']}"
    return str(kind)


def _type(spec: FieldSpec) -> str:
    text = _type_name(spec.base_type)
    if spec.nullable:
        text += ", nullable"
    if spec.has_default:
        text += f", default `{json.dumps(spec.default, ensure_ascii=False)}`"
    return _cell(text)


def _format(spec: FieldSpec) -> str:
    parts = []
    if spec.format:
        parts.append(spec.format)
    if spec.pattern:
        parts.append(f"`{spec.pattern}`")
    if spec.symbols:
        parts.append("one of " + ", ".join(f"`{s}`" for s in spec.symbols))
    if spec.unit:
        parts.append(spec.unit)
    return _cell("; ".join(parts)) or "—"


def _range(spec: FieldSpec) -> str:
    parts = []
    if spec.minimum is not None or spec.maximum is not None:
        lo = (
            ""
            if spec.minimum is None
            else f"{spec.minimum:,}"
            if isinstance(spec.minimum, int)
            else spec.minimum
        )
        hi = (
            ""
            if spec.maximum is None
            else f"{spec.maximum:,}"
            if isinstance(spec.maximum, int)
            else spec.maximum
        )
        parts.append(f"{lo} … {hi}".strip())
    if spec.min_length is not None or spec.max_length is not None:
        parts.append(
            f"length {spec.min_length or 0} … {spec.max_length if spec.max_length is not None else ''}".strip()
        )
    if spec.min_items is not None or spec.max_items is not None:
        parts.append(
            f"{spec.min_items or 0} … {spec.max_items if spec.max_items is not None else ''} items".strip()
        )
    if spec.item_max_length is not None:
        parts.append(f"each at most {spec.item_max_length} characters")
    return _cell("; ".join(parts)) or "—"


__all__ = [
    "PII_LABELS",
    "render",
]
