"""`shopstream bench pipeline`: the rate from committed offsets, the state replay, the table
and the JSON shape, without a broker (figures are not asserted: a benchmark)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from shopstream.processors.benchmarks import pipeline
from shopstream.processors.benchmarks.committed import Reading, TopicRecords, throughput
from shopstream.processors.benchmarks.state_size import replay
from shopstream.processors.benchmarks.workload import Simulated, encode_now, timed_stream
from shopstream.processors.benchmarks.workload import Workload as Traffic
from shopstream.processors.clean.stage import Cleaned, CleanStage, Source
from shopstream.processors.clean.transform import CleanTransform
from shopstream.processors.cli import app
from shopstream.processors.deadletter import DeadLetterKey
from shopstream.processors.privacy import Pseudonymiser, PseudonymKeys
from shopstream.producers.simulator import SimulationConfig, generate
from shopstream.schemas.codec import Codec

# Two partitions of a transactional topic: records, and a commit marker after each batch.
RECORDS = TopicRecords("t", {0: [0, 1, 2, 4, 5, 6], 1: [0, 1, 3, 4]})


def reading(t: float, **groups: dict[int, int]) -> Reading:
    return Reading(t, groups)


def test_records_before_committed_offsets_skip_the_markers() -> None:
    assert RECORDS.total == 10
    assert RECORDS.ends() == {0: 7, 1: 5}
    assert RECORDS.before({}) == 0
    assert RECORDS.before({0: 3, 1: 2}) == 5
    assert RECORDS.before({0: 4, 1: 3}) == 5  # offsets 3 and 2 are markers
    assert RECORDS.before({0: 7, 1: 5}) == 10


def test_throughput_runs_from_the_first_progress_to_the_last_record() -> None:
    readings = [
        reading(0.0, g={}),  # starting, joining the group
        reading(5.0, g={}),
        reading(6.0, g={0: 3}),  # first progress: 3 records already committed
        reading(7.0, g={0: 7, 1: 2}),
        reading(8.0, g={0: 7, 1: 5}),  # all 10
        reading(9.0, g={0: 7, 1: 5}),
    ]
    result = throughput(readings, "g", RECORDS)
    assert result.events_per_s == pytest.approx(7 / 2)
    assert (result.records, result.seconds, result.t_first_progress, result.t_end) == (7, 2, 6, 8)


def test_end_to_end_waits_for_the_second_group_but_counts_the_first() -> None:
    later = TopicRecords("clean", {0: [0, 1]})
    readings = [
        reading(1.0, a={0: 3}, b={}),
        reading(2.0, a={0: 7, 1: 5}, b={0: 1}),
        reading(4.0, a={0: 7, 1: 5}, b={0: 3}),  # the marker after offset 1 committed too
    ]
    result = throughput(readings, "a", RECORDS, end_group="b", end_records=later)
    assert result.events_per_s == pytest.approx(7 / 3)


def test_throughput_without_a_measurable_span_is_none() -> None:
    at_once = [reading(0.0, g={}), reading(1.0, g={0: 7, 1: 5})]
    assert throughput(at_once, "g", RECORDS).events_per_s is None
    assert throughput([reading(0.0, g={0: 1})], "g", RECORDS).t_end is None


@pytest.fixture(scope="module")
def clean_values() -> list[bytes]:
    """Stage 1's output for a little simulated traffic, made in-process."""
    stage = CleanStage(
        CleanTransform(Pseudonymiser(PseudonymKeys(SecretStr(secrets.token_urlsafe(32))))),
        DeadLetterKey(SecretStr(DeadLetterKey.generate())),
    )
    codec = Codec()
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    config = SimulationConfig(shops=2, buyers=20, events=400, seed=3)
    values = []
    for offset, sim in enumerate(generate(config, now)):
        assert sim.event is not None
        assert sim.name is not None
        outcome = stage.process(
            codec.encode(sim.name, sim.event.to_avro()), Source("raw", 0, offset, None, sim.key)
        )
        if isinstance(outcome, Cleaned):
            values.append(outcome.value)
    return values


def test_replay_measures_the_stored_json_of_each_buyer(clean_values: list[bytes]) -> None:
    result = replay(clean_values)
    assert result.events == len(clean_values)
    assert 0 < result.buyers <= 20
    assert 0 < result.median_json_bytes <= result.max_json_bytes
    assert result.mean_json_bytes <= result.max_json_bytes
    assert result.decode_us > 0
    assert result.apply_us > 0


def test_latency_stream_stamps_now_and_renews_every_id() -> None:
    codec = Codec()
    record = {**_visit_record(), "event_id": "00000000-0000-4000-8000-000000000001"}
    traffic = Traffic(
        [Simulated("visit", b"k", record, None), Simulated(None, b"k", None, b"x")], []
    )
    stream = timed_stream(traffic)
    events = [next(stream) for _ in range(4)]
    assert events[0].record is not None
    assert events[0].record["event_id"] != record["event_id"]
    assert events[1].raw == b"x"
    assert events[2].record is not None
    assert events[2].record["event_id"] not in {record["event_id"], events[0].record["event_id"]}
    decoded = codec.decode(encode_now(codec, events[2], 1_800_000_000_123)).record
    assert decoded["event_time"] == dt.datetime(2027, 1, 15, 8, 0, 0, 123_000, tzinfo=dt.UTC)
    assert decoded["sent_time"] == decoded["event_time"]
    assert encode_now(codec, events[1], 0) == b"x"


def _visit_record() -> dict[str, Any]:
    from shopstream.schemas.examples import example_events

    return example_events()["visit"].to_avro()


def _rounds(*rates: int) -> dict[str, Any]:
    return pipeline.median_of_rounds(
        [{"events_per_s": rate, "events": 10, "seconds": 0.01} for rate in rates]
    )


def test_rounds_report_the_median_and_each_round() -> None:
    row = _rounds(900, 1100, 1000)
    assert row["events_per_s"] == 1000
    assert [r["events_per_s"] for r in row["rounds"]] == [900, 1100, 1000]
    assert "rounds" not in _rounds(5)


def _results() -> dict[str, Any]:
    row = {"events_per_s": 1000, "events": 10, "seconds": 0.01}
    return pipeline.with_ratios(
        {
            "limit": {**_rounds(4000, 2000, 5000), "exactly_once": False},
            "stage1": _rounds(2400, 1000, 3000),
            "stage2": {**_rounds(1000, 1000, 1000), "rocksdb_folder_bytes": 50_000},
            "end_to_end": {
                **row,
                "p50_latency_ms": 600.0,
                "p99_latency_ms": 1200.0,
                "latency_goal_met": False,
                "latency": {
                    "rate": 2000.0,
                    "commit_interval_s": 0.5,
                    "p50_ms": 600.0,
                    "p99_ms": 1200.0,
                    "kept_up": True,
                },
                "latency_at_half_throughput": {
                    "rate": 500.0,
                    "commit_interval_s": 0.5,
                    "p50_ms": 30_000.0,
                    "p99_ms": 50_000.0,
                    "kept_up": False,
                    "behind_ms": 25_000,
                },
            },
            "state_bytes_per_buyer": 512.5,
            "state": {"buyers": 100, "rocksdb_bytes_per_buyer": 500},
            "machine": {"cpus": 2},
            "parameters": {"events": 10},
        }
    )


def test_ratios_and_goals() -> None:
    results = _results()
    assert results["stage1"]["ratio_to_limit"] == 0.6
    assert results["stage1"]["ratio_by_round"] == [0.6, 0.5, 0.6]
    assert results["stage1"]["goal_met"] is True
    assert results["stage2"]["ratio_to_limit"] == 0.25
    assert results["stage2"]["goal_met"] is False
    assert results["end_to_end"]["ratio_to_limit"] == 0.25
    assert "goal_met" not in results["end_to_end"]
    assert "ratio_by_round" not in results["end_to_end"]  # measured once


def test_no_ratio_and_no_verdict_without_a_limit_figure() -> None:
    results = _results()
    results["limit"] = {"events_per_s": None}
    pipeline.with_ratios(results)
    assert results["stage1"]["ratio_to_limit"] is None
    assert results["stage1"]["goal_met"] is None
    assert "| stage1 | 2,400 | 2,400 / 1,000 / 3,000 | – | ≥ 0.5 | – |" in pipeline.table(results)


def test_table_shows_ratios_goals_latency_and_state() -> None:
    lines = pipeline.table(_results())
    assert lines[2] == "| limit | 4,000 | 4,000 / 2,000 / 5,000 | 1.00 | – | – |"
    assert lines[3] == "| stage1 | 2,400 | 2,400 / 1,000 / 3,000 | 0.60 | ≥ 0.5 | yes |"
    assert lines[4] == "| stage2 | 1,000 | 1,000 / 1,000 / 1,000 | 0.25 | ≥ 0.3 | **no** |"
    assert lines[5] == "| end_to_end | 1,000 | – | 0.25 | – | – |"
    text = "\n".join(lines)
    assert "| 2,000 | 600.0 | 1,200.0 | yes | < 1,000 | **no** |" in text
    assert "| 500 | 30,000.0 | 50,000.0 | **no**: 25,000 ms behind | < 1,000 | **no** |" in text
    assert "512.5 B as compact JSON (mean over 100 buyers)" in text
    assert "500 B per buyer" in text


def test_bench_pipeline_writes_one_object_per_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(parameters: pipeline.Parameters, **_kwargs: Any) -> dict[str, Any]:
        seen["parameters"] = parameters
        return _results()

    monkeypatch.setattr(pipeline, "run", fake_run)
    out = tmp_path / "pipeline.json"
    args = ["bench", "pipeline", "--json", str(out), "--events", "500", "--latency-seconds", "2"]
    args += ["--rounds", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen["parameters"].events == 500
    assert seen["parameters"].latency_seconds == 2
    assert seen["parameters"].rounds == 1
    assert seen["parameters"].commit_interval_s is None  # the stages' default
    figures = json.loads(out.read_text())
    assert_shape(figures)


def assert_shape(figures: dict[str, Any]) -> None:
    """What the issue asks of the JSON (shared with the integration smoke test)."""
    for name in pipeline.SYSTEMS:
        assert "events_per_s" in figures[name], name
    assert {"p50_latency_ms", "p99_latency_ms"} <= figures["end_to_end"].keys()
    assert isinstance(figures["state_bytes_per_buyer"], float)
    assert {"machine", "parameters"} <= figures.keys()
    assert {"ratio_to_limit", "goal_ratio", "goal_met"} <= figures["stage1"].keys()
    assert {"ratio_to_limit", "goal_ratio", "goal_met"} <= figures["stage2"].keys()
