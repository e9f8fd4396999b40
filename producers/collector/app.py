"""The collector's ASGI app: browsers post JSON batches, the events go through a Tracker.

``POST /v1/events`` answers

- 200 ``{"accepted": n, "event_ids": [...]}`` when every event is valid;
- 400 ``{"accepted": n, "event_ids": [...], "rejected": [{"index", "errors"}]}`` when some
  are not (the valid ones are tracked all the same); 400 ``{"error": ...}`` when the body
  is not JSON or not a batch;
- 413 for a body over ``max_body_bytes`` (as received or decompressed) and for more than
  ``max_events_per_batch`` events (nothing of the batch is tracked);
- 415 for a content type other than JSON or a content coding other than gzip;
- 503 with ``Retry-After`` when the tracker could not keep the whole batch (see
  :mod:`~shopstream.producers.collector.admission`); nothing of it is tracked.

The tracker belongs to the caller, who closes it after the server has stopped.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shopstream.producers.collector.admission import Admission, Refusal
from shopstream.producers.collector.batch import Batch, build_events, parse_batch
from shopstream.producers.collector.body import (
    BoundedBody,
    check_content_length,
    check_content_type,
)
from shopstream.producers.collector.errors import CollectorError
from shopstream.producers.collector.metrics import CollectorMetrics, RequestCounter
from shopstream.producers.collector.readiness import BrokerProbe
from shopstream.producers.collector.settings import CollectorSettings
from shopstream.producers.stats import register_metrics
from shopstream.producers.tracker import Tracker

_log = logging.getLogger(__name__)

CORS_HEADERS = ("Content-Type", "Content-Encoding", "X-Shop-Id")


def create_app(
    tracker: Tracker, settings: CollectorSettings, *, registry: CollectorRegistry | None = None
) -> Starlette:
    """The collector for ``tracker``.

    ``registry`` should be the one the tracker was created with, so that ``/metrics``
    shows the tracker's counters beside the collector's; without one, a new registry
    gets both.
    """
    if registry is None:
        registry = CollectorRegistry()
        register_metrics(registry, tracker.stats)
    metrics = CollectorMetrics(registry)
    endpoints = _Endpoints(tracker, settings, metrics)
    middleware = [Middleware(RequestCounter, metrics=metrics)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["POST"],
                allow_headers=CORS_HEADERS,
                max_age=600,
            )
        )
    routes = [
        Route("/v1/events", endpoints.post_events, methods=["POST"]),
        Route("/healthz", endpoints.healthz, methods=["GET"]),
        Route("/readyz", endpoints.readyz, methods=["GET"]),
        Route("/metrics", endpoints.metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=middleware)


class _Endpoints:
    def __init__(
        self, tracker: Tracker, settings: CollectorSettings, metrics: CollectorMetrics
    ) -> None:
        self.tracker = tracker
        self.settings = settings
        self._metrics = metrics
        self._admission = Admission(tracker)
        self._probe = BrokerProbe(tracker, timeout_s=settings.readiness_timeout_s)

    async def post_events(self, request: Request) -> Response:
        headers = request.headers
        try:
            check_content_type(headers.get("content-type"))
            body = BoundedBody(headers.get("content-encoding"), self.settings.max_body_bytes)
            check_content_length(headers.get("content-length"), self.settings.max_body_bytes)
            if self.tracker.spool_full:  # cheap, before reading a body we cannot keep
                return self._unavailable(Refusal("spool_full"), Batch())
            try:
                async for chunk in request.stream():
                    body.feed(chunk)
            finally:
                self._metrics.request_bytes.observe(body.received)
            batch, outcome = await run_in_threadpool(
                self._process, body.finish(), headers.get("x-shop-id")
            )
        except CollectorError as exc:
            _log.info("events request refused: %s (%s)", exc.status, exc.code)
            return JSONResponse({"error": exc.code, "detail": str(exc)}, exc.status)
        except ClientDisconnect:  # gone before its body arrived: nothing was tracked
            _log.info("events request abandoned by the client")
            return JSONResponse({"error": "client_disconnected"}, 400)
        events = self._metrics.events
        events.labels("rejected").inc(len(batch.rejected))
        if isinstance(outcome, Refusal):
            return self._unavailable(outcome, batch)
        events.labels("accepted").inc(len(outcome))
        answer: dict[str, Any] = {
            "accepted": len(outcome),
            "event_ids": [str(event_id) for event_id in outcome],
        }
        if batch.rejected:
            answer["rejected"] = batch.rejected
            rules = sorted(
                {f"{e['field']}:{e['rule']}" for r in batch.rejected for e in r["errors"]}
            )
            _log.info(
                "events request: %d accepted, %d rejected (%s)",
                len(outcome),
                len(batch.rejected),
                ", ".join(rules[:10]),  # field paths and rule names only
            )
            return JSONResponse(answer, 400)
        _log.debug("events request: %d accepted", len(outcome))
        return JSONResponse(answer, 200)

    def _process(self, body: bytes, shop_id: str | None) -> tuple[Batch, list[uuid.UUID] | Refusal]:
        """Parse, validate and track: CPU work, run off the event loop."""
        items = parse_batch(body, max_events=self.settings.max_events_per_batch)
        batch = build_events(items, shop_id=shop_id)
        return batch, self._admission.track(batch.events)

    def _unavailable(self, refusal: Refusal, batch: Batch) -> Response:
        self._metrics.events.labels("refused").inc(len(batch.events))
        _log.warning("events request refused with 503: %s", refusal.reason)
        retry_after = self.settings.retry_after_s
        return JSONResponse(
            {"error": refusal.reason, "retry_after_s": retry_after},
            503,
            headers={"Retry-After": str(retry_after)},
        )

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(self, request: Request) -> Response:
        if await run_in_threadpool(self._probe.probe):
            return JSONResponse({"status": "ready", "broker": "reachable"})
        return JSONResponse({"status": "not ready", "broker": "unreachable"}, 503)

    def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self._metrics.registry), media_type=CONTENT_TYPE_LATEST)


__all__ = ["create_app"]
