"""SDK model behaviour beyond the schema match: copies re-validate, times keep milliseconds."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from shopstream.schemas import Codec
from shopstream.schemas.examples import example_events
from shopstream.schemas.models import VisitEvent


def test_model_copy_with_update_is_validated_and_re_recorded() -> None:
    visit = example_events()["visit"]
    changed = visit.model_copy(update={"dwell_ms": 99})
    assert changed.to_avro()["dwell_ms"] == 99
    assert visit.to_avro()["dwell_ms"] == 42_000
    with pytest.raises(ValidationError):
        visit.model_copy(update={"dwell_ms": 10**12})


def test_times_are_kept_to_the_millisecond_so_a_decoded_event_equals_the_model() -> None:
    at = dt.datetime(2026, 12, 3, 1, 2, 3, 456_789, tzinfo=dt.UTC)
    visit = VisitEvent(shop_id="shop-1", anonymous_id="a1", session_id="s1", event_time=at)
    assert visit.event_time.microsecond == 456_000
    assert visit.sent_time.microsecond % 1000 == 0
    codec = Codec()
    assert codec.decode(codec.encode("visit", visit.to_avro())).record == visit.to_avro()


def test_times_in_another_zone_are_the_same_instant_after_decoding() -> None:
    kst = dt.timezone(dt.timedelta(hours=9))
    at = dt.datetime(2026, 12, 3, 10, 0, tzinfo=kst)
    visit = VisitEvent(
        shop_id="shop-1", anonymous_id="a1", session_id="s1", event_time=at, sent_time=at
    )
    codec = Codec()
    decoded = codec.decode(codec.encode("visit", visit.to_avro())).record
    assert decoded["event_time"] == at
    assert decoded["event_time"].tzinfo == dt.UTC


def test_event_ids_are_version_4_and_differ_in_a_forked_child() -> None:
    import os

    from shopstream.schemas.models import new_event_id

    ids = {new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert {(u.version, u.variant) for u in ids} == {(4, "specified in RFC 4122")}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_event_id().bytes)
        os._exit(0)
    os.waitpid(pid, 0)
    child_id = os.read(read, 16)
    assert child_id != new_event_id().bytes  # the child reseeded: not the parent's next id
