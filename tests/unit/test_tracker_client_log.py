"""librdkafka's log lines: an outage's repeated transport errors come out as a handful of
warnings; every other line passes unchanged. No broker: a dead address and a fake clock."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from shopstream.producers.backends.client_log import ClientLog

_FAIL = (
    "[thrd:127.0.0.1:9092/bootstrap]: 127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 "
    "failed: Connection refused (after {ms}ms in state CONNECT)"
)


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= level]


def test_an_outage_of_connection_errors_yields_a_handful_of_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = ClientLog(logging.getLogger("test.client_log"), window_s=60, clock=lambda: now[0])
    caplog.set_level(logging.DEBUG, logger="test.client_log")
    for attempt in range(600):  # one attempt every 0.25 s for 150 s, two brokers
        now[0] = attempt * 0.25
        log.log(
            logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", _FAIL.format(ms=attempt % 3)
        )
        log.log(
            logging.ERROR,
            "%s [%s] %s",
            "FAIL",
            "rdkafka#producer-1",
            _FAIL.replace("9092", "9093").format(ms=1),
        )
        log.log(logging.ERROR, "%s [%s] %s", "ERROR", "rdkafka#producer-1", "1/2 brokers are down")
    shown = _records(caplog, logging.WARNING)
    assert len(shown) <= 9  # three kinds, a line per kind and minute
    assert all(r.levelno == logging.WARNING for r in shown)  # expected during an outage
    assert "not shown" in shown[-1].getMessage()  # the repeats are accounted for
    assert len(_records(caplog, logging.DEBUG)) == 1800  # nothing lost for whoever debugs


def test_other_client_lines_pass_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    log = ClientLog(logging.getLogger("test.client_log"))
    caplog.set_level(logging.DEBUG, logger="test.client_log")
    for _ in range(3):
        log.log(
            logging.ERROR, "%s [%s] %s", "SSL", "rdkafka#producer-1", "certificate verify failed"
        )
    log.log(logging.INFO, "%s [%s] %s", "CONFWARN", "rdkafka#producer-1", "a setting is ignored")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        *[(logging.ERROR, "SSL [rdkafka#producer-1] certificate verify failed")] * 3,
        (logging.INFO, "CONFWARN [rdkafka#producer-1] a setting is ignored"),
    ]


def test_a_real_client_against_a_dead_broker_logs_no_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from shopstream.producers import TrackerConfig
    from shopstream.producers.backends.confluent import ConfluentBackend

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    caplog.set_level(logging.DEBUG, logger="shopstream.producers.backends.confluent")
    backend = ConfluentBackend(
        TrackerConfig(
            bootstrap_servers=address,
            topic="t",
            client_config={"reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 50},
        )
    )
    backend.produce(b"k", b"v", lambda value, err: None)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        backend.poll(0.1)
    attempts = [r for r in caplog.records if "Connection refused" in r.getMessage()]
    assert attempts  # librdkafka's lines do come through the logger
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len([r for r in attempts if r.levelno >= logging.WARNING]) <= 2
    backend.restart()  # the purged record's callback fires; nothing raises
