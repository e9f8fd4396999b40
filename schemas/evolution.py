"""Schema evolution check: every schema FULL_TRANSITIVE compatible with its earlier versions.

FULL means each of two versions can read data written with the other (backward and
forward); TRANSITIVE means against every earlier version, not only the last. The
reader/writer resolution follows the Avro specification's "Schema Resolution"
section. Each incompatibility names the field path and the rule it breaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_PROMOTIONS: dict[str, frozenset[str]] = {
    # writer type -> reader types that can read it
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """Why a reader schema cannot read data written with a writer schema."""

    path: str
    rule: str
    message: str
    direction: str = ""
    """``"current reads vN"`` or ``"vN reads current"`` when found by :func:`check_full_transitive`."""

    def __str__(self) -> str:
        where = f" ({self.direction})" if self.direction else ""
        return f"{self.path}: {self.rule}{where}: {self.message}"


def can_read(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> list[Incompatibility]:
    """What stops ``reader`` from reading data written with ``writer``; empty when it can."""
    checker = _Checker(_named_types(reader), _named_types(writer))
    return list(checker.check(reader, writer, _namespace(reader), _namespace(writer), ""))


def check_full_transitive(
    current: Mapping[str, Any], earlier: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[Incompatibility]:
    """Check ``current`` against every ``(label, schema)`` earlier version, both directions."""
    found: list[Incompatibility] = []
    for label, old in earlier:
        for direction, reader, writer in (
            (f"current reads {label}", current, old),
            (f"{label} reads current", old, current),
        ):
            found.extend(
                Incompatibility(i.path, i.rule, i.message, direction)
                for i in can_read(reader, writer)
            )
    return found


def _namespace(schema: Mapping[str, Any]) -> str:
    return str(schema.get("namespace", ""))


def _full_name(schema: Mapping[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    ns = schema.get("namespace", namespace)
    return f"{ns}.{name}" if ns else name


def _named_types(
    schema: Any, namespace: str = "", found: dict[str, Any] | None = None
) -> dict[str, Any]:
    found = {} if found is None else found
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, namespace, found)
    elif isinstance(schema, Mapping):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed", "error"):
            full = _full_name(schema, namespace)
            found[full] = schema
            namespace = full.rpartition(".")[0]
        if kind in ("record", "error"):
            for f in schema["fields"]:
                _named_types(f["type"], namespace, found)
        elif kind == "array":
            _named_types(schema["items"], namespace, found)
        elif kind == "map":
            _named_types(schema["values"], namespace, found)
        elif isinstance(kind, (Mapping, list)):
            _named_types(kind, namespace, found)
    return found


class _Checker:
    def __init__(self, reader_types: dict[str, Any], writer_types: dict[str, Any]) -> None:
        self._types = {"r": reader_types, "w": writer_types}
        # Record pairs being checked, on the current path only: a recursive type meets
        # itself again below and is assumed compatible there, as in Avro's Java checker.
        self._in_progress: set[tuple[str, str]] = set()

    def _resolve(self, side: str, schema: Any, namespace: str) -> tuple[Any, str]:
        """Expand references to named types; return (schema, its namespace)."""
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            full = schema if "." in schema else f"{namespace}.{schema}" if namespace else schema
            target = self._types[side].get(full)
            if target is None:
                target = self._types[side].get(schema)
            if target is None:
                raise KeyError(f"unknown named type {schema!r}")
            return target, full.rpartition(".")[0]
        if isinstance(schema, Mapping) and isinstance(schema.get("type"), (Mapping, list)):
            return self._resolve(side, schema["type"], namespace)
        if isinstance(schema, Mapping) and schema.get("type") in _PRIMITIVES:
            return schema["type"], namespace  # logical types resolve on their primitive
        if isinstance(schema, Mapping) and "name" in schema:
            return schema, _full_name(schema, namespace).rpartition(".")[0]
        return schema, namespace

    def check(
        self, reader: Any, writer: Any, r_ns: str, w_ns: str, path: str
    ) -> Iterator[Incompatibility]:
        reader, r_ns = self._resolve("r", reader, r_ns)
        writer, w_ns = self._resolve("w", writer, w_ns)
        if isinstance(writer, list):
            for branch in writer:
                if isinstance(reader, list):
                    yield from self._read_into_union(
                        reader, branch, r_ns, w_ns, path, "union_branch_missing",
                        f"writer union branch {_type_name(branch)} has no readable branch in the reader",
                    )  # fmt: skip
                else:
                    yield from self.check(reader, branch, r_ns, w_ns, path)
            return
        if isinstance(reader, list):
            yield from self._read_into_union(
                reader, writer, r_ns, w_ns, path, "type_mismatch",
                f"reader union has no branch for writer type {_type_name(writer)}",
            )  # fmt: skip
            return
        r_kind = reader if isinstance(reader, str) else reader["type"]
        w_kind = writer if isinstance(writer, str) else writer["type"]
        if r_kind != w_kind:
            if r_kind in _PROMOTIONS.get(w_kind, frozenset()):
                return
            yield Incompatibility(
                path or "$", "type_mismatch", f"writer {w_kind} cannot be read as {r_kind}"
            )
            return
        if r_kind in ("record", "error"):
            yield from self._check_record(reader, writer, r_ns, w_ns, path)
        elif r_kind == "enum":
            yield from self._check_names(reader, writer, r_ns, w_ns, path)
            missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if missing and "default" not in reader:
                yield Incompatibility(
                    path or "$",
                    "enum_symbol_missing",
                    f"writer symbols {missing} are unknown to the reader, which has no enum default",
                )
        elif r_kind == "fixed":
            yield from self._check_names(reader, writer, r_ns, w_ns, path)
            if reader["size"] != writer["size"]:
                yield Incompatibility(
                    path or "$", "fixed_size", f"size {writer['size']} read as {reader['size']}"
                )
        elif r_kind == "array":
            yield from self.check(reader["items"], writer["items"], r_ns, w_ns, f"{path}[]")
        elif r_kind == "map":
            yield from self.check(reader["values"], writer["values"], r_ns, w_ns, f"{path}{{}}")

    def _read_into_union(
        self,
        branches: list[Any],
        writer: Any,
        r_ns: str,
        w_ns: str,
        path: str,
        rule: str,
        message: str,
    ) -> Iterator[Incompatibility]:
        """Nothing when some reader branch reads ``writer``; else say why as precisely as we can.

        When a branch of the same kind and name exists (a nullable record that changed), its
        own incompatibilities name the field inside; otherwise the union as a whole is at fault.
        """
        closest: list[Incompatibility] | None = None
        for branch in branches:
            found = list(self.check(branch, writer, r_ns, w_ns, path))
            if not found:
                return
            if closest is None and self._same_kind(branch, writer, r_ns, w_ns):
                closest = found
        yield from closest or [Incompatibility(path or "$", rule, message)]

    def _same_kind(self, reader: Any, writer: Any, r_ns: str, w_ns: str) -> bool:
        reader, r_ns = self._resolve("r", reader, r_ns)
        writer, w_ns = self._resolve("w", writer, w_ns)
        if isinstance(reader, list) or isinstance(writer, list):
            return False
        r_kind = reader if isinstance(reader, str) else reader["type"]
        w_kind = writer if isinstance(writer, str) else writer["type"]
        if r_kind != w_kind:
            return False
        if isinstance(reader, Mapping) and "name" in reader:
            return str(reader["name"]).rsplit(".", 1)[-1] == str(writer["name"]).rsplit(".", 1)[-1]
        return True

    def _check_names(
        self, reader: Any, writer: Any, r_ns: str, w_ns: str, path: str
    ) -> Iterator[Incompatibility]:
        r_name, w_name = _full_name(reader, r_ns), _full_name(writer, w_ns)
        aliases = {a if "." in a else f"{r_ns}.{a}" for a in reader.get("aliases", [])}
        if (
            r_name != w_name
            and w_name not in aliases
            and r_name.rsplit(".", 1)[-1] != w_name.rsplit(".", 1)[-1]
        ):
            yield Incompatibility(
                path or "$", "name_mismatch", f"writer type {w_name} read as {r_name}"
            )

    def _check_record(
        self, reader: Any, writer: Any, r_ns: str, w_ns: str, path: str
    ) -> Iterator[Incompatibility]:
        key = (_full_name(reader, r_ns), _full_name(writer, w_ns))
        if key in self._in_progress:  # recursive type
            return
        self._in_progress.add(key)
        try:
            yield from self._check_fields(reader, writer, r_ns, w_ns, path)
        finally:
            self._in_progress.discard(key)

    def _check_fields(
        self, reader: Any, writer: Any, r_ns: str, w_ns: str, path: str
    ) -> Iterator[Incompatibility]:
        yield from self._check_names(reader, writer, r_ns, w_ns, path)
        r_ns = _full_name(reader, r_ns).rpartition(".")[0]
        w_ns = _full_name(writer, w_ns).rpartition(".")[0]
        writer_fields = {f["name"]: f for f in writer["fields"]}
        for rf in reader["fields"]:
            field_path = f"{path}.{rf['name']}" if path else rf["name"]
            wf = writer_fields.get(rf["name"])
            if wf is None:
                wf = next(
                    (writer_fields[a] for a in rf.get("aliases", []) if a in writer_fields), None
                )
            if wf is None:
                if "default" not in rf:
                    yield Incompatibility(
                        field_path,
                        "missing_default",
                        "the reader has this field without a default and the writer does not write it",
                    )
                continue
            yield from self.check(rf["type"], wf["type"], r_ns, w_ns, field_path)


def _type_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, Mapping):
        return str(schema.get("name", schema.get("type")))
    return "union"


__all__ = ["Incompatibility", "can_read", "check_full_transitive"]
