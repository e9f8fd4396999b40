"""A local HTTP endpoint that accepts every analytics batch, for the producer benchmark.

Each peer SDK posts to its own path prefix (``/segment/v1/batch``, ``/posthog/batch/``...),
gets the 200 answer its client expects, and is counted: requests, events in the batch,
bytes as they arrived on the wire (request line, headers and body, compressed when the
client compressed) and JSON bytes after gzip is undone. ``GET /_sink/stats`` returns the
counters, so the sink can run in a child process of its own: in the benchmark's process
it would compete for the GIL with the SDKs it measures, which a real collector never does.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import threading
import urllib.request
import zlib
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self

STATS_PATH = "/_sink/stats"

# What each client reads in a 200 answer, by path suffix (first match wins): Segment and
# RudderStack parse JSON only on errors, PostHog's legacy /batch/ reports {"status": 1},
# Snowplow reads only the status.
_ANSWERS: tuple[tuple[str, bytes], ...] = (
    ("/v1/batch", b"{}"),
    ("/batch", b'{"status":1}'),
    ("/tp2", b"ok"),
)


@dataclass
class Tally:
    """What one path prefix (one SDK) sent."""

    requests: int = 0
    events: int = 0
    wire_bytes: int = 0
    """Request line + headers + body, as received (compressed if the client compressed)."""
    body_bytes: int = 0
    """The body as received."""
    json_bytes: int = 0
    """The body after undoing gzip / deflate."""
    errors: int = 0
    """Bodies that could not be decoded (answered 400)."""


def count_events(payload: Any) -> int:
    """Events in one batch body: Segment / RudderStack / PostHog ``{"batch": [...]}``,
    Snowplow ``{"schema": ..., "data": [...]}``, a bare list, or one event."""
    if isinstance(payload, list):
        return len(payload)
    if isinstance(payload, dict):
        for key in ("batch", "data"):
            if isinstance(payload.get(key), list):
                return len(payload[key])
    return 1


def decode_body(body: bytes, encoding: str | None) -> bytes:
    """The body with its ``Content-Encoding`` undone."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "identity":
        return body
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


class HttpSink:
    """A threaded HTTP/1.1 server on 127.0.0.1 that answers 200 to every POST and counts it."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[str, Tally] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Serve on a daemon thread of this process (tests); see :class:`SinkProcess`."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-sink", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def tallies(self) -> dict[str, Tally]:
        """A copy of the counters by path prefix (the first path segment)."""
        with self._lock:
            return {prefix: Tally(**asdict(t)) for prefix, t in self._tallies.items()}

    def record(
        self, path: str, *, head_bytes: int, body: bytes, encoding: str | None
    ) -> tuple[int, bytes]:
        """Count one request; return the status and body to answer."""
        prefix = path.strip("/").split("/", 1)[0]
        try:
            decoded = decode_body(body, encoding)
            events = count_events(json.loads(decoded))
        except (ValueError, OSError, zlib.error):  # OSError: gzip.BadGzipFile
            decoded, events, status = b"", 0, 400
        else:
            status = 200
        with self._lock:
            tally = self._tallies.setdefault(prefix, Tally())
            tally.requests += 1
            tally.wire_bytes += head_bytes + len(body)
            tally.body_bytes += len(body)
            tally.json_bytes += len(decoded)
            tally.events += events
            tally.errors += status != 200
        if status != 200:
            return status, b'{"code":"bad_request","message":"undecodable body"}'
        answer = next((a for suffix, a in _ANSWERS if path.rstrip("/").endswith(suffix)), b"{}")
        return status, answer

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _handler_for(sink: HttpSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' sessions expect
        # The answer goes out in two writes (head, body); with Nagle on, the body waits for
        # the client's delayed ACK of the head, 40 ms per request on Linux.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            # The head as it arrived: request line, "Name: value\r\n" lines, blank line.
            head = len(getattr(self, "raw_requestline", b"")) + 2
            head += sum(len(k) + len(v) + 4 for k, v in self.headers.items())
            status, answer = sink.record(
                self.path, head_bytes=head, body=body, encoding=self.headers.get("Content-Encoding")
            )
            self._answer(status, answer)

        def do_GET(self) -> None:
            if self.path != STATS_PATH:
                self._answer(404, b"{}")
                return
            tallies = {prefix: asdict(t) for prefix, t in sink.tallies().items()}
            self._answer(200, json.dumps(tallies).encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: a library never writes to stderr."""

    return Handler


def _serve_in_child(conn: Connection) -> None:
    sink = HttpSink()
    conn.send(sink.port)
    conn.close()
    sink.serve_forever()


class SinkProcess:
    """An :class:`HttpSink` in a child process, so it takes no GIL from the SDKs measured.

    Started with ``spawn``: a forked child would inherit the benchmark's clients and threads
    (and the tracker's at-fork hook would start a Kafka producer in it).
    """

    def __init__(self, *, start_timeout: float = 30.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve_in_child, args=(theirs,), name="http-sink", daemon=True
        )
        self._process.start()
        theirs.close()
        if not ours.poll(start_timeout):
            self.close()
            raise RuntimeError("the HTTP sink did not start")
        self.port = int(ours.recv())
        ours.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tallies(self) -> dict[str, Tally]:
        with urllib.request.urlopen(self.url + STATS_PATH, timeout=10) as answer:  # noqa: S310
            raw: dict[str, dict[str, int]] = json.loads(answer.read())
        return {prefix: Tally(**values) for prefix, values in raw.items()}

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = [
    "STATS_PATH",
    "HttpSink",
    "SinkProcess",
    "Tally",
    "count_events",
    "decode_body",
]
