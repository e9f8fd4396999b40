"""`shopstream sink parquet` on the real broker, killed with SIGKILL again and again.

Clean events and buyer aggregates are produced in Kafka transactions (every seventh one
aborted) while the sink runs as a subprocess; it is killed mid-write several times and
restarted, then run to the end. The landed datasets must then equal the topics'
read_committed content: every (partition, offset) exactly once, nothing aborted, no gap,
and the latest snapshot the newest version per buyer. DuckDB and pyarrow read both
datasets directly.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds
import pytest
from confluent_kafka import Producer

from shopstream.processors.aggregate import AggregateSettings, Applied, apply_event, buyer_features
from shopstream.processors.sinks.parquet import run_parquet_sink
from shopstream.schemas.codec import Codec
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.pseudonymised import load_clean_contract
from tests.integration.pipeline import SHOPSTREAM, Message, read_topic, wait_until
from tests.unit.test_aggregate_records import CleanEventFactory, pseudonym

CLEAN_CODEC = Codec(load_clean_contract())
FEATURES_CODEC = Codec(Contract.load(schemas_root() / "features"))
KILLS = 6
KINDS = ["signup", "visit", "visit", "visit", "purchase", "purchase", "review", "product"]


@dataclass
class Topics:
    bootstrap: str
    clean: str
    features: str
    group: str

    def env(self) -> dict[str, str]:
        return {
            "SHOPSTREAM_BOOTSTRAP_SERVERS": self.bootstrap,
            "SHOPSTREAM_CLEAN_TOPIC": self.clean,
            "SHOPSTREAM_FEATURES_TOPIC": self.features,
            "SHOPSTREAM_SINK_GROUP": self.group,
            # Small batches: many files, many manifests, compactions: much to interrupt.
            "SHOPSTREAM_BATCH_SIZE": "150",
            "SHOPSTREAM_BATCH_INTERVAL_S": "0.3",
            # Static membership: a restarted sink takes its partitions over at once.
            "SHOPSTREAM_KAFKA_CONFIG": f'{{"group.instance.id": "{self.group}-0"}}',
        }


@pytest.fixture
def topics(
    kafka_bootstrap: str, topic_factory: Callable[..., str], name_factory: Callable[[str], str]
) -> Topics:
    return Topics(
        kafka_bootstrap,
        topic_factory(partitions=3, stem="clean"),
        topic_factory(partitions=3, config={"cleanup.policy": "compact"}, stem="features"),
        name_factory("sink"),
    )


@dataclass
class Traffic:
    """Clean events and the aggregates they make, produced in transactions in a thread."""

    topics: Topics
    seed: int
    produced: int = 0
    aborted: int = 0
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def messages(self) -> Iterator[tuple[str, bytes, bytes]]:
        rng = random.Random(self.seed)
        factories = [
            CleanEventFactory(buyer=pseudonym(f"{shop}-{n}"), shop_id=shop)
            for shop in ("mart-a", "mart-b", "mart-c")
            for n in range(15)
        ]
        states: dict[tuple[str, str], Any] = {}
        settings = AggregateSettings()
        while True:
            factory = rng.choice(factories)
            name, record = getattr(factory, rng.choice(KINDS))(rng.randrange(0, 20 * 24) / 24)
            key = f"{record['shop_id']}|{record['buyer_pseudonym']}".encode()
            yield self.topics.clean, key, CLEAN_CODEC.encode(name, record)
            buyer = (record["shop_id"], record["buyer_pseudonym"])
            state, applied = apply_event(states.get(buyer), name, record, settings)
            if applied == Applied.COUNTED and state is not None:
                states[buyer] = state
                features = FEATURES_CODEC.encode("buyer", buyer_features(state, settings))
                yield self.topics.features, key, features

    def run(self, transactions: int, size: int, pause_s: float) -> None:
        try:
            producer = Producer(
                {
                    "bootstrap.servers": self.topics.bootstrap,
                    "transactional.id": f"test-sink-parquet-{uuid.uuid4().hex}",
                    "linger.ms": 5,
                }
            )
            producer.init_transactions(60)
            source = self.messages()
            for n in range(transactions):
                if self._stop.is_set():
                    break
                producer.begin_transaction()
                for _ in range(size):
                    topic, key, value = next(source)
                    producer.produce(topic, value, key)
                if n % 7 == 6:
                    # Delivered first: the aborted messages take offsets that readers skip.
                    producer.flush(60)
                    producer.abort_transaction(60)
                    self.aborted += 1
                else:
                    producer.commit_transaction(60)
                self.produced += 1
                time.sleep(pause_s)
            producer.flush(30)
        except BaseException as exc:  # reported by the test thread
            self.error = exc

    def start(self, transactions: int, size: int = 60, pause_s: float = 0.05) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(transactions, size, pause_s), daemon=True)
        thread.start()
        return thread


def _sink(topics: Topics, out: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink_log:
        return subprocess.Popen(
            [SHOPSTREAM, "sink", "parquet", "--out", str(out), "--compact-every", "4", *args],
            env={**os.environ, **topics.env()},
            stdout=sink_log,
            stderr=subprocess.STDOUT,
        )


def _progress(out: Path) -> frozenset[str]:
    folder = out / "_sink" / "manifests"
    return frozenset(p.name for p in folder.glob("*.json")) if folder.is_dir() else frozenset()


def _wait_for_progress(out: Path, before: frozenset[str], sink: subprocess.Popen[bytes]) -> None:
    wait_until(
        lambda: _progress(out) != before or sink.poll() is not None,
        timeout=180,
        interval=0.05,
        what="the sink to land a batch",
    )


def _writing(out: Path) -> bool:
    """A file is being written (a temporary name exists)."""
    return any(True for _ in out.rglob(".*.tmp"))


def _landed(table: Any) -> list[tuple[int, int]]:
    return sorted(
        zip(table["kafka_partition"].to_pylist(), table["kafka_offset"].to_pylist(), strict=True)
    )


def _in_topic(messages: list[Message]) -> list[tuple[int, int]]:
    return sorted((m.partition, m.offset) for m in messages)


def test_kill_9_mid_write_again_and_again_lands_each_message_once(
    topics: Topics, tmp_path: Path
) -> None:
    out, log = tmp_path / "out", tmp_path / "sink.log"
    traffic = Traffic(topics, seed=5)
    producing = traffic.start(transactions=120)
    rng = random.Random(9)
    for kill in range(KILLS):
        before = _progress(out)
        sink = _sink(topics, out, log)
        # Kill only once it streams (landed something since this start); then either at a
        # random moment or as soon as a file is being written.
        _wait_for_progress(out, before, sink)
        if kill % 2:
            deadline = time.monotonic() + 30  # else the sink has drained: kill it idle
            while not _writing(out) and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            time.sleep(rng.uniform(0, 0.4))
        assert sink.poll() is None, log.read_text()[-3000:]
        sink.kill()
        sink.wait(30)
    producing.join(300)
    assert traffic.error is None, traffic.error
    assert traffic.aborted > 0
    # One graceful stop mid-stream: SIGTERM flushes and exits 0.
    before = _progress(out)
    sink = _sink(topics, out, log)
    _wait_for_progress(out, before, sink)
    sink.send_signal(signal.SIGTERM)
    assert sink.wait(60) == 0, log.read_text()[-3000:]
    # Then to the end.
    final = _sink(topics, out, log, "--until-caught-up", "--idle-timeout", "3")
    assert final.wait(300) == 0, log.read_text()[-3000:]
    recoveries = re.findall(r"start-up recovery: RecoveryReport\(([^)]*)\)", log.read_text())
    assert len(recoveries) == KILLS + 2
    repaired = [r for r in recoveries if re.search(r"=[1-9]", r)]
    assert repaired, f"no kill left anything to recover: {recoveries}"

    clean = read_topic(topics.bootstrap, topics.clean)
    features = read_topic(topics.bootstrap, topics.features)
    _assert_events_equal(out, clean)
    _assert_features_equal(out, features)
    _assert_clean_folder(out)


def _assert_events_equal(out: Path, messages: list[Message]) -> None:
    db = duckdb.connect()
    rows = db.execute(
        "select kafka_partition, kafka_offset, event_type, shop_id, event_date, "
        "cast(event_id as varchar) from read_parquet(?, hive_partitioning=true, union_by_name=true)",
        [f"{out}/events/**/*.parquet"],
    ).fetchall()
    landed = sorted((p, o) for p, o, *_ in rows)
    assert len(landed) == len(set(landed)), "a message landed twice"
    assert landed == _in_topic(messages)
    by_offset = {(m.partition, m.offset): CLEAN_CODEC.decode(m.value) for m in messages}
    for partition, offset, event_type, shop_id, event_date, event_id in rows:
        event = by_offset[(partition, offset)]
        assert event_type == event.name
        assert shop_id == event.record["shop_id"]
        assert event_date == event.record["event_time"].astimezone(dt.UTC).date()
        assert event_id == str(event.record["event_id"])
    dataset = ds.dataset(out / "events", format="parquet", partitioning="hive")
    assert _landed(dataset.to_table(columns=["kafka_partition", "kafka_offset"])) == landed


def _assert_features_equal(out: Path, messages: list[Message]) -> None:
    history = ds.dataset(out / "features" / "history", format="parquet", partitioning="hive")
    table = history.to_table()
    landed = _landed(table)
    assert len(landed) == len(set(landed)), "a version landed twice"
    assert landed == _in_topic(messages)
    by_offset = {(m.partition, m.offset): m for m in messages}
    newest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in table.to_pylist():
        message = by_offset[(row["kafka_partition"], row["kafka_offset"])]
        record = FEATURES_CODEC.decode(message.value).record
        assert row["buyer_pseudonym"] == record["buyer_pseudonym"]
        assert row["event_timestamp"] == record["as_of"] == row["as_of"]
        assert row["created_timestamp"] == dt.datetime.fromtimestamp(
            message.timestamp / 1000, dt.UTC
        )
        assert row["events"] == record["events"]
        rank = (row["event_timestamp"], row["created_timestamp"], row["kafka_offset"])
        key = (row["shop_id"], row["buyer_pseudonym"])
        newest[key] = max(newest.get(key, rank), rank)
    count = (
        duckdb.connect()
        .execute(
            "select count(*), count(distinct (shop_id, buyer_pseudonym)) from read_parquet(?, hive_partitioning=true)",
            [f"{out}/features/latest/*/latest.parquet"],
        )
        .fetchall()
    )
    assert count == [(len(newest), len(newest))]
    latest = ds.dataset(out / "features" / "latest", format="parquet", partitioning="hive")
    got = {
        (r["shop_id"], r["buyer_pseudonym"]): (
            r["event_timestamp"],
            r["created_timestamp"],
            r["kafka_offset"],
        )
        for r in latest.to_table().to_pylist()
    }
    assert got == newest


def _assert_clean_folder(out: Path) -> None:
    assert not [p for p in out.rglob(".*.tmp")]
    assert not list((out / "_sink" / "compactions").glob("*.json"))


def test_run_parquet_sink_in_process_returns_its_stats(topics: Topics, tmp_path: Path) -> None:
    traffic = Traffic(topics, seed=6)
    traffic.run(transactions=8, size=25, pause_s=0)
    assert traffic.error is None
    stats = run_parquet_sink(
        topics.bootstrap,
        tmp_path,
        clean_topic=topics.clean,
        features_topic=topics.features,
        sink_group=topics.group,
        idle_timeout_s=2,
    )
    clean = read_topic(topics.bootstrap, topics.clean)
    features = read_topic(topics.bootstrap, topics.features)
    assert stats.written == len(clean) + len(features)
    assert stats.skipped == 0
    table = ds.dataset(tmp_path / "events", format="parquet", partitioning="hive").to_table()
    assert _landed(table) == _in_topic(clean)
