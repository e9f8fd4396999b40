"""The traffic simulator: deterministic, exactly sized, valid where meant, bad where meant.

One 20,000-event run (5 % bad) is generated once per module and shared; small runs cover
the edge cases. Valid events are models validated against this machine's clock, so
``NOW`` is the current second.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shopstream.producers.keys import partition_key
from shopstream.producers.simulator import (
    BAD_KINDS,
    SimulatedEvent,
    SimulationConfig,
    SimulationSummary,
    generate,
    to_jsonl_line,
)
from shopstream.producers.simulator import cli as simulator_cli
from shopstream.producers.simulator.regions import PROVINCES
from shopstream.producers.simulator.sending import send
from shopstream.schemas import Codec, Contract
from shopstream.schemas.errors import DecodeError, NotAvroError, TruncatedError, UnknownSchemaError
from shopstream.schemas.models import Event, OrderStatus, PurchaseEvent, ReviewEvent, SignupEvent
from shopstream.schemas.validation import RuleContext, validate_record

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CONFIG = SimulationConfig(events=20_000, bad_fraction=0.05, seed=7)
CODEC = Codec()
CONTRACT = Contract.load()

# What stage 1 must say about each kind of bad event: a decode error, or a rule.
EXPECTED_REJECTION: dict[str, type[DecodeError] | set[str]] = {
    "random_bytes": NotAvroError,
    "truncated": TruncatedError,
    "unknown_fingerprint": UnknownSchemaError,
    "out_of_range": {"min", "max"},
    "inconsistent_total": {"total_matches_items"},
    "far_future": {"event_time_window"},
    "ancient": {"event_time_window"},
    "huge_string": {"max_length"},
}


TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def stream() -> list[SimulatedEvent]:
    started = time.perf_counter()
    events = list(generate(CONFIG, NOW))
    TIMINGS["generate"] = time.perf_counter() - started
    return events


@pytest.fixture(scope="module")
def valid(stream: list[SimulatedEvent]) -> list[Event]:
    return [s.event for s in stream if s.event is not None]


def lines(config: SimulationConfig) -> list[str]:
    return [to_jsonl_line(s) for s in generate(config, NOW)]


def by_person(events: list[Event]) -> Iterator[list[Event]]:
    """Each person's events: members carry their device's anonymous_id before and after sign-up."""
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        if event.anonymous_id:
            groups[(event.shop_id, event.anonymous_id)].append(event)
    yield from groups.values()


# -- determinism and size -------------------------------------------------------------------


def test_same_seed_gives_identical_lines_and_another_seed_does_not() -> None:
    config = SimulationConfig(events=1_500, bad_fraction=0.1, seed=42)
    first = lines(config)
    assert first == lines(config)
    assert first != lines(config.model_copy(update={"seed": 43}))


def test_another_process_with_another_hash_seed_writes_the_same_bytes() -> None:
    script = (
        "import datetime as dt, sys\n"
        "from shopstream.producers.simulator import SimulationConfig, generate, to_jsonl_line\n"
        "now = dt.datetime.fromisoformat(sys.argv[1])\n"
        "config = SimulationConfig(events=300, bad_fraction=0.2, seed=9)\n"
        "sys.stdout.buffer.write(''.join(to_jsonl_line(s) + '\\n' for s in generate(config, now)).encode())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script, NOW.isoformat()], capture_output=True, env=env, check=True
    )
    expected = lines(SimulationConfig(events=300, bad_fraction=0.2, seed=9))
    assert result.stdout.decode("utf-8").splitlines() == expected


def test_without_a_bad_fraction_every_event_is_valid_with_its_own_id() -> None:
    clean = [s for s in generate(SimulationConfig(events=500, seed=3), NOW)]
    assert all(s.bad is None for s in clean)
    assert len({s.event_id for s in clean}) == 500


@pytest.mark.parametrize(
    ("events", "bad_fraction"),
    [(0, 0.5), (1, 0.0), (1, 0.6), (7, 0.5), (100, 0.99), (1_000, 0.123), (2_500, 0.01)],
)
def test_exactly_the_requested_number_of_events_and_bad_share(
    events: int, bad_fraction: float
) -> None:
    generated = list(generate(SimulationConfig(events=events, bad_fraction=bad_fraction), NOW))
    assert len(generated) == events
    bad = sum(s.bad is not None for s in generated)
    assert abs(bad - round(events * bad_fraction)) <= 1


def test_large_run_size_and_every_bad_label(stream: list[SimulatedEvent]) -> None:
    assert len(stream) == CONFIG.events
    labels = Counter(s.bad for s in stream if s.bad)
    assert abs(sum(labels.values()) - round(CONFIG.events * CONFIG.bad_fraction)) <= 1
    assert set(labels) == set(BAD_KINDS)


def test_event_ids_are_unique(stream: list[SimulatedEvent]) -> None:
    ids = [s.event_id for s in stream if s.event_id is not None]
    assert len(ids) == len(set(ids))


def test_window_outside_the_contract_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="365"):
        generate(SimulationConfig(start=NOW - dt.timedelta(days=500)), NOW)
    with pytest.raises(ValueError, match="aware"):
        generate(SimulationConfig(), NOW.replace(tzinfo=None))


# -- valid events ---------------------------------------------------------------------------


def test_every_valid_event_round_trips_and_revalidates(stream: list[SimulatedEvent]) -> None:
    context = RuleContext(now=NOW)
    for simulated in stream:
        if simulated.event is None:
            continue
        record = simulated.event.to_avro()
        decoded = CODEC.decode(CODEC.encode(simulated.name or "", record))
        assert decoded.name == simulated.name
        assert decoded.record == record
        assert validate_record(CONTRACT.latest(decoded.name), decoded.record, context) == []
        assert simulated.key == partition_key(record)
        assert simulated.event_id == simulated.event.event_id


def test_every_type_appears_and_catalogue_comes_first(stream: list[SimulatedEvent]) -> None:
    types = Counter(s.name for s in stream if s.bad is None)
    assert set(types) == {"signup", "visit", "review", "purchase", "product"}
    valid = [s for s in stream if s.bad is None]
    catalogue = CONFIG.shops * CONFIG.products_per_shop
    assert all(s.name == "product" for s in valid[:catalogue])
    known = {
        (s.event.shop_id, s.event.to_avro()["product_id"]) for s in valid[:catalogue] if s.event
    }
    for s in valid[catalogue:]:
        record = s.event.to_avro() if s.event else {}
        for product_id in [record.get("product_id")] + [
            i["product_id"] for i in record.get("items", [])
        ]:
            if product_id:
                assert (record["shop_id"], product_id) in known


def test_event_times_stay_in_the_window_and_per_person_in_order(valid: list[Event]) -> None:
    start = NOW - dt.timedelta(days=CONFIG.days)
    assert all(start <= e.event_time <= NOW for e in valid)
    assert all(e.sent_time >= e.event_time for e in valid)
    assert max(e.event_time for e in valid) > NOW - dt.timedelta(days=1)  # fills the window
    for events in by_person(valid):
        times = [e.event_time for e in events]
        assert times == sorted(times)
    per_buyer: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for e in valid:
        if e.buyer_id:
            per_buyer[(e.shop_id, e.buyer_id)].append(e.event_time)
    assert all(times == sorted(times) for times in per_buyer.values())


def test_a_one_day_window_is_filled_without_piling_up_at_now() -> None:
    config = SimulationConfig(events=5_000, buyers=40, days=1)
    events = [s.event for s in generate(config, NOW) if s.event]
    times = Counter(e.event_time for e in events)
    assert times.most_common(1)[0][1] <= 3
    assert NOW - max(times) < dt.timedelta(hours=2)
    for person in by_person(events):
        assert [e.event_time for e in person] == sorted(e.event_time for e in person)


def test_buyers_sign_up_before_anything_else_as_members(valid: list[Event]) -> None:
    first: dict[tuple[str, str], Event] = {}
    for e in valid:
        if e.buyer_id:
            first.setdefault((e.shop_id, e.buyer_id), e)
    assert first
    assert all(isinstance(e, SignupEvent) for e in first.values())
    anonymous_only = {(e.shop_id, e.anonymous_id) for e in valid if e.anonymous_id} - {
        (e.shop_id, e.anonymous_id) for e in valid if e.buyer_id
    }
    assert anonymous_only  # visitors who never sign up


def test_signups_look_korean_and_fit_the_contract(valid: list[Event]) -> None:
    signups = [e for e in valid if isinstance(e, SignupEvent)]
    # members sign up in their first sessions; one who came only once may not have
    assert 0.95 * CONFIG.buyers <= len(signups) <= CONFIG.buyers
    assert len({e.buyer_id for e in signups}) == len(signups)
    assert len({e.event_time.date() for e in signups}) > CONFIG.days / 2  # spread over time
    assert all(e.name and re.fullmatch(r"[가-힣]{2,4}", e.name) for e in signups)
    provinces = {p.name for p in PROVINCES}
    assert all(e.address.province in provinces for e in signups if e.address)
    phones = [e.phone for e in signups if e.phone]
    assert any(p.startswith("010-") for p in phones)
    assert any(p.startswith("+82") for p in phones)
    assert any(re.match(r"01[16789]", p) for p in phones)
    assert all(e.email.rsplit(".", 1)[-1] in {"example", "com"} for e in signups if e.email)
    assert any(e.birth_date is None for e in signups)


def test_purchase_totals_are_consistent_integer_krw(valid: list[Event]) -> None:
    purchases = [e for e in valid if isinstance(e, PurchaseEvent)]
    assert purchases
    for p in purchases:
        assert p.currency == "KRW"
        assert 1 <= len(p.items) <= 4
        assert p.total == sum(i.quantity * i.unit_price - i.discount for i in p.items)
        assert all(0 <= i.discount <= i.quantity * i.unit_price for i in p.items)
    assert any(i.discount > 0 for p in purchases for i in p.items)


def test_cancellations_and_refunds_follow_an_order_of_the_same_buyer(valid: list[Event]) -> None:
    placed: dict[str, PurchaseEvent] = {}
    undone: Counter[OrderStatus] = Counter()
    for e in valid:
        if not isinstance(e, PurchaseEvent):
            continue
        if e.status is OrderStatus.ORDERED:
            assert e.order_id not in placed
            placed[e.order_id] = e
            continue
        order = placed.pop(e.order_id)  # an earlier order, undone at most once
        assert (order.shop_id, order.buyer_id) == (e.shop_id, e.buyer_id)
        assert order.event_time <= e.event_time
        assert (order.items, order.total) == (e.items, e.total)
        undone[e.status] += 1
    assert undone[OrderStatus.CANCELLED] > 0
    assert undone[OrderStatus.REFUNDED] > 0


_PII = {
    "phone": re.compile(r"01[016789]-\d{3,4}-\d{4}"),
    "glued_phone": re.compile(r"[가-힣]01[016789]\d{7,8}"),
    "email": re.compile(r"[^@\s:]+@[^@\s]+\.[a-z]{2,}"),
    "rrn": re.compile(r"\d{6}-[1-4]\d{6}"),
    "card": re.compile(r"\d{4}-?\d{4}-?\d{4}-?\d{4}"),
}


def test_some_reviews_carry_each_kind_of_personal_data(valid: list[Event]) -> None:
    reviews = [e for e in valid if isinstance(e, ReviewEvent)]
    texts = [r.text for r in reviews if r.text]
    assert {r.rating for r in reviews} == {1, 2, 3, 4, 5}
    found = {kind: sum(bool(p.search(t)) for t in texts) for kind, p in _PII.items()}
    assert all(found.values()), found
    assert sum(any(p.search(t) for p in _PII.values()) for t in texts) < len(texts) / 2
    cards = [m.group().replace("-", "") for t in texts if (m := _PII["card"].search(t))]
    assert all(_luhn_ok(c) for c in cards)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


# -- bad events -----------------------------------------------------------------------------


def test_each_bad_event_is_rejected_for_its_reason(stream: list[SimulatedEvent]) -> None:
    context = RuleContext(now=NOW)
    for simulated in stream:
        if simulated.bad is None:
            continue
        assert simulated.event is None
        assert simulated.raw is not None
        expected = EXPECTED_REJECTION[simulated.bad]
        if isinstance(expected, type):
            with pytest.raises(expected):
                CODEC.decode(simulated.raw)
            continue
        decoded = CODEC.decode(simulated.raw)
        assert decoded.name == simulated.name
        rules = {
            v.rule for v in validate_record(CONTRACT.latest(decoded.name), decoded.record, context)
        }
        assert rules & expected, (simulated.bad, rules)
        assert simulated.record is not None
        assert simulated.key == partition_key(simulated.record)


def test_bad_events_with_a_record_carry_its_event_id(stream: list[SimulatedEvent]) -> None:
    for s in stream:
        if s.bad is not None:
            assert (s.event_id is None) == (s.bad == "random_bytes")
            if s.record is not None:
                assert s.record["event_id"] == s.event_id


# -- jsonl and summary ----------------------------------------------------------------------


def test_jsonl_lines_parse_and_carry_every_field(stream: list[SimulatedEvent]) -> None:
    keys = {"type", "event_id", "bad", "key", "event_time_ms", "record", "raw"}
    for simulated in stream[:3_000]:
        line = to_jsonl_line(simulated)
        assert "\n" not in line
        obj = json.loads(line)
        assert set(obj) == keys
        assert obj["type"] == simulated.name
        assert obj["bad"] == simulated.bad
        assert obj["key"].encode() == simulated.key
        if simulated.event is not None:
            record = simulated.event.to_avro()
            assert obj["raw"] is None
            assert obj["event_id"] == str(simulated.event.event_id) == obj["record"]["event_id"]
            assert set(obj["record"]) == set(record)
            when = dt.datetime.fromisoformat(obj["record"]["event_time"])
            assert when == simulated.event.event_time
            assert obj["event_time_ms"] == int(when.timestamp() * 1000)
            assert obj["record"]["schema_version"] == 1
        else:
            assert base64.b64decode(obj["raw"]) == simulated.raw
            assert (obj["record"] is None) == (simulated.record is None)


def test_summary_counts_what_was_generated(
    stream: list[SimulatedEvent], valid: list[Event]
) -> None:
    summary = SimulationSummary()
    for s in stream:
        summary.add(s)
    purchases = [e for e in valid if isinstance(e, PurchaseEvent)]
    placed = sum(p.total for p in purchases if p.status is OrderStatus.ORDERED)
    undone = sum(p.total for p in purchases if p.status is not OrderStatus.ORDERED)
    assert summary.valid + summary.bad == CONFIG.events
    assert summary.shops == CONFIG.shops
    assert summary.buyers == sum(isinstance(e, SignupEvent) for e in valid)
    assert summary.gross_revenue == placed
    assert summary.net_revenue == placed - undone
    assert summary.orders == sum(p.status is OrderStatus.ORDERED for p in purchases)
    text = summary.render()
    for part in ("20,000", "huge_string", "₩"):
        assert part in text


# -- sending and the command ----------------------------------------------------------------


class FakeTracker:
    def __init__(self) -> None:
        self.tracked: list[Event] = []
        self.raw: list[tuple[bytes, bytes]] = []

    def track(self, event: Event) -> object:
        self.tracked.append(event)
        return event.event_id

    def send_raw(self, key: bytes, value: bytes) -> None:
        self.raw.append((key, value))

    def flush(self, timeout: float = 30.0) -> int:
        return 0

    def close(self) -> None:
        pass

    def stats(self) -> Any:
        class Stats:
            sent, failed, dropped, spooled, rejected = len(self.tracked) + len(self.raw), 0, 0, 0, 0

        return Stats()


def test_send_dispatches_by_kind_and_paces_to_the_rate() -> None:
    simulated = list(generate(SimulationConfig(events=50, bad_fraction=0.2), NOW))
    fake, now, slept = FakeTracker(), [100.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    assert send(simulated, fake, rate=10.0, clock=lambda: now[0], sleep=sleep) == 50
    assert len(fake.tracked) == 40
    assert len(fake.raw) == 10
    assert sum(slept) == pytest.approx(4.9)  # the 50th event leaves 49/10 s after the first
    assert [k for k, _ in fake.raw] == [s.key for s in simulated if s.bad]


def test_simulate_command_with_a_fake_tracker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTracker()
    monkeypatch.setattr(simulator_cli, "open_tracker", lambda *args: fake)
    app = typer.Typer()
    app.command()(simulator_cli.simulate)
    out = tmp_path / "sent.jsonl"
    args = ["--events", "400", "--bad-fraction", "0.1", "--seed", "5", "--jsonl", str(out)]
    args += ["--bootstrap-servers", "127.0.0.1:1", "--now", NOW.isoformat()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "400 (360 valid, 40 bad)" in result.stdout
    written = out.read_text("utf-8").splitlines()
    expected = lines(SimulationConfig(events=400, bad_fraction=0.1, seed=5))
    assert written == expected
    assert len(fake.tracked) == 360
    assert len(fake.raw) == 40


def test_generation_speed(stream: list[SimulatedEvent]) -> None:
    """Reported, not asserted: the shared 20,000-event run, every model validated as built."""
    elapsed = TIMINGS["generate"]
    print(
        f"\nsimulator: {len(stream):,} events in {elapsed:.2f} s ({len(stream) / elapsed:,.0f}/s)"
    )


def test_simulate_command_stops_cleanly_on_ctrl_c_and_refuses_a_future_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Interrupted(FakeTracker):
        def track(self, event: Event) -> object:
            if len(self.tracked) == 100:
                raise KeyboardInterrupt
            return super().track(event)

    fake = Interrupted()
    monkeypatch.setattr(simulator_cli, "open_tracker", lambda *args: fake)
    app = typer.Typer()
    app.command()(simulator_cli.simulate)
    args = ["--events", "1000", "--bootstrap-servers", "127.0.0.1:1", "--now", NOW.isoformat()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130
    assert "events      100 (100 valid, 0 bad)" in result.stdout
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    result = CliRunner().invoke(app, [*args[:-1], future])
    assert result.exit_code == 2
