"""Avro schema -> Arrow schema, and decoded Avro records -> Arrow columns.

:func:`arrow_schema` is pure: the same ``.avsc`` always gives the same
:class:`pyarrow.Schema`. The mapping (docs/sinks.md repeats it):

===============================  ==========================================
Avro                             Arrow
===============================  ==========================================
null                             null
boolean                          bool
int / long                       int32 / int64
float / double                   float32 / float64
bytes / fixed(n)                 binary / fixed_size_binary(n)
string                           string
string, logicalType uuid         string (canonical 8-4-4-4-12 form)
enum                             string (the symbol)
int, logicalType date            date32
int, logicalType time-millis     time32[ms]
long, logicalType time-micros    time64[us]
long, timestamp-millis / -micros timestamp[ms] / [us], tz=UTC
long, local-timestamp-millis     timestamp[ms], no time zone (likewise -micros)
bytes/fixed, logicalType decimal decimal128(precision, scale)
fixed, logicalType duration      fixed_size_binary(12)
["null", T] (either order)       T, nullable
array<T>                         list<item: T>
map<T>                           map<string, T>
record                           struct (fields in order)
===============================  ==========================================

A field is nullable exactly when its Avro type is a union with ``null``; list items and
map values are non-nullable unless their Avro type says otherwise. Each field carries its
Avro ``doc`` as field metadata (``doc``). A union of two or more non-null types has no
faithful Arrow counterpart in this mapping and raises :class:`ArrowMappingError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from shopstream.processors.sinks.parquet.errors import ArrowMappingError

_PRIMITIVES: dict[str, pa.DataType] = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_LOGICAL: dict[tuple[str, str], pa.DataType] = {
    ("string", "uuid"): pa.string(),
    ("int", "date"): pa.date32(),
    ("int", "time-millis"): pa.time32("ms"),
    ("long", "time-micros"): pa.time64("us"),
    ("long", "timestamp-millis"): pa.timestamp("ms", tz="UTC"),
    ("long", "timestamp-micros"): pa.timestamp("us", tz="UTC"),
    ("long", "local-timestamp-millis"): pa.timestamp("ms"),
    ("long", "local-timestamp-micros"): pa.timestamp("us"),
}

Converter = Callable[[Any], Any]
"""Turns one decoded Avro value into what :func:`pyarrow.array` takes for its Arrow type."""


def arrow_schema(avsc: Mapping[str, Any]) -> pa.Schema:
    """The Arrow schema of an Avro record schema: one field per record field, in order."""
    return pa.schema(_Mapping().record_fields(avsc, ""))


def arrow_type(avro_type: Any) -> pa.DataType:
    """The Arrow type of one (self-contained) Avro type."""
    return _Mapping().type_of(avro_type, "")[0]


@dataclass(frozen=True)
class RecordColumns:
    """Decoded records of one Avro record schema -> one Arrow array per field."""

    schema: pa.Schema
    converters: tuple[Converter | None, ...]
    """Per field: how to convert its values (None: they go to Arrow as they are)."""

    @classmethod
    def from_avro(cls, avsc: Mapping[str, Any]) -> RecordColumns:
        mapping = _Mapping()
        fields = mapping.record_fields(avsc, "")
        converters = tuple(
            mapping.converter(f["type"], _namespace_of(avsc, "")) for f in avsc["fields"]
        )
        return cls(pa.schema(fields), converters)

    def columns(self, records: Sequence[Mapping[str, Any]]) -> list[pa.Array]:
        arrays = []
        for field, convert in zip(self.schema, self.converters, strict=True):
            name = field.name
            if convert is None:
                values = [r.get(name) for r in records]
            else:
                values = [convert(r.get(name)) for r in records]
            arrays.append(pa.array(values, type=field.type))
        return arrays


def _namespace_of(named: Mapping[str, Any], enclosing: str) -> str:
    name: str = named["name"]
    if "." in name:
        return name.rsplit(".", 1)[0]
    return str(named.get("namespace", enclosing))


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


class _Mapping:
    """One walk over a schema: named types are remembered as they are defined."""

    def __init__(self) -> None:
        self._named: dict[str, Any] = {}

    def record_fields(self, record: Mapping[str, Any], enclosing: str) -> list[pa.Field]:
        if not isinstance(record, Mapping) or record.get("type") != "record":
            raise ArrowMappingError("not an Avro record schema", avro_type=record)
        namespace = _namespace_of(record, enclosing)
        self._named[_full_name(record["name"], namespace)] = record
        fields = []
        for field in record["fields"]:
            data_type, nullable = self.type_of(field["type"], namespace)
            doc = field.get("doc")
            metadata = {"doc": doc} if doc else None
            fields.append(pa.field(field["name"], data_type, nullable, metadata=metadata))
        return fields

    def type_of(self, avro_type: Any, namespace: str) -> tuple[pa.DataType, bool]:
        """(Arrow type, nullable) of an Avro type."""
        if isinstance(avro_type, list):
            branches = [b for b in avro_type if b != "null"]
            if len(branches) != 1:
                raise ArrowMappingError(
                    f"union {avro_type!r}: only a union of null and one type maps to Arrow",
                    avro_type=avro_type,
                )
            data_type, _ = self.type_of(branches[0], namespace)
            return data_type, len(branches) < len(avro_type)
        if isinstance(avro_type, str):
            if avro_type in _PRIMITIVES:
                return _PRIMITIVES[avro_type], avro_type == "null"
            return self.type_of(self._reference(avro_type, namespace), namespace)
        if not isinstance(avro_type, Mapping):
            raise ArrowMappingError(f"not an Avro type: {avro_type!r}", avro_type=avro_type)
        kind = avro_type.get("type")
        logical = avro_type.get("logicalType")
        if logical is not None:
            mapped = self._logical(avro_type, kind, logical, namespace)
            if mapped is not None:
                return mapped, False
        if kind == "record":
            return pa.struct(self.record_fields(avro_type, namespace)), False
        if kind == "enum":
            self._define(avro_type, namespace)
            return pa.string(), False
        if kind == "fixed":
            self._define(avro_type, namespace)
            return pa.binary(int(avro_type["size"])), False
        if kind == "array":
            item, nullable = self.type_of(avro_type["items"], namespace)
            return pa.list_(pa.field("item", item, nullable)), False
        if kind == "map":
            value, nullable = self.type_of(avro_type["values"], namespace)
            return pa.map_(pa.string(), pa.field("value", value, nullable)), False
        if isinstance(kind, str | list | Mapping):
            # {"type": "long"} and the like: a primitive or a reference written as an object.
            return self.type_of(kind, namespace)
        raise ArrowMappingError(f"unknown Avro type {kind!r}", avro_type=avro_type)

    def _logical(
        self, avro_type: Mapping[str, Any], kind: Any, logical: str, namespace: str
    ) -> pa.DataType | None:
        if logical == "decimal" and kind in ("bytes", "fixed"):
            if kind == "fixed":
                self._define(avro_type, namespace)
            return pa.decimal128(int(avro_type["precision"]), int(avro_type.get("scale", 0)))
        if logical == "duration" and kind == "fixed":
            self._define(avro_type, namespace)
            return pa.binary(12)
        # An unknown logical type is read as its underlying type (the Avro rule).
        return _LOGICAL.get((kind, logical))

    def _define(self, named: Mapping[str, Any], namespace: str) -> None:
        self._named[_full_name(named["name"], _namespace_of(named, namespace))] = named

    def _reference(self, name: str, namespace: str) -> Any:
        for candidate in (_full_name(name, namespace), name):
            if candidate in self._named:
                return self._named[candidate]
        raise ArrowMappingError(f"unknown Avro type name {name!r}", avro_type=name)

    def converter(self, avro_type: Any, namespace: str) -> Converter | None:
        """How to turn fastavro's decoded value of ``avro_type`` into Arrow's input, if at all."""
        if isinstance(avro_type, list):
            branches = [b for b in avro_type if b != "null"]
            inner = self.converter(branches[0], namespace) if len(branches) == 1 else None
            if inner is None:
                return None
            return lambda v: None if v is None else inner(v)
        if isinstance(avro_type, str):
            if avro_type in _PRIMITIVES:
                return None
            return self.converter(self._reference(avro_type, namespace), namespace)
        kind = avro_type.get("type")
        if avro_type.get("logicalType") == "uuid" and kind == "string":
            return _uuid_text
        if kind in ("enum", "fixed") or kind in _PRIMITIVES:
            return None
        if kind == "record":
            inner_ns = _namespace_of(avro_type, namespace)
            converters = {
                f["name"]: c
                for f in avro_type["fields"]
                if (c := self.converter(f["type"], inner_ns)) is not None
            }
            if not converters:
                return None
            return lambda d: {k: (converters[k](v) if k in converters else v) for k, v in d.items()}
        if kind == "array":
            item = self.converter(avro_type["items"], namespace)
            return None if item is None else (lambda xs: [item(x) for x in xs])
        if kind == "map":
            value = self.converter(avro_type["values"], namespace)
            return None if value is None else (lambda m: {k: value(v) for k, v in m.items()})
        if isinstance(kind, str | list):
            return self.converter(kind, namespace)
        return None


def _uuid_text(value: Any) -> Any:
    # fastavro decodes the uuid logical type to uuid.UUID; Arrow wants the text.
    return value if value is None or isinstance(value, str) else str(value)


__all__ = ["RecordColumns", "arrow_schema", "arrow_type"]
