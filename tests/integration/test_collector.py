"""The collector end to end: a real uvicorn on loopback, real HTTP, a real Tracker and broker.

Every bad request gets its documented status and nothing of it reaches the topic; the
valid events of a partly invalid batch do, exactly. No answer and no log line carries a
value that was sent (the synthetic phone number below).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from confluent_kafka import Consumer
from prometheus_client import CollectorRegistry

from shopstream.producers import QueueFullPolicy, Tracker, TrackerConfig
from shopstream.producers.collector import CollectorSettings, create_app
from shopstream.schemas import Codec
from shopstream.schemas.examples import example_events

PHONE = "010-0000-9876"  # synthetic; sent in valid and invalid events, never echoed or logged
JSON = {"Content-Type": "application/json"}


@dataclass
class RunningCollector:
    url: str
    tracker: Tracker
    server: uvicorn.Server
    thread: threading.Thread

    def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(f"{self.url}/v1/events", content=content, headers=headers or JSON)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", **kwargs)


@pytest.fixture
def collector_factory() -> Iterator[Callable[..., RunningCollector]]:
    """Start collectors in this process: `collector_factory(tracker_config, **settings)`."""
    running: list[RunningCollector] = []

    def start(tracker_config: TrackerConfig, **settings: Any) -> RunningCollector:
        registry = CollectorRegistry()
        tracker = Tracker(tracker_config, registry=registry)
        app = create_app(
            tracker, CollectorSettings(tracker=tracker_config, **settings), registry=registry
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        # log_config=None: leave the test process's logging (and caplog) alone.
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        collector = RunningCollector(
            f"http://127.0.0.1:{sock.getsockname()[1]}", tracker, server, thread
        )
        running.append(collector)
        return collector

    yield start
    for collector in running:
        collector.server.should_exit = True
        collector.thread.join(10)
        collector.tracker.close(5)


def event(kind: str, **update: Any) -> dict[str, Any]:
    """A valid batch item, JSON as a browser sends it, with a fresh id."""
    fields = example_events()[kind].model_dump(mode="json")
    fields.update(event_id=str(uuid.uuid4()), **update)
    return {"type": kind, **fields}


def read_records(
    bootstrap: str, topic: str, expected: int, *, timeout: float = 60, idle: float = 5
) -> list[dict[str, Any]]:
    """Every record on the topic: until `expected` arrived, then a grace period for extras."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    codec = Codec()
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None:
                    records.append(codec.decode(msg.value()).record)
                    last_new = time.monotonic()
            waited = time.monotonic() - last_new
            if (len(records) >= expected and waited > 2) or waited > idle + 10:
                break
    finally:
        consumer.close()
    return records


def dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens


def test_bad_requests_get_their_status_and_only_valid_events_reach_the_topic(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    collector_factory: Callable[..., RunningCollector],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    topic = topic_factory(partitions=3, stem="collector")
    collector = collector_factory(
        TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic),
        max_body_bytes=16 * 1024,
        max_events_per_batch=20,
    )
    answers: list[httpx.Response] = []

    def post(body: Any, status: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
        answer = collector.post(body, headers)
        answers.append(answer)
        assert answer.status_code == status, answer.text
        return dict(answer.json())

    bad_signup = event("signup", phone=f"{PHONE}-x")  # wrong format; must not be echoed
    assert post(b'{"events": [{"type": "visit",', 400)["error"] == "malformed_batch"
    assert post(gzip.compress(b"[{]"), 400, JSON | {"Content-Encoding": "gzip"})
    wrong_types = post(
        [event("visit", dwell_ms="long"), event("review", rating="five"), bad_signup], 400
    )
    assert wrong_types["accepted"] == 0
    assert wrong_types["rejected"] == [
        {"index": 0, "errors": [{"field": "dwell_ms", "rule": "int_parsing"}]},
        {"index": 1, "errors": [{"field": "rating", "rule": "int_parsing"}]},
        {"index": 2, "errors": [{"field": "phone", "rule": "string_pattern_mismatch"}]},
    ]
    review = event("review")
    del review["product_id"]
    missing = post({"events": [review, {"type": "purchase", "shop_id": "shop-1"}]}, 400)
    assert missing["rejected"][0]["errors"] == [{"field": "product_id", "rule": "missing"}]
    assert {e["field"] for e in missing["rejected"][1]["errors"]} >= {"order_id", "items", "total"}
    assert post(b"[" + b" " * 17_000 + b"]", 413)["error"] == "body_too_large"
    chunked = httpx.post(  # no Content-Length: counted while it arrives
        f"{collector.url}/v1/events",
        content=iter([b"[", b" " * 9000, b" " * 9000, b"]"]),
        headers=JSON,
    )
    assert chunked.status_code == 413
    assert "content-length" not in chunked.request.headers
    bomb = gzip.compress(json.dumps([event("visit") for _ in range(20)] * 10).encode())
    assert len(bomb) < 16 * 1024
    assert post(bomb, 413, JSON | {"Content-Encoding": "gzip"})["error"] == "body_too_large"
    assert post([event("visit")], 415, {"Content-Type": "text/plain"})["error"] == (
        "unsupported_media_type"
    )
    assert post([event("visit")], 415, JSON | {"Content-Encoding": "br"})
    assert post([event("visit") for _ in range(21)], 413)["error"] == "too_many_events"

    # A mixed batch: 400, and its valid events are accepted all the same.
    valid = [event("signup", phone=PHONE), event("visit"), event("purchase"), event("product")]
    mixed = post([valid[0], bad_signup, *valid[1:], event("review", rating=6)], 400)
    assert mixed["accepted"] == 4
    assert mixed["event_ids"] == [e["event_id"] for e in valid]
    assert [r["index"] for r in mixed["rejected"]] == [1, 5]
    assert mixed["rejected"][1]["errors"] == [{"field": "rating", "rule": "less_than_equal"}]
    # gzip, with charset, shop id from the header, ids and times filled in by the collector.
    anonymous = {"type": "visit", "anonymous_id": "anon-7", "session_id": "sess-7"}
    zipped = [event("visit"), anonymous]
    ok = post(
        gzip.compress(json.dumps({"events": zipped}).encode()),
        200,
        {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Encoding": "gzip",
            "X-Shop-Id": "shop-from-header",
        },
    )
    assert ok["accepted"] == 2
    assert ok["event_ids"][0] == zipped[0]["event_id"]
    assert set(ok) == {"accepted", "event_ids"}

    accepted = set(mixed["event_ids"]) | set(ok["event_ids"])
    records = read_records(kafka_bootstrap, topic, len(accepted))
    assert sorted(str(r["event_id"]) for r in records) == sorted(accepted)
    by_id = {str(r["event_id"]): r for r in records}
    assert by_id[ok["event_ids"][1]]["shop_id"] == "shop-from-header"
    assert by_id[mixed["event_ids"][0]]["phone"] == PHONE  # the raw topic holds it, by design

    for answer in answers:
        assert "0000-9876" not in answer.text
    assert "0000-9876" not in caplog.text
    assert "events request" in caplog.text  # the collector did log, without values


def test_a_full_spool_answers_503_with_retry_after_and_accepted_events_are_kept(
    tmp_path: Path, collector_factory: Callable[..., RunningCollector]
) -> None:
    collector = collector_factory(
        TrackerConfig(
            bootstrap_servers=dead_address(),
            topic="unreachable",
            on_full=QueueFullPolicy.SPOOL,
            spool_dir=tmp_path,
            spool_max_bytes=4096,
            queue_size=4,
            delivery_timeout_ms=1000,
        ),
        retry_after_s=7,
    )
    statuses: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = collector.post([event("visit"), event("signup", phone=PHONE)])
        statuses.append(answer.status_code)
        if answer.status_code == 503:
            break
        time.sleep(0.05)
    assert statuses[-1] == 503, statuses
    assert set(statuses[:-1]) == {200}
    assert answer.headers["Retry-After"] == "7"
    assert answer.json() == {"error": "spool_full", "retry_after_s": 7}
    assert "0000-9876" not in answer.text
    # Once what was in flight has timed out into the spool, nothing accepted was dropped.
    time.sleep(2.5)
    stats = collector.tracker.stats()
    assert stats.dropped == 0, stats
    assert stats.tracked == stats.spooled == 2 * (len(statuses) - 1)
    assert 0 < stats.spool_bytes <= 4096


def test_health_and_readiness(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    collector_factory: Callable[..., RunningCollector],
) -> None:
    up = collector_factory(
        TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic_factory(stem="ready"))
    )
    down = collector_factory(
        TrackerConfig(bootstrap_servers=dead_address(), topic="unreachable"),
        readiness_timeout_s=0.5,
    )
    for collector in (up, down):
        assert collector.get("/healthz").status_code == 200
    assert up.get("/readyz").status_code == 200
    started = time.monotonic()
    assert down.get("/readyz").status_code == 503
    assert time.monotonic() - started < 3


def test_metrics_show_the_tracker_and_the_requests(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    collector_factory: Callable[..., RunningCollector],
) -> None:
    collector = collector_factory(
        TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic_factory(stem="metrics"))
    )
    shop = {"X-Shop-Id": "shop-metrics-label"}
    assert collector.post([event("visit"), event("visit")], JSON | shop).status_code == 200
    assert collector.post([{"type": "visit"}], JSON | shop).status_code == 400
    assert collector.post(b"[]", {"Content-Type": "text/plain"}).status_code == 415
    assert collector.tracker.flush(30) == 0
    text = collector.get("/metrics").text
    assert 'shopstream_tracker_events_total{outcome="tracked"} 2.0' in text
    assert 'shopstream_tracker_events_total{outcome="sent"} 2.0' in text
    assert 'shopstream_collector_requests_total{route="/v1/events",status="200"} 1.0' in text
    assert 'shopstream_collector_requests_total{route="/v1/events",status="400"} 1.0' in text
    assert 'shopstream_collector_requests_total{route="/v1/events",status="415"} 1.0' in text
    assert 'shopstream_collector_events_total{outcome="accepted"} 2.0' in text
    assert 'shopstream_collector_events_total{outcome="rejected"} 1.0' in text
    assert "shopstream_collector_request_bytes_count 2.0" in text  # the 415 is not read
    assert "shop-metrics-label" not in text
    assert "127.0.0.1" not in text


def test_cors_preflight_is_answered_only_for_configured_origins(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    collector_factory: Callable[..., RunningCollector],
) -> None:
    config = TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic_factory(stem="cors"))
    with_cors = collector_factory(config, cors_origins=["https://shop.example"])
    without = collector_factory(config)
    preflight = {
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, content-encoding, x-shop-id",
    }
    answer = httpx.options(f"{with_cors.url}/v1/events", headers=preflight)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "x-shop-id" in answer.headers["access-control-allow-headers"].lower()
    other = httpx.options(
        f"{with_cors.url}/v1/events", headers=preflight | {"Origin": "https://evil.example"}
    )
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    posted = with_cors.post([event("visit")], JSON | {"Origin": "https://shop.example"})
    assert posted.status_code == 200
    assert posted.headers["access-control-allow-origin"] == "https://shop.example"
    plain = httpx.options(f"{without.url}/v1/events", headers=preflight)
    assert "access-control-allow-origin" not in plain.headers


def test_the_command_stops_on_sigterm_after_delivering_what_it_accepted(
    kafka_bootstrap: str, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory(partitions=2, stem="collector-cli")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = (
        "import typer\n"
        "from shopstream.producers.collector.cli import collector\n"
        "typer.run(collector)\n"
    )
    log = (tmp_path / "collector.log").open("w+")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPSTREAM_")}
    options = ["--bootstrap-servers", kafka_bootstrap, "--cors-origin", "https://shop.example"]
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--port", str(port), "--topic", topic, *options],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        sent: list[str] = []
        for _ in range(5):
            batch = [event("signup", phone=PHONE)] + [event("visit") for _ in range(19)]
            answer = httpx.post(f"{url}/v1/events", json=batch)
            assert answer.status_code == 200, answer.text
            sent += answer.json()["event_ids"]
        assert (
            httpx.post(f"{url}/v1/events", json=[{"type": "signup", "phone": PHONE}]).status_code
            == 400
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    records = read_records(kafka_bootstrap, topic, len(sent))
    assert sorted(str(r["event_id"]) for r in records) == sorted(sent)
    log.seek(0)
    output = log.read()
    assert "Uvicorn running on" in output
    assert "events request: 0 accepted, 1 rejected (shop_id:missing)" in output
    assert f"tracker: {len(sent)} tracked, {len(sent)} sent" in output
    assert "0000-9876" not in output
