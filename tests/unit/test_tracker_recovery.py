"""Recovery without a broker: a fake client that acknowledges, holds or fails records on
command. Replay commits each batch on its own acknowledgements; a client that holds
records past their delivery timeout is restarted and what it held is re-spooled."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from shopstream.producers import Tracker, TrackerConfig
from shopstream.producers import tracker as tracker_module
from shopstream.producers.replay import ReplayBatch
from shopstream.producers.spool import Spool
from shopstream.schemas.examples import example_events

Callback = Callable[[bytes, Exception | None], None]


class FakeClient:
    """A backend that acknowledges records on poll() unless told to hold them."""

    def __init__(self) -> None:
        self.hold = False  # keep records unacknowledged, as a stuck client does
        self.up = True
        self.held: list[tuple[bytes, Callback]] = []
        self.delivered: list[bytes] = []
        self.restarts = 0

    def produce(self, key: bytes, value: bytes, on_delivery: Callback) -> None:
        self.held.append((value, on_delivery))

    def poll(self, timeout: float) -> None:
        if not self.hold and self.up:
            ready, self.held = self.held, []
            for value, report in ready:
                self.delivered.append(value)
                report(value, None)
        time.sleep(timeout)

    def reachable(self, timeout: float) -> bool:
        return self.up

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return len(self.held)

    def restart(self) -> None:
        self.restarts += 1
        stranded, self.held = self.held, []
        for value, report in stranded:  # a restarted client fails what it held, late
            report(value, RuntimeError("client closed"))

    def close(self, timeout: float) -> None:
        self.flush(timeout)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    fake = FakeClient()
    monkeypatch.setattr(tracker_module, "make_backend", lambda config, on_error=None: fake)
    monkeypatch.setattr(tracker_module, "_STUCK_GRACE_S", 0.0)  # stuck after delivery_timeout
    return fake


def _tracker(tmp_path: Path | None) -> Tracker:
    return Tracker(
        TrackerConfig(
            topic="t", spool_dir=tmp_path, delivery_timeout_ms=1_000, exit_flush_timeout_s=0
        )
    )


def _visits(n: int) -> list:
    visit = example_events()["visit"]
    return [visit.model_copy(update={"event_id": uuid.uuid4()}) for _ in range(n)]


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_stuck_client_is_restarted_and_its_records_re_spooled_then_sent(
    client: FakeClient, tmp_path: Path
) -> None:
    tracker = _tracker(tmp_path)
    try:
        client.hold = True
        for event in _visits(50):
            tracker.track(event)
        _wait(lambda: tracker.stats().in_flight == 50)
        began = time.monotonic()
        _wait(lambda: tracker.stats().client_restarts == 1)
        assert time.monotonic() - began < 3  # delivery timeout 1 s, checked twice a second
        client.hold = False
        _wait(lambda: tracker.stats().spool_bytes == 0 and tracker.stats().sent == 50)
        stats = tracker.stats()
        assert (stats.sent, stats.spooled, stats.failed, stats.in_flight) == (50, 50, 0, 0)
        assert len(client.delivered) == 50  # the late failures of the old client were ignored
    finally:
        tracker.close(0)


def test_without_a_spool_a_stuck_client_s_records_count_as_failed(client: FakeClient) -> None:
    tracker = _tracker(None)
    try:
        client.hold = True
        for event in _visits(20):
            tracker.track(event)
        _wait(lambda: tracker.stats().client_restarts == 1)
        stats = tracker.stats()
        assert (stats.failed, stats.sent, stats.in_flight) == (20, 0, 0)
    finally:
        tracker.close(0)


def test_replay_commits_a_batch_on_its_own_acknowledgements(
    client: FakeClient, tmp_path: Path
) -> None:
    pid = os.fork()
    if pid == 0:  # a process that spools and dies: the tracker adopts its spool
        spool = Spool(tmp_path, max_bytes=10**7)
        for i in range(2_500):
            spool.append(f"k{i}".encode(), f"v{i}".encode())
        os._exit(0)
    os.waitpid(pid, 0)
    tracker = _tracker(tmp_path)
    try:
        _wait(lambda: tracker.stats().spool_bytes == 0)
        assert client.delivered == [f"v{i}".encode() for i in range(2_500)]  # in order, once
        assert tracker.stats().sent == 2_500
        assert client.restarts == 0
    finally:
        tracker.close(0)


def test_replay_that_times_out_keeps_the_unacknowledged_rest_spooled(
    client: FakeClient, tmp_path: Path
) -> None:
    tracker = _tracker(tmp_path)
    try:
        client.up = False  # broker down: every event goes to the spool
        tracker._broker_down = True
        for event in _visits(30):
            tracker.track(event)
        _wait(lambda: tracker.stats().spooled == 30)
        client.up, client.hold = True, True  # back, but the client never answers
        _wait(lambda: tracker.stats().client_restarts >= 1)
        assert tracker.stats().spool_bytes > 0  # nothing committed without acknowledgement
        client.hold = False
        _wait(lambda: tracker.stats().spool_bytes == 0)
        assert tracker.stats().sent == 30
        assert len(set(client.delivered)) == 30
    finally:
        tracker.close(0)


def test_a_replay_batch_knows_its_acknowledged_prefix(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    for i in range(6):
        spool.append(b"k", f"v{i}".encode())
    records, position = spool.read(6)
    assert position is not None
    batch = ReplayBatch(records, position, deadline=0.0)
    for index in (0, 1, 3, 4):
        batch.report(index, None)
    batch.report(2, RuntimeError("timed out"))
    assert (batch.acked_prefix(), batch.failed, batch.complete) == (2, 1, False)
    batch.truncate(2)
    assert batch.complete
    spool.commit(batch.position, batch.records)
    assert [v for _, v in spool.read(10)[0]] == [b"v2", b"v3", b"v4", b"v5"]


def test_a_forked_child_that_does_not_track_builds_no_client(
    client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []

    def make(config: TrackerConfig, on_error: object = None) -> FakeClient:
        made.append(os.getpid())
        return client

    monkeypatch.setattr(tracker_module, "make_backend", make)
    tracker = _tracker(None)
    try:
        pid = os.fork()
        if pid == 0:  # e.g. subprocess's child before exec: no Kafka client, no thread
            code = 0 if made == [os.getppid()] else 1
            if code == 0:
                tracker.track(_visits(1)[0])  # the first use builds the child's own
                code = 0 if made[-1] == os.getpid() else 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        tracker.close(0)


def test_identical_records_in_flight_are_each_settled(client: FakeClient) -> None:
    """In-flight records are keyed by their bytes: two identical ones count twice."""
    client.hold = True
    tracker = _tracker(None)
    try:
        for _ in range(3):
            tracker.send_raw(b"k", b"same bytes")
        _wait(lambda: tracker.stats().in_flight == 3)
        client.hold = False
        _wait(lambda: tracker.stats().sent == 3)
        assert tracker.stats().in_flight == 0
        client.hold = True
        for _ in range(2):
            tracker.send_raw(b"k", b"same bytes")
        _wait(lambda: tracker.stats().in_flight == 2)
        _wait(lambda: tracker.stats().client_restarts == 1)  # stuck: both count as failed
        assert tracker.stats().failed == 2
    finally:
        tracker.close(0)
