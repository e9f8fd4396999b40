"""The PostgreSQL sink against a real server and a real broker.

Features records are made by hand (tests/unit/features_records.py), encoded as stage 2
encodes them, and produced in Kafka transactions (some aborted: the sink reads
read_committed and must never land them).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer
from psycopg.conninfo import conninfo_to_dict

from shopstream.processors.engine.aggregate_app import features_codec
from shopstream.processors.sinks.postgres import MigrationError, load_migrations, migrate
from shopstream.processors.sinks.postgres import run_postgres_sink as run_sink
from tests.integration.pipeline import SHOPSTREAM, read_topic, wait_until
from tests.unit.features_records import T0, features_record, pseudonym

Version = tuple[int, dict[str, Any]]
"""(partition, features record)."""

CODEC = features_codec()


def produce(
    bootstrap: str, topic: str, versions: Sequence[Version], *, per_transaction: int = 200
) -> None:
    """Produce ``versions`` in transactions; after each, an aborted one the sink must skip.

    The aborted records are the newest of all (as_of a year on): landed by mistake, they
    would win every upsert, so no test could miss them.
    """
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"test-{uuid.uuid4().hex}"}
    )
    producer.init_transactions(30)
    for start in range(0, len(versions), per_transaction):
        producer.begin_transaction()
        for partition, record in versions[start : start + per_transaction]:
            _send(producer, topic, partition, record)
        producer.commit_transaction(30)
        producer.begin_transaction()
        for partition, record in versions[start : start + 3]:
            _send(producer, topic, partition, {**record, "as_of": T0 + dt.timedelta(days=365)})
        producer.flush(30)
        producer.abort_transaction(30)


def _send(producer: Producer, topic: str, partition: int, record: dict[str, Any]) -> None:
    key = f"{record['shop_id']}|{record['buyer_pseudonym']}".encode()
    producer.produce(topic, CODEC.encode("buyer", record), key, partition=partition)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.encode()).fetchall()


def snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: rows(dsn, f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4")  # noqa: S608 - constants
        for table in ("buyer_features", "buyer_features_history", "shopstream_sink_progress")
    }


def latest_events(dsn: str) -> dict[tuple[str, str], int]:
    return {
        (shop, buyer): events
        for shop, buyer, events in rows(
            dsn, "SELECT shop_id, buyer_pseudonym, events FROM buyer_features"
        )
    }


@pytest.fixture
def features_topic(topic_factory: Callable[..., str]) -> str:
    return topic_factory(partitions=3, stem="features")


@pytest.fixture
def dsn(postgres_database_factory: Callable[[], str]) -> str:
    return postgres_database_factory()


@pytest.fixture
def sink(
    kafka_bootstrap: str, features_topic: str, dsn: str, name_factory: Callable[[str], str]
) -> Callable[[], Any]:
    """Run the sink until caught up, in this process, each time in a new consumer group:
    where it resumes comes from the database, never from the group's offsets."""

    def run() -> Any:
        return run_sink(
            kafka_bootstrap,
            dsn,
            topic=features_topic,
            group=name_factory("sink-pg"),
            idle_timeout_s=1.0,
            batch_size=50,
        )

    return run


def test_upsert_keeps_the_newest_version_and_history_keeps_all(
    kafka_bootstrap: str, features_topic: str, dsn: str, sink: Callable[[], Any]
) -> None:
    versions = [
        (buyer % 3, features_record(buyer=buyer, as_of=at(10 * n), events=n))
        for n in range(1, 6)
        for buyer in range(12)
    ]
    produce(kafka_bootstrap, features_topic, versions, per_transaction=7)
    stats = sink()
    assert stats.written == len(versions)
    assert set(latest_events(dsn).values()) == {5}
    assert len(latest_events(dsn)) == 12
    assert rows(dsn, "SELECT count(*) FROM buyer_features_history") == [(len(versions),)]

    (row,) = rows(
        dsn,
        "SELECT as_of, event_timestamp, created_timestamp, top_categories, mean_rating,"
        " discount_share, kafka_partition FROM buyer_features"
        " WHERE buyer_pseudonym = (SELECT min(buyer_pseudonym) FROM buyer_features)",
    )
    as_of, event_timestamp, created, top, mean_rating, share, _ = row
    assert as_of == event_timestamp == at(50)
    assert abs(created - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=10)
    assert (top, mean_rating, share) == (["c-10", "c-7"], None, 1_000 / 13_000)

    # Progress is each partition's end: the last commit marker included.
    ends = {m.partition: m.offset for m in read_topic(kafka_bootstrap, features_topic)}
    progress = dict(rows(dsn, "SELECT partition, next_offset FROM shopstream_sink_progress"))
    assert set(progress) == {0, 1, 2}
    assert all(progress[p] > ends[p] for p in ends)


def test_a_replay_of_the_same_offsets_changes_nothing(
    kafka_bootstrap: str, features_topic: str, dsn: str, sink: Callable[[], Any]
) -> None:
    versions = [
        (buyer % 3, features_record(buyer=buyer, as_of=at(n), events=n))
        for n in range(1, 4)
        for buyer in range(20)
    ]
    produce(kafka_bootstrap, features_topic, versions)
    sink()
    before = snapshot(dsn)
    assert len(before["buyer_features_history"]) == len(versions)

    # Forget the progress: the whole topic is read and written again.
    rows_deleted = psycopg.connect(dsn, autocommit=True).execute(
        "DELETE FROM shopstream_sink_progress"
    )
    assert rows_deleted.rowcount == 3
    stats = sink()
    assert stats.written == len(versions)
    after = snapshot(dsn)
    for table in ("buyer_features", "buyer_features_history"):
        assert after[table] == before[table], table
    progress = [row[:3] for row in after["shopstream_sink_progress"]]
    assert progress == [row[:3] for row in before["shopstream_sink_progress"]]


def test_an_older_version_arriving_late_is_ignored(
    kafka_bootstrap: str, features_topic: str, dsn: str, sink: Callable[[], Any]
) -> None:
    late, same_batch, tie = 1, 2, 3
    produce(
        kafka_bootstrap,
        features_topic,
        [
            (0, features_record(buyer=late, as_of=at(120), events=5)),
            # In one batch: the newer first, then an older one.
            (0, features_record(buyer=same_batch, as_of=at(90), events=9)),
            (0, features_record(buyer=same_batch, as_of=at(30), events=4)),
            # The same as_of twice: the later offset is the newer version.
            (0, features_record(buyer=tie, as_of=at(60), events=6)),
            (0, features_record(buyer=tie, as_of=at(60), events=7)),
        ],
    )
    sink()
    # In a later batch, after the newer one was stored.
    produce(
        kafka_bootstrap, features_topic, [(0, features_record(buyer=late, as_of=at(60), events=3))]
    )
    stats = sink()
    assert stats.written == 1
    latest = latest_events(dsn)
    assert latest[("shop-a", pseudonym(late))] == 5
    assert latest[("shop-a", pseudonym(same_batch))] == 9
    assert latest[("shop-a", pseudonym(tie))] == 7
    assert rows(dsn, "SELECT count(*) FROM buyer_features_history") == [(6,)]
    # History keeps the late version, with its own as_of.
    assert rows(dsn, "SELECT events, as_of FROM buyer_features_history WHERE events = 3") == [
        (3, at(60))
    ]


def shopstream(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHOPSTREAM, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrations_are_applied_once_and_recorded(dsn: str) -> None:
    password = conninfo_to_dict(dsn).get("password")
    first = shopstream("sink", "postgres", "migrate", "--dsn", dsn)
    assert first.returncode == 0, first.stderr
    shipped = load_migrations()
    recorded = rows(
        dsn, "SELECT version, name, checksum, applied_at FROM shopstream_migrations ORDER BY 1"
    )
    assert [r[:3] for r in recorded] == [(m.version, m.name, m.checksum) for m in shipped]
    assert "applied 0001_buyer_features" in first.stderr

    # Again, from the environment: nothing to do, nothing re-applied.
    again = shopstream("sink", "postgres", "migrate", env={"SHOPSTREAM_POSTGRES_DSN": dsn})
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stderr
    assert migrate(dsn) == []
    assert (
        rows(
            dsn, "SELECT version, name, checksum, applied_at FROM shopstream_migrations ORDER BY 1"
        )
        == recorded
    )
    if password:  # the test server's DSN has one; an external one may not
        for output in (first.stdout, first.stderr, again.stdout, again.stderr):
            assert password not in output
        assert "password=***" in first.stderr

    # An applied file that changed is refused, by the API and by the command.
    psycopg.connect(dsn, autocommit=True).execute(
        "UPDATE shopstream_migrations SET checksum = 'edited' WHERE version = 1"
    )
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(dsn)
    refused = shopstream("sink", "postgres", "migrate", "--dsn", dsn)
    assert refused.returncode == 1
    assert "changed after it was applied" in refused.stderr


def test_a_failing_migration_leaves_nothing_behind(dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE one (x int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE two (x int); SELECT 1/0;")
    with pytest.raises(MigrationError, match="applied before it: 0001"):
        migrate(dsn, load_migrations(tmp_path))
    assert rows(dsn, "SELECT version FROM shopstream_migrations") == [(1,)]
    assert rows(dsn, "SELECT to_regclass('one') IS NOT NULL, to_regclass('two') IS NULL") == [
        (True, True)
    ]


# --- crash safety ------------------------------------------------------------------------


def many_versions(buyers: int, per_buyer: int, seed: int) -> list[Version]:
    """Interleaved versions of many buyers; about one in eight is older than the one before."""
    rng = random.Random(seed)
    clock = dict.fromkeys(range(buyers), 0)
    out: list[Version] = []
    for n in range(1, per_buyer + 1):
        for buyer in rng.sample(range(buyers), buyers):
            step = -rng.randint(1, 30) if rng.random() < 0.125 else rng.randint(1, 60)
            clock[buyer] += step
            out.append((buyer % 3, features_record(buyer=buyer, as_of=at(clock[buyer]), events=n)))
    return out


class SinkProcess:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [SHOPSTREAM, *args], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)


def progress_total(dsn: str) -> int:
    try:
        return int(
            rows(dsn, "SELECT coalesce(sum(next_offset), 0) FROM shopstream_sink_progress")[0][0]
        )
    except psycopg.errors.UndefinedTable:
        return 0


@pytest.fixture
def sink_processes() -> Iterator[list[SinkProcess]]:
    started: list[SinkProcess] = []
    yield started
    for sink in started:
        if sink.process.poll() is None:
            sink.kill()


def test_kill_9_mid_write_and_restart_lands_the_topic_exactly(
    kafka_bootstrap: str,
    features_topic: str,
    dsn: str,
    name_factory: Callable[[str], str],
    tmp_path: Path,
    sink_processes: list[SinkProcess],
) -> None:
    versions = many_versions(buyers=400, per_buyer=40, seed=5)
    produce(kafka_bootstrap, features_topic, versions, per_transaction=500)
    password = conninfo_to_dict(dsn).get("password")
    log_path = tmp_path / "sink.log"
    env = {"SHOPSTREAM_POSTGRES_DSN": dsn, "SHOPSTREAM_BOOTSTRAP_SERVERS": kafka_bootstrap}

    def start() -> SinkProcess:
        # A new group each time: the dead member's partitions need not time out first.
        args = ["sink", "postgres", "--features-topic", features_topic, "--group"]
        args += [name_factory("sink-pg"), "--batch-size", "200", "--until-caught-up"]
        args += ["--idle-timeout", "2"]
        sink = SinkProcess(args, env, log_path)
        sink_processes.append(sink)
        return sink

    rng = random.Random(7)
    kills = 0
    killed_at: list[int] = []  # the progress after each kill while writing
    # The first kill at a random moment of the start-up (migrations, group join...).
    first = start()
    time.sleep(rng.uniform(0.5, 4.0))
    first.kill()
    kills += 1
    # Then each one while the rows are flowing: one to three batches after this run's start.
    # Counted in rows, not seconds: a sink given a random time could finish the topic on a
    # fast machine, and the last run would have nothing left to recover.
    for _ in range(4):
        target = progress_total(dsn) + rng.randint(1, 3) * 200
        sink = start()
        wait_until(
            lambda target=target, sink=sink: (
                progress_total(dsn) >= target or sink.process.poll() is not None
            ),
            timeout=120,
            interval=0.02,
            what="the sink to write",
        )
        if sink.process.poll() is not None:
            break  # it finished before it could be killed
        sink.kill()
        kills += 1
        killed_at.append(progress_total(dsn))
    assert kills >= 4, "the sink finished too early: give it more to write"
    written_before_the_end = progress_total(dsn)

    last = start()
    assert last.process.wait(300) == 0, log_path.read_text()
    # Each kill came after more was written, and before the end.
    assert killed_at == sorted(set(killed_at))
    assert written_before_the_end < progress_total(dsn)

    committed = read_topic(kafka_bootstrap, features_topic)
    assert len(committed) == len(versions)
    decoded = {(m.partition, m.offset): CODEC.decode(m.value).record for m in committed}

    # History: every (partition, offset) of the topic exactly once, with its content.
    history = rows(
        dsn,
        "SELECT kafka_partition, kafka_offset, buyer_pseudonym, events, as_of FROM buyer_features_history",
    )
    assert len(history) == len(decoded)
    assert {(p, o): (b, e, a) for p, o, b, e, a in history} == {
        key: (r["buyer_pseudonym"], r["events"], r["as_of"]) for key, r in decoded.items()
    }

    # Latest: per buyer, the version with the greatest (as_of, partition, offset).
    expected: dict[str, tuple[Any, ...]] = {}
    for (partition, offset), record in decoded.items():
        order = (record["as_of"], partition, offset)
        if record["buyer_pseudonym"] not in expected or order > expected[record["buyer_pseudonym"]]:
            expected[record["buyer_pseudonym"]] = order
    latest = rows(
        dsn, "SELECT buyer_pseudonym, as_of, kafka_partition, kafka_offset FROM buyer_features"
    )
    assert {b: (a, p, o) for b, a, p, o in latest} == expected
    assert any(  # the late older versions were there to be ignored
        decoded[(p, o)]["events"] < 40 for _, p, o in expected.values()
    )

    # Progress: each partition read to its end.
    ends = {}
    for m in committed:
        ends[m.partition] = max(ends.get(m.partition, 0), m.offset)
    progress = dict(rows(dsn, "SELECT partition, next_offset FROM shopstream_sink_progress"))
    assert all(progress[p] > end for p, end in ends.items())

    if password:
        log_text = log_path.read_text()
        assert password not in log_text
        assert "password=***" in log_text


def test_sigterm_stops_after_the_current_batches(
    kafka_bootstrap: str,
    features_topic: str,
    dsn: str,
    name_factory: Callable[[str], str],
    tmp_path: Path,
    sink_processes: list[SinkProcess],
) -> None:
    versions = [(b % 3, features_record(buyer=b, as_of=at(1), events=1)) for b in range(30)]
    produce(kafka_bootstrap, features_topic, versions)
    log_path = tmp_path / "sink.log"
    args = ["sink", "postgres", "--features-topic", features_topic]
    args += ["--group", name_factory("sink-pg"), "--bootstrap-servers", kafka_bootstrap]
    sink = SinkProcess(args, {"SHOPSTREAM_POSTGRES_DSN": dsn}, log_path)
    sink_processes.append(sink)
    wait_until(
        lambda: (
            rows(dsn, "SELECT count(*) FROM buyer_features_history") == [(30,)]
            if progress_total(dsn)
            else False
        ),
        timeout=120,
        interval=0.2,
        what="the rows",
    )
    sink.process.send_signal(signal.SIGTERM)
    assert sink.process.wait(60) == 0, log_path.read_text()
    assert "sink postgres stopped: 30 rows" in log_path.read_text()
