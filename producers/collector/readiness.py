"""Readiness: does the tracker's broker answer a metadata request?

The probe goes through the tracker's own Kafka client (same addresses, same security
settings, either backend). Answers are cached briefly: a load balancer that polls often
must not turn into a metadata request per poll.
"""

from __future__ import annotations

import threading
import time

from shopstream.producers.tracker import Tracker

CACHE_S = 1.0


class BrokerProbe:
    """``probe()`` -> whether the broker answered within ``timeout_s``; blocking, thread-safe."""

    def __init__(self, tracker: Tracker, *, timeout_s: float) -> None:
        self.tracker = tracker
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._answer = False
        self._expires = 0.0

    def probe(self) -> bool:
        with self._lock:  # concurrent polls share one probe instead of piling up
            now = time.monotonic()
            if now >= self._expires:
                self._answer = self._reachable()
                self._expires = time.monotonic() + CACHE_S
            return self._answer

    def _reachable(self) -> bool:
        try:
            return self.tracker.reachable(timeout=self.timeout_s)
        except Exception:  # any client failure means: not ready
            return False


__all__ = ["BrokerProbe"]
