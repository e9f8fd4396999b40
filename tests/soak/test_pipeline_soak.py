"""Soak the stages: a long simulated stream, kill -9 at random again and again, scale in and out.

Run by `make soak`. Tune with SOAK_PIPELINE_EVENTS and SOAK_PIPELINE_KILLS. At the end
the features equal the independent oracle, and the clean topic holds every valid event
exactly once.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from pathlib import Path

from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

from shopstream.deploy.kafka import LocalKafka, admin_client
from shopstream.processors.deadletter import DeadLetterKey
from shopstream.schemas.codec import Codec
from shopstream.schemas.pseudonymised import load_clean_contract
from tests.integration.pipeline import (
    Pipeline,
    PipelineTopics,
    oracle_features,
    read_topic,
    start_simulator,
    topic_features,
    wait_until,
)
from tests.oracle import compare_features, expected_counts

EVENTS = int(os.environ.get("SOAK_PIPELINE_EVENTS", "40000"))
KILLS = int(os.environ.get("SOAK_PIPELINE_KILLS", "20"))


def test_pipeline_stays_exact_through_crashes_and_rebalances(tmp_path: Path) -> None:
    node = LocalKafka(tmp_path / "kafka")
    node.start(timeout=180)
    try:
        _soak(node.bootstrap_servers, tmp_path)
    finally:
        node.stop()


def _soak(bootstrap: str, tmp_path: Path) -> None:
    topics = PipelineTopics("soak.raw", "soak.clean", "soak.dlq", "soak.features")
    admin = admin_client(bootstrap)
    new = [NewTopic(name, 6, 1) for name in (topics.raw, topics.clean, topics.dlq)]
    new.append(NewTopic(topics.features, 6, 1, config={"cleanup.policy": "compact"}))
    for future in admin.create_topics(new).values():
        future.result(60)
    pseudonym_key, dlq_key = secrets.token_urlsafe(32), DeadLetterKey.generate()
    env = {
        **topics.env(),
        "SHOPSTREAM_BOOTSTRAP_SERVERS": bootstrap,
        "SHOPSTREAM_CLEAN_GROUP": "soak-clean",
        "SHOPSTREAM_AGGREGATE_GROUP": "soak-aggregate",
        "SHOPSTREAM_PSEUDONYM_KEY": pseudonym_key,
        "SHOPSTREAM_PSEUDONYM_KEY_ID": "itest",
        "SHOPSTREAM_DLQ_KEY": dlq_key,
    }
    pipeline = Pipeline(bootstrap, topics, env, tmp_path, pseudonym_key, dlq_key, [])
    jsonl = tmp_path / "sent.jsonl"
    rate = max(200, EVENTS // 90)  # the stream lasts about a minute and a half
    simulator = start_simulator(
        bootstrap, topics.raw, jsonl, tmp_path / "simulate.log",
        shops=4, buyers=400, events=EVENTS, seed=2026, bad_fraction=0.03, days=90, rate=rate,
    )  # fmt: skip
    rng = random.Random(1203)
    # Two instances of each stage; "b" instances have no instance id (random transactional id).
    live = {
        ("clean", "a"): pipeline.stage("clean", instance="a", SHOPSTREAM_INSTANCE_ID="a"),
        ("clean", "b"): pipeline.stage("clean", instance="b"),
        ("aggregate", "a"): pipeline.stage("aggregate", instance="a", SHOPSTREAM_INSTANCE_ID="a"),
        ("aggregate", "b"): pipeline.stage("aggregate", instance="b"),
    }
    began = time.monotonic()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.0, 5.0))
            victim = rng.choice(sorted(live))
            live[victim].kill()
            extra = {"SHOPSTREAM_INSTANCE_ID": victim[1]} if victim[1] == "a" else {}
            if rng.random() < 0.3:
                time.sleep(rng.uniform(2.0, 8.0))  # scaled in for a while
            live[victim] = pipeline.stage(victim[0], instance=victim[1], **extra)
        assert simulator.wait(900) == 0
        counts = expected_counts(jsonl)
        wait_until(lambda: pipeline.drained(counts["raw"]), timeout=600, what="the drain")
        elapsed = time.monotonic() - began
        clean = read_topic(bootstrap, topics.clean, timeout=120)
        dead = read_topic(bootstrap, topics.dlq, timeout=60)
        codec = Codec(load_clean_contract())
        ids = [str(codec.decode(m.value).record["event_id"]) for m in clean]
        features = topic_features(pipeline)
        print(
            f"\n[soak] {counts['raw']} raw events, {KILLS} kill -9 over {elapsed:.0f} s: "
            f"{len(clean)} clean ({len(ids) - len(set(ids))} duplicates), {len(dead)} dead letters, "
            f"{len(features)} buyers"
        )
        assert len(ids) == len(set(ids))
        assert (len(clean), len(dead)) == (counts["clean"], counts["bad"])
        differences = compare_features(oracle_features(pipeline, jsonl), features)
        assert differences == [], "\n".join(differences[:20])
    finally:
        for process in pipeline.processes:
            if process.running:
                process.kill()
