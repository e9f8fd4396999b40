"""Hypothesis strategies for records that are valid for an Avro schema, built from the .avsc JSON.

Generic on purpose: it reads any record schema (primitives, unions with ``null``, enums,
fixed, arrays, maps, nested and named records, recursive references) and knows the
logical types the contract uses. The values are what fastavro decodes to, so a record
drawn here must come back from an encode/decode round trip unchanged:

- ``timestamp-millis``: aware UTC ``datetime`` with millisecond precision;
- ``timestamp-micros``: aware UTC ``datetime``;
- ``date``: ``datetime.date``; ``uuid``: ``uuid.UUID``;
- ``time-millis`` / ``time-micros``: ``datetime.time``.

Only Avro validity is generated, not the contract's annotations (``x-pattern``,
``x-min``...): the codec must carry any record its schema allows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from hypothesis import strategies as st

__all__ = ["avro_records", "avro_values"]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)

_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(*_INT32),
    "long": st.integers(*_INT64),
    # NaN is a valid Avro float but never equal to itself, so a round trip cannot be compared.
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=64),
    "string": st.text(max_size=64),
}


def _utc_datetimes(precision_us: int) -> st.SearchStrategy[dt.datetime]:
    naive = st.datetimes(min_value=dt.datetime.min, max_value=dt.datetime.max)
    return naive.map(
        lambda d: d.replace(microsecond=d.microsecond - d.microsecond % precision_us, tzinfo=dt.UTC)
    )


def _times(precision_us: int) -> st.SearchStrategy[dt.time]:
    return st.times().map(
        lambda t: t.replace(microsecond=t.microsecond - t.microsecond % precision_us)
    )


# (logical type, underlying Avro type) -> values fastavro reads back unchanged.
_LOGICAL: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("timestamp-millis", "long"): _utc_datetimes(1000),
    ("timestamp-micros", "long"): _utc_datetimes(1),
    ("date", "int"): st.dates(),
    ("uuid", "string"): st.uuids(),
    ("time-millis", "int"): _times(1000),
    ("time-micros", "long"): _times(1),
}
# Known logical types this builder does not model; failing loudly beats generating
# values of the underlying type that the codec would then convert.
_UNSUPPORTED_LOGICAL = frozenset(
    {"decimal", "duration", "local-timestamp-millis", "local-timestamp-micros", "big-decimal"}
)


def avro_records(
    schema: Mapping[str, Any], *, max_items: int = 4
) -> st.SearchStrategy[dict[str, Any]]:
    """Records valid for the record ``schema`` (a parsed .avsc dict)."""
    if schema.get("type") != "record":
        raise ValueError(f"expected a record schema, got type {schema.get('type')!r}")
    return avro_values(schema, max_items=max_items)


def avro_values(schema: Any, *, max_items: int = 4) -> st.SearchStrategy[Any]:
    """Values valid for any Avro schema; arrays and maps get at most ``max_items`` entries."""
    return _Builder(max_items).build(schema, "")


class _Builder:
    def __init__(self, max_items: int) -> None:
        self._max_items = max_items
        self._named: dict[str, st.SearchStrategy[Any]] = {}

    def build(self, schema: Any, namespace: str) -> st.SearchStrategy[Any]:
        if isinstance(schema, list):
            return st.one_of([self.build(branch, namespace) for branch in schema])
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVES[schema]
            return self._reference(schema, namespace)
        if not isinstance(schema, Mapping):
            raise TypeError(f"not an Avro schema: {schema!r}")
        kind = schema["type"]
        if isinstance(kind, (list, Mapping)):  # {"type": {...}} wraps a schema
            return self.build(kind, namespace)
        logical = schema.get("logicalType")
        if logical is not None:
            if logical in _UNSUPPORTED_LOGICAL:
                raise NotImplementedError(f"logical type {logical!r} is not modelled")
            known = _LOGICAL.get((logical, kind))
            if known is not None:
                return known
            # The specification: an unknown logical type is read as its underlying type.
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        builder = self._COMPLEX.get(kind)
        if builder is None:
            raise ValueError(f"unknown Avro type {kind!r}")
        return builder(self, schema, namespace)

    def _reference(self, name: str, namespace: str) -> st.SearchStrategy[Any]:
        full = name if "." in name or not namespace else f"{namespace}.{name}"
        # Deferred, so that a record may refer to itself (recursive types).
        return st.deferred(lambda: self._named[full] if full in self._named else self._named[name])

    def _register(self, schema: Mapping[str, Any], namespace: str) -> tuple[str, str]:
        name = str(schema["name"])
        full = name if "." in name else f"{schema.get('namespace', namespace)}.{name}".lstrip(".")
        return full, full.rpartition(".")[0]

    def _record(self, schema: Mapping[str, Any], namespace: str) -> st.SearchStrategy[Any]:
        full, inner_ns = self._register(schema, namespace)
        self._named[full] = st.deferred(lambda: strategy)
        fields = {f["name"]: self.build(f["type"], inner_ns) for f in schema["fields"]}
        strategy = st.fixed_dictionaries(fields)
        self._named[full] = strategy
        return strategy

    def _enum(self, schema: Mapping[str, Any], namespace: str) -> st.SearchStrategy[Any]:
        full, _ = self._register(schema, namespace)
        strategy = st.sampled_from(list(schema["symbols"]))
        self._named[full] = strategy
        return strategy

    def _fixed(self, schema: Mapping[str, Any], namespace: str) -> st.SearchStrategy[Any]:
        full, _ = self._register(schema, namespace)
        size = int(schema["size"])
        strategy = st.binary(min_size=size, max_size=size)
        self._named[full] = strategy
        return strategy

    def _array(self, schema: Mapping[str, Any], namespace: str) -> st.SearchStrategy[Any]:
        return st.lists(self.build(schema["items"], namespace), max_size=self._max_items)

    def _map(self, schema: Mapping[str, Any], namespace: str) -> st.SearchStrategy[Any]:
        values = self.build(schema["values"], namespace)
        return st.dictionaries(st.text(max_size=16), values, max_size=self._max_items)

    _COMPLEX: ClassVar[
        dict[str, Callable[[_Builder, Mapping[str, Any], str], st.SearchStrategy[Any]]]
    ] = {
        "record": _record,
        "error": _record,
        "enum": _enum,
        "fixed": _fixed,
        "array": _array,
        "map": _map,
    }
