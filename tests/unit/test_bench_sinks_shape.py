"""`shopstream bench sinks`: the JSON shape, the ratios, the table, the CLI and the input,
without a broker or a server (figures are not asserted: a benchmark)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shopstream.processors.benchmarks import sinks, sinks_input
from shopstream.processors.benchmarks.sinks import Timed
from shopstream.processors.cli import app
from shopstream.processors.engine.aggregate_app import features_codec
from shopstream.schemas.codec import Codec
from shopstream.schemas.pseudonymised import load_clean_contract


def _timed(*rates_and_seconds: tuple[int, float]) -> list[Timed]:
    return [
        Timed(round(rate * seconds), seconds, 7, (1.0, 2.0), seconds / 2)
        for rate, seconds in rates_and_seconds
    ]


def _results() -> dict[str, Any]:
    rows = {
        "baseline.features": _timed((10_000, 1.0), (20_000, 0.5), (10_000, 1.0)),
        "baseline.clean_and_features": _timed((40_000, 0.5), (40_000, 0.5), (40_000, 0.5)),
        "without_writer.features": _timed((5_000, 2.0), (5_000, 2.0), (5_000, 2.0)),
        "without_writer.clean_and_features": _timed((8_000, 2.5), (8_000, 2.5), (8_000, 2.5)),
        "parquet": _timed((2_000, 10.0), (4_000, 5.0), (2_000, 10.0)),
        "postgres": _timed((2_500, 4.0), (2_500, 4.0), (2_000, 5.0)),
    }
    extras = {"parquet": [{"files": 3}], "postgres": [{"history_rows": 10_000}]}
    return sinks.figures(rows, extras) | {"machine": {"cpus": 2}, "parameters": {"rows": 10}}


def assert_shape(figures: dict[str, Any]) -> None:
    """What the issue asks of the JSON (shared with the integration smoke test)."""
    for name in sinks.SINKS:
        row = figures[name]
        assert {"rows_per_s", "rows", "seconds", "batches", "cpu_us_per_row"} <= row.keys(), name
        assert isinstance(row["rows_per_s"], int)
        assert {"ratio_to_baseline", "without_writer", "input", "rounds"} <= row.keys()
        assert "rows_per_s" in row["without_writer"]
    for input_name in sinks.INPUTS.values():
        assert "rows_per_s" in figures["baseline"][input_name]
    assert {"machine", "parameters"} <= figures.keys()
    json.dumps(figures)


def test_one_object_per_sink_with_rows_per_s_and_the_baseline() -> None:
    results = _results()
    assert_shape(results)
    assert set(results) == {"parquet", "postgres", "baseline", "machine", "parameters"}


def test_medians_and_ratios_to_the_baseline_over_the_same_input() -> None:
    results = _results()
    parquet, postgres = results["parquet"], results["postgres"]
    assert parquet["input"] == "clean_and_features"
    assert postgres["input"] == "features"
    assert parquet["rows_per_s"] == 2_000
    assert parquet["seconds"] == 10.0
    assert [r["rows_per_s"] for r in parquet["rounds"]] == [2_000, 4_000, 2_000]
    assert parquet["ratio_to_baseline"] == 0.05  # 2,000 / 40,000
    assert parquet["ratio_by_round"] == [0.05, 0.1, 0.05]
    assert postgres["ratio_to_baseline"] == 0.25  # 2,500 / 10,000
    assert postgres["ratio_by_round"] == [0.25, 0.125, 0.2]
    assert postgres["without_writer"]["ratio_to_baseline"] == 0.5
    assert parquet["writer_share_of_time"] == 0.75  # 1 - 2.5 / 10
    assert postgres["writer_share_of_time"] == 0.5
    assert parquet["files"] == 3
    assert postgres["history_rows"] == 10_000
    assert results["baseline"]["features"]["rounds"][0]["load_avg_1m"] == [1.0, 2.0]
    assert results["baseline"]["features"]["cpu_us_per_row"] == 50.0


def test_the_baseline_reports_its_group_join_apart() -> None:
    joined = Timed(9_000, 1.0, 9, (1.0, 1.0), 0.05, join_s=0.8)
    rows = {name: [joined] for name in ("baseline.features", "baseline.clean_and_features")}
    rows |= {name: _timed((1_000, 10.0)) for name in ("parquet", "postgres")}
    rows |= {f"without_writer.{i}": _timed((2_000, 5.0)) for i in sinks.INPUTS.values()}
    results = sinks.figures(rows, {})
    baseline = results["baseline"]["features"]
    assert baseline["rounds"][0]["join_s"] == 0.8
    assert baseline["rows_per_s"] == 9_000  # the join is not in the seconds
    assert "join_s" not in results["postgres"]["rounds"][0]
    assert results["postgres"]["ratio_to_baseline"] == 0.111


def test_table_rows() -> None:
    lines = sinks.table(_results())
    assert lines[2] == (
        "| baseline | features | 10,000 | 10,000 | 10,000 / 20,000 / 10,000 | 1.00 | 50.0 | – | – |"
    )
    assert lines[4] == (
        "| parquet | clean_and_features | 20,000 | 2,000 | 2,000 / 4,000 / 2,000 | 0.05 | 250.0 "
        "| 8,000 | 75% |"
    )
    assert lines[5].startswith("| postgres | features | 10,000 | 2,500 |")


def test_bench_sinks_writes_the_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(parameters: sinks.Parameters, **kwargs: Any) -> dict[str, Any]:
        seen["parameters"], seen["dsn"] = parameters, kwargs.get("dsn")
        return _results()

    monkeypatch.setattr(sinks, "run", fake_run)
    monkeypatch.delenv("SHOPSTREAM_BENCH_POSTGRES_DSN", raising=False)
    out = tmp_path / "bench" / "sinks.json"
    args = ["bench", "sinks", "--json", str(out), "--rows", "500", "--rounds", "1"]
    result = CliRunner().invoke(app, [*args, "--dsn", "host=db"])
    assert result.exit_code == 0, result.output
    assert (seen["parameters"].rows, seen["parameters"].rounds) == (500, 1)
    assert seen["parameters"].batch_size == 5_000  # the sinks' default
    assert seen["dsn"] == "host=db"
    assert_shape(json.loads(out.read_text()))


def test_help_says_which_postgresql_server() -> None:
    result = CliRunner().invoke(app, ["bench", "sinks", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "throwaway" in text
    assert "--dsn" in text


def test_input_is_real_records_keyed_as_the_stages_key_them() -> None:
    built = sinks_input.build(120, seed=3, pool_events=100)
    assert len(built.clean) == len(built.features) == 120
    clean, features = Codec(load_clean_contract()), features_codec()
    for key, value in built.features:
        record = features.decode(value).record
        assert key == f"{record['shop_id']}|{record['buyer_pseudonym']}".encode()
    assert built.copies >= 2  # 100 simulated events give fewer than 120 of either
    assert built.buyers == len({k for k, _ in built.features})
    ids = [clean.decode(v).record["event_id"] for _, v in built.clean]
    assert len(set(ids)) == len(ids)  # copies get event ids of their own
    assert all(k.split(b"|")[0] for k, _ in built.clean)
    assert built.summary()["features_rows"] == 120
