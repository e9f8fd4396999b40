"""`shopstream dlq inspect | replay` against the real broker.

Dead letters are built with the library, written the way stage 1 writes them (in a Kafka
transaction, so the topic holds commit markers too), then read and replayed by the CLI.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from shopstream.processors.cli import app
from shopstream.processors.deadletter import (
    DeadLetter,
    DeadLetterKey,
    Reason,
    build_dead_letter,
    encode_dead_letter,
    reason_from_decode_error,
)
from shopstream.processors.deadletter.reader import read_dead_letters
from shopstream.processors.deadletter.replay import REPLAY_HEADER
from shopstream.producers.keys import partition_key
from shopstream.schemas.codec import Codec
from shopstream.schemas.errors import DecodeError
from shopstream.schemas.examples import example_events

SECRET = DeadLetterKey.generate()
KEY = DeadLetterKey(SecretStr(SECRET))
EVENTS = {name: event.to_avro() for name, event in example_events().items()}
EMAIL = EVENTS["signup"]["email"]
NAME = EVENTS["signup"]["name"]


@dataclass(frozen=True)
class Original:
    key: bytes | None
    value: bytes
    reasons: list[Reason]


def originals() -> list[Original]:
    codec = Codec()
    garbage = json.dumps({"name": NAME, "email": EMAIL}, ensure_ascii=False).encode()
    with pytest.raises(DecodeError) as caught:
        codec.decode(garbage)
    not_avro = reason_from_decode_error(caught.value)
    return [
        Original(
            partition_key(EVENTS["signup"]),
            codec.encode("signup", EVENTS["signup"]),
            [Reason("email", "format", "does not match the email format")],
        ),
        Original(None, garbage, [not_avro]),
        Original(
            partition_key(EVENTS["visit"]),
            codec.encode("visit", EVENTS["visit"]),
            [
                Reason("session_id", "session_id_required", "required for this event type"),
                Reason("dwell_ms", "max", "above the maximum 86400000"),
            ],
        ),
    ]


@dataclass
class Setup:
    bootstrap: str
    dlq: str
    raw: str
    letters: list[DeadLetter]
    originals: list[Original]


@pytest.fixture
def dlq(kafka_bootstrap: str, topic_factory: Callable[..., str]) -> Setup:
    """A dead-letter topic holding one letter per original, written in one transaction."""
    dlq_topic = topic_factory(partitions=2, stem="dlq")
    raw_topic = topic_factory(partitions=3, stem="raw")
    sources = originals()
    letters = [
        build_dead_letter(
            processor="clean",
            processor_version="0.1.0",
            key=KEY,
            source_topic="shop.events.raw",
            source_partition=i % 2,
            source_offset=100 + i,
            source_timestamp=1741944413589 + i,
            raw_key=original.key,
            raw_value=original.value,
            reasons=original.reasons,
        )
        for i, original in enumerate(sources)
    ]
    producer = Producer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "transactional.id": f"test-dlq-{uuid.uuid4()}",
        }
    )
    producer.init_transactions(60)
    producer.begin_transaction()
    for i, letter in enumerate(letters):
        producer.produce(dlq_topic, encode_dead_letter(letter), partition=i % 2)
    producer.commit_transaction(60)
    return Setup(kafka_bootstrap, dlq_topic, raw_topic, letters, sources)


def cli(setup: Setup, *args: str, key: str | None = None) -> Result:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": setup.bootstrap,
        "SHOPSTREAM_DLQ_KEY": key,
        "SHOPSTREAM_DLQ_KEY_ID": None,
    }
    return CliRunner().invoke(app, ["dlq", *args, "--topic", setup.dlq], env=env)


def read_topic(bootstrap: str, topic: str, *, settle: float = 3.0) -> list[Any]:
    """Every message of ``topic`` as (key, value, headers), read_committed."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    metadata = consumer.list_topics(topic, timeout=30)
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions])
    found: list[Any] = []
    deadline = time.monotonic() + settle
    try:
        while time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.5):
                if msg.error() is None:
                    found.append((msg.key(), msg.value(), dict(msg.headers() or [])))
    finally:
        consumer.close()
    return found


def test_inspect_without_the_key_lists_letters_and_says_payloads_are_encrypted(
    dlq: Setup,
) -> None:
    result = cli(dlq, "inspect")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for letter in dlq.letters:
        assert letter.dead_letter_id in out
        assert letter.source in out
    assert "3 dead letter(s)" in out
    assert "by reason: format 1, max 1, not_avro 1, session_id_required 1" in out
    assert "payloads are encrypted" in out
    assert f"key id {KEY.key_id}" in out
    assert EMAIL not in result.output
    assert NAME not in result.output


def test_inspect_filters_limits_and_writes_json(dlq: Setup) -> None:
    result = cli(dlq, "inspect", "--reason", "not_avro")
    assert result.exit_code == 0, result.output
    assert dlq.letters[1].dead_letter_id in result.stdout
    assert dlq.letters[0].dead_letter_id not in result.stdout
    assert "1 dead letter(s)" in result.stdout

    result = cli(dlq, "inspect", "--limit", "1", "--since", "1h", "--until", "2999-01-01")
    assert result.exit_code == 0, result.output
    assert "3 dead letter(s), 1 shown" in result.stdout
    assert sum(d.dead_letter_id in result.stdout for d in dlq.letters) == 1

    result = cli(dlq, "inspect", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["dead_letter_id"] for r in rows} == {d.dead_letter_id for d in dlq.letters}
    by_id = {r["dead_letter_id"]: r for r in rows}
    signup = by_id[dlq.letters[0].dead_letter_id]
    assert signup["event_type"] == "signup"
    assert signup["reasons"] == [
        {"path": "email", "rule": "format", "message": "does not match the email format"}
    ]
    assert signup["payload"] == {
        "encrypted": True,
        "key_bytes": len(dlq.originals[0].key or b""),
        "value_bytes": len(dlq.originals[0].value),
    }
    assert "3 dead letter(s)" in result.stderr


def test_inspect_with_the_key_shows_the_decoded_event(dlq: Setup) -> None:
    result = cli(dlq, "inspect", "--show-payload", key=SECRET)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"key:   {dlq.originals[0].key.decode()}" in out  # type: ignore[union-attr]
    assert "value: signup v1 " in out
    assert EMAIL in out
    assert "not an event (not_avro), hex " + dlq.originals[1].value.hex() in out
    assert "key:   (none)" in out

    result = cli(dlq, "inspect", "--show-payload", "--json", key=SECRET)
    assert result.exit_code == 0, result.output
    rows = {r["dead_letter_id"]: r for r in map(json.loads, result.stdout.splitlines())}
    payload = rows[dlq.letters[2].dead_letter_id]["payload"]
    assert payload["event_type"] == "visit"
    assert payload["event"]["dwell_ms"] == EVENTS["visit"]["dwell_ms"]


def test_inspect_show_payload_with_another_key_exits_1(dlq: Setup) -> None:
    result = cli(dlq, "inspect", "--show-payload", key=DeadLetterKey.generate())
    assert result.exit_code == 1
    assert "payload: cannot open" in result.stdout
    assert f"sealed under key id {KEY.key_id}" in result.stdout
    assert "Traceback" not in result.output


def test_replay_produces_the_exact_original_bytes(dlq: Setup) -> None:
    result = cli(dlq, "replay", "--to", dlq.raw, "--all", "--dry-run", key=SECRET)
    assert result.exit_code == 0, result.output
    assert f"dry run: would replay 3 dead letter(s) to {dlq.raw}" in result.stdout
    assert read_topic(dlq.bootstrap, dlq.raw, settle=1.0) == []

    result = cli(dlq, "replay", "--to", dlq.raw, "--all", key=SECRET)
    assert result.exit_code == 0, result.output
    assert f"replayed 3 dead letter(s) to {dlq.raw}" in result.stdout
    replayed = read_topic(dlq.bootstrap, dlq.raw)
    assert sorted((k or b"", v) for k, v, _ in replayed) == sorted(
        (o.key or b"", o.value) for o in dlq.originals
    )
    assert [k for k, _, _ in replayed].count(None) == 1  # a missing key stays missing
    ids = {h[REPLAY_HEADER].decode() for _, _, h in replayed}
    assert ids == {d.dead_letter_id for d in dlq.letters}


def test_replay_by_id_and_by_reason(dlq: Setup) -> None:
    chosen = dlq.letters[2]
    result = cli(dlq, "replay", "--to", dlq.raw, "--ids", chosen.dead_letter_id.upper(), key=SECRET)
    assert result.exit_code == 0, result.output
    assert "replayed 1 dead letter(s)" in result.stdout
    result = cli(dlq, "replay", "--to", dlq.raw, "--reason", "format", key=SECRET)
    assert result.exit_code == 0, result.output
    replayed = read_topic(dlq.bootstrap, dlq.raw)
    expected = [dlq.originals[2], dlq.originals[0]]  # by id, then by reason
    assert sorted((k, v) for k, v, _ in replayed) == sorted((o.key, o.value) for o in expected)


def test_replay_with_another_key_replays_nothing(dlq: Setup) -> None:
    result = cli(dlq, "replay", "--to", dlq.raw, "--all", key=DeadLetterKey.generate())
    assert result.exit_code == 1
    assert "nothing was replayed" in result.output
    assert read_topic(dlq.bootstrap, dlq.raw, settle=1.0) == []


def test_missing_topics_exit_3(dlq: Setup) -> None:
    result = cli(dlq, "replay", "--to", dlq.raw + ".missing", "--all", key=SECRET)
    assert result.exit_code == 3, result.output
    assert "cannot replay to" in result.output
    env = {"KAFKA_BOOTSTRAP_SERVERS": dlq.bootstrap}
    result = CliRunner().invoke(
        app, ["dlq", "inspect", "--topic", dlq.dlq + ".missing", "--timeout", "5"], env=env
    )
    assert result.exit_code == 3, result.output
    assert "cannot be read" in result.output


def test_reader_stops_at_the_end_and_reports_what_is_not_a_letter(dlq: Setup) -> None:
    producer = Producer({"bootstrap.servers": dlq.bootstrap})
    producer.produce(dlq.dlq, "김길동 not a letter".encode(), partition=0)
    producer.produce(dlq.dlq, None, b"k", partition=1)  # a tombstone
    producer.flush(30)
    seen = list(read_dead_letters(dlq.bootstrap, dlq.dlq, timeout=30))
    letters = [m.letter for m in seen if m.letter is not None]
    errors = [m for m in seen if m.error is not None]
    assert {d.dead_letter_id for d in letters} == {d.dead_letter_id for d in dlq.letters}
    assert len(errors) == 2
    assert all("김길동" not in str(m.error) for m in errors)
    result = cli(dlq, "inspect")
    assert result.exit_code == 0, result.output
    assert "3 dead letter(s)" in result.stdout
    assert result.stderr.count("warning:") == 2
