"""Schema evolution: FULL_TRANSITIVE, checked by our checker, the contract check and the CLI.

Every verdict of :func:`can_read` on the cases here is also asked of the reference
``avro`` package's ``ReaderWriterCompatibilityChecker``, an independent implementation
of the specification's resolution rules.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from typer.testing import CliRunner

from shopstream.processors.cli import app
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.conventions import check_contract
from shopstream.schemas.evolution import can_read, check_full_transitive

Schema = dict[str, Any]
NEW_READS_OLD = "current reads v1"
OLD_READS_NEW = "v1 reads current"


def shipped(name: str) -> Schema:
    return json.loads((schemas_root() / name / "v1.avsc").read_text("utf-8"))


def _field(name: str, avro_type: Any, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": avro_type,
        "doc": f"Test field {name}.",
        "x-pii": "none",
        "x-treatment": "keep",
        **extra,
    }


def added(fdef: Mapping[str, Any]) -> Callable[[Schema], None]:
    def change(schema: Schema) -> None:
        schema["fields"].append(dict(fdef))

    return change


def removed(name: str) -> Callable[[Schema], None]:
    def change(schema: Schema) -> None:
        schema["fields"] = [f for f in schema["fields"] if f["name"] != name]

    return change


def retyped(name: str, avro_type: Any) -> Callable[[Schema], None]:
    def change(schema: Schema) -> None:
        next(f for f in schema["fields"] if f["name"] == name)["type"] = avro_type

    return change


def made_required(name: str) -> Callable[[Schema], None]:
    """["null", "string"] with default null becomes "string" without a default."""

    def change(schema: Schema) -> None:
        fdef = next(f for f in schema["fields"] if f["name"] == name)
        fdef["type"] = next(t for t in fdef["type"] if t != "null")
        del fdef["default"]

    return change


def inside(name: str, change: Callable[[Schema], None]) -> Callable[[Schema], None]:
    """Apply ``change`` to the record inside field ``name`` (behind a null union or an array)."""

    def apply(schema: Schema) -> None:
        avro_type = next(f for f in schema["fields"] if f["name"] == name)["type"]
        if isinstance(avro_type, list):
            avro_type = next(t for t in avro_type if t != "null")
        if avro_type["type"] == "array":
            avro_type = avro_type["items"]
        change(avro_type)

    return apply


def renamed(new_name: str, *aliases: str) -> Callable[[Schema], None]:
    def change(schema: Schema) -> None:
        schema["name"] = new_name
        if aliases:
            schema["aliases"] = list(aliases)

    return change


def enum_changed(
    name: str, *, symbols: list[str] | None = None, default: bool = True
) -> Callable[[Schema], None]:
    """Edit the enum type of field ``name``: new symbols, and/or drop the enum's own default."""

    def change(schema: Schema) -> None:
        enum = next(f for f in schema["fields"] if f["name"] == name)["type"]
        if symbols is not None:
            enum["symbols"] = symbols
        if not default:
            enum.pop("default", None)

    return change


@dataclass(frozen=True)
class Case:
    id: str
    event: str
    change: Callable[[Schema], None]
    expected: frozenset[tuple[str, str, str]]
    """(path, rule, direction) of every incompatibility found."""
    old_change: Callable[[Schema], None] | None = None
    """Applied to v1 as well (e.g. to take a default away from both versions)."""

    def versions(self) -> tuple[Schema, Schema]:
        old = shipped(self.event)
        if self.old_change is not None:
            self.old_change(old)
        new = copy.deepcopy(old)
        self.change(new)
        return old, new


SCROLL = _field("scroll_depth", "int")
SCROLL_WITH_DEFAULT = _field("scroll_depth", "int", default=-1)
DEVICE_SYMBOLS_PLUS_TV = ["pc", "mobile", "tablet", "app", "unknown", "tv"]

CASES = [
    Case(
        "added-without-default",
        "visit",
        added(SCROLL),
        frozenset({("scroll_depth", "missing_default", NEW_READS_OLD)}),
    ),
    Case("added-with-default", "visit", added(SCROLL_WITH_DEFAULT), frozenset()),
    Case(
        "removed-without-default",
        "review",
        removed("product_id"),
        frozenset({("product_id", "missing_default", OLD_READS_NEW)}),
    ),
    Case("removed-with-default", "visit", removed("dwell_ms"), frozenset()),
    Case(
        "int-to-string",
        "review",
        retyped("rating", "string"),
        frozenset(
            {("rating", "type_mismatch", NEW_READS_OLD), ("rating", "type_mismatch", OLD_READS_NEW)}
        ),
    ),
    Case(
        "int-to-long",
        "review",
        retyped("rating", "long"),
        # long reads int (promotion); int cannot read long
        frozenset({("rating", "type_mismatch", OLD_READS_NEW)}),
    ),
    Case(
        "enum-symbol-added",
        "visit",
        enum_changed("device", symbols=DEVICE_SYMBOLS_PLUS_TV),
        frozenset(),
    ),
    Case(
        "enum-symbol-added-without-enum-default",
        "visit",
        enum_changed("device", symbols=DEVICE_SYMBOLS_PLUS_TV, default=False),
        # The field's own "default": "unknown" does not help: it only fills a missing field.
        frozenset({("device", "enum_symbol_missing", OLD_READS_NEW)}),
        old_change=enum_changed("device", default=False),
    ),
    Case(
        "nullable-made-required",
        "visit",
        made_required("product_id"),
        frozenset({("product_id", "type_mismatch", NEW_READS_OLD)}),
    ),
    Case(
        "union-branch-added",
        "visit",
        retyped("product_id", ["null", "string", "long"]),
        frozenset({("product_id", "union_branch_missing", OLD_READS_NEW)}),
    ),
    Case(
        "nested-field-added-without-default",
        "signup",
        inside("address", added(_field("country", "string"))),
        # Reported on the field inside the nullable record, not on the union around it.
        frozenset({("address.country", "missing_default", NEW_READS_OLD)}),
    ),
    Case(
        "array-item-field-retyped",
        "purchase",
        inside("items", retyped("quantity", "string")),
        frozenset(
            {
                ("items[].quantity", "type_mismatch", NEW_READS_OLD),
                ("items[].quantity", "type_mismatch", OLD_READS_NEW),
            }
        ),
    ),
    Case(
        "nested-record-renamed",
        "signup",
        inside("address", renamed("PostalAddress")),
        # Inside a nullable union a renamed record matches no branch: reported on the union.
        frozenset(
            {
                ("address", "union_branch_missing", NEW_READS_OLD),
                ("address", "union_branch_missing", OLD_READS_NEW),
            }
        ),
    ),
    Case(
        "nested-record-renamed-with-alias",
        "signup",
        inside("address", renamed("PostalAddress", "shopstream.events.Address")),
        # The alias lets the new name read the old; the old name still cannot read the new one.
        frozenset({("address", "union_branch_missing", OLD_READS_NEW)}),
    ),
]


def _found(current: Schema, old: Schema) -> frozenset[tuple[str, str, str]]:
    return frozenset(
        (i.path, i.rule, i.direction) for i in check_full_transitive(current, [("v1", old)])
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_check_full_transitive(case: Case) -> None:
    old, new = case.versions()
    assert _found(new, old) == case.expected


# -- the independent oracle -----------------------------------------------------------------


def reference_can_read(reader: Schema, writer: Schema) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    return result.compatibility is SchemaCompatibilityType.compatible


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("direction", [NEW_READS_OLD, OLD_READS_NEW])
def test_same_verdict_as_the_reference_package(case: Case, direction: str) -> None:
    old, new = case.versions()
    reader, writer = (new, old) if direction == NEW_READS_OLD else (old, new)
    we_reject = bool(can_read(reader, writer))
    assert we_reject == (not reference_can_read(reader, writer))
    # and the verdict is the one the case expects for that direction
    assert we_reject == any(d == direction for _, _, d in case.expected)


def test_shipped_schemas_read_themselves() -> None:
    for schema in Contract.load():
        assert can_read(schema.avsc, schema.avsc) == []
        assert reference_can_read(dict(schema.avsc), dict(schema.avsc))


# -- recursive types ------------------------------------------------------------------------


def _linked_list(*extra: dict[str, Any]) -> Schema:
    return {
        "type": "record",
        "name": "CategoryNode",
        "namespace": "test.evolution",
        "fields": [
            {"name": "category_id", "type": "string"},
            {"name": "parent", "type": ["null", "CategoryNode"], "default": None},
            *extra,
        ],
    }


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ((), set()),
        (({"name": "label", "type": "string", "default": ""},), set()),
        (({"name": "label", "type": "string"},), {("label", "missing_default", NEW_READS_OLD)}),
    ],
    ids=["unchanged", "added-with-default", "added-without-default"],
)
def test_recursive_types_terminate_and_agree_with_the_reference(
    extra: tuple[dict[str, Any], ...], expected: set[tuple[str, str, str]]
) -> None:
    old, new = _linked_list(), _linked_list(*extra)
    assert _found(new, old) == expected
    assert bool(can_read(new, old)) == (not reference_can_read(new, old))
    assert bool(can_read(old, new)) == (not reference_can_read(old, new))


def test_recursive_type_changed_deep_inside() -> None:
    old = _linked_list()
    new = copy.deepcopy(old)
    new["fields"][0]["type"] = "long"  # category_id string -> long, on every level
    assert not reference_can_read(new, old)
    assert {(i.path, i.rule) for i in can_read(new, old)} == {("category_id", "type_mismatch")}


# -- the contract check and the CLI on a copy of the shipped schemas ------------------------


def contract_copy(tmp_path: Path, event: str, *versions: Schema) -> Path:
    """The shipped schemas with ``versions`` added to ``event`` as v2, v3..."""
    root = tmp_path / "avro"
    shutil.copytree(schemas_root(), root)
    for number, schema in enumerate(versions, start=2):
        (root / event / f"v{number}.avsc").write_text(
            json.dumps(schema, ensure_ascii=False, indent=2), "utf-8"
        )
    return root


CONTRACT_CASES = [
    c for c in CASES if not c.id.startswith("nested-record-renamed") and c.old_change is None
]


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda c: c.id)
def test_check_contract(tmp_path: Path, case: Case) -> None:
    _, new = case.versions()
    problems = check_contract(Contract.load(contract_copy(tmp_path, case.event, new)))
    expected = {
        (f"{case.event} v2", path, rule, direction) for path, rule, direction in case.expected
    }
    assert {(p.schema, p.path, p.rule, p.message.split(":")[0]) for p in problems} == expected


def test_check_contract_is_transitive(tmp_path: Path) -> None:
    # v2 adds scroll_depth with a default; v3 drops the default. v3 against v2 alone is
    # fine both ways (v2 writes the field, v2 reads with its default), but v3 cannot read v1.
    v1 = shipped("visit")
    v2 = copy.deepcopy(v1)
    added(SCROLL_WITH_DEFAULT)(v2)
    v3 = copy.deepcopy(v1)
    added(SCROLL)(v3)
    assert check_full_transitive(v3, [("v2", v2)]) == []
    problems = check_contract(Contract.load(contract_copy(tmp_path, "visit", v2, v3)))
    assert [(p.schema, p.path, p.rule, p.message.split(":")[0]) for p in problems] == [
        ("visit v3", "scroll_depth", "missing_default", NEW_READS_OLD)
    ]


def test_enum_without_default_fails_the_contract_check_too(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "enum-symbol-added-without-enum-default")
    old, new = case.versions()
    root = contract_copy(tmp_path, "visit", new)
    (root / "visit" / "v1.avsc").write_text(json.dumps(old), "utf-8")
    rules = {(p.path, p.rule) for p in check_contract(Contract.load(root))}
    assert ("device", "enum_symbol_missing") in rules
    assert ("device", "enum_default") in rules  # the convention catches it before any v2


runner = CliRunner()


def test_cli_check_passes_on_the_shipped_contract() -> None:
    result = runner.invoke(app, ["schemas", "check"])
    assert result.exit_code == 0, result.output
    contract = Contract.load()
    versions = sum(len(contract.versions(n)) for n in contract.names)
    assert f"ok: {len(contract.names)} schemas, {versions} versions" in result.output


def test_cli_check_rejects_an_added_field_without_default(tmp_path: Path) -> None:
    new = shipped("visit")
    added(SCROLL)(new)
    result = runner.invoke(
        app, ["schemas", "check", "--schemas-dir", str(contract_copy(tmp_path, "visit", new))]
    )
    assert result.exit_code == 1
    assert "visit v2: scroll_depth: missing_default" in result.output
    assert "1 problem(s)" in result.output


def test_cli_check_accepts_an_added_field_with_default(tmp_path: Path) -> None:
    new = shipped("visit")
    added(SCROLL_WITH_DEFAULT)(new)
    result = runner.invoke(
        app, ["schemas", "check", "--schemas-dir", str(contract_copy(tmp_path, "visit", new))]
    )
    assert result.exit_code == 0, result.output
    contract = Contract.load()
    versions = sum(len(contract.versions(n)) for n in contract.names)
    assert f"{versions + 1} versions" in result.output
