"""The contract: every event schema, every version, with its annotations.

Schemas live in ``avro/<name>/v<N>.avsc``; the highest version is the current one and
the earlier ones stay for decoding old data and for the evolution check. Field
annotations (``x-pii``, ``x-pattern``, ``x-min`` ...) are read here once, into
:class:`FieldSpec`, which the models, the validator, the pseudonymiser and the data
dictionary all use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import parse_schema, to_parsing_canonical_form

from shopstream.schemas.errors import SchemaDefinitionError

# "pseudonym" marks the HMAC outputs of the clean schemas: still personal data under
# PIPA and GDPR, linkable only with the keys kept apart from the data.
PiiClass = Literal["direct", "quasi", "free_text", "pseudonym", "none"]
PII_CLASSES: tuple[PiiClass, ...] = ("direct", "quasi", "free_text", "pseudonym", "none")
EVENT_NAMES: tuple[str, ...] = ("signup", "visit", "review", "purchase", "product")

_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a schema, flattened, with what the annotations say about it."""

    path: str
    """Dotted path from the event root; ``[]`` marks array items (``items[].quantity``)."""
    avro_type: Any
    doc: str
    pii: PiiClass
    treatment: str
    nullable: bool
    default: Any = _MISSING
    format: str | None = None
    pattern: str | None = None
    minimum: int | str | None = None
    maximum: int | str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    item_max_length: int | None = None
    unit: str | None = None
    symbols: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    @property
    def base_type(self) -> Any:
        """The Avro type without its ``null`` branch."""
        return _strip_null(self.avro_type)

    @property
    def logical_type(self) -> str | None:
        base = self.base_type
        return base.get("logicalType") if isinstance(base, dict) else None


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A cross-field rule a record must satisfy, named in the schema's ``x-rules``."""

    name: str
    doc: str
    path: str
    """Path of the record the rule applies to; ``""`` for the event itself."""


@dataclass(frozen=True)
class EventSchema:
    """One version of one event schema, parsed once."""

    name: str
    version: int
    avsc: Mapping[str, Any]
    parsed: Any
    canonical_form: str
    fingerprint: bytes
    """CRC-64-AVRO of the parsing canonical form, 8 bytes little-endian (as framed)."""
    fields: tuple[FieldSpec, ...]
    rules: tuple[RuleRef, ...]
    _by_path: dict[str, FieldSpec] = field(repr=False, compare=False, default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.avsc['namespace']}.{self.avsc['name']}"

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()

    def field(self, path: str) -> FieldSpec:
        try:
            return self._by_path[path]
        except KeyError:
            raise KeyError(f"{self.name} v{self.version} has no field {path!r}") from None


class Contract:
    """All schemas and versions, by name and by fingerprint."""

    def __init__(self, schemas: Mapping[str, tuple[EventSchema, ...]], envelope: list[Any]) -> None:
        self._versions = dict(schemas)
        self._by_fingerprint = {s.fingerprint: s for vs in schemas.values() for s in vs}
        self.envelope_fields: tuple[Mapping[str, Any], ...] = tuple(envelope)

    @classmethod
    def load(cls, root: Path | None = None) -> Contract:
        """Load every ``<name>/v<N>.avsc`` under ``root`` (the shipped schemas by default)."""
        if root is None:
            return _default_contract()
        return _load(root)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._versions)

    def latest(self, name: str) -> EventSchema:
        return self.versions(name)[-1]

    def versions(self, name: str) -> tuple[EventSchema, ...]:
        try:
            return self._versions[name]
        except KeyError:
            raise SchemaDefinitionError(f"no schema named {name!r}; known: {self.names}") from None

    def by_fingerprint(self, fingerprint: bytes) -> EventSchema | None:
        return self._by_fingerprint.get(fingerprint)

    def __iter__(self) -> Iterator[EventSchema]:
        for versions in self._versions.values():
            yield from versions


def schemas_root() -> Path:
    return Path(str(resources.files("shopstream.schemas") / "avro"))


@cache
def _default_contract() -> Contract:
    return _load(schemas_root())


def _load(root: Path) -> Contract:
    if not root.is_dir():
        raise SchemaDefinitionError(f"schema folder {root} does not exist")
    envelope_file = root / "envelope.json"
    envelope = (
        json.loads(envelope_file.read_text("utf-8"))["fields"] if envelope_file.exists() else []
    )
    schemas: dict[str, tuple[EventSchema, ...]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = []
        for path in folder.iterdir():
            match = _VERSION_FILE.match(path.name)
            if match:
                files.append((int(match.group(1)), path))
        if files:
            files.sort()
            schemas[folder.name] = tuple(_load_one(folder.name, v, p) for v, p in files)
    ordered = {n: schemas.pop(n) for n in EVENT_NAMES if n in schemas}
    ordered.update(sorted(schemas.items()))
    return Contract(ordered, envelope)


def _load_one(name: str, version: int, path: Path) -> EventSchema:
    try:
        avsc = json.loads(path.read_text("utf-8"))
        parsed = parse_schema(avsc)
    except Exception as exc:  # reading, JSON and fastavro's parser raise several types
        raise SchemaDefinitionError(f"{path}: {exc}") from exc
    canonical = to_parsing_canonical_form(parsed)
    fp = bytes.fromhex(_fastavro_fingerprint(canonical, "CRC-64-AVRO"))
    specs: list[FieldSpec] = []
    rules: list[RuleRef] = []
    _walk_record(avsc, "", specs, rules, source=str(path))
    by_path = {s.path: s for s in specs}
    return EventSchema(
        name, version, avsc, parsed, canonical, fp, tuple(specs), tuple(rules), by_path
    )


def fingerprint_of(avsc: Mapping[str, Any]) -> bytes:
    """CRC-64-AVRO fingerprint (8 bytes, little-endian) of a schema's canonical form."""
    canonical = to_parsing_canonical_form(parse_schema(dict(avsc), _write_hint=False))
    return bytes.fromhex(_fastavro_fingerprint(canonical, "CRC-64-AVRO"))


def _strip_null(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        return rest[0] if len(rest) == 1 else rest
    return avro_type


def _walk_record(
    record: Mapping[str, Any],
    prefix: str,
    specs: list[FieldSpec],
    rules: list[RuleRef],
    source: str,
) -> None:
    for rule in record.get("x-rules", []):
        rules.append(RuleRef(rule["name"], rule.get("doc", ""), prefix.rstrip(".")))
    for fdef in record["fields"]:
        path = prefix + fdef["name"]
        spec = _field_spec(fdef, path, source)
        specs.append(spec)
        base = spec.base_type
        if isinstance(base, dict) and base.get("type") == "record":
            _walk_record(base, path + ".", specs, rules, source)
        elif isinstance(base, dict) and base.get("type") == "array":
            items = base["items"]
            if isinstance(items, dict) and items.get("type") == "record":
                _walk_record(items, path + "[].", specs, rules, source)


def _field_spec(fdef: Mapping[str, Any], path: str, source: str) -> FieldSpec:
    pii = fdef.get("x-pii")
    if pii not in PII_CLASSES:
        raise SchemaDefinitionError(
            f"{source}: field {path} has x-pii={pii!r}; expected one of {PII_CLASSES}"
        )
    if not fdef.get("doc"):
        raise SchemaDefinitionError(f"{source}: field {path} has no doc")
    if "x-treatment" not in fdef:
        raise SchemaDefinitionError(f"{source}: field {path} has no x-treatment")
    avro_type = fdef["type"]
    base = _strip_null(avro_type)
    symbols = (
        tuple(base["symbols"]) if isinstance(base, dict) and base.get("type") == "enum" else None
    )
    pattern = fdef.get("x-pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SchemaDefinitionError(
                f"{source}: field {path} has a bad x-pattern: {exc}"
            ) from exc
    return FieldSpec(
        path=path,
        avro_type=avro_type,
        doc=fdef["doc"],
        pii=cast(PiiClass, pii),
        treatment=fdef["x-treatment"],
        nullable=isinstance(avro_type, list) and "null" in avro_type,
        default=fdef.get("default", _MISSING),
        format=fdef.get("x-format"),
        pattern=pattern,
        minimum=fdef.get("x-min"),
        maximum=fdef.get("x-max"),
        min_length=fdef.get("x-min-length"),
        max_length=fdef.get("x-max-length"),
        min_items=fdef.get("x-min-items"),
        max_items=fdef.get("x-max-items"),
        item_max_length=fdef.get("x-item-max-length"),
        unit=fdef.get("x-unit"),
        symbols=symbols,
    )


__all__ = [
    "EVENT_NAMES",
    "PII_CLASSES",
    "Contract",
    "EventSchema",
    "FieldSpec",
    "PiiClass",
    "RuleRef",
    "fingerprint_of",
    "schemas_root",
]
