"""The shareable package's data dictionary: its tables' fields, then the generated contract.

The field tables come from the clean and features schemas (``schemas/avro/clean/``,
``schemas/avro/features/``) through the same cell formatting as ``shopstream schemas
docs`` (:mod:`shopstream.schemas.dictionary`), so the two cannot drift; what this
package changes (timestamps to dates, suppressed quasi-identifiers, dropped Kafka
columns) is said per field.
"""

from __future__ import annotations

from collections.abc import Mapping

from shopstream.processors.features.kanon import QUASI_IDENTIFIERS
from shopstream.schemas.contract import Contract, EventSchema, FieldSpec, schemas_root

# The generator's cell helpers are private to it; reusing them keeps one formatting.
from shopstream.schemas.dictionary import PII_LABELS, _cell, _format, _range, _type, render
from shopstream.schemas.pseudonymised import load_clean_contract

_LABELS = {**PII_LABELS, "pseudonym": "pseudonym (keyed HMAC)"}
_TIMESTAMPS = ("timestamp-millis", "timestamp-micros")


def features_contract() -> Contract:
    return Contract.load(schemas_root() / "features")


def render_package_dictionary(*, k: int, tables: Mapping[str, str]) -> str:
    """The Markdown dictionary of a package; ``tables`` maps a table's path to its schema name."""
    clean = load_clean_contract()
    features = features_contract().latest("buyer")
    out = [
        "# Data dictionary of this data set\n",
        "Written by `shopstream features package`. Every table is Parquet; the tables are "
        "the pseudonymised (clean) events, one per event type, and the latest per-buyer "
        "features. What differs from the pipeline's own data:\n",
        "- **Dates, not times.** Every timestamp field is truncated to its UTC calendar date "
        "(Parquet `date32`).",
        "- **k-anonymity.** The quasi-identifiers "
        + ", ".join(f"`{q}`" for q in QUASI_IDENTIFIERS)
        + f" of a buyer whose combination is shared by fewer than {k} buyers (of the same "
        "shop and pseudonym key id) are null, in the features and in the signup events; "
        "buyers who could not be hidden that way are left out. See `k-anonymity.md`.",
        "- **No Kafka bookkeeping.** The sink's `kafka_partition`, `kafka_offset`, "
        "`event_timestamp` and `created_timestamp` columns are not included.\n",
        "| table | schema |",
        "|---|---|",
    ]
    out += [f"| `{path}` | {name} |" for path, name in tables.items()]
    for name in clean.names:
        out.append(_table(f"Event table: {name}", clean.latest(name)))
    out.append(_table("Features table: buyer", features))
    out.append("\n---\n")
    out.append(_demoted(render(Contract.load())))
    return "\n".join(out) + "\n"


def _table(title: str, schema: EventSchema) -> str:
    lines = [
        f"\n## {title} (`{schema.full_name}`, v{schema.version})\n",
        f"{schema.avsc.get('doc', '')}\n",
        "| field | type in this data set | format | range | personal data | description |",
        "|---|---|---|---|---|---|",
    ]
    for spec in schema.fields:
        lines.append(
            f"| `{spec.path}` | {_package_type(spec)} | {_package_format(spec)} | {_range(spec)} "
            f"| {_LABELS.get(spec.pii, spec.pii)} | {_cell(spec.doc)} |"
        )
    return "\n".join(lines)


def _package_type(spec: FieldSpec) -> str:
    if spec.logical_type in _TIMESTAMPS:
        text = "date (UTC date of the time)"
        return text + (", nullable" if spec.nullable else "")
    text = _type(spec)
    if spec.name in QUASI_IDENTIFIERS and "nullable" not in text:
        text += ", nullable (k-anonymity)"
    elif spec.name in QUASI_IDENTIFIERS:
        text += " (also null where k-anonymity suppressed it)"
    return text


def _package_format(spec: FieldSpec) -> str:
    if spec.logical_type in _TIMESTAMPS:
        return "calendar date, UTC (truncated in this data set)"
    return _format(spec)


def _demoted(markdown: str) -> str:
    """The generated dictionary one heading level down, under this file's title."""
    lines = []
    for line in markdown.splitlines():
        lines.append("#" + line if line.startswith("#") else line)
    lines.insert(0, "")
    text = "\n".join(lines)
    return text.replace(
        "## Data dictionary",
        "## The event contract (as shops emit it, before pseudonymisation)",
        1,
    )


__all__ = ["features_contract", "render_package_dictionary"]
