"""Stage 1 on its engine: raw topic -> clean topic or dead-letter topic, exactly once.

Each raw message becomes exactly one output message, in the same Kafka transaction as
the consumed offset: the clean event (keyed ``shop|buyer pseudonym``) or the dead letter.
The work per message is :meth:`CleanStage.process`; this module only wires it to the
:class:`~shopstream.processors.engine.loop.TransactionalLoop`.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections import Counter
from typing import Any

from confluent_kafka import Message

from shopstream.processors.clean.stage import Cleaned, CleanStage, Source, TimeRules
from shopstream.processors.clean.transform import CleanTransform
from shopstream.processors.deadletter import DeadLetterKey
from shopstream.processors.engine.loop import Output, TransactionalLoop
from shopstream.processors.engine.metrics import StageMetrics
from shopstream.processors.engine.runtime import StageRuntime
from shopstream.processors.engine.settings import CleanSettings
from shopstream.processors.privacy import Pseudonymiser, PseudonymKeys

STAGE = "clean"


def build_clean_stage(settings: CleanSettings) -> CleanStage:
    keys = PseudonymKeys(settings.pseudonym_key, key_id=settings.pseudonym_key_id)
    transform = CleanTransform(
        Pseudonymiser(keys), district_allowlist=_allowlist(settings.district_allowlist)
    )
    return CleanStage(
        transform,
        DeadLetterKey(settings.dlq_key, key_id=settings.dlq_key_id),
        time_rules=TimeRules(
            clock_skew=dt.timedelta(seconds=settings.clock_skew_s),
            horizon=dt.timedelta(days=settings.horizon_days),
        ),
    )


def build_clean_runtime(
    settings: CleanSettings, metrics: StageMetrics | None = None
) -> StageRuntime:
    """Stage 1, ready to :meth:`~StageRuntime.run`."""
    metrics = metrics or StageMetrics(STAGE)
    stage = build_clean_stage(settings)
    clean_topic, dlq_topic = settings.clean_topic, settings.dlq_topic

    events_in = metrics.events_in
    latency = metrics.latency.labels(STAGE)
    redactions = metrics.redactions.labels(STAGE)
    shop_events = metrics.shop_events
    # Exported as 0 from the start: Prometheus sees a series born at 1 as no increase, and
    # the first internal error must page (alert ShopstreamInternalErrors).
    metrics.rejections.labels(STAGE, "internal_error")

    # Metric children looked up once per label value, and counted up once per batch: a
    # child's inc() takes a lock, a tally's += does not.
    @functools.cache
    def counted_in(event_type: str) -> Any:
        return events_in.labels(STAGE, event_type)

    @functools.cache
    def counted_out(topic: str, event_type: str) -> Any:
        return metrics.events_out.labels(STAGE, topic, event_type)

    @functools.cache
    def counted_shop(shop: bytes) -> Any:
        return shop_events.labels(STAGE, shop.decode())

    @functools.cache
    def rejected(reason: str) -> Any:
        return metrics.rejections.labels(STAGE, reason)

    tally: Counter[Any] = Counter()

    def process(message: Message) -> Output:
        _, timestamp = message.timestamp()
        # Output messages keep the raw message's timestamp (ingestion time), not the event
        # time: topic retention is by timestamp, and a backfill of old events must not be
        # deleted from the clean topic as soon as it is written. The event time is in the record.
        kept = timestamp if timestamp > 0 else None
        source = Source(message.topic(), message.partition(), message.offset(), kept, message.key())
        outcome = stage.process(message.value(), source)
        tally[counted_in(outcome.event_type or "undecodable")] += 1
        if isinstance(outcome, Cleaned):
            tally[counted_out(clean_topic, outcome.event_type)] += 1
            tally[counted_shop(outcome.key.split(b"|", 1)[0])] += 1
            latency.observe(max(0.0, time.time() - outcome.event_time_ms / 1000))
            if outcome.redactions:
                tally[redactions] += outcome.redactions
            return Output(clean_topic, outcome.key, outcome.value, kept)
        tally[counted_out(dlq_topic, outcome.event_type or "undecodable")] += 1
        for reason in {r.rule for r in outcome.reasons}:
            tally[rejected(reason)] += 1
        return Output(dlq_topic, None, outcome.value, kept)

    def after_batch() -> None:
        for child, n in tally.items():
            child.inc(n)
        tally.clear()
        runtime.mark_processed()

    loop = TransactionalLoop(
        settings,
        group=settings.clean_group,
        input_topic=settings.raw_topic,
        handle=process,
        on_batch=after_batch,
    )
    runtime = StageRuntime(
        loop, settings, metrics, group=settings.clean_group, input_topic=settings.raw_topic
    )
    return runtime


def _allowlist(entries: frozenset[str]) -> frozenset[tuple[str, str]]:
    pairs = set()
    for entry in entries:
        code, _, district = entry.partition(":")
        if district:
            pairs.add((code, district))
    return frozenset(pairs)


__all__ = ["STAGE", "build_clean_runtime", "build_clean_stage"]
