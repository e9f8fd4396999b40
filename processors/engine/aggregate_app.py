"""Stage 2 on the engine: clean topic -> per-buyer state -> features topic, exactly once.

The state of each buyer lives in Quix Streams' state store (RocksDB per partition, with a
compacted changelog topic), keyed by the clean topic's key ``shop|buyer pseudonym``.
:func:`~shopstream.processors.aggregate.apply_event` does the work per event.

Emission is coalesced: a changed buyer is written to the features topic once per
commit, not once per event. :class:`FeatureEmitter` is a Quix sink, so the engine calls
its ``flush`` at every checkpoint *before* it commits the transaction; it produces
through the engine's own transactional producer, so the features, the changelog and the
consumed offsets commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from quixstreams import Application, State
from quixstreams.sinks import BaseSink

from shopstream.processors.aggregate import (
    AggregateSettings,
    Applied,
    BuyerState,
    apply_event,
    buyer_features,
)
from shopstream.processors.engine.metrics import StageMetrics
from shopstream.processors.engine.runtime import StageRuntime, new_application
from shopstream.processors.engine.settings import AggregateStageSettings
from shopstream.schemas.codec import Codec
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.errors import DecodeError
from shopstream.schemas.pseudonymised import load_clean_contract

STAGE = "aggregate"
STATE_KEY = "buyer"

log = logging.getLogger(__name__)


def features_codec() -> Codec:
    return Codec(Contract.load(schemas_root() / "features"))


class FeatureEmitter(BaseSink):
    """Keeps the latest state of each changed buyer; writes them all at each checkpoint."""

    def __init__(
        self,
        app: Application,
        topic: str,
        settings: AggregateSettings,
        metrics: StageMetrics,
    ) -> None:
        super().__init__()
        self._app = app
        self._topic = topic
        self._settings = settings
        self._codec = features_codec()
        self._pending: dict[bytes, BuyerState] = {}
        self._emitted = metrics.buyers_emitted.labels(STAGE)
        self._out = metrics.events_out.labels(STAGE, topic, "buyer_features")

    def add(
        self,
        value: Any,
        key: Any,
        timestamp: int,
        headers: Any,
        topic: str,
        partition: int,
        offset: int,
    ) -> None:
        self._pending[key] = value

    def flush(self) -> None:
        if not self._pending:
            return
        # The engine's transactional producer (a pinned engine's internal; see pyproject.toml):
        # what is produced here commits with the changelog and the offsets of this checkpoint.
        producer = self._app._processing_context.producer
        pending, self._pending = self._pending, {}
        for key, state in pending.items():
            record = buyer_features(state, self._settings)
            # Timestamped now (the producer's default), not as_of: see clean_app.py.
            producer.produce(topic=self._topic, key=key, value=self._codec.encode("buyer", record))
        self._emitted.inc(len(pending))
        self._out.inc(len(pending))

    def on_paused(self) -> None:
        # The checkpoint is dropped and its messages re-read: so are these states.
        self._pending.clear()


def build_aggregate_runtime(
    settings: AggregateStageSettings, metrics: StageMetrics | None = None
) -> StageRuntime:
    """Stage 2, ready to :meth:`~StageRuntime.run`."""
    metrics = metrics or StageMetrics(STAGE)
    aggregate_settings = AggregateSettings(
        currency=settings.currency, dedup_window=dt.timedelta(days=settings.dedup_window_days)
    )
    app = new_application(settings, group=settings.aggregate_group, stateful=True)
    runtime = StageRuntime(
        app, settings, metrics, group=settings.aggregate_group, input_topic=settings.clean_topic
    )
    codec = Codec(load_clean_contract())
    clean = app.topic(settings.clean_topic, key_deserializer="bytes", value_deserializer="bytes")
    emitter = FeatureEmitter(app, settings.features_topic, aggregate_settings, metrics)

    events_in = metrics.events_in
    duplicates = metrics.duplicates.labels(STAGE)
    latency = metrics.latency.labels(STAGE)

    def aggregate(
        value: bytes, key: bytes, timestamp: int, headers: Any, state: State[Any, Any]
    ) -> BuyerState | None:
        runtime.mark_processed()
        try:
            decoded = codec.decode(value)
        except DecodeError as exc:
            # Stage 1 wrote this topic; an undecodable message means a foreign producer.
            metrics.rejections.labels(STAGE, "undecodable").inc()
            log.error("undecodable message in the clean topic skipped: %s", type(exc).__name__)
            return None
        events_in.labels(STAGE, decoded.name).inc()
        stored = state.get(STATE_KEY)
        current = BuyerState.from_json(stored) if stored is not None else None
        updated, applied = apply_event(current, decoded.name, decoded.record, aggregate_settings)
        if applied == Applied.DUPLICATE:
            duplicates.inc()
            return None
        if applied != Applied.COUNTED or updated is None:
            return None
        state.set(STATE_KEY, updated.to_json())
        event_time: dt.datetime = decoded.record["event_time"]
        latency.observe(max(0.0, time.time() - event_time.timestamp()))
        return updated

    sdf = app.dataframe(clean)
    sdf = sdf.apply(aggregate, stateful=True, metadata=True)
    sdf = sdf.filter(lambda value: value is not None)
    sdf.sink(emitter)
    return runtime
