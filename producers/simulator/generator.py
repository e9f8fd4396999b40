"""The simulated stream: catalogues first, then sessions of many people interleaved, with
bad events spread evenly among them.

Time runs with the stream: the n-th valid event falls about n/N of the way through the
window, so any number of events fills the whole window up to ``now``. Sessions of one
person never overlap and each event of a person is no earlier than the one before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from itertools import islice

from shopstream.producers.keys import partition_key
from shopstream.producers.simulator.activity import product_event, session
from shopstream.producers.simulator.bad import BadEvents
from shopstream.producers.simulator.base import SimulatedEvent, SimulationConfig
from shopstream.producers.simulator.buyers import Person
from shopstream.producers.simulator.catalogue import krw_price
from shopstream.producers.simulator.world import HOUR, MINUTE, World
from shopstream.schemas.codec import Codec
from shopstream.schemas.models import Event

PRODUCT_UPDATE_SHARE = 0.01
"""Share of steps that change a product's price instead of running a session."""


def generate(
    config: SimulationConfig, now: dt.datetime, *, codec: Codec | None = None
) -> Iterator[SimulatedEvent]:
    """Exactly ``config.events`` events, ``config.bad_events`` of them bad, all before ``now``.

    Deterministic: the same config and ``now`` give the same events, ids included. Valid
    events are SDK models, validated on construction against this machine's clock, so
    ``now`` must be the current time or earlier. Raises ``ValueError`` at once if the
    time window does not fit the contract.
    """
    _, end = config.window(now)
    if end > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise ValueError("now is in the future: the SDK's models would refuse the events")
    # Simulation, not security: a seeded, reproducible generator is the point (S311).
    world = World(config, now, random.Random(config.seed))  # noqa: S311
    bad_rng = random.Random(f"shopstream-bad-events:{config.seed}")  # noqa: S311
    bad = BadEvents(world, bad_rng, codec)
    return _interleave(
        config.events, config.bad_events, _valid(world, config.events - config.bad_events), bad
    )


def _interleave(
    total: int, bad_total: int, valid: Iterator[SimulatedEvent], bad: BadEvents
) -> Iterator[SimulatedEvent]:
    for k in range(total):
        # Bresenham's spacing: exactly bad_total slots, spread evenly over the stream
        if (k + 1) * bad_total // total > k * bad_total // total:
            yield bad.next()
        else:
            yield next(valid)


def _valid(world: World, total: int) -> Iterator[SimulatedEvent]:
    return islice(_valid_forever(world, max(total, 1)), total)


def _valid_forever(world: World, total: int) -> Iterator[SimulatedEvent]:
    rng = world.rng
    emitted = 0
    for shop in world.shops:
        spacing = HOUR // (len(shop.products) + 1)
        for i, product in enumerate(shop.products):
            yield _simulated(
                product_event(world, product, world.start_ms + i * spacing + rng.randrange(spacing))
            )
            emitted += 1
    while True:
        world.advance(emitted / total)
        if rng.random() < PRODUCT_UPDATE_SHARE:
            yield _simulated(_price_change(world))
            emitted += 1
            continue
        person = world.next_arrival() or _pick_idle_person(world)
        if person.last_ms <= world.clock_ms:
            start = max(world.clock_ms, person.last_ms + 10 * MINUTE) + rng.randrange(10 * MINUTE)
        else:  # busy everyone: back to back, the clamp at `now` is the last resort
            start = person.last_ms + rng.randrange(MINUTE, 10 * MINUTE)
        for event in session(world, person, start):
            yield _simulated(event)
            emitted += 1


def _pick_idle_person(world: World, tries: int = 8) -> Person:
    """A person by activity weight, passing over those whose last session runs ahead of the
    clock: a heavy buyer cannot chain sessions past the end of a short window."""
    person = world.pick_person()
    for _ in range(tries):
        if person.last_ms <= world.clock_ms:
            break
        person = world.pick_person()
    return person


def _price_change(world: World) -> Event:
    """A product of some shop gets a new list price (a catalogue update)."""
    rng = world.rng
    shop = rng.choice(world.shops)
    old = rng.choice(shop.products)
    price = krw_price(rng, old.list_price * 8 // 10, old.list_price * 12 // 10)
    new = dataclasses.replace(old, list_price=max(price, 100))
    shop.replace(old, new)
    return product_event(world, new, world.clock_ms)


def _simulated(event: Event) -> SimulatedEvent:
    return SimulatedEvent(
        event.event_type, partition_key(event.to_avro()), event.event_id, event=event
    )


__all__ = ["PRODUCT_UPDATE_SHARE", "generate"]
