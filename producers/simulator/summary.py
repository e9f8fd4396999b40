"""What a simulation run produced, counted as it goes, for the command's final summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from shopstream.producers.simulator.base import BAD_KINDS, SimulatedEvent
from shopstream.schemas.models import EVENT_CLASSES, OrderStatus, PurchaseEvent


@dataclass
class SimulationSummary:
    """Counts of a stream of :class:`SimulatedEvent`; feed each one to :meth:`add`.

    Revenue is in KRW: ``gross_revenue`` sums the orders placed, ``net_revenue``
    subtracts the totals of those cancelled or refunded.
    """

    by_type: Counter[str] = field(default_factory=Counter)
    bad_by_kind: Counter[str] = field(default_factory=Counter)
    orders: int = 0
    cancellations: int = 0
    refunds: int = 0
    gross_revenue: int = 0
    net_revenue: int = 0
    _buyers: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _anonymous: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _shops: set[str] = field(default_factory=set, repr=False)

    def add(self, simulated: SimulatedEvent) -> None:
        if simulated.bad is not None:
            self.bad_by_kind[simulated.bad] += 1
            return
        event = simulated.event
        if event is None:  # pragma: no cover - a valid SimulatedEvent always has its model
            return
        self.by_type[event.event_type] += 1
        self._shops.add(event.shop_id)
        if event.buyer_id:
            self._buyers.add((event.shop_id, event.buyer_id))
        elif event.anonymous_id:
            self._anonymous.add((event.shop_id, event.anonymous_id))
        if isinstance(event, PurchaseEvent):
            if event.status is OrderStatus.ORDERED:
                self.orders += 1
                self.gross_revenue += event.total
                self.net_revenue += event.total
            elif event.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
                self.net_revenue -= event.total
                if event.status is OrderStatus.CANCELLED:
                    self.cancellations += 1
                else:
                    self.refunds += 1

    @property
    def valid(self) -> int:
        return sum(self.by_type.values())

    @property
    def bad(self) -> int:
        return sum(self.bad_by_kind.values())

    @property
    def buyers(self) -> int:
        """Distinct (shop, buyer_id) pairs seen: members who had signed up."""
        return len(self._buyers)

    @property
    def anonymous_ids(self) -> int:
        """Distinct (shop, anonymous_id) pairs seen on events without a buyer_id."""
        return len(self._anonymous)

    @property
    def shops(self) -> int:
        return len(self._shops)

    def render(self) -> str:
        """A few aligned lines for a terminal."""
        types = ", ".join(f"{name} {self.by_type[name]:,}" for name in EVENT_CLASSES)
        lines = [
            f"events      {self.valid + self.bad:,} ({self.valid:,} valid, {self.bad:,} bad)",
            f"by type     {types}",
        ]
        if self.bad:
            kinds = ", ".join(
                f"{k} {self.bad_by_kind[k]:,}" for k in BAD_KINDS if self.bad_by_kind[k]
            )
            lines.append(f"bad         {kinds}")
        lines += [
            f"shops       {self.shops:,}",
            f"buyers      {self.buyers:,} signed up, {self.anonymous_ids:,} anonymous ids",
            f"orders      {self.orders:,} ({self.cancellations:,} cancelled, {self.refunds:,} refunded)",
            f"revenue     ₩{self.gross_revenue:,} gross, ₩{self.net_revenue:,} net of cancellations and refunds",
        ]
        return "\n".join(lines)


__all__ = ["SimulationSummary"]
