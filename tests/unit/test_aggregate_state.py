"""BuyerState's JSON form: lossless, compact, versioned; the compact id forms behind it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopstream.processors.aggregate import (
    FORMAT_VERSION,
    AggregateSettings,
    BuyerState,
    StateFormatError,
    apply_event,
    buyer_features,
)
from shopstream.processors.aggregate.compact import (
    compact_id,
    compact_pseudonym,
    expand_id,
    expand_pseudonym,
)

from .test_aggregate_records import (
    BUYER,
    DAY_MS,
    CleanEventFactory,
    Event,
    event_lists,
    pseudonym,
    replay,
)

SETTINGS = AggregateSettings()


@pytest.fixture
def event_factory() -> CleanEventFactory:
    return CleanEventFactory()


def through_json(state: BuyerState) -> BuyerState:
    return BuyerState.from_json(json.loads(json.dumps(state.to_json(), allow_nan=False)))


def test_golden_json_of_a_small_state(event_factory: CleanEventFactory) -> None:
    f = event_factory
    state = replay(
        [
            f.signup(0, event_id="00000000-0000-4000-8000-000000000001"),
            f.visit(0.5, event_id="00000000-0000-4000-8000-000000000002", device="app"),
            f.purchase(1, event_id="00000000-0000-4000-8000-000000000003"),
        ]
    )
    assert state is not None
    assert state.to_json() == {
        "v": 1,
        "s": "gildong-mart",
        "b": BUYER,
        "cu": "KRW",
        "k": "k2025-01",
        "t": [1740873600000, "AAAAAAAAQACAAAAAAAAAAw"],
        "n": [3, 1, 1000, 1, 0, 0, 0, 1, 0, 1, 10000, 1, 10000, 0, 0, 0, 0, 0, 0, 0, 0],
        "tm": [1740830400000, 1740873600000, 1740873600000, None],
        "p": [1740787200000, "AAAAAAAAQACAAAAAAAAAAQ", "30-39", "F", "KR-11", "web"],
        "c": {"C1": 1},
        "dv": {"20148": 1},
        "do": {"20149": 1},
        "ss": {compact_pseudonym(pseudonym("session-1")): 1740830400000},
        "id": {
            "AAAAAAAAQACAAAAAAAAAAQ": 1740787200000,
            "AAAAAAAAQACAAAAAAAAAAg": 1740830400000,
            "AAAAAAAAQACAAAAAAAAAAw": 1740873600000,
        },
    }
    assert through_json(state) == state


@given(events=event_lists(span_ms=120 * DAY_MS, duplicates=True, shared_sessions=True))
def test_the_json_round_trip_is_lossless(events: list[Event]) -> None:
    state = replay(events)
    if state is None:
        return
    stored = state.to_json()
    assert orjson.loads(orjson.dumps(stored)) == stored  # what the state store does
    again = through_json(state)
    assert again == state
    assert again.to_json() == stored
    assert buyer_features(again, SETTINGS) == buyer_features(state, SETTINGS)


@given(events=event_lists(span_ms=120 * DAY_MS, duplicates=True, shared_sessions=True))
def test_storing_after_every_event_changes_nothing(events: list[Event]) -> None:
    # The adapter reads and writes the state around each event; the cached bounds of the
    # memories are not stored, so a fresh state must expire exactly what a warm one does.
    warm = replay(events)
    stored: BuyerState | None = None
    for event_type, record in events:
        stored, _ = apply_event(stored, event_type, record, SETTINGS)
        stored = None if stored is None else through_json(stored)
    assert stored == warm
    if warm is not None and stored is not None:
        assert stored.to_json() == warm.to_json()


def test_to_json_is_a_snapshot(event_factory: CleanEventFactory) -> None:
    state = replay([event_factory.visit(0), event_factory.purchase(0)])
    assert state is not None
    snapshot = state.to_json()
    apply_event(state, *event_factory.visit(1), SETTINGS)
    assert snapshot["n"][0] == 2
    assert len(snapshot["id"]) == 2
    assert len(snapshot["dv"]) == 1


def test_copy_is_independent(event_factory: CleanEventFactory) -> None:
    state = replay([event_factory.visit(0)])
    assert state is not None
    twin = state.copy()
    assert twin == state
    apply_event(twin, *event_factory.purchase(1), SETTINGS)
    assert state.orders == 0
    assert state.recent_ids != twin.recent_ids


def test_a_typical_buyer_is_a_few_kilobytes(event_factory: CleanEventFactory) -> None:
    # 50 visits in 15 sessions, 5 orders, 2 reviews over 60 days; stored as orjson bytes.
    f = event_factory
    events = [f.signup(0)]
    events += [f.visit(i * 1.2, session=f"s{i // 4}", device="mobile") for i in range(50)]
    events += [f.purchase(i * 12, items=[(f"C{i}", 1, 19_900, 0)]) for i in range(5)]
    events += [f.review(i * 30 + 1) for i in range(2)]
    state = replay(sorted(events, key=lambda e: e[1]["event_time"]))
    assert state is not None
    assert len(orjson.dumps(state.to_json())) < 2_000


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ({"v": 2}, "format version 2"),
        ({}, "no format version"),
        ([], "no format version"),
        ({"v": 1, "s": "x"}, "malformed"),
        ({"v": 1, "s": "x", "b": "y", "cu": "KRW", "k": "k", "t": [1, "a"], "n": [1]}, "malformed"),
    ],
)
def test_a_state_that_cannot_be_read_is_refused(stored: Any, message: str) -> None:
    with pytest.raises(StateFormatError, match=message) as caught:
        BuyerState.from_json(stored)
    assert caught.value.stored is stored


def test_format_version_is_stored() -> None:
    assert FORMAT_VERSION == 1


# ---- compact forms --------------------------------------------------------------------


@given(st.uuids())
def test_uuid_ids_shorten_to_22_characters(event_id: uuid.UUID) -> None:
    short = compact_id(event_id)
    assert len(short) == 22
    assert compact_id(str(event_id)) == short
    assert expand_id(short) == str(event_id)


@given(st.text())
def test_any_other_id_is_kept_verbatim(text: str) -> None:
    assert expand_id(compact_id(text)) == text


def test_non_canonical_uuid_spellings_stay_distinct() -> None:
    # str(event_id) is the identity: an upper-case spelling is another id (as in the oracle).
    lower = "0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5b"
    assert compact_id(lower.upper()) != compact_id(lower)
    assert expand_id(compact_id(lower.upper())) == lower.upper()


@given(st.binary(min_size=32, max_size=32))
def test_hex_pseudonyms_shorten_to_43_characters(raw: bytes) -> None:
    short = compact_pseudonym(raw.hex())
    assert len(short) == 43
    assert expand_pseudonym(short) == raw.hex()


@given(st.text())
def test_any_other_pseudonym_is_kept_verbatim(text: str) -> None:
    assert expand_pseudonym(compact_pseudonym(text)) == text
    assert expand_pseudonym(compact_pseudonym(text.upper())) == text.upper()
