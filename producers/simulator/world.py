"""The simulated world: shops with catalogues, the people who visit them, and the clock.

Times are integer milliseconds since the epoch inside the simulator, so that what is
generated is exactly what Avro's timestamp-millis keeps.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from shopstream.producers.simulator.base import SimulationConfig
from shopstream.producers.simulator.buyers import Person, create_people
from shopstream.producers.simulator.catalogue import Product, catalogue

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

SHOP_NAMES = (
    "hanbit-mall", "sora-market", "gaon-shop", "dasom-store",
    "nuri-mall", "haneul-shop", "bom-market", "maru-store",
)  # fmt: skip


def to_ms(value: dt.datetime) -> int:
    return (value - EPOCH) // dt.timedelta(milliseconds=1)


def at(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


@dataclass(eq=False)
class Shop:
    shop_id: str
    index: int
    products: list[Product] = field(default_factory=list)
    by_family: dict[str, list[Product]] = field(default_factory=dict)

    def add(self, products: list[Product]) -> None:
        self.products = products
        for product in products:
            self.by_family.setdefault(product.category.family, []).append(product)

    def replace(self, old: Product, new: Product) -> None:
        """Put ``new`` where ``old`` was (a catalogue update)."""
        self.products[self.products.index(old)] = new
        family = self.by_family[old.category.family]
        family[family.index(old)] = new


class World:
    """Everything the generators share: one random generator, the shops, the people, time."""

    def __init__(self, config: SimulationConfig, now: dt.datetime, rng: random.Random) -> None:
        start, end = config.window(now)
        self.rng = rng
        self.start_ms = to_ms(start)
        self.now_ms = to_ms(end)
        # The catalogue appears in the first hour; sessions start between then and an hour
        # before now, so that a session ends in the past (times are also capped at now).
        self.activity_start_ms = self.start_ms + HOUR
        self.activity_end_ms = max(self.activity_start_ms, self.now_ms - HOUR)
        self.clock_ms = self.start_ms
        today = start.date()
        self.shops = [Shop(_shop_id(i), i + 1) for i in range(config.shops)]
        size = max(
            1,
            min(
                config.products_per_shop, (config.events - config.bad_events) // (10 * config.shops)
            ),
        )
        for shop in self.shops:
            shop.add(catalogue(rng, shop.shop_id, shop.index, size, today))
        self.people: list[Person] = create_people(
            rng, self.shops, config.buyers, config.anonymous_visitors, end.date()
        )
        # People find the shops over the first 80 % of the window, so that sign-up dates
        # (and "days since sign-up") spread out; the first arrives at once.
        span = self.activity_end_ms - self.activity_start_ms
        for n, person in enumerate(self.people):
            person.arrival_ms = self.activity_start_ms + (
                int(span * 0.8 * rng.random()) if n else 0
            )
        self._arrivals = sorted(self.people, key=lambda p: (p.arrival_ms, p.index), reverse=True)
        self.arrived: list[Person] = []
        self._cum_weights: list[float] = []
        self.orders = 0

    def next_arrival(self) -> Person | None:
        """The next person whose arrival time the clock has reached, if any."""
        if not self._arrivals or (self.arrived and self._arrivals[-1].arrival_ms > self.clock_ms):
            return None
        person = self._arrivals.pop()
        self.arrived.append(person)
        self._cum_weights.append(
            person.weight + (self._cum_weights[-1] if self._cum_weights else 0.0)
        )
        return person

    def pick_person(self) -> Person:
        """A person who has arrived, the more active ones more often."""
        point = self.rng.random() * self._cum_weights[-1]
        index = min(bisect_right(self._cum_weights, point), len(self.arrived) - 1)
        return self.arrived[index]

    def advance(self, progress: float) -> int:
        """Move the clock to ``progress`` (0..1) of the activity span; return it."""
        span = self.activity_end_ms - self.activity_start_ms
        self.clock_ms = max(self.clock_ms, self.activity_start_ms + int(span * min(progress, 1.0)))
        return self.clock_ms

    def event_id(self) -> uuid.UUID:
        return random_uuid(self.rng)

    def token(self, prefix: str) -> str:
        return f"{prefix}{self.rng.getrandbits(64):016x}"

    def envelope(
        self,
        shop_id: str,
        t_ms: int,
        *,
        person: Person | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """The fields every event carries; times never pass ``now``."""
        t_ms = min(t_ms, self.now_ms)
        sent_ms = min(t_ms + self.rng.randrange(5, 1500), self.now_ms)
        return {
            "event_id": self.event_id(),
            "shop_id": shop_id,
            "event_time": at(t_ms),
            "sent_time": at(sent_ms),
            "buyer_id": person.buyer_id if person else None,
            "anonymous_id": person.anonymous_id if person else None,
            "session_id": session_id,
        }

    def next_order_id(self, shop: Shop, t_ms: int) -> str:
        self.orders += 1
        return f"O-{at(t_ms):%Y%m%d}-{shop.index:02d}{self.orders:07d}"


def random_uuid(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID drawn from ``rng``, so that a seed fixes every event id."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _shop_id(index: int) -> str:
    return SHOP_NAMES[index] if index < len(SHOP_NAMES) else f"shop-{index + 1:04d}"


__all__ = ["DAY", "HOUR", "MINUTE", "SECOND", "Shop", "World", "at", "random_uuid", "to_ms"]
