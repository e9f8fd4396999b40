"""The pipeline's Kafka topics, declared once, and how the cluster is kept in line with them.

`find_drift` is pure: declared topics + observed topics -> differences. The functions
below it are the thin AdminClient adapter: they create what is missing and observe what
exists, and never alter an existing topic.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from confluent_kafka import KafkaError, KafkaException, TopicCollection

# ConfigResource, NewTopic, ResourceType are public; the stubs only re-export them implicitly.
from confluent_kafka.admin import (  # type: ignore[attr-defined,unused-ignore]
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from shopstream.processors.errors import ProcessorError

DAY_MS = 24 * 60 * 60 * 1000
DEFAULT_PARTITIONS = 6
DEFAULT_REPLICATION_FACTOR = 1


@dataclass(frozen=True)
class TopicSpec:
    """One declared topic. `configs` lists the only settings `check` compares."""

    name: str
    cleanup_policy: Literal["delete", "compact"]
    retention_ms: int | None = None
    partitions: int = DEFAULT_PARTITIONS
    replication_factor: int = DEFAULT_REPLICATION_FACTOR

    @property
    def configs(self) -> dict[str, str]:
        configs: dict[str, str] = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return configs


PIPELINE_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("shop.events.raw", "delete", retention_ms=7 * DAY_MS),
    TopicSpec("shop.events.clean", "delete", retention_ms=30 * DAY_MS),
    TopicSpec("shop.events.dlq", "delete", retention_ms=30 * DAY_MS),
    TopicSpec("shop.buyers.features", "compact"),
    TopicSpec("shop.products", "compact"),
)


def pipeline_topics(
    *, partitions: int | None = None, replication_factor: int | None = None, prefix: str = ""
) -> tuple[TopicSpec, ...]:
    """The declared topics with per-call sizing; `prefix` namespaces names (per environment)."""
    return tuple(
        replace(
            spec,
            name=prefix + spec.name,
            partitions=partitions or spec.partitions,
            replication_factor=replication_factor or spec.replication_factor,
        )
        for spec in PIPELINE_TOPICS
    )


@dataclass(frozen=True)
class ObservedTopic:
    """A topic as the cluster describes it; `configs` holds at least the declared keys."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


@dataclass(frozen=True)
class TopicDrift:
    """One way a topic differs from its declaration."""

    topic: str
    kind: Literal["missing", "partitions", "replication_factor", "config"]
    declared: str
    observed: str | None = None
    setting: str | None = None  # the config key, for kind == "config"

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.topic}: missing"
        what = self.setting if self.kind == "config" else self.kind.replace("_", " ")
        return f"{self.topic}: {what} is {self.observed}, declared {self.declared}"


def find_drift(
    declared: Iterable[TopicSpec], observed: Mapping[str, ObservedTopic]
) -> list[TopicDrift]:
    """Every difference between the declared topics and what the cluster has, in order.

    Settings the declaration does not name are not compared, nor are undeclared topics.
    """
    drifts: list[TopicDrift] = []
    for spec in declared:
        topic = observed.get(spec.name)
        if topic is None:
            drifts.append(TopicDrift(spec.name, "missing", declared="present"))
            continue
        if topic.partitions != spec.partitions:
            drifts.append(
                TopicDrift(spec.name, "partitions", str(spec.partitions), str(topic.partitions))
            )
        if topic.replication_factor != spec.replication_factor:
            drifts.append(
                TopicDrift(
                    spec.name,
                    "replication_factor",
                    str(spec.replication_factor),
                    str(topic.replication_factor),
                )
            )
        for key, value in spec.configs.items():
            actual = topic.configs.get(key)
            if actual != value:
                drifts.append(TopicDrift(spec.name, "config", value, actual, setting=key))
    return drifts


# --- AdminClient adapter ----------------------------------------------------------------


class TopicAdminError(ProcessorError):
    """The cluster refused or did not answer a topic operation."""


@dataclass(frozen=True)
class CreateReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]


def create_topics(
    admin: AdminClient, specs: Sequence[TopicSpec], *, timeout: float = 30.0
) -> CreateReport:
    """Create the declared topics that do not exist and wait until they are visible.

    Existing topics are reported, never altered (`check` tells how they differ).
    """
    present = _topic_names(admin, timeout)
    missing = [spec for spec in specs if spec.name not in present]
    existing = [spec.name for spec in specs if spec.name in present]
    created: list[str] = []
    if missing:
        new = [
            NewTopic(s.name, s.partitions, s.replication_factor, config=s.configs) for s in missing
        ]
        futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise TopicAdminError(f"could not create topic {name}: {exc}") from exc
                existing.append(name)  # Someone else created it meanwhile.
            else:
                created.append(name)
        _wait_visible(admin, created, timeout)
    return CreateReport(created=tuple(created), existing=tuple(existing))


def observe_topics(
    admin: AdminClient, names: Iterable[str], *, timeout: float = 30.0
) -> dict[str, ObservedTopic]:
    """Describe the named topics that exist: partitions, replication factor, configs."""
    present = _topic_names(admin, timeout)
    names = [name for name in names if name in present]
    if not names:
        return {}
    try:
        described = admin.describe_topics(TopicCollection(names), request_timeout=timeout)
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
        configured = admin.describe_configs(resources, request_timeout=timeout)
        descriptions = {name: future.result() for name, future in described.items()}
        configs = {res.name: future.result() for res, future in configured.items()}
    except KafkaException as exc:
        raise TopicAdminError(f"could not describe topics {names}: {exc}") from exc
    observed = {}
    for name in names:
        partitions = descriptions[name].partitions
        observed[name] = ObservedTopic(
            name=name,
            partitions=len(partitions),
            # The weakest partition is the topic's real replication factor.
            replication_factor=min((len(p.replicas) for p in partitions), default=0),
            configs={key: entry.value for key, entry in configs[name].items()},
        )
    return observed


def check_topics(
    admin: AdminClient, specs: Sequence[TopicSpec], *, timeout: float = 30.0
) -> list[TopicDrift]:
    """Drift between the declared topics and the cluster. Read-only."""
    return find_drift(specs, observe_topics(admin, [s.name for s in specs], timeout=timeout))


def _topic_names(admin: AdminClient, timeout: float) -> set[str]:
    try:
        return set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise TopicAdminError(
            f"no metadata from the cluster within {timeout:.0f} s: {exc}"
        ) from exc


def _wait_visible(admin: AdminClient, names: Sequence[str], timeout: float) -> None:
    # CreateTopics returns when the controller has the topic; brokers learn it just after.
    deadline = time.monotonic() + timeout
    while not set(names) <= _topic_names(admin, timeout):
        if time.monotonic() > deadline:
            raise TopicAdminError(f"created topics {list(names)} did not appear in {timeout} s")
        time.sleep(0.1)


__all__ = [
    "PIPELINE_TOPICS",
    "CreateReport",
    "ObservedTopic",
    "TopicAdminError",
    "TopicDrift",
    "TopicSpec",
    "check_topics",
    "create_topics",
    "find_drift",
    "observe_topics",
    "pipeline_topics",
]
