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
import urllib.request
from pathlib import Path

from pydantic import SecretStr

from shopstream.processors.deadletter import DeadLetterKey, decode_dead_letter
from shopstream.schemas.codec import Codec
from shopstream.schemas.pseudonymised import load_clean_contract
from tests.integration.pipeline import (
    Pipeline,
    StageProcess,
    oracle_features,
    read_topic,
    run_simulator,
    topic_features,
    wait_until,
)
from tests.oracle import compare_features, expected_counts, read_lines

EXPECTED_RULES = {
    "random_bytes": "not_avro",
    "truncated": "truncated",
    "unknown_fingerprint": "unknown_schema",
    "far_future": "event_time_window",
    "ancient": "event_time_window",
    "inconsistent_total": "total_matches_items",
}


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
    expected = oracle_features(pipeline, jsonl)
    actual = topic_features(pipeline)
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


def test_stages_serve_metrics_and_probes(pipeline: Pipeline, tmp_path: Path) -> None:
    jsonl = tmp_path / "sent.jsonl"
    run_simulator(
        pipeline.bootstrap, pipeline.topics.raw, jsonl,
        events=300, buyers=20, bad_fraction=0.1, seed=3,
    )  # fmt: skip
    counts = expected_counts(jsonl)
    clean = pipeline.stage("clean", "--metrics-port", "0")
    aggregate = pipeline.stage("aggregate", "--metrics-port", "0")
    wait_until(lambda: pipeline.drained(counts["raw"]), timeout=120, what="the pipeline to drain")
    clean_url, aggregate_url = _base_url(clean), _base_url(aggregate)

    # Lag as the stages measure it reaches 0, stage 2's too: its input is written in
    # transactions, whose commit markers must not count as lag.
    for base in (clean_url, aggregate_url):
        wait_until(
            lambda base=base: _lags(base) and all(v == 0 for v in _lags(base).values()),
            timeout=45, what=f"lag 0 at {base}",
        )  # fmt: skip

    samples = _samples(_get(f"{clean_url}/metrics"))
    in_total = sum(v for k, v in samples.items() if k.startswith("shopstream_events_in_total{"))
    assert in_total == counts["raw"]
    rejected = sum(v for k, v in samples.items() if k.startswith("shopstream_rejections_total{"))
    assert rejected >= counts["bad"]
    assert samples['shopstream_processing_latency_seconds_count{stage="clean"}'] == counts["clean"]

    samples = _samples(_get(f"{aggregate_url}/metrics"))
    assert samples['shopstream_buyers_emitted_total{stage="aggregate"}'] > 0
    assert samples["shopstream_state_restoring_partitions"] == 0
    assert samples['shopstream_stage_ready{stage="aggregate"}'] == 1  # computed at scrape time

    for base in (clean_url, aggregate_url):
        assert json.loads(_get(f"{base}/readyz"))["ok"] is True
        assert json.loads(_get(f"{base}/healthz"))["ok"] is True
    assert clean.terminate() == 0
    assert aggregate.terminate() == 0


def test_stage_1_commits_once_caught_up_not_an_interval_later(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # With a 30 s interval, a stage that waited for its deadline would show nothing for
    # 30 s; caught up, it commits a quarter interval after its transaction opened.
    clean = pipeline.stage("clean", SHOPSTREAM_COMMIT_INTERVAL_S="30")
    wait_until(lambda: "partitions assigned" in clean.log(), timeout=60, what="an assignment")
    jsonl = tmp_path / "sent.jsonl"
    run_simulator(
        pipeline.bootstrap, pipeline.topics.raw, jsonl, events=40, buyers=5, bad_fraction=0.1, seed=4
    )  # fmt: skip
    counts = expected_counts(jsonl)

    def landed() -> int:
        return len(read_topic(pipeline.bootstrap, pipeline.topics.clean, timeout=5)) + len(
            read_topic(pipeline.bootstrap, pipeline.topics.dlq, timeout=5)
        )

    wait_until(lambda: landed() == counts["raw"], timeout=20, what="the events to be readable")
    assert clean.terminate() == 0


def _base_url(stage: StageProcess) -> str:
    marker = "metrics and probes on http://127.0.0.1:"
    wait_until(lambda: marker in stage.log(), timeout=60, what="the metrics port")
    return "http://127.0.0.1:" + stage.log().split(marker)[1].split("/")[0]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 — loopback only
        return str(response.read().decode())


def _lags(base: str) -> dict[str, float]:
    samples = _samples(_get(f"{base}/metrics"))
    return {k: v for k, v in samples.items() if k.startswith("shopstream_consumer_lag{")}


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
