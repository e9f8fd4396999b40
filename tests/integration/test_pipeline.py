"""Both stages on the real broker, as processes, against the simulator's own record.

The simulator writes every event it sent to a JSONL file; an independent oracle
(tests/oracle.py) computes the expected aggregates from it. Once the pipeline has
drained, the features topic must equal the oracle field by field, the clean topic must
hold each valid event once, the dead-letter topic each bad one with its reason, and no
byte of any output topic or stage log may hold personal data the simulator generated.
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shopstream.processors.deadletter import DeadLetterKey, decode_dead_letter
from shopstream.processors.engine.aggregate_app import features_codec
from shopstream.processors.privacy import Pseudonymiser, PseudonymKeys, age_band, region_code
from shopstream.schemas.codec import Codec
from shopstream.schemas.pseudonymised import load_clean_contract
from tests.integration.pipeline import (
    PipelineTopics,
    StageProcess,
    committed_lag,
    latest_by_key,
    read_topic,
    run_simulator,
    wait_until,
)
from tests.oracle import compare_features, expected_counts, expected_features, read_lines

EXPECTED_RULES = {
    "random_bytes": "not_avro",
    "truncated": "truncated",
    "unknown_fingerprint": "unknown_schema",
    "far_future": "event_time_window",
    "ancient": "event_time_window",
    "inconsistent_total": "total_matches_items",
}


@dataclass
class Pipeline:
    bootstrap: str
    topics: PipelineTopics
    env: dict[str, str]
    tmp: Path
    pseudonym_key: str
    dlq_key: str
    processes: list[StageProcess]

    def stage(self, name: str, *extra: str, instance: str = "a", **env: str) -> StageProcess:
        state_dir = self.tmp / f"state-{name}-{instance}"
        process = StageProcess(
            name,
            {**self.env, "SHOPSTREAM_STATE_DIR": str(state_dir), **env},
            self.tmp / f"{name}-{instance}.log",
            list(extra),
        ).start()
        self.processes.append(process)
        return process

    @property
    def clean_group(self) -> str:
        return self.env["SHOPSTREAM_CLEAN_GROUP"]

    @property
    def aggregate_group(self) -> str:
        return self.env["SHOPSTREAM_AGGREGATE_GROUP"]

    def drained(self, raw_count: int) -> bool:
        return (
            committed_lag(self.bootstrap, self.clean_group, self.topics.raw) == 0
            and committed_lag(self.bootstrap, self.aggregate_group, self.topics.clean) == 0
            and _count(self.bootstrap, self.topics.raw) >= raw_count
        )


def _count(bootstrap: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "counter"})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


@pytest.fixture
def pipeline(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    name_factory: Callable[[str], str],
    tmp_path: Path,
) -> Iterator[Pipeline]:
    topics = PipelineTopics(
        raw=topic_factory(partitions=3, stem="raw"),
        clean=topic_factory(partitions=3, stem="clean"),
        dlq=topic_factory(partitions=1, stem="dlq"),
        features=topic_factory(partitions=3, config={"cleanup.policy": "compact"}, stem="features"),
    )
    pseudonym_key, dlq_key = secrets.token_urlsafe(32), DeadLetterKey.generate()
    env = {
        **topics.env(),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SHOPSTREAM_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SHOPSTREAM_CLEAN_GROUP": name_factory("clean"),
        "SHOPSTREAM_AGGREGATE_GROUP": name_factory("aggregate"),
        "SHOPSTREAM_PSEUDONYM_KEY": pseudonym_key,
        "SHOPSTREAM_PSEUDONYM_KEY_ID": "itest",
        "SHOPSTREAM_DLQ_KEY": dlq_key,
        "SHOPSTREAM_COMMIT_INTERVAL_S": "0.5",
    }
    running = Pipeline(kafka_bootstrap, topics, env, tmp_path, pseudonym_key, dlq_key, [])
    yield running
    for process in running.processes:
        if process.running:
            process.kill()


def _oracle(pipeline: Pipeline, jsonl: Path) -> dict[tuple[str, str], dict[str, Any]]:
    pseudonymiser = Pseudonymiser(PseudonymKeys(SecretStr(pipeline.pseudonym_key), key_id="itest"))
    return expected_features(
        jsonl,
        pseudonymise=pseudonymiser.identifier,
        region=lambda province, district: region_code(province, district),
        age_band=age_band,
        pseudonym_key_id="itest",
        feature_version=1,
    )


def _features(pipeline: Pipeline) -> dict[tuple[str, str], dict[str, Any]]:
    codec = features_codec()
    out = {}
    for key, message in latest_by_key(
        read_topic(pipeline.bootstrap, pipeline.topics.features)
    ).items():
        record = codec.decode(message.value).record
        assert key == f"{record['shop_id']}|{record['buyer_pseudonym']}".encode()
        out[(record["shop_id"], record["buyer_pseudonym"])] = record
    return out


def _personal_strings(jsonl: Path) -> set[str]:
    """Every name, phone form, e-mail, address line and id the simulator generated."""
    found: set[str] = set()
    for line in read_lines(jsonl):
        record = line.get("record") or {}
        for field in ("buyer_id", "anonymous_id", "session_id", "name", "email"):
            if isinstance(record.get(field), str):
                found.add(record[field])
        phone = record.get("phone")
        if isinstance(phone, str):
            digits = "".join(c for c in phone if c.isdigit())
            found.update(
                {phone, digits, "+82" + digits.removeprefix("0"), "+82-" + phone.removeprefix("0")}
            )
        address = record.get("address") or {}
        if isinstance(address.get("line"), str):
            found.add(address["line"])
    return {s for s in found if len(s) >= 6}


def _scan(blobs: dict[str, bytes], personal: set[str]) -> list[str]:
    return [
        f"{where}: {s[:3]}…"
        for where, blob in blobs.items()
        for s in personal
        if s.encode() in blob
    ]


def test_pipeline_equals_the_oracle_and_leaks_nothing(pipeline: Pipeline, tmp_path: Path) -> None:
    jsonl = tmp_path / "sent.jsonl"
    run_simulator(
        pipeline.bootstrap, pipeline.topics.raw, jsonl,
        shops=3, buyers=60, events=4000, seed=11, bad_fraction=0.04, days=60,
    )  # fmt: skip
    counts = expected_counts(jsonl)
    clean = pipeline.stage("clean", "--metrics-port", "0")
    aggregate = pipeline.stage("aggregate")
    wait_until(lambda: pipeline.drained(counts["raw"]), timeout=180, what="the pipeline to drain")

    clean_messages = read_topic(pipeline.bootstrap, pipeline.topics.clean)
    dead = read_topic(pipeline.bootstrap, pipeline.topics.dlq)
    assert len(clean_messages) == counts["clean"]
    assert len(dead) == counts["bad"]
    assert len(clean_messages) + len(dead) == counts["raw"]

    # Each valid event exactly once in the clean topic.
    codec = Codec(load_clean_contract())
    ids = [str(codec.decode(m.value).record["event_id"]) for m in clean_messages]
    assert len(ids) == len(set(ids))
    sent_valid = {line["event_id"] for line in read_lines(jsonl) if line["bad"] is None}
    assert set(ids) == sent_valid

    # Each bad event dead-lettered with its reason; the original bytes open with the key.
    key = DeadLetterKey(SecretStr(pipeline.dlq_key))
    sent_bad = {
        base64.b64decode(line["raw"]): line["bad"] for line in read_lines(jsonl) if line["bad"]
    }
    for message in dead:
        letter = decode_dead_letter(message.value)
        original = letter.open_value(key)
        label = sent_bad[original]
        if label in EXPECTED_RULES:
            assert EXPECTED_RULES[label] in letter.rules, (label, letter.rules)
        assert letter.source_topic == pipeline.topics.raw

    # The aggregates equal the oracle, field by field.
    expected = _oracle(pipeline, jsonl)
    actual = _features(pipeline)
    differences = compare_features(expected, actual)
    assert differences == [], "\n".join(differences[:20])

    # Clean shutdown on SIGTERM.
    assert clean.terminate() == 0
    assert aggregate.terminate() == 0

    # Not one byte of personal data in the outputs or the logs.
    personal = _personal_strings(jsonl)
    assert len(personal) > 100
    blobs = {
        "clean": b"".join((m.key or b"") + m.value for m in clean_messages),
        "dlq": b"".join((m.key or b"") + m.value for m in dead),
        "features": b"".join(
            (m.key or b"") + m.value
            for m in read_topic(pipeline.bootstrap, pipeline.topics.features)
        ),
        "logs": (clean.log() + aggregate.log()).encode(),
    }
    assert _scan(blobs, personal) == []
    for line in clean.log().splitlines() + aggregate.log().splitlines():
        json.loads(line)  # JSON logs, one object a line


def test_stage_serves_metrics_and_probes(pipeline: Pipeline, tmp_path: Path) -> None:
    jsonl = tmp_path / "sent.jsonl"
    run_simulator(
        pipeline.bootstrap,
        pipeline.topics.raw,
        jsonl,
        events=300,
        buyers=20,
        bad_fraction=0.1,
        seed=3,
    )
    clean = pipeline.stage("clean", "--metrics-port", "0")
    wait_until(lambda: "metrics and probes on" in clean.log(), timeout=60, what="the metrics port")
    port = int(clean.log().split("metrics and probes on http://127.0.0.1:")[1].split("/")[0])
    base = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: committed_lag(pipeline.bootstrap, pipeline.clean_group, pipeline.topics.raw) == 0,
        timeout=90,
    )

    def scrape() -> str:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:  # noqa: S310 — loopback
            return str(response.read().decode())

    wait_until(lambda: "shopstream_consumer_lag{" in scrape(), timeout=30, what="a lag measurement")
    text = scrape()
    samples = _samples(text)
    counts = expected_counts(jsonl)
    assert (
        sum(v for k, v in samples.items() if k.startswith("shopstream_events_in_total{"))
        == counts["raw"]
    )
    assert (
        sum(v for k, v in samples.items() if k.startswith("shopstream_rejections_total{"))
        >= counts["bad"]
    )
    assert samples['shopstream_processing_latency_seconds_count{stage="clean"}'] == counts["clean"]
    wait_until(
        lambda: all(v == 0 for k, v in _samples(scrape()).items() if k.startswith("shopstream_consumer_lag{")),
        timeout=30, what="lag 0",
    )  # fmt: skip
    with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:  # noqa: S310
        assert json.loads(response.read())["ok"] is True
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:  # noqa: S310
        assert response.status == 200
    assert clean.terminate() == 0


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
