"""Contract conventions beyond Avro itself, and the one check that runs them all.

``shopstream schemas check`` (and the test suite) call :func:`check_contract`: every
event schema starts with the shared envelope unchanged, every enum has a default
symbol, every cross-field rule named in a schema is implemented, and every schema is
FULL_TRANSITIVE compatible with all its earlier versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from shopstream.schemas.contract import Contract, EventSchema
from shopstream.schemas.errors import SchemaDefinitionError
from shopstream.schemas.evolution import check_full_transitive
from shopstream.schemas.pseudonymised import clean_schema
from shopstream.schemas.validation import RULES


@dataclass(frozen=True, slots=True)
class Problem:
    """A broken convention or an incompatible change, with where and which rule."""

    schema: str
    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.schema}: {self.path}: {self.rule}: {self.message}"


def check_contract(contract: Contract) -> list[Problem]:
    problems: list[Problem] = []
    for name in contract.names:
        versions = contract.versions(name)
        current = versions[-1]
        problems.extend(_check_envelope(contract, current))
        problems.extend(_check_enums(current))
        problems.extend(_check_rules_exist(current))
        problems.extend(_check_patterns(current))
        problems.extend(_check_treatments(current))
        if versions[:-1]:
            earlier = [(f"v{s.version}", s.avsc) for s in versions[:-1]]
            for inc in check_full_transitive(current.avsc, earlier):
                problems.append(
                    Problem(
                        f"{name} v{current.version}",
                        inc.path,
                        inc.rule,
                        f"{inc.direction}: {inc.message}",
                    )
                )
    return problems


def _label(schema: EventSchema) -> str:
    return f"{schema.name} v{schema.version}"


def _check_envelope(contract: Contract, schema: EventSchema) -> Iterator[Problem]:
    envelope = contract.envelope_fields
    fields = schema.avsc["fields"][: len(envelope)]
    for i, expected in enumerate(envelope):
        actual = fields[i] if i < len(fields) else None
        if actual != expected:
            yield Problem(
                _label(schema),
                str(expected["name"]),
                "envelope",
                f"field {i + 1} must be the envelope's {expected['name']!r} exactly as in envelope.json",
            )


def _check_enums(schema: EventSchema) -> Iterator[Problem]:
    for spec in schema.fields:
        base = spec.base_type
        if isinstance(base, dict) and base.get("type") == "enum" and "default" not in base:
            yield Problem(
                _label(schema),
                spec.path,
                "enum_default",
                "enum has no default symbol, so a new symbol would break old readers",
            )


# Classes whose meaning differs between regex engines (Python's re, Rust's regex used by
# pydantic, Java's, JavaScript's): \s and \w and \d and \b differ on non-ASCII input.
_ENGINE_DEPENDENT = ("\\s", "\\S", "\\w", "\\W", "\\d", "\\D", "\\b", "\\B")


def _check_patterns(schema: EventSchema) -> Iterator[Problem]:
    for spec in schema.fields:
        pattern = spec.pattern
        if pattern is None:
            continue
        if not (pattern.startswith("^") and pattern.endswith("$")):
            yield Problem(
                _label(schema),
                spec.path,
                "pattern_anchored",
                "x-pattern must be anchored with ^ and $",
            )
        used = [c for c in _ENGINE_DEPENDENT if c in pattern]
        if used:
            yield Problem(
                _label(schema), spec.path, "pattern_portable",
                f"x-pattern uses {', '.join(used)}, which regex engines read differently; spell the class out",
            )  # fmt: skip


def _check_rules_exist(schema: EventSchema) -> Iterator[Problem]:
    for ref in schema.rules:
        if ref.name not in RULES:
            yield Problem(
                _label(schema),
                ref.path or "$",
                "rule_missing",
                f"rule {ref.name!r} is not implemented",
            )


__all__ = [
    "Problem",
    "check_contract",
]


def _check_treatments(schema: EventSchema) -> Iterator[Problem]:
    """Every x-treatment starts with a word the pseudonymiser knows (schemas/pseudonymised.py)."""
    try:
        clean_schema(schema.avsc)
    except SchemaDefinitionError as exc:
        yield Problem(schema.name, "x-treatment", "unknown_treatment", str(exc))
