"""What the simulator is asked for and what it yields.

:class:`SimulationConfig` says how much traffic to make; :func:`generate` turns it into
:class:`SimulatedEvent` values, valid ones carrying an SDK model and bad ones carrying
the bytes to produce as they are.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shopstream.schemas.models import Event

BadKind = Literal[
    "random_bytes",
    "truncated",
    "unknown_fingerprint",
    "out_of_range",
    "inconsistent_total",
    "far_future",
    "ancient",
    "huge_string",
]
BAD_KINDS: tuple[BadKind, ...] = get_args(BadKind)
"""Every kind of bad event, each a label the dead-letter tests look for."""


class SimulationConfig(BaseModel):
    """How much traffic to simulate; the same config, seed and ``now`` give the same events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shops: int = Field(default=3, ge=1, le=1000, description="Shops (tenants).")
    buyers: int = Field(
        default=200,
        ge=1,
        description="Members, spread over the shops; each signs up when first active.",
    )
    visitors: int | None = Field(
        default=None,
        ge=0,
        description="Visitors who never sign up (anonymous_id only); buyers // 4 if unset.",
    )
    events: int = Field(
        default=20_000, ge=0, description="Events to generate in all, bad ones included."
    )
    seed: int = Field(default=0, description="Seed of the random generators.")
    bad_fraction: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Share of the events that are bad on purpose."
    )
    products_per_shop: int = Field(
        default=40, ge=1, le=10_000, description="Catalogue size per shop (fewer for short runs)."
    )
    days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Event times span this many days up to `now`, unless `start`.",
    )
    start: AwareDatetime | None = Field(
        default=None, description="First event time; default `now` minus `days`."
    )

    @property
    def bad_events(self) -> int:
        """How many of :attr:`events` are bad."""
        return round(self.events * self.bad_fraction)

    @property
    def anonymous_visitors(self) -> int:
        return self.buyers // 4 if self.visitors is None else self.visitors

    def window(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """First and last possible event time; raises ``ValueError`` if outside the contract."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        now = now.astimezone(dt.UTC)
        start = (self.start or now - dt.timedelta(days=self.days)).astimezone(dt.UTC)
        if start >= now - dt.timedelta(hours=6):
            raise ValueError("start must be at least six hours before now")
        if now - start > dt.timedelta(days=365):
            # the contract's horizon is 400 days; keep a margin for processing later
            raise ValueError("start must be at most 365 days before now")
        return start, now


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    """One event of the simulated stream, valid or bad.

    Valid: ``event`` is the SDK model, ``raw`` is None, ``bad`` is None.
    Bad: ``event`` is None, ``raw`` is the bytes to produce unchanged, ``bad`` the label,
    and ``record`` the plain record the bytes were made from (None for random bytes).
    """

    name: str | None
    """Event type (``visit``, ``purchase``...); None for random bytes."""
    key: bytes
    """Kafka message key, :func:`shopstream.producers.keys.partition_key` of the record."""
    event_id: uuid.UUID | None
    event: Event | None = None
    raw: bytes | None = None
    bad: BadKind | None = None
    record: Mapping[str, Any] | None = None

    @property
    def is_valid(self) -> bool:
        return self.bad is None


__all__ = ["BAD_KINDS", "BadKind", "SimulatedEvent", "SimulationConfig"]
