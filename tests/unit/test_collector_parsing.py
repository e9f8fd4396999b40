"""The collector's pure parts: content checks, bounded (gzip) bodies, batch parsing,
per-event errors without values, and the rule that admits a batch into the tracker."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from shopstream.producers import TrackerConfig, TrackerStats
from shopstream.producers.collector.admission import Admission, Refusal
from shopstream.producers.collector.batch import build_events, field_path, parse_batch
from shopstream.producers.collector.body import (
    BoundedBody,
    check_content_length,
    check_content_type,
    decode_body,
)
from shopstream.producers.collector.errors import (
    BodyTooLargeError,
    MalformedBatchError,
    TooManyEventsError,
    UnsupportedMediaTypeError,
)
from shopstream.producers.collector.settings import CollectorSettings
from shopstream.producers.config import QueueFullPolicy
from shopstream.producers.tracker import Tracker
from shopstream.schemas.examples import example_events
from shopstream.schemas.models import Event, VisitEvent

PHONE = "010-0000-4321"  # synthetic; must never be echoed


def item(kind: str, **update: Any) -> dict[str, Any]:
    """A valid batch item of ``kind`` as a browser would post it."""
    fields = example_events()[kind].model_dump(mode="json")
    fields.update(update)
    return {"type": kind, **fields}


def minimal_visit(**update: Any) -> dict[str, Any]:
    return {"type": "visit", "shop_id": "shop-1", "anonymous_id": "anon-1", "session_id": "s-1"} | (
        update
    )


# -- content type and size ------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_content_types_are_accepted(value: str) -> None:
    check_content_type(value)


@pytest.mark.parametrize(
    "value", [None, "", "text/plain", "application/jsonp", "application/x-www-form-urlencoded"]
)
def test_other_content_types_are_415(value: str | None) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as raised:
        check_content_type(value)
    assert raised.value.status == 415


@pytest.mark.parametrize("coding", ["br", "deflate", "compress"])
def test_content_codings_other_than_gzip_are_415(coding: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        BoundedBody(coding, 1024)


def test_a_declared_length_over_the_limit_is_413_before_reading() -> None:
    check_content_length(None, 1024)
    check_content_length("1024", 1024)
    with pytest.raises(BodyTooLargeError) as raised:
        check_content_length("1025", 1024)
    assert raised.value.status == 413
    with pytest.raises(MalformedBatchError):
        check_content_length("lots", 1024)


def test_a_plain_body_is_bounded_as_it_arrives() -> None:
    assert decode_body([b"a" * 600, b"b" * 424], limit=1024) == b"a" * 600 + b"b" * 424
    body = BoundedBody(None, 1024)
    body.feed(b"x" * 1000)
    with pytest.raises(BodyTooLargeError):
        body.feed(b"x" * 25)


def test_gzip_is_decoded_across_arbitrary_chunks() -> None:
    payload = json.dumps([minimal_visit(dwell_ms=i) for i in range(50)]).encode()
    packed = gzip.compress(payload)
    chunks = [packed[i : i + 7] for i in range(0, len(packed), 7)]
    assert decode_body(chunks, content_encoding="gzip", limit=len(payload)) == payload
    assert decode_body([packed], content_encoding="x-gzip", limit=len(payload)) == payload


def test_the_decoded_size_limit_is_exact() -> None:
    packed = gzip.compress(b"z" * 4096)
    assert len(decode_body([packed], content_encoding="gzip", limit=4096)) == 4096
    with pytest.raises(BodyTooLargeError):
        decode_body([packed], content_encoding="gzip", limit=4095)


def test_concatenated_gzip_members_are_one_body() -> None:
    packed = gzip.compress(b'[{"a": ') + gzip.compress(b"1}]")
    assert decode_body([packed], content_encoding="gzip", limit=1024) == b'[{"a": 1}]'


@pytest.mark.parametrize(
    "packed", [gzip.compress(b"[1, 2, 3]")[:-6], b"not gzip at all", gzip.compress(b"[]") + b"junk"]
)
def test_broken_gzip_is_malformed(packed: bytes) -> None:
    with pytest.raises(MalformedBatchError) as raised:
        decode_body([packed], content_encoding="gzip", limit=1024)
    assert raised.value.status == 400


def _bomb(decoded_mib: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(decoded_mib)) + packer.flush()


def test_a_gzip_bomb_is_stopped_at_the_limit_without_inflating_it() -> None:
    bomb = _bomb(64)  # 64 MiB of zeros in about 64 KiB
    assert len(bomb) < 100 * 1024
    limit = CollectorSettings().max_body_bytes
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(BodyTooLargeError):
            decode_body(
                [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)],
                content_encoding="gzip",
                limit=limit,
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * limit, f"held {peak} bytes while decoding"
    assert time.monotonic() - started < 1.0


def test_the_body_as_received_is_bounded_even_when_gzip_shrinks_it() -> None:
    body = BoundedBody("gzip", 1024)
    with pytest.raises(BodyTooLargeError):
        body.feed(bytes(2048))  # counted as received, before any decoding


def test_settings_come_from_the_environment_and_reject_misspelt_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPSTREAM_COLLECTOR_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("SHOPSTREAM_COLLECTOR_PORT", "9000")
    monkeypatch.setenv("SHOPSTREAM_TRACKER_TOPIC", "shop.events.raw.test")
    settings = CollectorSettings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.port == 9000
    assert settings.tracker.topic == "shop.events.raw.test"
    monkeypatch.setenv("SHOPSTREAM_COLLECTOR_CORS_ORIGINS", '["https://c.example"]')
    assert CollectorSettings().cors_origins == ["https://c.example"]
    monkeypatch.setenv("SHOPSTREAM_COLLECTOR_MAX_BODY_BYTE", "10")
    with pytest.raises(ValueError, match="SHOPSTREAM_COLLECTOR_MAX_BODY_BYTE"):
        CollectorSettings()


# -- batches ----------------------------------------------------------------------------


def test_a_batch_is_an_events_object_or_a_bare_list() -> None:
    events = [minimal_visit(), minimal_visit()]
    assert parse_batch(json.dumps({"events": events}).encode(), max_events=10) == events
    assert parse_batch(json.dumps(events).encode(), max_events=10) == events
    assert parse_batch(b"[]", max_events=10) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b'{"events": [NaN]}',
        b"[Infinity]",
        b"\xff\xfe\xfa",
        b'"events"',
        b"42",
        b'{"events": {"type": "visit"}}',
        b'{"events": [], "extra": 1}',
        b'{"type": "visit", "shop_id": "shop-1"}',
        b"[" * 200_000 + b"]" * 200_000,
    ],
)
def test_what_is_not_a_batch_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedBatchError):
        parse_batch(body, max_events=10)


def test_more_events_than_the_limit_is_413_and_the_limit_itself_is_fine() -> None:
    assert len(parse_batch(json.dumps([{}] * 3).encode(), max_events=3)) == 3
    with pytest.raises(TooManyEventsError) as raised:
        parse_batch(json.dumps([{}] * 4).encode(), max_events=3)
    assert raised.value.status == 413


def test_valid_items_become_sdk_events_with_ids_and_times_filled_in() -> None:
    given = uuid.uuid4()
    batch = build_events(
        [minimal_visit(), minimal_visit(event_id=str(given)), *map(item, example_events())]
    )
    assert batch.rejected == []
    assert len(batch.events) == 7
    first = batch.events[0]
    assert isinstance(first, VisitEvent)
    assert first.event_id.version == 4
    assert first.event_time.tzinfo is not None
    assert batch.events[1].event_id == given
    assert [e.to_avro() for e in batch.events[2:]] == [
        e.to_avro() for e in example_events().values()
    ]


def test_the_shop_header_fills_a_missing_shop_id_but_never_overrides_one() -> None:
    no_shop = {k: v for k, v in minimal_visit().items() if k != "shop_id"}
    batch = build_events(
        [no_shop, {**no_shop, "shop_id": None}, minimal_visit(shop_id="own-shop")],
        shop_id="hdr-shop",
    )
    assert [e.shop_id for e in batch.events] == ["hdr-shop", "hdr-shop", "own-shop"]
    assert build_events([no_shop]).rejected == [
        {"index": 0, "errors": [{"field": "shop_id", "rule": "missing"}]}
    ]


def test_each_invalid_item_gets_its_index_fields_and_rules() -> None:
    purchase = item("purchase")
    purchase["items"][0]["quantity"] = 0
    batch = build_events(
        [
            minimal_visit(),
            {"shop_id": "shop-1"},
            {"type": "click", "shop_id": "shop-1"},
            {"type": ["visit"]},
            "visit",
            item("review", rating="five"),
            {k: v for k, v in item("review").items() if k != "product_id"},
            purchase,
            item("purchase", total=1),
            item("signup", phone=PHONE + "x", favourite_colour="blue"),
        ]
    )
    assert len(batch.events) == 1
    got = {r["index"]: r["errors"] for r in batch.rejected}
    assert got == {
        1: [{"field": "type", "rule": "missing"}],
        2: [{"field": "type", "rule": "unknown_event_type"}],
        3: [{"field": "type", "rule": "unknown_event_type"}],
        4: [{"field": "$", "rule": "object_type"}],
        5: [{"field": "rating", "rule": "int_parsing"}],
        6: [{"field": "product_id", "rule": "missing"}],
        7: [{"field": "items[0].quantity", "rule": "greater_than_equal"}],
        8: [{"field": "total", "rule": "total_matches_items"}],
        9: [
            {"field": "phone", "rule": "string_pattern_mismatch"},
            {"field": "favourite_colour", "rule": "extra_forbidden"},
        ],
    }


def test_errors_never_carry_the_values_sent() -> None:
    signup = item("signup", phone=PHONE + "x", email=f"{PHONE}@", birth_date="1900-01-01")
    review = item("review", rating=99, text=f"call {PHONE}", event_time="yesterday")
    rejected = build_events([signup, review, {"type": "visit", PHONE: PHONE}]).rejected
    assert len(rejected) == 3
    text = json.dumps(rejected, ensure_ascii=False)
    for value in ("0000-4321", "yesterday", "1900"):
        assert value not in text
    assert {"field": "<key>", "rule": "extra_forbidden"} in rejected[2]["errors"]


def test_errors_are_bounded_in_number_and_length() -> None:
    junk = {f"field_{i}": i for i in range(50)} | {"x" * 1000: 1}
    (rejection,) = build_events([minimal_visit(**junk)]).rejected
    assert len(rejection["errors"]) == 20
    assert all(len(e["field"]) <= 200 for e in rejection["errors"])


def test_field_paths_are_written_as_the_contract_writes_them() -> None:
    assert field_path(("items", 3, "discount")) == "items[3].discount"
    assert field_path(("category_path", 0)) == "category_path[0]"
    assert field_path(()) == ""
    assert field_path(("address", "010 1234 5678")) == "address.<key>"


# -- admission --------------------------------------------------------------------------


@dataclass
class FakeTracker:
    config: TrackerConfig
    spool_full: bool = False
    depth: int = 0
    in_flight: int = 0
    spool_bytes: int = 0
    tracked: list[Event] = field(default_factory=list)

    def stats(self) -> TrackerStats:
        return TrackerStats(0, 0, 0, 0, 0, 0, self.depth, self.in_flight, self.spool_bytes)

    def track(self, event: Event) -> uuid.UUID:
        self.tracked.append(event)
        return event.event_id


def admission(config: TrackerConfig, **state: Any) -> tuple[Admission, FakeTracker]:
    fake = FakeTracker(config, **state)
    return Admission(cast(Tracker, fake)), fake


def visits(n: int) -> list[Event]:
    return build_events([minimal_visit() for _ in range(n)]).events


def test_an_admitted_batch_is_tracked_whole_and_in_order() -> None:
    gate, fake = admission(TrackerConfig(queue_size=10))
    events = visits(10)
    assert gate.track(events) == [e.event_id for e in events]
    assert fake.tracked == events
    assert gate.track([]) == []


def test_a_full_spool_refuses_the_batch(tmp_path: Any) -> None:
    gate, fake = admission(TrackerConfig(spool_dir=tmp_path), spool_full=True)
    assert gate.track(visits(1)) == Refusal("spool_full")
    assert fake.tracked == []


@pytest.mark.parametrize("policy", [QueueFullPolicy.DROP, QueueFullPolicy.BLOCK])
def test_a_batch_the_queue_cannot_hold_is_refused_when_it_would_drop(
    policy: QueueFullPolicy,
) -> None:
    gate, fake = admission(TrackerConfig(queue_size=10, on_full=policy), depth=7)
    assert gate.track(visits(4)) == Refusal("queue_full")
    assert gate.track(visits(3)) != Refusal("queue_full")
    assert len(fake.tracked) == 3


def test_with_on_full_spool_the_queue_overflows_into_spool_room(tmp_path: Any) -> None:
    config = TrackerConfig(
        queue_size=10, on_full=QueueFullPolicy.SPOOL, spool_dir=tmp_path, spool_max_bytes=64 * 1024
    )
    gate, _ = admission(config, depth=10)
    assert isinstance(gate.track(visits(5)), list)
    gate, _ = admission(config, depth=10, spool_bytes=64 * 1024 - 500)
    assert gate.track(visits(5)) == Refusal("spool_full")


def test_spool_room_counts_the_batch_and_what_waits_in_memory(tmp_path: Any) -> None:
    config = TrackerConfig(spool_dir=tmp_path, spool_max_bytes=10_000)
    events = visits(4)
    gate, _ = admission(config)
    assert isinstance(gate.track(events), list)
    per_event = gate._spool_bytes(events) // 4
    assert 60 < per_event < 200
    # Room for the batch, but not also for 40 events in memory at the same size.
    gate, _ = admission(config, depth=30, in_flight=10, spool_bytes=10_000 - 20 * per_event)
    assert gate.track(events) == Refusal("spool_full")
