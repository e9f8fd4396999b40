"""`shopstream bench pipeline`: events/s of each stage beside the machine's limit, end-to-end
latency at a steady rate, and state bytes per buyer, on one broker in one run.

The input is simulated traffic (about 2 % bad) produced once to a raw topic of 6
partitions. Then, one after the other, each system reads it with a fresh consumer group
into fresh output topics, as its own process:

- ``limit``: the bare confluent-kafka loop of :mod:`.limit` (decode + re-encode, no
  validation, no state, at-least-once: **not** exactly-once);
- ``stage1``: ``shopstream process clean``;
- ``stage2``: ``shopstream process aggregate`` on stage 1's clean output, fresh state;
- ``end_to_end``: both stages started together on fresh topics and groups; the rate is
  raw events from stage 1's first commit until stage 2 has committed all of stage 1's
  output. Then, with the same two processes running, the latency run of :mod:`.latency`.

Every rate comes from the group's committed offsets (:mod:`.committed`), so process
start-up and group join are left out alike; each system's rate counts its own input
records (raw events for the limit, stage 1 and end to end; clean events for stage 2).
The clean events are replayed in-process for the state size (:mod:`.state_size`).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from shopstream.processors.benchmarks.children import Child, limit_command, stage_command
from shopstream.processors.benchmarks.committed import (
    CommittedWatch,
    Reading,
    Throughput,
    TopicRecords,
    read_records,
    throughput,
)
from shopstream.processors.benchmarks.timing import machine_info
from shopstream.processors.benchmarks.workload import Workload

SYSTEMS = ("limit", "stage1", "stage2", "end_to_end")
GOALS = {"stage1": 0.5, "stage2": 0.3}
"""Least ratio of a stage's events/s to the limit's."""
LATENCY_GOAL_MS = 1000.0
"""p99 end to end at the steady rate."""

Progress = Callable[[str], None]
STAGE_CODE = (
    "processors/clean",
    "processors/engine",
    "processors/aggregate",
    "processors/privacy",
    "processors/deadletter",
    "schemas",
)
"""What the stages run, for the record of the code measured."""


@dataclass(frozen=True)
class Parameters:
    events: int = 100_000
    """At 50,000 the limit drained in 1.3-2.2 s: 6-11 commit intervals, the granularity of
    both the checkpoints and the readings of committed offsets (docs/benchmarks.md)."""
    buyers: int = 2_000
    shops: int = 3
    bad_fraction: float = 0.02
    seed: int = 7
    partitions: int = 6
    rounds: int = 5
    """Rounds of limit, stage 1, stage 2 in turn (fresh groups and topics each); medians reported."""
    latency_seconds: float = 30.0
    latency_rate: float = 2_000.0
    latency_warmup_s: float = 3.0
    commit_interval_s: float | None = None
    """None: the stages' default (StageSettings.commit_interval_s)."""
    timeout_s: float = 900.0
    """Longest a system may take to drain its input."""


class BenchmarkError(Exception):
    """A system failed or did not drain its input in time; the message says which and why."""


# -- the broker and the topics ---------------------------------------------------------------


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
class Names:
    """Every topic and group of one run, under one prefix (deleted together afterwards)."""

    prefix: str

    def __call__(self, name: str) -> str:
        return self.prefix + name


ROUND_LOG_TOPICS = ("limit.out", "stage1.clean", "stage1.dlq")
ROUND_COMPACTED_TOPICS = ("stage1.features", "stage2.features")
LOG_TOPICS = ("raw", "e2e.clean", "e2e.dlq")
COMPACTED_TOPICS = ("e2e.features",)


def _create_topics(bootstrap: str, names: Names, partitions: int, rounds: int) -> None:
    from shopstream.deploy.kafka import admin_client
    from shopstream.processors.topics import TopicSpec, create_topics

    tags = [_tag(r) for r in range(rounds)]
    logs = [*LOG_TOPICS, *(f"{t}.{n}" for t in tags for n in ROUND_LOG_TOPICS)]
    compacted = [*COMPACTED_TOPICS, *(f"{t}.{n}" for t in tags for n in ROUND_COMPACTED_TOPICS)]
    # Kept without a time limit: a stage may timestamp its output with the event time (up
    # to 30 days back), and a shorter retention would delete it mid-run.
    specs = [TopicSpec(names(n), "delete", -1, partitions) for n in logs]
    specs += [TopicSpec(names(n), "compact", None, partitions) for n in compacted]
    create_topics(admin_client(bootstrap), specs)


def _tag(round_index: int) -> str:
    return f"r{round_index + 1}"


def _delete_topics(bootstrap: str, prefix: str) -> None:
    """Best effort: every topic of the run, the engine's changelogs (named by group) too."""
    from shopstream.deploy.kafka import admin_client

    admin = admin_client(bootstrap)
    names = [t for t in admin.list_topics(timeout=30).topics if prefix in t]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result()


# -- running a system until it has drained its input -----------------------------------------


def _wait(
    children: Sequence[Child],
    watch: CommittedWatch,
    done: Callable[[Reading], bool],
    describe: Callable[[Reading], str],
    *,
    timeout: float,
    say: Progress,
) -> None:
    deadline = time.monotonic() + timeout
    next_report = time.monotonic() + 2
    while True:
        reading = watch.latest()
        if reading is not None and done(reading):
            return
        for child in children:
            if not child.running:
                raise BenchmarkError(f"{child.name} exited early:\n{child.log_tail()}")
        if time.monotonic() > deadline:
            tails = "\n".join(f"{c.name}:\n{c.log_tail()}" for c in children)
            raise BenchmarkError(f"not drained within {timeout:.0f} s\n{tails}")
        if reading is not None and time.monotonic() >= next_report:
            next_report += 2
            say(describe(reading))
        time.sleep(0.1)


def _progress_line(name: str, records: TopicRecords, group: str) -> Callable[[Reading], str]:
    last: list[tuple[float, int]] = []

    def describe(reading: Reading) -> str:
        done = records.before(reading.offsets.get(group, {}))
        rate = ""
        if last and last[0][1] and reading.t > last[0][0]:
            rate = f", {(done - last[0][1]) / (reading.t - last[0][0]):,.0f} events/s"
        last[:] = [(reading.t, done)]
        return f"{name}: {done:,} of {records.total:,} committed{rate}"

    return describe


def _all_of(records: TopicRecords, group: str) -> Callable[[Reading], bool]:
    return lambda r: records.before(r.offsets.get(group, {})) >= records.total


def _figures(result: Throughput, load: Sequence[float]) -> dict[str, Any]:
    return {
        "events_per_s": round(result.events_per_s) if result.events_per_s else None,
        "events": result.records,
        "seconds": round(result.seconds, 2) if result.seconds is not None else None,
        "load_avg_1m": [round(x, 2) for x in load],
        "method": "committed offsets of the group, from its first progress to its last record",
    }


# -- the run ------------------------------------------------------------------------------------


def run(
    parameters: Parameters | None = None,
    *,
    bootstrap_servers: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run every system once (module doc); return the figures as JSON-ready values.

    Starts a throwaway local broker unless ``bootstrap_servers`` or KAFKA_BOOTSTRAP_SERVERS
    names a cluster, where the run keeps to ``bench-<id>.*`` topics and deletes them after.
    """
    from shopstream.processors.benchmarks import workload
    from shopstream.processors.engine.settings import StageSettings
    from shopstream.producers.simulator import SimulationConfig

    p = parameters or Parameters()
    say = progress or (lambda _m: None)
    default_interval = StageSettings.model_fields["commit_interval_s"].default
    commit_interval = float(p.commit_interval_s or default_interval)
    say(f"load average {_load():.2f} on {os.cpu_count()} CPUs")
    config = SimulationConfig(
        shops=p.shops, buyers=p.buyers, events=p.events, seed=p.seed, bad_fraction=p.bad_fraction
    )
    say(f"simulating {p.events:,} events ({p.buyers:,} buyers, {p.bad_fraction:.0%} bad)...")
    traffic = workload.simulate(config, progress=say)
    names = Names(f"bench-{uuid.uuid4().hex[:8]}.")
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        bootstrap, kafka_version = stack.enter_context(_broker(bootstrap_servers, say))
        if kafka_version is None:
            stack.callback(_delete_topics, bootstrap, names.prefix)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shopstream-bench-")))
        _create_topics(bootstrap, names, p.partitions, p.rounds)
        producer = workload.new_producer(bootstrap)
        started = time.monotonic()
        workload.produce_all(producer, names("raw"), traffic.messages)
        say(
            f"produced {len(traffic.messages):,} events to {names('raw')} "
            f"in {time.monotonic() - started:.1f} s"
        )
        raw, _ = read_records(bootstrap, names("raw"))
        session = _Session(bootstrap, names, tmp, p, commit_interval, say)
        rows: dict[str, list[dict[str, Any]]] = {"limit": [], "stage1": [], "stage2": []}
        for r in range(p.rounds):
            tag = _tag(r)
            say(f"round {r + 1} of {p.rounds}: limit, stage 1, stage 2 in turn")
            rows["limit"].append(session.limit(raw, tag))
            stage1, clean, clean_values = session.stage1(raw, tag)
            rows["stage1"].append(stage1)
            rows["stage2"].append(session.stage2(clean, tag))
        results |= {name: median_of_rounds(values) for name, values in rows.items()}
        results["end_to_end"] = session.end_to_end(raw, traffic, producer)
        results |= session.state_size(clean_values, results["stage2"]["rocksdb_folder_bytes"])
        kafka = kafka_version or "external cluster"
    results["machine"] = _machine(kafka)
    results["parameters"] = asdict(p) | {"commit_interval_s": commit_interval}
    return with_ratios(results)


def median_of_rounds(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The last round's figures with the median events/s of all rounds, each round listed."""
    rates = [row["events_per_s"] for row in rows if row.get("events_per_s")]
    combined = dict(rows[-1])
    combined["events_per_s"] = round(statistics.median(rates)) if rates else None
    if len(rows) > 1:
        combined["rounds"] = [
            {k: row.get(k) for k in ("events_per_s", "events", "seconds", "load_avg_1m")}
            for row in rows
        ]
    return combined


def with_ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Add each system's ``ratio_to_limit`` (of the medians), the ratio in each round where
    there were several, and, for the stages, the goal and whether it is met."""
    limit = results["limit"].get("events_per_s")
    limit_rounds = [row.get("events_per_s") for row in results["limit"].get("rounds", [])]
    for name in SYSTEMS[1:]:
        row = results[name]
        rate = row.get("events_per_s")
        row["ratio_to_limit"] = round(rate / limit, 3) if rate and limit else None
        if "rounds" in row and len(row["rounds"]) == len(limit_rounds):
            row["ratio_by_round"] = [
                round(mine["events_per_s"] / theirs, 3)
                if mine.get("events_per_s") and theirs
                else None
                for mine, theirs in zip(row["rounds"], limit_rounds, strict=True)
            ]
        if name in GOALS:
            row["goal_ratio"] = GOALS[name]
            ratio = row["ratio_to_limit"]
            row["goal_met"] = None if ratio is None else ratio >= GOALS[name]
    return results


@dataclass
class _Session:
    """The systems of one run, each measured on its own: same broker, input and keys."""

    bootstrap: str
    names: Names
    tmp: Path
    parameters: Parameters
    commit_interval: float
    say: Progress
    keys: tuple[str, str] | None = None

    def _stage_env(self, system: str, *, clean: str, dlq: str, features: str) -> dict[str, str]:
        from shopstream.processors.deadletter import DeadLetterKey
        from shopstream.processors.privacy import PseudonymKeys

        if self.keys is None:  # one pair for the run, so that stage 1 and end to end agree
            self.keys = (PseudonymKeys.generate(), DeadLetterKey.generate())
        n = self.names
        return {
            "SHOPSTREAM_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SHOPSTREAM_PSEUDONYM_KEY": self.keys[0],
            "SHOPSTREAM_DLQ_KEY": self.keys[1],
            "SHOPSTREAM_COMMIT_INTERVAL_S": str(self.commit_interval),
            "SHOPSTREAM_RAW_TOPIC": n("raw"),
            "SHOPSTREAM_CLEAN_TOPIC": n(clean),
            "SHOPSTREAM_DLQ_TOPIC": n(dlq),
            "SHOPSTREAM_FEATURES_TOPIC": n(features),
            "SHOPSTREAM_CLEAN_GROUP": n(f"{system}.clean-group"),
            "SHOPSTREAM_AGGREGATE_GROUP": n(f"{system}.aggregate-group"),
            "SHOPSTREAM_STATE_DIR": str(self.tmp / f"state-{system}"),
        }

    def _start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Child:
        child = Child(name, argv, env or {}, self.tmp / f"{name}.log", self.tmp / f"{name}.out")
        return child.start()

    def _drain(
        self,
        children: Sequence[Child],
        watch: CommittedWatch,
        label: str,
        group: str,
        records: TopicRecords,
    ) -> None:
        _wait(
            children,
            watch,
            _all_of(records, group),
            _progress_line(label, records, group),
            timeout=self.parameters.timeout_s,
            say=self.say,
        )

    def _measure_one(
        self, child: Child, group: str, records: TopicRecords
    ) -> tuple[Throughput, list[float]]:
        watch = CommittedWatch(self.bootstrap, {group: records.topic}, self.parameters.partitions)
        loads = [_load()]
        try:
            watch.start()
            self._drain([child], watch, child.name, group, records)
        finally:
            readings = watch.stop()
            loads.append(_load())
            child.stop()
        return throughput(readings, group, records), loads

    def limit(self, raw: TopicRecords, tag: str) -> dict[str, Any]:
        n = self.names
        self.say("limit: bare confluent-kafka loop (decode + re-encode, not exactly-once)...")
        group = n(f"{tag}.limit")
        argv = limit_command(
            self.bootstrap, n("raw"), n(f"{tag}.limit.out"), group, self.commit_interval
        )
        result, loads = self._measure_one(self._start(f"{tag}.limit", argv), group, raw)
        figures = _figures(result, loads) | {
            "exactly_once": False,
            "method": "committed offsets, as for the stages; the loop checkpoints "
            "at-least-once every commit interval (flush, then commit), no transaction",
        }
        figures |= _loop_counts(self.tmp / f"{tag}.limit.out")
        self.say(f"limit: {_rate(figures)}")
        return figures

    def stage1(
        self, raw: TopicRecords, tag: str
    ) -> tuple[dict[str, Any], TopicRecords, list[bytes]]:
        n = self.names
        self.say("stage1: shopstream process clean...")
        out = f"{tag}.stage1"
        env = self._stage_env(
            out, clean=f"{out}.clean", dlq=f"{out}.dlq", features=f"{out}.features"
        )
        child = self._start(out, stage_command("clean"), env)
        result, loads = self._measure_one(child, n(f"{out}.clean-group"), raw)
        clean, values = read_records(self.bootstrap, n(f"{out}.clean"), keep_values=True)
        dead, _ = read_records(self.bootstrap, n(f"{out}.dlq"))
        figures = _figures(result, loads) | {
            "exactly_once": True,
            "clean": clean.total,
            "dead_letters": dead.total,
        }
        self.say(f"stage1: {_rate(figures)}; {clean.total:,} clean, {dead.total:,} dead letters")
        return figures, clean, values

    def stage2(self, clean: TopicRecords, tag: str) -> dict[str, Any]:
        from shopstream.processors.benchmarks.state_size import folder_bytes

        n = self.names
        self.say("stage2: shopstream process aggregate on stage 1's clean output...")
        system = f"{tag}.stage2"
        env = self._stage_env(
            system,
            clean=f"{tag}.stage1.clean",
            dlq=f"{tag}.stage1.dlq",
            features=f"{system}.features",
        )
        child = self._start(system, stage_command("aggregate"), env)
        result, loads = self._measure_one(child, n(f"{system}.aggregate-group"), clean)
        features, _ = read_records(self.bootstrap, n(f"{system}.features"))
        state_dir = Path(env["SHOPSTREAM_STATE_DIR"])
        figures = _figures(result, loads) | {
            "exactly_once": True,
            "features_messages": features.total,
            "rocksdb_folder_bytes": folder_bytes(state_dir) if state_dir.exists() else None,
        }
        self.say(f"stage2: {_rate(figures)}")
        return figures

    def end_to_end(
        self, raw: TopicRecords, traffic: Workload, producer: Producer
    ) -> dict[str, Any]:
        n = self.names
        self.say("end to end: both stages started together on fresh topics and groups...")
        env = self._stage_env("e2e", clean="e2e.clean", dlq="e2e.dlq", features="e2e.features")
        clean_group, aggregate_group = n("e2e.clean-group"), n("e2e.aggregate-group")
        children = [
            self._start("e2e-clean", stage_command("clean"), env),
            self._start("e2e-aggregate", stage_command("aggregate"), env),
        ]
        groups = {clean_group: n("raw"), aggregate_group: n("e2e.clean")}
        watch = CommittedWatch(self.bootstrap, groups, self.parameters.partitions)
        loads = [_load()]
        try:
            watch.start()
            self._drain(children, watch, "end to end, stage 1", clean_group, raw)
            clean, _ = read_records(self.bootstrap, n("e2e.clean"))
            self._drain(children, watch, "end to end, stage 2", aggregate_group, clean)
            readings = watch.stop()
            loads.append(_load())
            result = throughput(
                readings, clean_group, raw, end_group=aggregate_group, end_records=clean
            )
            figures = _figures(result, loads) | {"exactly_once": True}
            self.say(f"end to end: {_rate(figures)}")
            figures |= self._latency(traffic, producer, result.events_per_s)
        finally:
            watch.stop()
            for child in children:
                child.stop()
        return figures

    def _latency(
        self, traffic: Workload, producer: Producer, sustained: float | None
    ) -> dict[str, Any]:
        """With the end-to-end stages running and drained: latency at the steady rate; then,
        if the pipeline fell behind at that rate, again at half the end-to-end events/s
        (``sustained``), once the backlog has drained."""
        p = self.parameters
        first = self._latency_run(traffic, producer, p.latency_rate)
        p99 = first.get("p99_ms")
        figures: dict[str, Any] = {
            "p50_latency_ms": first.get("p50_ms"),
            "p99_latency_ms": p99,
            "latency_goal_met": bool(
                first["kept_up"] and p99 is not None and p99 < LATENCY_GOAL_MS
            ),
            "latency": first,
        }
        rate = max(100.0, round((sustained or 0) / 2, -2))
        if first["kept_up"] or rate >= p.latency_rate:
            return figures
        self.say(
            f"latency: the pipeline fell {_num(first['behind_ms'])} ms behind at "
            f"{p.latency_rate:,.0f} events/s; once it has drained, again at {rate:,.0f} events/s"
        )
        self._wait_drained()
        figures["latency_at_half_throughput"] = self._latency_run(traffic, producer, rate)
        return figures

    def _wait_drained(self) -> None:
        from shopstream.processors.benchmarks.committed import lag

        n, deadline = self.names, time.monotonic() + self.parameters.timeout_s
        inputs = {n("e2e.clean-group"): n("raw"), n("e2e.aggregate-group"): n("e2e.clean")}
        while True:
            behind = {g: lag(self.bootstrap, g, t) for g, t in inputs.items()}
            # A committed transaction leaves at most a marker per partition uncommitted.
            if all(v <= self.parameters.partitions for v in behind.values()):
                return
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the latency backlog did not drain: {behind}")
            self.say(f"draining: {sum(behind.values()):,} messages to go")
            time.sleep(2)

    def _latency_run(self, traffic: Workload, producer: Producer, rate: float) -> dict[str, Any]:
        from shopstream.processors.benchmarks import latency
        from shopstream.processors.benchmarks.workload import timed_stream
        from shopstream.processors.engine.aggregate_app import features_codec

        p = self.parameters
        self.say(
            f"latency: {rate:,.0f} events/s for {p.latency_seconds:.0f} s "
            f"(+{p.latency_warmup_s:.0f} s warm-up), commit interval {self.commit_interval} s..."
        )
        measured = latency.measure(
            bootstrap_servers=self.bootstrap,
            producer=producer,
            raw_topic=self.names("raw"),
            features_topic=self.names("e2e.features"),
            stream=timed_stream(traffic),
            rate=rate,
            seconds=p.latency_seconds,
            warmup_s=p.latency_warmup_s,
            features_codec=features_codec(),
            progress=self.say,
        )
        summary = measured.summary()
        behind = summary["behind_ms"]
        # Two stages each wait for a commit: keeping up, the newest feature trails the newest
        # event by 2-5 intervals (measured p99: 1.5 s at 0.5 s, 0.6 s at 0.2 s); more means a
        # growing backlog.
        summary["kept_up"] = behind <= max(3000, 6000 * self.commit_interval)
        summary |= {"commit_interval_s": self.commit_interval, "goal_p99_ms": LATENCY_GOAL_MS}
        self.say(
            f"latency: p50 {_num(summary.get('p50_ms'))} ms, p99 {_num(summary.get('p99_ms'))} ms"
            + ("" if summary["kept_up"] else f" (fell behind: {_num(behind)} ms at the end)")
        )
        return summary

    def state_size(self, values: list[bytes], rocksdb_bytes: int | None) -> dict[str, Any]:
        from shopstream.processors.benchmarks.state_size import replay

        self.say(f"state: replaying {len(values):,} clean events through apply_event...")
        replayed = replay(values)
        state = asdict(replayed) | {
            "rocksdb_folder_bytes": rocksdb_bytes,
            "rocksdb_bytes_per_buyer": (
                round(rocksdb_bytes / replayed.buyers)
                if rocksdb_bytes and replayed.buyers
                else None
            ),
        }
        return {"state_bytes_per_buyer": round(replayed.mean_json_bytes, 1), "state": state}


def _rate(figures: Mapping[str, Any]) -> str:
    rate = figures.get("events_per_s")
    return "too few commits to time" if rate is None else f"{rate:,} events/s"


def _loop_counts(out: Path) -> dict[str, Any]:
    """What the bare loop printed at exit: its counts and its in-loop rate."""
    try:
        counts = json.loads(out.read_text("utf-8").strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return {}
    first, last = counts.get("first_message_s"), counts.get("last_message_s")
    span = last - first if first is not None and last is not None else 0
    return {
        "skipped_undecodable": counts["skipped"],
        "in_loop_events_per_s": round(counts["consumed"] / span) if span > 0 else None,
    }


def _load() -> float:
    return os.getloadavg()[0]


def _machine(kafka: str) -> dict[str, Any]:
    info = machine_info(packages=("confluent-kafka", "quixstreams", "fastavro"), kafka=kafka)
    info["code"] = _code_version()
    return info


def _code_version() -> str | None:
    """The commit measured, and whether the stages' code differed from it (a shared work tree)."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", *STAGE_CODE],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head} with uncommitted changes to the stages' code" if changed else head


# -- reading the results ---------------------------------------------------------------------------


def table(results: Mapping[str, Any]) -> list[str]:
    """The results as Markdown rows: events/s (median of the rounds, and each round), the
    ratio to the limit, the goal and whether it is met; then latency and state."""
    limit = results["limit"].get("events_per_s")
    lines = [
        "| system | events/s | each round | vs limit | goal | met |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name in SYSTEMS:
        row = results[name]
        rate = row.get("events_per_s")
        rounds = " / ".join(_int(r.get("events_per_s")) for r in row.get("rounds", []))
        ratio = f"{rate / limit:.2f}" if rate and limit else "–"
        goal = f"≥ {GOALS[name]}" if name in GOALS else "–"
        met = {True: "yes", False: "**no**"}.get(row.get("goal_met"), "–")
        lines.append(f"| {name} | {_int(rate)} | {rounds or '–'} | {ratio} | {goal} | {met} |")
    e2e = results["end_to_end"]
    lines += [
        "",
        "| latency, end to end | events/s | p50 ms | p99 ms | kept up | goal p99 | met |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for label, run in (
        ("at the steady rate", e2e.get("latency")),
        ("at half the end-to-end events/s", e2e.get("latency_at_half_throughput")),
    ):
        if not run:
            continue
        kept_up = bool(run.get("kept_up"))
        p99 = run.get("p99_ms")
        verdict = "yes" if kept_up and p99 is not None and p99 < LATENCY_GOAL_MS else "**no**"
        behind = "yes" if kept_up else f"**no**: {_int(run.get('behind_ms'))} ms behind"
        lines.append(
            f"| {label}, commit interval {run.get('commit_interval_s')} s | {_int(run.get('rate'))} "
            f"| {_num(run.get('p50_ms'))} | {_num(run.get('p99_ms'))} | {behind} "
            f"| < {LATENCY_GOAL_MS:,.0f} | {verdict} |"
        )
    state = results.get("state", {})
    per_buyer = state.get("rocksdb_bytes_per_buyer")
    lines += [
        "",
        f"state per buyer: {_num(results.get('state_bytes_per_buyer'))} B as compact JSON "
        f"(mean over {state.get('buyers') or 0:,} buyers); stage 2's RocksDB folder "
        + (f"{per_buyer:,} B per buyer" if per_buyer else "–"),
    ]
    return lines


def _int(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


__all__ = [
    "GOALS",
    "LATENCY_GOAL_MS",
    "SYSTEMS",
    "BenchmarkError",
    "Parameters",
    "median_of_rounds",
    "run",
    "table",
    "with_ratios",
]
