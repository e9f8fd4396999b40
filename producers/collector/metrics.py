"""The collector's own metrics, on the registry that also exports the tracker's counters.

Labels come from fixed sets (the collector's routes, HTTP status codes, outcomes), never
from the request: no addresses, shop ids, user agents or paths a client made up.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROUTES = frozenset({"/v1/events", "/healthz", "/readyz", "/metrics"})

_SIZE_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "shopstream_collector_requests",
            "HTTP requests answered, by route and status code.",
            ["route", "status"],
            registry=registry,
        )
        self.request_bytes = Histogram(
            "shopstream_collector_request_bytes",
            "Bodies of POST /v1/events as received (before gzip decoding).",
            buckets=_SIZE_BUCKETS,
            registry=registry,
        )
        self.events = Counter(
            "shopstream_collector_events",
            "Events in POST /v1/events: accepted (tracked), rejected (invalid), "
            "refused (the batch got 503).",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("accepted", "rejected", "refused"):
            self.events.labels(outcome)  # export zeros from the start


class RequestCounter:
    """ASGI middleware counting every HTTP answer, CORS preflights and 404s included."""

    def __init__(self, app: ASGIApp, *, metrics: CollectorMetrics) -> None:
        self.app = app
        self.requests = metrics.requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in ROUTES else "other"
        status = "aborted"  # the client went away before an answer

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        except Exception:
            status = "500"
            raise
        finally:
            self.requests.labels(route, status).inc()


__all__ = ["ROUTES", "CollectorMetrics", "RequestCounter"]
