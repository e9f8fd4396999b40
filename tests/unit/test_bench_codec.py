"""`shopstream bench codec` writes the documented JSON shape (figures are not asserted: a benchmark)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shopstream.processors.cli import app

TYPES = ("signup", "visit", "review", "purchase", "product")


def test_bench_codec_json_has_one_object_per_type_and_per_bare_fastavro(tmp_path: Path) -> None:
    out = tmp_path / "codec.json"
    result = CliRunner().invoke(
        app, ["bench", "codec", "--json", str(out), "--calls", "50", "--rounds", "1"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert set(figures) == set(TYPES) | {f"fastavro_{t}" for t in TYPES}
    for values in figures.values():
        assert set(values) == {"encode_us", "decode_us"}
        assert all(v > 0 for v in values.values())
