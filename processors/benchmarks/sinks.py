"""`shopstream bench sinks`: rows/s of the Parquet and PostgreSQL sinks beside a bare
consume loop, on one broker in one run.

The input (:mod:`.sinks_input`) is N clean events and N buyer-features versions,
produced in Kafka transactions to two topics of 6 partitions. In each round the systems
take turns on it, each with a fresh consumer group and a fresh destination.

After an untimed warm-up read (the first group join on a fresh broker creates the
offsets topic), each round runs:

- ``baseline``: a bare confluent-kafka loop with the sinks' consumer settings
  (``read_committed``), consuming and discarding, once over the features topic (the
  PostgreSQL sink's input) and once over both topics (the Parquet sink's);
- ``without_writer``: the sinks' own runner (:class:`SinkRunner`: decode, batch per
  partition) with a writer that discards, over each input: everything but the
  destination;
- ``parquet``: :class:`ParquetSink` over both topics, into a fresh folder;
- ``postgres``: :func:`postgres_sink_runner` over the features topic, into a fresh
  database (migrations applied before the clock starts).

Each runs in this process. The clock starts just before ``run()`` (which subscribes and
joins the group) and stops when the batch that completes the input has been written
(the ``on_batch`` callback), so the idle wait that ``until_caught_up`` adds before it
returns is left out. rows/s = rows written / those seconds; the median of the rounds is
reported, and each sink's ratio to the baseline over the same input.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from shopstream.processors.benchmarks import sinks_input
from shopstream.processors.benchmarks.timing import machine_info
from shopstream.processors.sinks.base import Batch, SinkRunner, SinkStats, codec_decoder

SINKS = ("parquet", "postgres")
INPUTS = {"parquet": "clean_and_features", "postgres": "features"}
"""What each sink reads: the baseline it is compared with."""

Progress = Callable[[str], None]
IDLE_S = 0.5
"""until_caught_up's idle wait before run() returns (after the clock stops)."""
METHOD = (
    "in-process; from just before run() (subscribe and group join included) until the "
    "batch completing the input was written (on_batch); rows written / seconds. "
    "cpu_us_per_row: this process's CPU time (all threads) over the same span / rows; "
    "the broker's and the PostgreSQL server's CPU are not in it"
)
BASELINE_METHOD = (
    "bare confluent-kafka loop with the sinks' consumer settings (read_committed, "
    "consume(1000)), messages discarded undecoded; rows read after the first fetch / "
    "seconds from the first fetch to the last row (the group join, join_s, left out)"
)


@dataclass(frozen=True)
class Parameters:
    rows: int = 100_000
    """Clean events, and features versions, produced (the Parquet sink reads both)."""
    rounds: int = 3
    partitions: int = 6
    batch_size: int = 5_000
    """The sinks' default (messages of one partition per write)."""
    batch_interval_s: float = 2.0
    """The sinks' default: a partial batch is written after this long."""
    per_transaction: int = 5_000
    """Messages per producer transaction when the input is produced."""
    seed: int = 7
    days: int = 30
    """Event times span this many days up to now: the Parquet sink writes a file per
    (shop, event date, event type) a batch touches, so this sets its files per batch."""
    timeout_s: float = 900.0
    """Longest one system may take to read its input."""


class BenchmarkError(Exception):
    """A system failed or did not read its input in time; the message says which and why."""


@dataclass(frozen=True)
class Timed:
    rows: int
    seconds: float
    batches: int
    load: tuple[float, float]
    """1-minute load average before and after."""
    cpu_s: float
    """CPU time of this process meanwhile (every thread: Python and librdkafka's)."""
    join_s: float | None = None
    """Baseline only: from subscribe to the first fetch (left out of ``seconds``)."""

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_row(self) -> float:
        return self.cpu_s / self.rows * 1e6 if self.rows else 0.0


# -- the systems --------------------------------------------------------------------------------


class _Finish:
    """on_batch: counts rows and batches; notes when the input is complete."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.rows = self.batches = 0
        self.t_end: float | None = None
        self.cpu_end = 0.0

    def __call__(self, batch: Batch) -> None:
        self.rows += len(batch.records) + batch.skipped
        self.batches += 1
        if self.t_end is None and self.rows >= self.expected:
            self.t_end, self.cpu_end = time.perf_counter(), time.process_time()


class _Discard:
    """A SinkWriter that keeps nothing: the runner's cost without a destination."""

    def resume_offsets(self, topic: str, partitions: Sequence[int]) -> Mapping[int, int]:
        return {}

    def write(self, batch: Batch) -> None:
        pass

    def close(self) -> None:
        pass


def _timed_run(
    name: str,
    run: Callable[[], SinkStats],
    stop: Callable[[], None],
    finish: _Finish,
    timeout_s: float,
) -> Timed:
    """``run()`` under a watchdog that calls ``stop()`` after ``timeout_s``."""
    watchdog = threading.Timer(timeout_s, stop)
    watchdog.daemon = True
    load = os.getloadavg()[0]
    watchdog.start()
    cpu, started = time.process_time(), time.perf_counter()
    try:
        stats = run()
    except Exception as exc:
        raise BenchmarkError(f"{name}: {type(exc).__name__}: {exc}") from exc
    finally:
        watchdog.cancel()
    if finish.t_end is None or stats.written + stats.skipped < finish.expected:
        raise BenchmarkError(
            f"{name}: {stats.written + stats.skipped:,} of {finish.expected:,} rows "
            f"within {timeout_s:.0f} s"
        )
    return Timed(
        stats.written,
        finish.t_end - started,
        stats.batches,
        (load, os.getloadavg()[0]),
        finish.cpu_end - cpu,
    )


def consume_all(
    bootstrap: str, topics: Sequence[str], group: str, expected: int, timeout_s: float
) -> Timed:
    """The baseline: read ``expected`` committed messages of ``topics`` and discard them.

    Timed from the end of the first fetch that returned messages, counting the rows read
    after it: the group join (most of a one-second run) is left out, unlike the sinks'
    runs, where it is under 5 % of the time. ``join_s`` in the result says how long it took.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,
        }
    )
    load = os.getloadavg()[0]
    rows = fetches = first_rows = 0
    started = time.perf_counter()
    first = (started, time.process_time())
    try:
        consumer.subscribe(list(topics))
        while rows < expected:
            messages = consumer.consume(1000, timeout=0.2)
            rows += sum(1 for m in messages if m.error() is None)
            if messages:
                fetches += 1
                if fetches == 1:
                    first, first_rows = (time.perf_counter(), time.process_time()), rows
            if time.perf_counter() - started > timeout_s:
                raise BenchmarkError(f"baseline: {rows:,} of {expected:,} rows in {timeout_s} s")
        seconds, cpu = time.perf_counter() - first[0], time.process_time() - first[1]
    finally:
        consumer.close()
    return Timed(
        rows - first_rows,
        seconds,
        fetches - 1,
        (load, os.getloadavg()[0]),
        cpu,
        join_s=first[0] - started,
    )


@dataclass
class _Session:
    bootstrap: str
    topics: Mapping[str, str]
    """``clean`` and ``features`` -> topic name."""
    prefix: str
    parameters: Parameters
    server: _Server
    tmp: Path

    def _inputs(self, name: str) -> list[str]:
        t = self.topics
        return [t["clean"], t["features"]] if name == "clean_and_features" else [t["features"]]

    def _expected(self, name: str) -> int:
        return self.parameters.rows * len(self._inputs(name))

    def baseline(self, input_name: str, tag: str) -> Timed:
        group = f"{self.prefix}{tag}.baseline.{input_name}"
        p = self.parameters
        return consume_all(
            self.bootstrap,
            self._inputs(input_name),
            group,
            self._expected(input_name),
            p.timeout_s,
        )

    def without_writer(self, input_name: str, tag: str) -> Timed:
        from shopstream.processors.engine.aggregate_app import features_codec
        from shopstream.schemas.codec import Codec
        from shopstream.schemas.pseudonymised import load_clean_contract

        p = self.parameters
        codecs = {self.topics["features"]: features_codec()}
        if input_name == "clean_and_features":
            codecs[self.topics["clean"]] = Codec(load_clean_contract())
        finish = _Finish(self._expected(input_name))
        runner = SinkRunner(
            self.bootstrap,
            self._inputs(input_name),
            _Discard(),
            codec_decoder(codecs),
            group=f"{self.prefix}{tag}.without-writer.{input_name}",
            batch_size=p.batch_size,
            batch_interval_s=p.batch_interval_s,
            on_batch=finish,
        )
        run = functools.partial(runner.run, until_caught_up=True, idle_timeout_s=IDLE_S)
        return _timed_run("without writer", run, runner.stop, finish, p.timeout_s)

    def parquet(self, tag: str) -> tuple[Timed, dict[str, Any]]:
        from shopstream.processors.sinks.parquet import ParquetSink
        from shopstream.processors.sinks.settings import ParquetSinkSettings

        p = self.parameters
        out = self.tmp / f"parquet-{tag}"
        settings = ParquetSinkSettings(
            bootstrap_servers=self.bootstrap,
            clean_topic=self.topics["clean"],
            features_topic=self.topics["features"],
            sink_group=f"{self.prefix}{tag}.parquet",
            batch_size=p.batch_size,
            batch_interval_s=p.batch_interval_s,
        )
        finish = _Finish(self._expected(INPUTS["parquet"]))
        sink = ParquetSink(settings, out, on_batch=finish)
        run = functools.partial(sink.run, until_caught_up=True, idle_timeout_s=IDLE_S)
        try:
            timed = _timed_run("parquet", run, sink.stop, finish, p.timeout_s)
            files = [f for f in out.rglob("*.parquet") if f.is_file()]
            extra = {
                "output_bytes": sum(f.stat().st_size for f in files),
                "files": len(files),
                "settings": {
                    k: getattr(settings, k) for k in ("fsync", "compact_every", "latest_interval_s")
                },
            }
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return timed, extra

    def postgres(self, tag: str) -> tuple[Timed, dict[str, Any]]:
        import psycopg

        from shopstream.processors.sinks.postgres import postgres_sink_runner

        p = self.parameters
        with _database(self.server.admin_dsn, f"{self.prefix}{tag}".replace(".", "_")) as dsn:
            finish = _Finish(self._expected(INPUTS["postgres"]))
            runner = postgres_sink_runner(  # migrations run here, before the clock
                self.bootstrap,
                dsn,
                topic=self.topics["features"],
                group=f"{self.prefix}{tag}.postgres",
                batch_size=p.batch_size,
                batch_interval_s=p.batch_interval_s,
                on_batch=finish,
            )
            run = functools.partial(runner.run, until_caught_up=True, idle_timeout_s=IDLE_S)
            server_cpu = self.server.cpu_seconds()
            timed = _timed_run("postgres", run, runner.stop, finish, p.timeout_s)
            server_cpu_after = self.server.cpu_seconds()
            with psycopg.connect(dsn) as conn:
                history, latest, size = conn.execute(
                    "SELECT (SELECT count(*) FROM buyer_features_history),"
                    " (SELECT count(*) FROM buyer_features), pg_database_size(current_database())"
                ).fetchone() or (0, 0, 0)
        if history != p.rows:
            raise BenchmarkError(f"postgres: {history:,} history rows, {p.rows:,} expected")
        extra = {"history_rows": history, "latest_rows": latest, "database_bytes": size}
        if server_cpu is not None and server_cpu_after is not None:
            # Until run() returned: the idle wait and the connection's end are in it too.
            extra["server_cpu_us_per_row"] = round(
                (server_cpu_after - server_cpu) / p.rows * 1e6, 1
            )
        return timed, extra


@contextlib.contextmanager
def _database(admin_dsn: str, name: str) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(admin_dsn, dbname=name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# -- broker, server, topics ------------------------------------------------------------------


@contextlib.contextmanager
def _broker(bootstrap: str | None, say: Progress) -> Iterator[tuple[str, str | None]]:
    """(bootstrap servers, Kafka version or None for a cluster not started here)."""
    from shopstream.deploy.kafka import LauncherSettings, LocalKafka

    bootstrap = bootstrap or LauncherSettings().external_bootstrap_servers
    if bootstrap:
        say(f"using the cluster at {bootstrap}; bench topics are deleted afterwards")
        yield bootstrap, None
        return
    with tempfile.TemporaryDirectory(prefix="shopstream-bench-kafka-") as tmp:
        node = LocalKafka(Path(tmp) / "kafka", progress=say)
        say("starting a local Kafka node (KRaft, 127.0.0.1)...")
        with node.start():
            say(f"broker ready at {node.bootstrap_servers}")
            yield node.bootstrap_servers, node.version


@dataclass(frozen=True)
class _Server:
    admin_dsn: str
    version: str
    cpu_seconds: Callable[[], float | None]
    """The server's CPU time so far (None: not known, a server not started here)."""


@contextlib.contextmanager
def _server(dsn: str | None, say: Progress) -> Iterator[_Server]:
    """The given server, or a throwaway durable one."""
    if dsn:
        say("using the PostgreSQL server of --dsn; bench databases are dropped afterwards")
        yield _Server(dsn, "external server", lambda: None)
        return
    from shopstream.deploy.postgres import LocalPostgres

    say("starting a throwaway PostgreSQL server (initdb + pg_ctl, durable settings)...")
    with LocalPostgres(durable=True) as server:
        yield _Server(server.dsn, server.version(), server.cpu_seconds)


def _create_topics(bootstrap: str, topics: Mapping[str, str], partitions: int) -> None:
    from shopstream.deploy.kafka import admin_client
    from shopstream.processors.topics import TopicSpec, create_topics

    create_topics(
        admin_client(bootstrap),
        [
            TopicSpec(topics["clean"], "delete", -1, partitions),
            TopicSpec(topics["features"], "compact", None, partitions),
        ],
    )


def _delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    from shopstream.deploy.kafka import admin_client

    for future in admin_client(bootstrap).delete_topics(list(names), operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result()


# -- the run --------------------------------------------------------------------------------------


def run(
    parameters: Parameters | None = None,
    *,
    bootstrap_servers: str | None = None,
    dsn: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Measure every system (module doc); the figures as JSON-ready values.

    Starts a throwaway local broker unless ``bootstrap_servers`` or KAFKA_BOOTSTRAP_SERVERS
    names a cluster, and a throwaway PostgreSQL server unless ``dsn`` names one (whose
    user may create databases: each round gets its own, dropped afterwards).
    """
    p = parameters or Parameters()
    say = progress or (lambda _m: None)
    say(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    built = sinks_input.build(p.rows, seed=p.seed, days=p.days, progress=say)
    prefix = f"bench-sinks-{uuid.uuid4().hex[:8]}."
    topics = {"clean": f"{prefix}clean", "features": f"{prefix}features"}
    rows: dict[str, list[Timed]] = {}
    extras: dict[str, list[dict[str, Any]]] = {"parquet": [], "postgres": []}
    with contextlib.ExitStack() as stack:
        bootstrap, kafka_version = stack.enter_context(_broker(bootstrap_servers, say))
        if kafka_version is None:
            stack.callback(_delete_topics, bootstrap, list(topics.values()))
        server = stack.enter_context(_server(dsn, say))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shopstream-bench-")))
        _create_topics(bootstrap, topics, p.partitions)
        started = time.monotonic()
        for kind, messages in (("clean", built.clean), ("features", built.features)):
            sinks_input.produce_in_transactions(
                bootstrap,
                topics[kind],
                messages,
                per_transaction=p.per_transaction,
                transactional_id=f"{prefix}{kind}",
            )
        produce_s = time.monotonic() - started
        say(f"produced {2 * p.rows:,} rows in transactions in {produce_s:.1f} s")
        session = _Session(bootstrap, topics, prefix, p, server, tmp)
        # The first group join on a fresh broker creates __consumer_offsets (seconds): not
        # the cost of whichever system happens to go first.
        warm_up = session.baseline("clean_and_features", "warm-up")
        say(f"warm-up read of both topics: {warm_up.seconds:.1f} s")

        def measure(name: str, timed: Timed) -> None:
            rows.setdefault(name, []).append(timed)
            say(
                f"  {name}: {timed.rows:,} rows in {timed.seconds:.2f} s, "
                f"{timed.rows_per_s:,.0f} rows/s, {timed.cpu_us_per_row:,.1f} CPU µs/row"
            )

        for r in range(p.rounds):
            tag = f"r{r + 1}"
            say(f"round {r + 1} of {p.rounds} (load {os.getloadavg()[0]:.2f})")
            for input_name in ("features", "clean_and_features"):
                measure(f"baseline.{input_name}", session.baseline(input_name, tag))
                measure(f"without_writer.{input_name}", session.without_writer(input_name, tag))
            for name, call in (("parquet", session.parquet), ("postgres", session.postgres)):
                timed, extra = call(tag)
                extras[name].append(extra)
                measure(name, timed)
    results = figures(rows, extras)
    results["input"] = built.summary() | {
        "produce_seconds": round(produce_s, 1),
        "warm_up_read_seconds": round(warm_up.seconds, 2),
    }
    results["machine"] = _machine(kafka_version or "external cluster", server.version)
    results["parameters"] = asdict(p)
    return results


def figures(
    rows: Mapping[str, Sequence[Timed]], extras: Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[str, Any]:
    """The JSON: ``parquet``, ``postgres`` (each with ``rows_per_s``), ``baseline``."""
    baseline = {
        input_name: _summary(rows[f"baseline.{input_name}"])
        for input_name in ("features", "clean_and_features")
    }
    out: dict[str, Any] = {}
    for name in SINKS:
        input_name = INPUTS[name]
        mine, base = rows[name], rows[f"baseline.{input_name}"]
        bare = rows[f"without_writer.{input_name}"]
        entry = _summary(mine) | (dict(extras[name][-1]) if extras.get(name) else {})
        entry |= {
            "input": input_name,
            "ratio_to_baseline": _ratio(entry["rows_per_s"], baseline[input_name]["rows_per_s"]),
            "ratio_by_round": [
                _ratio(m.rows_per_s, b.rows_per_s) for m, b in zip(mine, base, strict=True)
            ],
            "without_writer": _summary(bare)
            | {
                "ratio_to_baseline": _ratio(
                    statistics.median(t.rows_per_s for t in bare),
                    baseline[input_name]["rows_per_s"],
                )
            },
            "writer_share_of_time": round(
                1 - statistics.median(t.seconds for t in bare) / entry["seconds"], 2
            )
            if entry["seconds"]
            else None,
            "method": METHOD,
        }
        out[name] = entry
    out["baseline"] = baseline | {"method": BASELINE_METHOD}
    return out


def _summary(runs: Sequence[Timed]) -> dict[str, Any]:
    """Median rows/s and seconds of the rounds; rows and batches of the last; each round."""
    last = runs[-1]
    return {
        "rows_per_s": round(statistics.median(t.rows_per_s for t in runs)),
        "rows": last.rows,
        "seconds": round(statistics.median(t.seconds for t in runs), 2),
        "batches": last.batches,
        "cpu_us_per_row": round(statistics.median(t.cpu_us_per_row for t in runs), 1),
        "rounds": [
            {
                "rows_per_s": round(t.rows_per_s),
                "seconds": round(t.seconds, 2),
                "cpu_us_per_row": round(t.cpu_us_per_row, 1),
                **({} if t.join_s is None else {"join_s": round(t.join_s, 2)}),
                "load_avg_1m": [round(x, 2) for x in t.load],
            }
            for t in runs
        ],
    }


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    return round(mine / theirs, 3) if mine and theirs else None


def _machine(kafka: str, postgres: str) -> dict[str, Any]:
    return machine_info(
        packages=("confluent-kafka", "pyarrow", "psycopg"), kafka=kafka, postgresql=postgres
    )


# -- reading the results ---------------------------------------------------------------------------


def table(results: Mapping[str, Any]) -> list[str]:
    """The results as Markdown rows."""
    lines = [
        "| system | input | rows | rows/s | each round | vs baseline | CPU µs/row | without writer rows/s | writer's share of time |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for input_name, row in results["baseline"].items():
        if input_name == "method":
            continue
        lines.append(
            f"| baseline | {input_name} | {row['rows']:,} | {row['rows_per_s']:,} "
            f"| {_rounds(row)} | 1.00 | {row['cpu_us_per_row']:,.1f} | – | – |"
        )
    for name in SINKS:
        row = results[name]
        bare = row["without_writer"]
        share = row.get("writer_share_of_time")
        lines.append(
            f"| {name} | {row['input']} | {row['rows']:,} | {row['rows_per_s']:,} "
            f"| {_rounds(row)} | {_num(row.get('ratio_to_baseline'), 2)} "
            f"| {row['cpu_us_per_row']:,.1f} "
            f"| {bare['rows_per_s']:,} | {'–' if share is None else f'{share:.0%}'} |"
        )
    return lines


def _rounds(row: Mapping[str, Any]) -> str:
    return " / ".join(f"{r['rows_per_s']:,}" for r in row.get("rounds", [])) or "–"


def _num(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


__all__ = [
    "INPUTS",
    "SINKS",
    "BenchmarkError",
    "Parameters",
    "Timed",
    "consume_all",
    "figures",
    "run",
    "table",
]
