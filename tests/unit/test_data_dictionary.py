"""docs/data-dictionary.md is generated from the schemas and must not go stale."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shopstream.processors.cli import app
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.dictionary import render

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "docs" / "data-dictionary.md"
# The vocabulary of the personal-data column, as the docs promise it to readers.
PII_LABEL = {
    "direct": "direct identifier",
    "quasi": "quasi-identifier",
    "free_text": "sensitive free text",
    "none": "none",
}
runner = CliRunner()


def test_committed_dictionary_is_up_to_date() -> None:
    assert COMMITTED.read_text("utf-8") == render(Contract.load()), (
        "docs/data-dictionary.md is stale: run `shopstream schemas docs`"
    )


def _avsc_fields(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, x-pii) for every field, read from the .avsc JSON directly."""
    for fdef in record["fields"]:
        path = prefix + fdef["name"]
        yield path, fdef["x-pii"]
        avro_type = fdef["type"]
        if isinstance(avro_type, list):
            avro_type = next(t for t in avro_type if t != "null")
        if isinstance(avro_type, Mapping) and avro_type.get("type") == "record":
            yield from _avsc_fields(avro_type, path + ".")
        if isinstance(avro_type, Mapping) and avro_type.get("type") == "array":
            items = avro_type["items"]
            if isinstance(items, Mapping) and items.get("type") == "record":
                yield from _avsc_fields(items, path + "[].")


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (\w+) \(", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _rows(section: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([^`]+)` \|", line)
        if match:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            assert match.group(1) not in rows, f"{match.group(1)} listed twice"
            rows[match.group(1)] = cells
    return rows


# Event schemas sit in avro/<name>/v<N>.avsc; avro/clean/, features/, deadletter/ hold
# derived schemas one level deeper and are not events.
EVENTS = sorted(p.name for p in schemas_root().iterdir() if any(p.glob("v*.avsc")))


@pytest.mark.parametrize("name", EVENTS)
def test_every_field_is_listed_with_its_personal_data_class(name: str) -> None:
    sections = _sections(COMMITTED.read_text("utf-8"))
    assert name in sections
    rows = _rows(sections[name])
    expected = dict(
        _avsc_fields(json.loads((schemas_root() / name / "v1.avsc").read_text("utf-8")))
    )
    assert list(rows) == list(expected)  # every path, in schema order, nothing else
    for path, pii in expected.items():
        assert len(rows[path]) == 7, path
        assert rows[path][4] == PII_LABEL[pii], path


@pytest.mark.parametrize("name", EVENTS)
def test_section_names_fingerprint_and_rules(name: str) -> None:
    schema = Contract.load().latest(name)
    section = _sections(COMMITTED.read_text("utf-8"))[name]
    assert f"Fingerprint `{schema.fingerprint.hex()}`" in section
    for rule in schema.rules:
        assert f"- `{rule.name}`" in section


def test_direct_identifiers_are_all_marked() -> None:
    # The fields the spec names as raw PII must carry the direct class in the docs.
    sections = _sections(COMMITTED.read_text("utf-8"))
    signup = _rows(sections["signup"])
    for path in ("buyer_id", "anonymous_id", "name", "email", "phone", "address", "address.line"):
        assert signup[path][4] == "direct identifier", path
    assert _rows(sections["review"])["text"][4] == "sensitive free text"


def test_cli_docs_check_passes_on_the_committed_file() -> None:
    result = runner.invoke(app, ["schemas", "docs", "--check", "--out", str(COMMITTED)])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_cli_docs_check_fails_on_a_stale_copy(tmp_path: Path) -> None:
    stale = tmp_path / "data-dictionary.md"
    stale.write_text(
        COMMITTED.read_text("utf-8").replace("| direct identifier |", "| none |", 1), "utf-8"
    )
    before = stale.read_text("utf-8")
    result = runner.invoke(app, ["schemas", "docs", "--check", "--out", str(stale)])
    assert result.exit_code == 1
    assert "stale" in result.output
    assert stale.read_text("utf-8") == before  # --check never writes


def test_cli_docs_check_fails_when_the_file_is_missing(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["schemas", "docs", "--check", "--out", str(tmp_path / "absent.md")]
    )
    assert result.exit_code == 1


def test_cli_docs_writes_what_check_accepts(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "data-dictionary.md"
    assert runner.invoke(app, ["schemas", "docs", "--out", str(out)]).exit_code == 0
    assert out.read_text("utf-8") == COMMITTED.read_text("utf-8")
    assert runner.invoke(app, ["schemas", "docs", "--check", "--out", str(out)]).exit_code == 0
