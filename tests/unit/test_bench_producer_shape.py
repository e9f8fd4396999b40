"""`shopstream bench producer`: the HTTP sink, the workload and the JSON shape, without a broker.

Figures are not asserted (a benchmark); the peers run only where the `bench` extra is
installed, and are reported as skipped otherwise.
"""

from __future__ import annotations

import gzip
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopstream.processors.benchmarks import producer
from shopstream.processors.benchmarks.http_sink import STATS_PATH, HttpSink
from shopstream.processors.cli import app
from shopstream.schemas.models import EVENT_CLASSES

FIGURES = {"p50_us", "p99_us", "events_per_s", "wire_bytes"}


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as running:
        yield running


def post(url: str, body: bytes, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 (a loopback URL built by the test)
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_sink_counts_events_and_bytes_as_sent(sink: HttpSink) -> None:
    batch = json.dumps({"batch": [{"event": "a"}, {"event": "b"}, {"event": "c"}]}).encode()
    packed = gzip.compress(batch)
    snowplow = json.dumps({"schema": "iglu:x", "data": [{"e": "pv"}, {"e": "pv"}]}).encode()

    assert post(f"{sink.url}/segment/v1/batch", batch) == (200, b"{}")
    assert post(f"{sink.url}/rudderstack/v1/batch", packed, **{"Content-Encoding": "gzip"}) == (
        200,
        b"{}",
    )
    assert post(f"{sink.url}/posthog/batch/", batch) == (200, b'{"status":1}')
    assert post(f"{sink.url}/snowplow/com.snowplowanalytics.snowplow/tp2", snowplow)[0] == 200

    tallies = sink.tallies()
    assert {name: t.events for name, t in tallies.items()} == {
        "segment": 3,
        "rudderstack": 3,
        "posthog": 3,
        "snowplow": 2,
    }
    rudder = tallies["rudderstack"]
    assert rudder.body_bytes == len(packed)  # on the wire: compressed
    assert rudder.json_bytes == len(batch)
    assert rudder.wire_bytes > rudder.body_bytes  # request line and headers count too
    assert tallies["segment"].body_bytes == tallies["segment"].json_bytes == len(batch)

    with urllib.request.urlopen(sink.url + STATS_PATH, timeout=10) as answer:  # noqa: S310
        assert json.loads(answer.read())["rudderstack"]["body_bytes"] == len(packed)


def test_sink_answers_400_to_an_undecodable_body_and_counts_it(sink: HttpSink) -> None:
    status, _ = post(f"{sink.url}/segment/v1/batch", b"not gzip", **{"Content-Encoding": "gzip"})
    assert status == 400
    assert sink.tallies()["segment"].errors == 1
    assert sink.tallies()["segment"].events == 0


def test_workload_is_three_page_views_then_a_purchase_that_validates() -> None:
    events = [producer.shopper_event(i) for i in range(8)]
    assert [producer.event_kind(e) for e in events[:4]] == ["page_view"] * 3 + ["purchase"]
    for event in events:
        helper, fields = producer.tracker_call(event)
        # What the benchmark asks of the tracker is valid, so no call is a cheap rejection.
        EVENT_CLASSES[helper].model_validate(fields | {"shop_id": producer.SHOP_ID})


def test_table_and_goal_compare_with_the_fastest_peer() -> None:
    row = {"events_per_s": 1000, "wire_bytes": 100.0}
    results = {
        "shopstream": {"p50_us": 10.0, "p99_us": 90.0, **row},
        "snowplow": {"p50_us": 40.0, "p99_us": 200.0, **row},
        "segment": {"p50_us": 30.0, "p99_us": 300.0, **row},
        "rudderstack": {"skipped": "rudder-sdk-python is not installed"},
        "posthog": {"p50_us": 90.0, "p99_us": 250.0, **row},
    }
    assert producer.fastest_peer(results) == "segment"
    assert producer.goal(results) == {
        "fastest_peer": "segment",
        "p50_ratio": 0.333,
        "p50_met": True,
        "p99_met": True,
    }
    lines = producer.table(results)
    assert lines[2].startswith("| shopstream | 10.0 | 90.0 | 1,000 | 100 | 0.33× | 0.30×")
    assert "skipped: rudder-sdk-python is not installed" in lines[5]


def test_bench_producer_writes_one_object_per_system(tmp_path: Path) -> None:
    out = tmp_path / "producer.json"
    peers = [arg for name in producer.PEERS for arg in ("--system", name)]
    sizes = ["--events", "8", "--rounds", "1", "--warmup", "0"]
    result = CliRunner().invoke(app, ["bench", "producer", "--json", str(out), *sizes, *peers])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert list(figures) == list(producer.SYSTEMS)
    assert figures["shopstream"] == {"skipped": "not selected"}  # no broker in unit tests
    for name in producer.PEERS:
        row = figures[name]
        if "skipped" in row:
            assert "not installed" in row["skipped"]
            continue
        assert row.keys() >= FIGURES
        assert row["delivered"] == 8
        assert row["failures"] == 0
        assert all(row[key] > 0 for key in FIGURES)
