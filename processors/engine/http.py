"""The stage's small HTTP port: ``/metrics``, ``/healthz``, ``/readyz``.

Standard library only, one daemon thread: it must keep answering while the processing
loop is busy, and it must never be able to stop the stage.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Probe = Callable[[], tuple[bool, dict[str, Any]]]
"""() -> (ok, details shown as JSON)."""


class StageHTTPServer:
    """Serves the probes and the metrics of one stage until :meth:`close`."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        healthy: Probe,
        ready: Probe,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_routes: dict[str, Callable[[], tuple[int, str, bytes]]] | None = None,
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry)),
            "/healthz": lambda: _probe(healthy),
            "/readyz": lambda: _probe(ready),
            **(extra_routes or {}),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, ctype, body = 404, "text/plain", b"not found\n"
                else:
                    try:
                        status, ctype, body = route()
                    except Exception as exc:  # a broken probe answers 500, never kills the port
                        status, ctype, body = 500, "text/plain", f"{type(exc).__name__}\n".encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Scrapes every few seconds are not worth a log line."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="shopstream-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> StageHTTPServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _probe(probe: Probe) -> tuple[int, str, bytes]:
    ok, details = probe()
    body = json.dumps({"ok": ok, **details}, default=str).encode() + b"\n"
    return (200 if ok else 503), "application/json", body
