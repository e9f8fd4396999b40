"""Contract conventions: the shared envelope, enum defaults, implemented rules."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shopstream.processors.cli import app
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.conventions import Problem, check_contract

Avsc = dict[str, Any]


def test_shipped_contract_has_no_problems() -> None:
    assert check_contract(Contract.load()) == []


def test_every_schema_starts_with_the_envelope() -> None:
    # The convention restated independently of conventions.py: same fields, same order.
    envelope = json.loads((schemas_root() / "envelope.json").read_text("utf-8"))["fields"]
    names = [f["name"] for f in envelope]
    assert names == [
        "event_id",
        "schema_version",
        "shop_id",
        "event_time",
        "sent_time",
        "buyer_id",
        "anonymous_id",
        "session_id",
    ]
    for schema in Contract.load():
        assert list(schema.avsc["fields"][: len(envelope)]) == envelope, schema.name


def edited(tmp_path: Path, event: str, edit: Callable[[Avsc], None]) -> Contract:
    """A copy of the shipped schemas with ``event``/v1.avsc edited in place."""
    root = tmp_path / "avro"
    shutil.copytree(schemas_root(), root)
    path = root / event / "v1.avsc"
    avsc = json.loads(path.read_text("utf-8"))
    edit(avsc)
    path.write_text(json.dumps(avsc, ensure_ascii=False, indent=2), "utf-8")
    return Contract.load(root)


def _field(avsc: Avsc, name: str) -> dict[str, Any]:
    return next(f for f in avsc["fields"] if f["name"] == name)


def _nested(avsc: Avsc, name: str) -> dict[str, Any]:
    return next(t for t in _field(avsc, name)["type"] if t != "null")


def _problems(contract: Contract) -> set[tuple[str, str, str]]:
    return {(p.schema, p.path, p.rule) for p in check_contract(contract)}


@pytest.mark.parametrize(
    ("event", "edit", "path"),
    [
        ("visit", lambda a: _field(a, "buyer_id").update({"x-max-length": 65}), "buyer_id"),
        ("review", lambda a: _field(a, "session_id").update({"x-pii": "none"}), "session_id"),
        ("purchase", lambda a: _field(a, "shop_id").update(doc="The shop."), "shop_id"),
        ("signup", lambda a: _field(a, "event_time").update(type="long"), "event_time"),
        ("product", lambda a: a["fields"].pop(1), "schema_version"),  # dropped: the rest shifts
    ],
    ids=["annotation", "pii-class", "doc", "logical-type-dropped", "field-removed"],
)
def test_envelope_field_changed_in_one_schema(
    tmp_path: Path, event: str, edit: Callable[[Avsc], None], path: str
) -> None:
    problems = _problems(edited(tmp_path, event, edit))
    assert (f"{event} v1", path, "envelope") in problems
    assert {p for p in problems if p[0] != f"{event} v1"} == set()  # the other schemas are fine
    assert {rule for _, _, rule in problems} == {"envelope"}


def test_envelope_fields_moved_out_of_order(tmp_path: Path) -> None:
    def swap(avsc: Avsc) -> None:
        fields = avsc["fields"]
        fields[5], fields[6] = fields[6], fields[5]  # buyer_id <-> anonymous_id

    assert _problems(edited(tmp_path, "visit", swap)) == {
        ("visit v1", "buyer_id", "envelope"),
        ("visit v1", "anonymous_id", "envelope"),
    }


@pytest.mark.parametrize(
    ("event", "edit", "path"),
    [
        ("visit", lambda a: _field(a, "device")["type"].pop("default"), "device"),
        ("purchase", lambda a: _field(a, "status")["type"].pop("default"), "status"),
        (
            "product",
            lambda a: _field(_nested(a, "intangible"), "kind")["type"].pop("default"),
            "intangible.kind",
        ),
    ],
    ids=["top-level", "enum-field-without-field-default", "nested"],
)
def test_enum_without_default(
    tmp_path: Path, event: str, edit: Callable[[Avsc], None], path: str
) -> None:
    assert _problems(edited(tmp_path, event, edit)) == {(f"{event} v1", path, "enum_default")}


def test_an_enum_field_default_is_not_an_enum_default(tmp_path: Path) -> None:
    # visit.device keeps its field-level "default": "unknown"; only the enum type's default counts.
    def edit(avsc: Avsc) -> None:
        _field(avsc, "device")["type"].pop("default")

    contract = edited(tmp_path, "visit", edit)
    assert _field(dict(contract.latest("visit").avsc), "device")["default"] == "unknown"
    assert ("visit v1", "device", "enum_default") in _problems(contract)


@pytest.mark.parametrize(
    ("event", "edit", "path"),
    [
        ("review", lambda a: a["x-rules"].append({"name": "review_is_polite", "doc": "."}), "$"),
        (
            "product",
            lambda a: _nested(a, "intangible")["x-rules"].append(
                {"name": "venue_exists", "doc": "."}
            ),
            "intangible",
        ),
    ],
    ids=["event", "nested-record"],
)
def test_rule_that_is_not_implemented(
    tmp_path: Path, event: str, edit: Callable[[Avsc], None], path: str
) -> None:
    problems = check_contract(edited(tmp_path, event, edit))
    assert [(p.schema, p.path, p.rule) for p in problems] == [(f"{event} v1", path, "rule_missing")]
    assert ("review_is_polite" if event == "review" else "venue_exists") in problems[0].message


def test_problem_text_names_schema_field_and_rule() -> None:
    problem = Problem("visit v2", "scroll_depth", "missing_default", "current reads v1: ...")
    assert str(problem) == "visit v2: scroll_depth: missing_default: current reads v1: ..."


def test_cli_check_reports_convention_problems(tmp_path: Path) -> None:
    root = tmp_path / "avro"
    shutil.copytree(schemas_root(), root)
    path = root / "visit" / "v1.avsc"
    avsc = json.loads(path.read_text("utf-8"))
    _field(avsc, "device")["type"].pop("default")
    path.write_text(json.dumps(avsc), "utf-8")
    result = CliRunner().invoke(app, ["schemas", "check", "--schemas-dir", str(root)])
    assert result.exit_code == 1
    assert "visit v1: device: enum_default" in result.output


def test_engine_dependent_or_unanchored_patterns_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "avro"
    shutil.copytree(schemas_root(), root)
    path = root / "review" / "v1.avsc"
    avsc = json.loads(path.read_text())
    fields = {f["name"]: f for f in avsc["fields"]}
    fields["product_id"]["x-pattern"] = r"^\w+$"
    fields["order_id"]["x-pattern"] = "[A-Z]+"
    path.write_text(json.dumps(avsc))
    found = {(p.path, p.rule) for p in check_contract(Contract.load(root))}
    assert ("product_id", "pattern_portable") in found
    assert ("order_id", "pattern_anchored") in found
