"""`shopstream simulate` end to end: what the --jsonl file says was sent is what the topic holds."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from shopstream.schemas import Codec


def _raw_messages(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"sim-{topic}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, bytes]] = []
    idle = 0
    try:
        while len(out) < expected and idle < 20:
            batch = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            idle = 0 if batch else idle + 1
            out.extend((m.key() or b"", m.value() or b"") for m in batch)
    finally:
        consumer.close()
    return out


@pytest.mark.parametrize("backend", ["confluent", "kafka-python"])
def test_simulated_traffic_arrives_exactly_as_recorded(
    kafka_bootstrap: str, topic_factory: Callable[..., str], tmp_path: Path, backend: str
) -> None:
    topic = topic_factory(partitions=3, stem="simulate")
    jsonl = tmp_path / "sent.jsonl"
    done = subprocess.run(
        [
            sys.executable, "-m", "shopstream.processors.cli", "simulate",
            "--events", "3000", "--buyers", "60", "--shops", "2", "--seed", "7",
            "--bad-fraction", "0.05", "--jsonl", str(jsonl), "--bootstrap-servers", kafka_bootstrap,
            "--topic", topic, "--backend", backend,
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()]
    assert len(lines) == 3000
    bad = [line for line in lines if line["bad"]]
    assert 140 <= len(bad) <= 160

    messages = _raw_messages(kafka_bootstrap, topic, 3000)
    assert len(messages) == 3000
    codec = Codec()
    good_ids = {line["event_id"] for line in lines if not line["bad"]}
    received_good: set[str] = set()
    raw_values = {base64.b64decode(line["raw"]) for line in bad}
    for key, value in messages:
        if value in raw_values:
            continue
        decoded = codec.decode(value)
        received_good.add(str(decoded.record["event_id"]))
        assert key.decode().startswith(decoded.record["shop_id"] + "|")
    assert received_good == good_ids
    assert sum(1 for _, v in messages if v in raw_values) == len(bad)
    assert "sent" in done.stderr.lower() or "sent" in done.stdout.lower()
