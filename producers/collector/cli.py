"""`shopstream collector`: serve the HTTP collector with uvicorn until SIGTERM or Ctrl-C.

Options override the environment (``SHOPSTREAM_COLLECTOR_*`` for the server,
``SHOPSTREAM_TRACKER_*`` for the tracker); everything else comes from there.
"""

from __future__ import annotations

import logging
import signal
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import uvicorn
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from shopstream.producers.collector.app import create_app
from shopstream.producers.collector.settings import CollectorSettings
from shopstream.producers.config import TrackerConfig
from shopstream.producers.tracker import Tracker

GRACEFUL_SHUTDOWN_S = 10

_log = logging.getLogger(__name__)


class BackendChoice(StrEnum):
    confluent = "confluent"
    kafka_python = "kafka-python"


def collector(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="TCP port to listen on (default: 8088).")] = None,
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(
            help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)."
        ),
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Raw events topic to produce to (default: shop.events.raw).")
    ] = None,
    backend: Annotated[
        BackendChoice | None,
        typer.Option(
            help="Kafka client: confluent (librdkafka) or kafka-python (default: confluent)."
        ),
    ] = None,
    spool_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the tracker's on-disk spool: events wait there through a broker "
            "outage (default: no spool; SHOPSTREAM_TRACKER_ON_FULL=spool spools a full queue too)."
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Browser origin allowed to post events, e.g. https://shop.example; repeat for "
            "more, '*' for any (default: no CORS)."
        ),
    ] = None,
) -> None:
    """Accept JSON event batches from browsers over HTTP and produce them to Kafka.

    POST /v1/events takes {"events": [{"type": "visit", ...}, ...]} (gzip allowed);
    /healthz, /readyz and /metrics are for operations. SIGTERM stops accepting
    connections, finishes the requests under way, then flushes the tracker.
    """
    try:
        settings = _settings(
            {"host": host, "port": port, "cors_origins": cors_origin or None},
            {
                "bootstrap_servers": bootstrap_servers,
                "topic": topic,
                "backend": backend.value if backend is not None else None,
                "spool_dir": spool_dir,
            },
        )
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.secho(
                f"invalid collector setting: {where}: {error['msg']}", err=True, fg=typer.colors.RED
            )
        raise typer.Exit(2) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # uvicorn stops gracefully on SIGTERM, then raises it again; this handler turns that
    # into an exception, so the tracker below is closed before the process ends.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    registry = CollectorRegistry()
    tracker = Tracker(settings.tracker, registry=registry)
    try:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(tracker, settings, registry=registry),
                host=settings.host,
                port=settings.port,
                access_log=False,  # its lines carry client addresses: personal data
                server_header=False,
                lifespan="off",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
        )
        server.run()
    finally:
        tracker.close()
        stats = tracker.stats()
        _log.info(
            "collector stopped; tracker: %d tracked, %d sent, %d spooled, %d failed, %d dropped",
            stats.tracked,
            stats.sent,
            stats.spooled,
            stats.failed,
            stats.dropped,
        )


def _settings(server: dict[str, Any], tracker: dict[str, Any]) -> CollectorSettings:
    """Environment and defaults, with the options that were given on top."""
    tracker_config = TrackerConfig(**{k: v for k, v in tracker.items() if v is not None})
    given = {k: v for k, v in server.items() if v is not None}
    return CollectorSettings(tracker=tracker_config, **given)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


__all__ = ["collector"]
