"""Exactly once under crashes and rebalances: kill -9 the stages mid-stream, scale out and in.

The aggregates must still equal the independent oracle, and the clean topic, read with
read_committed, must hold every valid event exactly once.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from shopstream.schemas.codec import Codec
from shopstream.schemas.pseudonymised import load_clean_contract
from tests.integration.pipeline import (
    Pipeline,
    oracle_features,
    read_topic,
    start_simulator,
    topic_features,
    wait_until,
)
from tests.oracle import compare_features, expected_counts


def _assert_exact(pipeline: Pipeline, jsonl: Path) -> None:
    counts = expected_counts(jsonl)
    clean = read_topic(pipeline.bootstrap, pipeline.topics.clean)
    dead = read_topic(pipeline.bootstrap, pipeline.topics.dlq)
    codec = Codec(load_clean_contract())
    ids = [str(codec.decode(m.value).record["event_id"]) for m in clean]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicates in the clean topic"
    assert (len(clean), len(dead)) == (counts["clean"], counts["bad"])
    differences = compare_features(oracle_features(pipeline, jsonl), topic_features(pipeline))
    assert differences == [], "\n".join(differences[:20])


def test_kill_9_both_stages_repeatedly_mid_stream(pipeline: Pipeline, tmp_path: Path) -> None:
    rng = random.Random(20261203)
    jsonl = tmp_path / "sent.jsonl"
    simulator = start_simulator(
        pipeline.bootstrap, pipeline.topics.raw, jsonl, tmp_path / "simulate.log",
        shops=2, buyers=50, events=6000, seed=5, bad_fraction=0.03, days=45, rate=600,
    )  # fmt: skip
    stages = {
        "clean": pipeline.stage("clean", instance="a", SHOPSTREAM_INSTANCE_ID="a"),
        "aggregate": pipeline.stage("aggregate", instance="a", SHOPSTREAM_INSTANCE_ID="a"),
    }
    kills = 0
    for round_ in range(6):
        name = "clean" if round_ % 2 == 0 else "aggregate"
        # Kill while it processes: after it has joined and started, at a random moment.
        stage, starts = stages[name], round_ // 2 + 1
        wait_until(
            lambda stage=stage, starts=starts: stage.log().count("now processing") >= starts,
            timeout=60, what=f"{name} to start processing",
        )  # fmt: skip
        time.sleep(rng.uniform(0.3, 2.0))
        stages[name].kill()
        kills += 1
        # The same instance id (a StatefulSet pod restarting): it fences its predecessor.
        stages[name] = pipeline.stage(name, instance="a", SHOPSTREAM_INSTANCE_ID="a")
    assert simulator.wait(300) == 0
    counts = expected_counts(jsonl)
    wait_until(lambda: pipeline.drained(counts["raw"]), timeout=240, what="the pipeline to drain")
    assert kills == 6
    _assert_exact(pipeline, jsonl)


@pytest.mark.parametrize("stage", ["clean", "aggregate"])
def test_second_instance_joins_mid_stream_then_dies(
    pipeline: Pipeline, tmp_path: Path, stage: str
) -> None:
    jsonl = tmp_path / "sent.jsonl"
    simulator = start_simulator(
        pipeline.bootstrap, pipeline.topics.raw, jsonl, tmp_path / "simulate.log",
        shops=2, buyers=50, events=5000, seed=9, bad_fraction=0.02, days=45, rate=500,
    )  # fmt: skip
    other = "aggregate" if stage == "clean" else "clean"
    pipeline.stage(other)
    first = pipeline.stage(stage, instance="a")
    time.sleep(3)
    second = pipeline.stage(stage, instance="b")
    # The second instance takes over some partitions (a rebalance) and processes them...
    wait_until(lambda: "now processing" in second.log(), timeout=60, what="b to start")
    time.sleep(3)
    # ...and dies without a chance to commit: its partitions move back to the first.
    second.kill()
    assert simulator.wait(300) == 0
    counts = expected_counts(jsonl)
    wait_until(lambda: pipeline.drained(counts["raw"]), timeout=240, what="the pipeline to drain")
    assert first.running
    _assert_exact(pipeline, jsonl)
