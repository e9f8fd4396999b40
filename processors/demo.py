"""`shopstream demo`: the whole pipeline on a throwaway broker, summarised.

:func:`broker` gives a throwaway local Kafka node (or the cluster KAFKA_BOOTSTRAP_SERVERS
names, with demo-only topic and group names, removed afterwards). :func:`run_pipeline`
then creates the topics, starts both stages as ``shopstream process clean|aggregate``
subprocesses (a Quix Streams application must own its process's main thread, for its
signal handlers) with fresh keys, sends the simulator's traffic into the raw topic
through the SDK, waits until both stages have drained, stops them with SIGTERM and
returns a :class:`DemoSummary`: counts that must add up, dead letters by reason, the
buyers aggregated, the top spenders and the RFM grades (:mod:`.rfm`).

*Drained* means each stage's group has committed past the last message of its input
topic. The input's end offset is not the mark: a topic written in transactions ends
with a commit marker that occupies an offset but is never consumed, so a consumer
group's committed offset stops one short of the end offset of each partition. A
watching consumer reads every topic (``read_committed``) to learn where the last
message of each partition is; it also counts the clean events, the dead letters by
reason and the latest features of each buyer, live.

Nothing here prints: progress goes to the ``say`` callback. The keys exist in this
process and in the stages' environments only, never in a message or a log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import OffsetSpec

from shopstream.deploy.kafka import LocalKafka, admin_client
from shopstream.deploy.kafka.process import die_with_parent
from shopstream.deploy.kafka.settings import LauncherSettings
from shopstream.processors.deadletter import DeadLetterKey, decode_dead_letter
from shopstream.processors.deadletter.errors import DeadLetterDecodeError
from shopstream.processors.errors import ProcessorError
from shopstream.processors.privacy import PseudonymKeys
from shopstream.processors.rfm import GRADES, RfmScore, grade, rfm_scores
from shopstream.processors.topics import create_topics, pipeline_topics
from shopstream.producers.simulator import SimulatedEvent, SimulationConfig, generate
from shopstream.producers.simulator.cli import Backend, open_tracker
from shopstream.producers.simulator.sending import send
from shopstream.schemas.codec import HEADER_SIZE, MAGIC, Codec
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.pseudonymised import load_clean_contract

RAW_TOPIC: Final = "shop.events.raw"
CLEAN_TOPIC: Final = "shop.events.clean"
DLQ_TOPIC: Final = "shop.events.dlq"
FEATURES_TOPIC: Final = "shop.buyers.features"
STAGES: Final = ("clean", "aggregate")
NOT_A_DEAD_LETTER: Final = "not_a_dead_letter"
"""Counted under this rule: a message of the dead-letter topic that does not decode."""

Say = Callable[[str], None]

_log = logging.getLogger(__name__)


class DemoError(ProcessorError):
    """The demo could not finish; ``log_dir`` holds the stages' logs."""

    def __init__(self, message: str, *, log_dir: Path) -> None:
        super().__init__(message)
        self.log_dir = log_dir


class StageFailedError(DemoError):
    """A stage exited while it should have been running."""


class DrainTimeoutError(DemoError):
    """The stages did not drain in time."""


class SimulationError(DemoError):
    """The simulator could not deliver every event to the raw topic."""


@dataclass(frozen=True)
class DemoOptions:
    """How much traffic the demo simulates; defaults are what ``make demo`` runs."""

    events: int = 20_000
    buyers: int = 300
    bad_fraction: float = 0.03
    seed: int = 0
    shops: int = 3
    drain_timeout_s: float = 300.0
    """Seconds to wait for the stages to drain once the simulator has sent everything."""
    progress_interval_s: float = 2.0


@dataclass(frozen=True)
class DemoTarget:
    bootstrap_servers: str
    topic_prefix: str
    """Empty on the throwaway node; on a real cluster the demo keeps to its own names."""


@dataclass(frozen=True)
class DemoTopics:
    raw: str
    clean: str
    dlq: str
    features: str
    clean_group: str
    aggregate_group: str

    @classmethod
    def with_prefix(cls, prefix: str) -> DemoTopics:
        return cls(
            raw=prefix + RAW_TOPIC,
            clean=prefix + CLEAN_TOPIC,
            dlq=prefix + DLQ_TOPIC,
            features=prefix + FEATURES_TOPIC,
            clean_group=prefix + "shopstream-clean",
            aggregate_group=prefix + "shopstream-aggregate",
        )

    @property
    def all(self) -> tuple[str, str, str, str]:
        return (self.raw, self.clean, self.dlq, self.features)

    def env(self) -> dict[str, str]:
        return {
            "SHOPSTREAM_RAW_TOPIC": self.raw,
            "SHOPSTREAM_CLEAN_TOPIC": self.clean,
            "SHOPSTREAM_DLQ_TOPIC": self.dlq,
            "SHOPSTREAM_FEATURES_TOPIC": self.features,
            "SHOPSTREAM_CLEAN_GROUP": self.clean_group,
            "SHOPSTREAM_AGGREGATE_GROUP": self.aggregate_group,
        }


@dataclass(frozen=True)
class TopBuyer:
    shop_id: str
    buyer_pseudonym: str
    orders: int
    spend: int
    """Net spend in minor units of ``currency``."""
    currency: str
    score: RfmScore
    grade: str


@dataclass(frozen=True)
class DemoSummary:
    """What went through the pipeline, read back from its topics."""

    sent: int
    """Events the simulator handed to the SDK, bad ones included."""
    events_in: int
    """Messages in the raw topic."""
    clean_by_type: Mapping[str, int]
    dead_letters: int
    dead_letters_by_rule: Mapping[str, int]
    """Dead letters per rule among their reasons: a letter with two rules counts in both."""
    buyers: int
    """Buyers with features (distinct keys of the features topic)."""
    top_buyers: tuple[TopBuyer, ...]
    grades: Mapping[str, Mapping[str, int]]
    """Shop -> grade -> buyers, every grade of :data:`~.rfm.GRADES` present."""
    exit_codes: Mapping[str, int | None] = field(default_factory=dict)
    """Each stage's exit code after SIGTERM (None: it had to be killed)."""

    @property
    def clean(self) -> int:
        return sum(self.clean_by_type.values())

    @property
    def adds_up(self) -> bool:
        return self.sent == self.events_in == self.clean + self.dead_letters

    @property
    def grade_totals(self) -> dict[str, int]:
        return {g: sum(shop[g] for shop in self.grades.values()) for g in GRADES}

    @property
    def stages_stopped_cleanly(self) -> bool:
        return set(self.exit_codes) == set(STAGES) and all(
            code == 0 for code in self.exit_codes.values()
        )


# -- the broker ------------------------------------------------------------------------------


@contextlib.contextmanager
def broker(say: Say) -> Iterator[DemoTarget]:
    """The configured cluster (demo-only names, removed afterwards), or a throwaway node."""
    configured = LauncherSettings().external_bootstrap_servers
    if configured:
        prefix = f"demo-{uuid.uuid4().hex[:8]}."
        say(
            f"using the cluster at {configured} (KAFKA_BOOTSTRAP_SERVERS); starting nothing; "
            f"demo topics and groups are named {prefix}*"
        )
        try:
            yield DemoTarget(configured, prefix)
        finally:
            remove_demo_names(configured, prefix, say)
        return
    with tempfile.TemporaryDirectory(prefix="shopstream-demo-") as tmp:
        node = LocalKafka(Path(tmp) / "kafka", progress=say)
        say("starting a local Kafka node (KRaft, 127.0.0.1)...")
        with node.start():
            say(f"broker ready at {node.bootstrap_servers}")
            try:
                yield DemoTarget(node.bootstrap_servers, "")
            finally:
                say("stopping the broker...")
        say("broker stopped")


def remove_demo_names(bootstrap: str, prefix: str, say: Say) -> None:
    """Delete the topics whose names hold ``prefix`` and the demo's two consumer groups."""
    # The engine's changelog topics carry the group name, hence the prefix, too.
    admin = admin_client(bootstrap)
    try:
        topics = sorted(t for t in admin.list_topics(timeout=10).topics if prefix in t)
        groups = [f"{prefix}shopstream-{stage}" for stage in STAGES]
        for future in admin.delete_consumer_groups(groups, request_timeout=30).values():
            with contextlib.suppress(KafkaException):  # a group that never formed
                future.result()
        if topics:
            for future in admin.delete_topics(topics, operation_timeout=30).values():
                future.result()
        say(f"removed the demo's {len(topics)} topics and its consumer groups")
    except KafkaException as exc:
        say(f"could not remove every demo topic or group ({exc}); they are named {prefix}*")


# -- the stages ------------------------------------------------------------------------------


@dataclass
class StageProcess:
    """One ``shopstream process <stage>`` child, its JSON log in ``log_path``."""

    stage: str
    log_path: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, stage: str, env: Mapping[str, str], log_path: Path) -> StageProcess:
        command = [sys.executable, "-m", "shopstream.processors.cli", "process", stage]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [*command, "--no-create-topics"],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: Ctrl-C reaches the demo, which stops the stages in order; and
                # a stage dies with the demo rather than outlive it.
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        return cls(stage, log_path, process)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM: the stage commits or aborts its open transaction and exits."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30.0) -> int | None:
        """The exit code; after ``timeout`` seconds SIGKILL, and None."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None


def stage_env(
    target: DemoTarget, topics: DemoTopics, state_dir: Path, *, pseudonym_key: str, dlq_key: str
) -> dict[str, str]:
    """The settings of both stages (``processors/engine/settings.py``)."""
    return {
        **topics.env(),
        "SHOPSTREAM_BOOTSTRAP_SERVERS": target.bootstrap_servers,
        "SHOPSTREAM_STATE_DIR": str(state_dir),
        "SHOPSTREAM_PSEUDONYM_KEY": pseudonym_key,
        "SHOPSTREAM_DLQ_KEY": dlq_key,
        "SHOPSTREAM_PSEUDONYM_KEY_ID": "demo",
        "SHOPSTREAM_DLQ_KEY_ID": "demo",
    }


# -- watching the topics ---------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    raw: int
    clean: int
    dead_letters: int
    buyers: int
    behind: Mapping[str, int | None]
    """Per stage: messages its group has yet to commit (None: nothing committed yet)."""

    def __str__(self) -> str:
        behind = ", ".join(
            f"{stage} {'no commit yet' if n is None else f'{n:,}'}"
            for stage, n in self.behind.items()
        )
        return (
            f"raw {self.raw:,} | clean {self.clean:,} | dead letters {self.dead_letters:,} | "
            f"features {self.buyers:,} buyers | behind: {behind}"
        )


class PipelineWatch:
    """Reads the four topics as they fill (``read_committed``) and the stages' commits.

    Keeps counts, the dead letters' rules and the latest features message per buyer. It
    assigns partitions itself and commits nothing; the stages' committed offsets are read
    through consumers that carry their group ids but never join.
    """

    def __init__(self, bootstrap: str, topics: DemoTopics) -> None:
        self._topics = topics
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"shopstream-demo-watch-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
                "logger": _log,
            }
        )
        metadata = self._consumer.list_topics(timeout=30)
        self._partitions = {t: sorted(metadata.topics[t].partitions) for t in topics.all}
        self._consumer.assign(
            [
                TopicPartition(t, p, OFFSET_BEGINNING)
                for t, ps in self._partitions.items()
                for p in ps
            ]
        )
        self._groups = {
            "clean": (
                Consumer(
                    {"bootstrap.servers": bootstrap, "group.id": topics.clean_group, "logger": _log}
                ),
                topics.raw,
            ),
            "aggregate": (
                Consumer(
                    {
                        "bootstrap.servers": bootstrap,
                        "group.id": topics.aggregate_group,
                        "logger": _log,
                    }
                ),
                topics.clean,
            ),
        }
        self._admin = admin_client(bootstrap)
        self._last: dict[tuple[str, int], int] = {}
        self._clean_types = load_clean_contract()
        self.raw = 0
        self.clean_by_type: Counter[str] = Counter()
        self.dead_letters = 0
        self.dead_letters_by_rule: Counter[str] = Counter()
        self.features: dict[bytes | None, bytes] = {}

    def close(self) -> None:
        self._consumer.close()
        for consumer, _ in self._groups.values():
            consumer.close()

    def poll(self, seconds: float) -> None:
        """Take what has arrived, waiting up to ``seconds`` for more."""
        deadline = time.monotonic() + seconds
        while True:
            left = max(0.0, deadline - time.monotonic())
            batch = self._consumer.consume(1000, min(left, 0.2))
            for msg in batch:
                if msg.error() is None:
                    self._take(msg.topic() or "", msg.partition() or 0, msg)
            if not batch and time.monotonic() >= deadline:
                return

    def _take(self, topic: str, partition: int, msg: Any) -> None:
        self._last[(topic, partition)] = msg.offset()
        value: bytes = msg.value() or b""
        if topic == self._topics.raw:
            self.raw += 1
        elif topic == self._topics.clean:
            self.clean_by_type[self._clean_type(value)] += 1
        elif topic == self._topics.dlq:
            self.dead_letters += 1
            try:
                rules = decode_dead_letter(value).rules
            except DeadLetterDecodeError:
                rules = frozenset({NOT_A_DEAD_LETTER})
            self.dead_letters_by_rule.update(rules)
        elif topic == self._topics.features:
            if msg.value() is None:  # a tombstone: the buyer's features were deleted
                self.features.pop(msg.key(), None)
            else:
                self.features[msg.key()] = value

    def _clean_type(self, value: bytes) -> str:
        if value[: len(MAGIC)] != MAGIC or len(value) < HEADER_SIZE:
            return "unknown"
        schema = self._clean_types.by_fingerprint(value[len(MAGIC) : HEADER_SIZE])
        return schema.name if schema is not None else "unknown"

    def read_to_end(self, topics: Iterable[str], timeout: float = 30.0) -> bool:
        """Read ``topics`` up to their last committed offsets as of now; whether it got there."""
        tps = [TopicPartition(t, p) for t in topics for p in self._partitions[t]]
        ends = self._offsets(tps, OffsetSpec.latest())
        begins = self._offsets(tps, OffsetSpec.earliest())
        deadline = time.monotonic() + timeout
        while True:
            positions = self._consumer.position(tps)
            # A commit marker at the end is never delivered, but the position passes it.
            if all(
                tp.offset >= ends[(tp.topic, tp.partition)]
                or ends[(tp.topic, tp.partition)] <= begins[(tp.topic, tp.partition)]
                for tp in positions
            ):
                return True
            if time.monotonic() >= deadline:
                return False
            self.poll(0.1)

    def _offsets(self, tps: list[TopicPartition], spec: OffsetSpec) -> dict[tuple[str, int], int]:
        # One request for every partition; the latest offset of read_committed is the LSO.
        futures = self._admin.list_offsets(
            {tp: spec for tp in tps},
            isolation_level=IsolationLevel.READ_COMMITTED,
            request_timeout=10,
        )
        return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}

    def behind(self, stage: str) -> int | None:
        """Messages of the stage's input the watch has seen and the group has not committed.

        Counted to each partition's last message, not its end offset (module docstring).
        None while the group has committed nothing or its coordinator cannot say.
        """
        consumer, topic = self._groups[stage]
        try:
            committed = consumer.committed(
                [TopicPartition(topic, p) for p in self._partitions[topic]], timeout=2
            )
        except KafkaException:  # the group's coordinator is loading or moving: ask again later
            return None
        if all(tp.offset < 0 for tp in committed):
            return None if any((topic, p) in self._last for p in self._partitions[topic]) else 0
        left = 0
        for tp in committed:
            last = self._last.get((topic, tp.partition))
            if last is not None:
                left += max(0, last + 1 - max(tp.offset, 0))
        return left

    def progress(self) -> Progress:
        return Progress(
            raw=self.raw,
            clean=sum(self.clean_by_type.values()),
            dead_letters=self.dead_letters,
            buyers=len(self.features),
            behind={stage: self.behind(stage) for stage in STAGES},
        )

    def drained(self, expected_raw: int) -> bool:
        """Both stages have committed past every message upstream of them."""
        if self.raw < expected_raw or not self.read_to_end([self._topics.raw], timeout=1.0):
            return False
        if self.behind("clean") != 0:
            return False
        # Stage 1 has committed everything: read its outputs. Its committed offsets can be
        # visible a moment before the commit markers reach the output partitions, so the
        # outputs are complete only once every raw message's clean event or dead letter is.
        if not self.read_to_end([self._topics.clean, self._topics.dlq], timeout=1.0):
            return False
        if sum(self.clean_by_type.values()) + self.dead_letters < expected_raw:
            return False
        return self.behind("aggregate") == 0


# -- the run -----------------------------------------------------------------------------------


def run_pipeline(
    target: DemoTarget,
    say: Say,
    *,
    log_dir: Path,
    state_dir: Path,
    options: DemoOptions | None = None,
) -> DemoSummary:
    """Topics, keys, both stages, the simulator; wait until drained; stop; summarise.

    The stages log into ``log_dir`` (``clean.log``, ``aggregate.log``). Raises a
    :class:`DemoError` (with ``log_dir``) when a stage dies, the simulator cannot
    deliver, or the stages do not drain within ``options.drain_timeout_s``.
    """
    options = options or DemoOptions()
    topics = DemoTopics.with_prefix(target.topic_prefix)
    report = create_topics(
        admin_client(target.bootstrap_servers), pipeline_topics(prefix=target.topic_prefix)
    )
    say(f"topics: {len(report.created)} created, {len(report.existing)} already there")
    say("fresh pseudonymisation and dead-letter keys for this run (never printed)")
    env = stage_env(
        target,
        topics,
        state_dir,
        pseudonym_key=PseudonymKeys.generate(),
        dlq_key=DeadLetterKey.generate(),
    )
    stages: dict[str, StageProcess] = {}
    watch: PipelineWatch | None = None
    exit_codes: dict[str, int | None] = {}
    try:
        for stage in STAGES:
            stages[stage] = StageProcess.start(stage, env, log_dir / f"{stage}.log")
            say(
                f"stage {stage} started (pid {stages[stage].process.pid}), log {stages[stage].log_path}"
            )
        watch = PipelineWatch(target.bootstrap_servers, topics)
        sent = _simulate(target, topics, options, watch, stages, say, log_dir)
        _drain(watch, sent, stages, options, say, log_dir)
        if not watch.read_to_end(topics.all):
            raise DemoError("the topics could not be read to their end", log_dir=log_dir)
        say("stopping the stages (SIGTERM)...")
        exit_codes = _stop(stages, say)
        return summarise(
            sent=sent,
            events_in=watch.raw,
            clean_by_type=watch.clean_by_type,
            dead_letters=watch.dead_letters,
            dead_letters_by_rule=watch.dead_letters_by_rule,
            features=_decode_features(watch.features.values()),
            exit_codes=exit_codes,
        )
    finally:
        if any(s.running for s in stages.values()):
            _stop(stages, say)
        if watch is not None:
            watch.close()


def _simulate(
    target: DemoTarget,
    topics: DemoTopics,
    options: DemoOptions,
    watch: PipelineWatch,
    stages: Mapping[str, StageProcess],
    say: Say,
    log_dir: Path,
) -> int:
    config = SimulationConfig(
        shops=options.shops,
        buyers=options.buyers,
        events=options.events,
        seed=options.seed,
        bad_fraction=options.bad_fraction,
    )
    say(
        f"simulating {config.events:,} events ({config.buyers:,} buyers in {config.shops} shops, "
        f"{config.bad_events:,} bad, seed {config.seed}) into {topics.raw} through the SDK"
    )
    started = time.monotonic()
    next_report = started + options.progress_interval_s
    sent = 0

    def on_sent(_: SimulatedEvent) -> None:
        nonlocal sent, next_report
        sent += 1
        if time.monotonic() >= next_report:
            _check_running(stages, log_dir)
            watch.poll(0)
            say(f"sent {sent:,}/{config.events:,} | {watch.progress()}")
            next_report = time.monotonic() + options.progress_interval_s

    tracker = open_tracker(target.bootstrap_servers, topics.raw, Backend.CONFLUENT)
    try:
        send(
            generate(config, dt.datetime.now(dt.UTC).replace(microsecond=0)),
            tracker,
            on_sent=on_sent,
        )
    finally:
        undelivered = tracker.flush(timeout=60.0)
        tracker.close()
    stats = tracker.stats()
    if undelivered or stats.failed or stats.dropped or stats.rejected:
        raise SimulationError(
            f"the simulator did not deliver every event: {undelivered} undelivered, "
            f"{stats.failed} failed, {stats.dropped} dropped, {stats.rejected} rejected",
            log_dir=log_dir,
        )
    say(f"simulator done: {sent:,} events delivered in {time.monotonic() - started:.1f} s")
    return sent


def _drain(
    watch: PipelineWatch,
    sent: int,
    stages: Mapping[str, StageProcess],
    options: DemoOptions,
    say: Say,
    log_dir: Path,
) -> None:
    say("waiting for both stages to drain...")
    started = time.monotonic()
    deadline = started + options.drain_timeout_s
    next_report = started + options.progress_interval_s
    caught_up: set[str] = set()
    while True:
        _check_running(stages, log_dir)
        drained = watch.drained(sent)
        if "clean" not in caught_up and watch.raw >= sent and watch.behind("clean") == 0:
            caught_up.add("clean")
            say(f"stage clean caught up: {watch.raw:,} raw events committed")
        if drained:
            say(
                f"stage aggregate caught up: drained {time.monotonic() - started:.1f} s after the simulator"
            )
            return
        now = time.monotonic()
        if now >= deadline:
            raise DrainTimeoutError(
                f"the stages did not drain within {options.drain_timeout_s:.0f} s: {watch.progress()}",
                log_dir=log_dir,
            )
        if now >= next_report:
            next_report = now + options.progress_interval_s
            say(str(watch.progress()))
        watch.poll(0.3)


def _check_running(stages: Mapping[str, StageProcess], log_dir: Path) -> None:
    for stage in stages.values():
        code = stage.process.poll()
        if code is not None:
            raise StageFailedError(
                f"stage {stage.stage} exited with code {code} while it should be running",
                log_dir=log_dir,
            )


def _stop(stages: Mapping[str, StageProcess], say: Say) -> dict[str, int | None]:
    started = time.monotonic()
    for stage in stages.values():
        stage.terminate()
    codes = {name: stage.wait() for name, stage in stages.items()}
    said = ", ".join(
        f"{name} {'killed after 30 s' if code is None else f'exited {code}'}"
        for name, code in codes.items()
    )
    say(f"stages stopped in {time.monotonic() - started:.1f} s: {said}")
    return codes


def _decode_features(values: Iterable[bytes]) -> list[dict[str, Any]]:
    codec = Codec(Contract.load(schemas_root() / "features"))
    return [dict(codec.decode(value).record) for value in values]


# -- the summary -------------------------------------------------------------------------------


def summarise(
    *,
    sent: int,
    events_in: int,
    clean_by_type: Mapping[str, int],
    dead_letters: int,
    dead_letters_by_rule: Mapping[str, int],
    features: list[dict[str, Any]],
    exit_codes: Mapping[str, int | None],
    top: int = 5,
) -> DemoSummary:
    """The summary from what was read back; grades by :func:`~.rfm.rfm_scores`."""
    scores = rfm_scores(features)
    grades: dict[str, Counter[str]] = {}
    for (shop, _), score in scores.items():
        grades.setdefault(shop, Counter())[grade(score)] += 1
    ranked = sorted(features, key=lambda r: (-r["spend"], r["shop_id"], r["buyer_pseudonym"]))
    top_buyers = []
    for record in ranked[:top]:
        score = scores[(record["shop_id"], record["buyer_pseudonym"])]
        top_buyers.append(
            TopBuyer(
                shop_id=record["shop_id"],
                buyer_pseudonym=record["buyer_pseudonym"],
                orders=record["orders"],
                spend=record["spend"],
                currency=record["currency"],
                score=score,
                grade=grade(score),
            )
        )
    return DemoSummary(
        sent=sent,
        events_in=events_in,
        clean_by_type=dict(sorted(clean_by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
        dead_letters=dead_letters,
        dead_letters_by_rule=dict(
            sorted(dead_letters_by_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        buyers=len(features),
        top_buyers=tuple(top_buyers),
        grades={shop: {g: grades[shop][g] for g in GRADES} for shop in sorted(grades)},
        exit_codes=dict(exit_codes),
    )


def open_log_dir(keep: Path | None) -> tuple[Path, bool]:
    """The folder for the stages' logs and whether it is temporary (remove on success)."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return keep, False
    return Path(tempfile.mkdtemp(prefix="shopstream-demo-logs-")), True


__all__ = [
    "CLEAN_TOPIC",
    "DLQ_TOPIC",
    "FEATURES_TOPIC",
    "RAW_TOPIC",
    "DemoError",
    "DemoOptions",
    "DemoSummary",
    "DemoTarget",
    "DemoTopics",
    "DrainTimeoutError",
    "PipelineWatch",
    "Progress",
    "SimulationError",
    "StageFailedError",
    "StageProcess",
    "TopBuyer",
    "broker",
    "open_log_dir",
    "remove_demo_names",
    "run_pipeline",
    "summarise",
]
