"""One read of the spool on its way back to the broker, committed on its own acknowledgements.

A batch is committed when the broker has acknowledged all of it; when a record fails or
the batch outlives its deadline, only the acknowledged prefix is committed and the rest
stays in the spool for the next attempt (records after the first gap that were
acknowledged are sent again: every event carries its ``event_id``, and stage 2 drops
the repeat). Nothing here waits on the client's global flush, so one stuck record
elsewhere cannot hold the replay up.
"""

from __future__ import annotations

from shopstream.producers.spool import SpoolPosition


class ReplayBatch:
    """Acknowledgements of one replayed read, as the client reports them (any thread)."""

    __slots__ = ("_acked", "acked", "deadline", "failed", "position", "records")

    def __init__(
        self, records: list[tuple[bytes, bytes]], position: SpoolPosition, deadline: float
    ) -> None:
        self.records = records
        self.position = position
        self.deadline = deadline
        self._acked = bytearray(len(records))
        self.acked = 0
        self.failed = 0

    def report(self, index: int, err: Exception | None) -> None:
        """The delivery callback of record ``index`` (bind it with ``functools.partial``)."""
        if err is not None:
            self.failed += 1
        elif not self._acked[index]:
            self._acked[index] = 1
            self.acked += 1

    def truncate(self, n: int) -> None:
        """Only the first ``n`` records were handed to the client; forget the rest."""
        self.records = self.records[:n]
        self.position = self.position.after(n) if n else self.position
        self.acked = sum(self._acked[:n])
        self._acked = self._acked[:n]

    @property
    def complete(self) -> bool:
        return self.acked == len(self.records)

    def acked_prefix(self) -> int:
        """How many records, from the first, the broker has acknowledged without a gap."""
        gap = self._acked.find(0)
        return len(self._acked) if gap < 0 else gap


__all__ = ["ReplayBatch"]
