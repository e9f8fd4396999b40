"""The topic declarations and the pure drift comparison; no broker."""

from __future__ import annotations

import dataclasses

import pytest

from shopstream.processors.topics import (
    DAY_MS,
    PIPELINE_TOPICS,
    ObservedTopic,
    TopicDrift,
    TopicSpec,
    find_drift,
    pipeline_topics,
)


def _observed(spec: TopicSpec, **changes: object) -> ObservedTopic:
    """What a cluster reports for a topic created exactly as declared (plus defaults)."""
    configs = {"min.insync.replicas": "1", "segment.bytes": "1073741824", **spec.configs}
    topic = ObservedTopic(spec.name, spec.partitions, spec.replication_factor, configs)
    return dataclasses.replace(topic, **changes)  # type: ignore[arg-type]


def test_pipeline_declares_the_five_topics_with_their_retention() -> None:
    declared = {spec.name: spec.configs for spec in PIPELINE_TOPICS}
    assert declared == {
        "shop.events.raw": {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},
        "shop.events.clean": {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},
        "shop.events.dlq": {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},
        "shop.buyers.features": {"cleanup.policy": "compact"},
        "shop.products": {"cleanup.policy": "compact"},
    }
    assert DAY_MS == 86_400_000
    assert {(s.partitions, s.replication_factor) for s in PIPELINE_TOPICS} == {(6, 1)}


def test_pipeline_topics_applies_sizing_and_prefix_per_call() -> None:
    topics = pipeline_topics(partitions=2, replication_factor=3, prefix="staging.")
    assert [t.name for t in topics] == ["staging." + s.name for s in PIPELINE_TOPICS]
    assert {(t.partitions, t.replication_factor) for t in topics} == {(2, 3)}
    assert pipeline_topics() == PIPELINE_TOPICS


def test_specs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PIPELINE_TOPICS[0].partitions = 1  # type: ignore[misc]


def test_topics_as_declared_have_no_drift() -> None:
    observed = {spec.name: _observed(spec) for spec in PIPELINE_TOPICS}
    assert find_drift(PIPELINE_TOPICS, observed) == []


def test_missing_topic_is_drift() -> None:
    _raw, *others = PIPELINE_TOPICS
    observed = {spec.name: _observed(spec) for spec in others}
    assert find_drift(PIPELINE_TOPICS, observed) == [
        TopicDrift("shop.events.raw", "missing", declared="present")
    ]


def test_partition_count_and_replication_factor_drift() -> None:
    spec = PIPELINE_TOPICS[0]
    observed = {spec.name: _observed(spec, partitions=3, replication_factor=2)}
    drifts = find_drift([spec], observed)
    assert drifts == [
        TopicDrift(spec.name, "partitions", declared="6", observed="3"),
        TopicDrift(spec.name, "replication_factor", declared="1", observed="2"),
    ]
    assert str(drifts[0]) == "shop.events.raw: partitions is 3, declared 6"
    assert str(drifts[1]) == "shop.events.raw: replication factor is 2, declared 1"


def test_changed_and_absent_declared_configs_are_drift() -> None:
    spec = PIPELINE_TOPICS[0]
    configs = {"cleanup.policy": "compact"}  # retention.ms not reported at all
    drifts = find_drift([spec], {spec.name: _observed(spec, configs=configs)})
    assert drifts == [
        TopicDrift(spec.name, "config", "delete", "compact", setting="cleanup.policy"),
        TopicDrift(spec.name, "config", str(7 * DAY_MS), None, setting="retention.ms"),
    ]
    assert str(drifts[0]) == "shop.events.raw: cleanup.policy is compact, declared delete"


def test_undeclared_configs_and_topics_are_ignored() -> None:
    spec = PIPELINE_TOPICS[3]  # compacted: declares no retention
    configs = {**spec.configs, "retention.ms": "1", "segment.ms": "2"}
    observed = {
        spec.name: _observed(spec, configs=configs),
        "someone.elses.topic": ObservedTopic("someone.elses.topic", 1, 1, {}),
    }
    assert find_drift([spec], observed) == []


def test_drift_follows_declaration_order() -> None:
    topics = pipeline_topics(partitions=1)
    assert [d.topic for d in find_drift(topics, {})] == [t.name for t in topics]
