"""librdkafka's log lines through a ``logging.Logger``, with an outage's repetitions tamed.

While a broker is down librdkafka logs, at ERROR, every failed connection attempt
("Connect to ipv4#... failed: Connection refused"), every disconnect and "all brokers
down", for every broker, all outage long. Those are expected during an outage that
the spool absorbs, so here each kind of transport error is logged once per broker and
window, as WARNING, and further repeats within the window go to DEBUG; the next line
after the window says how many were folded into it. Every other line passes unchanged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

_TRANSPORT = re.compile(
    r"Connect to |Connection refused|Disconnected|brokers are down|Receive failed|"
    r"Send failed|Connection setup timed out|Failed to resolve|timed out: disconnect|"
    r"Failed to connect|Connection reset"
)
_BROKER = re.compile(r"\S+:\d+/(?:\d+|bootstrap)")
_KINDS = re.compile(r"\d+")


class ClientLog:
    """The ``logger`` of a confluent-kafka client: it calls ``log(level, fmt, fac, name, text)``."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # -> (window start, folded)

    def log(self, level: int, msg: str, *args: Any) -> None:
        if level < logging.WARNING or len(args) != 3 or not _TRANSPORT.search(str(args[2])):
            self._logger.log(level, msg, *args)
            return
        facility, _, text = (str(a) for a in args)
        broker = _BROKER.search(text)
        # One kind per broker and message shape (digits dropped: ports, ms, counts vary).
        key = (broker.group(0) if broker else "", _KINDS.sub("#", _BROKER.sub("", text))[:80])
        now = self._clock()
        started, folded = self._seen.get(key, (-self._window_s - 1.0, 0))
        if now - started < self._window_s:
            self._seen[key] = (started, folded + 1)
            self._logger.debug("kafka client %s: %s", facility, text)
            return
        self._seen[key] = (now, 0)
        if len(self._seen) > 256:  # brokers and shapes are few; never grow without bound
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self._window_s}
        suffix = (
            f" ({folded} similar in the last {self._window_s:.0f} s not shown)" if folded else ""
        )
        self._logger.warning("kafka client %s: %s%s", facility, text, suffix)


__all__ = ["ClientLog"]
