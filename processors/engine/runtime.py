"""What both stages do around the engine: topics, metrics port, lag, readiness, shutdown.

A :class:`StageRuntime` wraps one stage's engine: a Quix Streams ``Application`` (stage 2)
or a :class:`~shopstream.processors.engine.loop.TransactionalLoop` (stage 1). The engine
owns the consume–process–produce loop, its Kafka transactions and (stage 2) the state
store; this module owns everything an operator sees. Only this package imports Quix.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined,unused-ignore]
from quixstreams import Application

from shopstream.processors.engine.http import StageHTTPServer
from shopstream.processors.engine.lag import LagMonitor
from shopstream.processors.engine.loop import client_configs, poll_timeout
from shopstream.processors.engine.metrics import LagCollector, RestoreCollector, StageMetrics
from shopstream.processors.engine.settings import StageSettings
from shopstream.processors.engine.status import status_routes
from shopstream.processors.topics import PIPELINE_TOPICS, create_topics

log = logging.getLogger(__name__)


def new_application(
    settings: StageSettings,
    *,
    group: str,
    stateful: bool,
    on_processed: Callable[[str, int, int], None] | None = None,
) -> Application:
    """A Quix ``Application`` with exactly-once processing, configured from ``settings``
    (the client settings every stage shares: :func:`~shopstream.processors.engine.loop.client_configs`)."""
    consumer_config, producer_config = client_configs(settings, group=group)
    return Application(
        broker_address=settings.bootstrap_servers,
        consumer_group=group,
        auto_offset_reset=settings.auto_offset_reset,
        commit_interval=settings.commit_interval_s,
        processing_guarantee="exactly-once",
        state_dir=str(settings.state_dir),
        use_changelog_topics=stateful,
        consumer_extra_config=consumer_config,
        producer_extra_config=producer_config,
        # Logging is the command line's business (JSON logs); the engine only emits.
        loglevel=None,
        on_message_processed=on_processed,
        consumer_poll_timeout=poll_timeout(settings),
    )


def ensure_pipeline_topics(settings: StageSettings) -> None:
    """Create the pipeline's topics that are missing, under the names ``settings`` gives them.

    Existing topics are never altered (``shopstream topics check`` reports drift).
    """
    names = {
        "shop.events.raw": settings.raw_topic,
        "shop.events.clean": settings.clean_topic,
        "shop.events.dlq": settings.dlq_topic,
        "shop.buyers.features": settings.features_topic,
    }
    specs = [replace(spec, name=names[spec.name]) for spec in PIPELINE_TOPICS if spec.name in names]
    admin = AdminClient(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "logger": logging.getLogger("shopstream.topics.client"),
            **settings.kafka_config,
        }
    )
    create_topics(admin, specs)


class Engine(Protocol):
    """What a stage's runtime needs of its engine: run until stopped (SIGTERM included)."""

    def run(self) -> object: ...

    def stop(self) -> None: ...


class StageRuntime:
    """Runs one stage's engine with its metrics port and lag monitor, until stopped."""

    def __init__(
        self,
        engine: Engine,
        settings: StageSettings,
        metrics: StageMetrics,
        *,
        group: str,
        input_topic: str,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self._group = group
        self._input_topic = input_topic
        self._lag = LagMonitor(
            settings.bootstrap_servers,
            group,
            input_topic,
            interval_s=settings.lag_interval_s,
            client_config={**settings.kafka_config},
        )
        metrics.registry.register(LagCollector(metrics.stage, self._lag.snapshot))
        metrics.registry.register(RestoreCollector(self._restore_progress))
        self._started = time.monotonic()
        self._last_processed = 0.0
        self._running = threading.Event()
        self.http: StageHTTPServer | None = None
        # Computed at scrape time, so the gauge is right whether or not anyone probes /readyz.
        metrics.ready.labels(metrics.stage).set_function(lambda: 1.0 if self._is_ready() else 0.0)

    # -- probes ------------------------------------------------------------------------------
    def mark_processed(self) -> None:
        self._last_processed = time.monotonic()

    def _healthy(self) -> tuple[bool, dict[str, Any]]:
        return True, {
            "stage": self.metrics.stage,
            "uptime_s": round(time.monotonic() - self._started, 1),
        }

    def _is_ready(self) -> bool:
        return self._running.is_set() and not self._restore_progress()

    def _ready(self) -> tuple[bool, dict[str, Any]]:
        restoring = self._restore_progress()
        ok = self._running.is_set() and not restoring
        return ok, {
            "stage": self.metrics.stage,
            "running": self._running.is_set(),
            "restoring_partitions": len(restoring),
        }

    def _restore_progress(self) -> dict[int, int]:
        """Changelog messages left per partition while the state restores; {} otherwise.

        Reads Quix's recovery manager (pinned version; see pyproject.toml); an engine without
        state has none. A failure to read it reports nothing rather than breaking a scrape.
        """
        manager = getattr(getattr(self.engine, "_state_manager", None), "_recovery_manager", None)
        if manager is None:
            return {}
        try:
            remaining: dict[int, int] = {}
            for partition, changelogs in dict(manager.partitions).items():
                for rp in list(changelogs.values()):
                    position = rp.recovery_consume_position
                    left = rp.changelog_highwater - (position if position is not None else 0)
                    remaining[partition] = remaining.get(partition, 0) + max(0, left)
            return remaining
        except Exception:  # engine internals moved: report nothing
            log.debug("state-restore progress unavailable", exc_info=True)
            return {}

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> None:
        """Process until SIGTERM/SIGINT (handled by the engine: commit or abort, then close)."""
        if self.settings.metrics_port is not None:
            self.http = StageHTTPServer(
                self.metrics.registry,
                healthy=self._healthy,
                ready=self._ready,
                host=self.settings.metrics_host,
                port=self.settings.metrics_port,
                extra_routes=status_routes(
                    self.metrics.registry,
                    stage=self.metrics.stage,
                    dlq_topic=self.settings.dlq_topic,
                    ready=self._ready,
                ),
            ).start()
            log.info(
                "metrics and probes on http://%s:%d/metrics",
                self.settings.metrics_host,
                self.http.port,
            )
        self._lag.start()
        self._running.set()
        try:
            self.engine.run()
        finally:
            self._running.clear()
            self._lag.close()
            if self.http is not None:
                self.http.close()

    def stop(self) -> None:
        self.engine.stop()
