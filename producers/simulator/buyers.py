"""The people who visit the shops: members, who sign up when first active, and visitors
who stay anonymous. Each carries the state the simulation needs between sessions."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from shopstream.producers.simulator import people, regions
from shopstream.producers.simulator.catalogue import TANGIBLE_FAMILIES, Product
from shopstream.schemas.models import (
    Address,
    Device,
    Gender,
    PaymentMethod,
    PurchaseItem,
    SignupChannel,
    SignupEvent,
)

if TYPE_CHECKING:
    from shopstream.producers.simulator.world import Shop, World

_FAMILIES = (*sorted(TANGIBLE_FAMILIES), "travel", "ticket", "voucher", "digital")
_DEVICES = (Device.MOBILE, Device.APP, Device.PC, Device.TABLET)
_DEVICE_WEIGHTS = (45, 25, 25, 5)
_CHANNELS = (SignupChannel.APP, SignupChannel.WEB, SignupChannel.SOCIAL, SignupChannel.OFFLINE)
_CHANNEL_WEIGHTS = (40, 35, 20, 5)


@dataclass(frozen=True, slots=True)
class Profile:
    """What a member gives at sign-up (all of it invented)."""

    name: str
    email: str | None
    phone: str | None
    phone_digits: str
    address: regions.Address | None
    birth_date: dt.date | None
    gender: Gender
    channel: SignupChannel
    consents: tuple[bool, bool, bool]


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    items: tuple[PurchaseItem, ...]
    total: int
    payment_method: PaymentMethod
    products: tuple[Product, ...]


@dataclass(slots=True)
class PendingAction:
    """Something a buyer does in a later session: cancel, refund or review an order."""

    kind: Literal["cancel", "refund", "review"]
    due_ms: int
    order: Order


@dataclass(slots=True, eq=False)
class Person:
    index: int
    shop: Shop
    anonymous_id: str
    member_id: str | None
    """The buyer id a member gets at sign-up; None for a visitor who stays anonymous."""
    profile: Profile | None
    weight: float
    device: Device
    interests: tuple[str, ...]
    buyer_id: str | None = None
    arrival_ms: int = 0
    """When they first come to the shop."""
    last_ms: int = 0
    sessions: int = 0
    pending: list[PendingAction] = field(default_factory=list)

    @property
    def signed_up(self) -> bool:
        return self.buyer_id is not None


def create_people(
    rng: random.Random, shops: list[Shop], members: int, visitors: int, today: dt.date
) -> list[Person]:
    """Members first (spread round-robin over the shops), then anonymous visitors."""
    result = []
    for i in range(members + visitors):
        member = i < members
        shop = shops[i % len(shops)]
        result.append(
            Person(
                index=i,
                shop=shop,
                anonymous_id=f"dev-{rng.getrandbits(64):016x}",
                member_id=f"mem-{shop.index:02d}-{i + 1:07d}" if member else None,
                profile=_profile(rng, today) if member else None,
                weight=min(rng.paretovariate(1.6), 40.0) * (1.0 if member else 0.5),
                device=rng.choices(_DEVICES, weights=_DEVICE_WEIGHTS)[0],
                interests=tuple(rng.sample(_FAMILIES, 2)),
            )
        )
    return result


def _profile(rng: random.Random, today: dt.date) -> Profile:
    gender = rng.choices((Gender.F, Gender.M, Gender.U), weights=(52, 40, 8))[0]
    name = people.person_name(rng, gender.value)
    born = people.birth_date(rng, today) if rng.random() < 0.85 else None
    digits = people.mobile_digits(rng)
    return Profile(
        name=name.full,
        email=people.email_address(rng, name, born.year if born else None)
        if rng.random() < 0.9
        else None,
        phone=people.format_phone(rng, digits) if rng.random() < 0.95 else None,
        phone_digits=digits,
        address=regions.address(rng) if rng.random() < 0.85 else None,
        birth_date=born,
        gender=gender,
        channel=rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS)[0],
        consents=(rng.random() < 0.45, rng.random() < 0.35, rng.random() < 0.3),
    )


def signup_event(world: World, person: Person, t_ms: int, session_id: str) -> SignupEvent:
    """The member signs up: from here on their events carry ``buyer_id``."""
    profile = person.profile
    if profile is None or person.member_id is None:
        raise ValueError("an anonymous visitor does not sign up")
    person.buyer_id = person.member_id
    address = profile.address
    return SignupEvent(
        **world.envelope(person.shop.shop_id, t_ms, person=person, session_id=session_id),
        name=profile.name,
        email=profile.email,
        phone=profile.phone,
        address=Address(
            province=address.province,
            district=address.district,
            line=address.line,
            postal_code=address.postal_code,
        )
        if address
        else None,
        birth_date=profile.birth_date,
        gender=profile.gender,
        signup_channel=profile.channel,
        marketing_email=profile.consents[0],
        marketing_sms=profile.consents[1],
        marketing_push=profile.consents[2],
    )


__all__ = ["Order", "PendingAction", "Person", "Profile", "create_people", "signup_event"]
