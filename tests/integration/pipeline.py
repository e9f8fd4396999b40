"""Helpers for the pipeline tests: stages as real processes, topics read back in full.

Stages run as ``shopstream process ...`` subprocesses, as an operator runs them: the
tests can send them SIGTERM or SIGKILL, read their logs, scrape their ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from pydantic import SecretStr

from shopstream.processors.engine.aggregate_app import features_codec
from shopstream.processors.privacy import Pseudonymiser, PseudonymKeys, age_band, region_code
from tests.oracle import expected_features

SHOPSTREAM = str(Path(sys.executable).with_name("shopstream"))


@dataclass
class PipelineTopics:
    raw: str
    clean: str
    dlq: str
    features: str

    def env(self) -> dict[str, str]:
        return {
            "SHOPSTREAM_RAW_TOPIC": self.raw,
            "SHOPSTREAM_CLEAN_TOPIC": self.clean,
            "SHOPSTREAM_DLQ_TOPIC": self.dlq,
            "SHOPSTREAM_FEATURES_TOPIC": self.features,
        }


@dataclass
class StageProcess:
    """One ``shopstream process <stage>`` subprocess, logging into ``log_path``."""

    stage: str
    env: dict[str, str]
    log_path: Path
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> StageProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [SHOPSTREAM, "process", self.stage, "--no-create-topics", *self.args],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait: the stage commits or aborts its transaction and exits."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to commit, abort or close anything."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.5, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes
    partition: int
    offset: int
    timestamp: int


def read_topic(bootstrap: str, topic: str, *, timeout: float = 30) -> list[Message]:
    """Every committed message of ``topic`` up to its current end (read_committed)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{os.getpid()}-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {}
        for p in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        out: list[Message] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(ends) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                # Transaction markers occupy offsets: the position tells when a partition is read.
                for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                    if tp.offset >= ends[tp.partition]:
                        done.add(tp.partition)
                continue
            if msg.error():
                continue
            out.append(
                Message(
                    msg.key(), msg.value() or b"", msg.partition(), msg.offset(), msg.timestamp()[1]
                )
            )
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        return out
    finally:
        consumer.close()


def committed_lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages ``group`` has still to process in ``topic``: committed data after its offsets.

    Not ``end offset − committed offset``: a topic written in transactions ends with a
    commit marker, which takes an offset but is no message, so that difference stays at
    1 on an idle partition. This reads (read_committed) from each committed offset to the
    end and counts the messages found.
    """
    probe = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        start = []
        ends = {}
        for tp in probe.committed([TopicPartition(topic, p) for p in partitions], timeout=10):
            low, high = probe.get_watermark_offsets(tp, timeout=10, cached=False)
            begin = tp.offset if tp.offset >= 0 else low
            if begin < high:
                start.append(TopicPartition(topic, tp.partition, begin))
                ends[tp.partition] = high
        if not start:
            return 0
        probe.assign(start)
        found = 0
        deadline = time.monotonic() + 10
        while ends and time.monotonic() < deadline:
            msg = probe.poll(0.2)
            if msg is not None and not msg.error():
                found += 1
            for tp in probe.position([TopicPartition(topic, p) for p in list(ends)]):
                if tp.offset >= ends[tp.partition]:
                    del ends[tp.partition]
        return found + len(ends)  # a partition not read to its end counts as unprocessed
    finally:
        probe.close()


def latest_by_key(messages: list[Message]) -> dict[bytes | None, Message]:
    latest: dict[bytes | None, Message] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        latest[m.key] = m
    return latest


def run_simulator(bootstrap: str, topic: str, jsonl: Path, **options: Any) -> None:
    args = [SHOPSTREAM, "simulate", "--bootstrap-servers", bootstrap, "--topic", topic]
    args += ["--jsonl", str(jsonl)]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    subprocess.run(args, check=True, capture_output=True, timeout=600)


def start_simulator(
    bootstrap: str, topic: str, jsonl: Path, log_path: Path, **options: Any
) -> subprocess.Popen[bytes]:
    """The simulator as a background process (use ``rate=`` to spread it over time)."""
    args = [SHOPSTREAM, "simulate", "--bootstrap-servers", bootstrap, "--topic", topic]
    args += ["--jsonl", str(jsonl)]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    with log_path.open("ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


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
        """Every raw message processed by both stages (False while a coordinator is loading)."""
        try:
            return self._drained(raw_count)
        except KafkaException:
            return False

    def _drained(self, raw_count: int) -> bool:
        return (
            committed_lag(self.bootstrap, self.clean_group, self.topics.raw) == 0
            and not open_transactions(self.bootstrap, self.topics.clean)
            and committed_lag(self.bootstrap, self.aggregate_group, self.topics.clean) == 0
            and not open_transactions(self.bootstrap, self.topics.features)
            and message_count(self.bootstrap, self.topics.raw) >= raw_count
        )


def open_transactions(bootstrap: str, topic: str) -> list[int]:
    """Partitions of ``topic`` where a transaction is still open (last stable offset < end).

    A read_committed reader sees a partition only up to its first open transaction, and
    its end offsets are that last stable offset: so a crashed instance's transaction,
    open until the broker times it out, hides everything written after it from
    :func:`committed_lag` and :func:`read_topic` alike, and a topic looks drained early.
    """
    ends: dict[str, dict[int, int]] = {}
    for isolation in ("read_uncommitted", "read_committed"):
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "counter", "isolation.level": isolation}
        )
        try:
            parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends[isolation] = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts
            }
        finally:
            consumer.close()
    return sorted(
        p for p, end in ends["read_uncommitted"].items() if ends["read_committed"][p] < end
    )


def message_count(bootstrap: str, topic: str) -> int:
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


def oracle_features(pipeline: Pipeline, jsonl: Path) -> dict[tuple[str, str], dict[str, Any]]:
    pseudonymiser = Pseudonymiser(PseudonymKeys(SecretStr(pipeline.pseudonym_key), key_id="itest"))
    return expected_features(
        jsonl,
        pseudonymise=pseudonymiser.identifier,
        region=lambda province, district: region_code(province, district),
        age_band=age_band,
        pseudonym_key_id="itest",
        feature_version=1,
    )


def topic_features(pipeline: Pipeline) -> dict[tuple[str, str], dict[str, Any]]:
    codec = features_codec()
    out = {}
    for key, message in latest_by_key(
        read_topic(pipeline.bootstrap, pipeline.topics.features)
    ).items():
        record = codec.decode(message.value).record
        assert key == f"{record['shop_id']}|{record['buyer_pseudonym']}".encode()
        out[(record["shop_id"], record["buyer_pseudonym"])] = record
    return out
