"""Bad events, made on purpose for the dead-letter tests: one kind per way input goes wrong.

Each is produced as raw bytes (the SDK would refuse to encode most of them). Where the
bytes come from a record, the record travels with them so that a test can tell what was
meant. What stage 1 must answer for each kind:

====================  ==============================================================
``random_bytes``      not Avro at all: ``NotAvroError``
``truncated``         a valid encoding cut short: ``TruncatedError``
``unknown_fingerprint`` a valid body behind a fingerprint no schema has: ``UnknownSchemaError``
``out_of_range``      rating 0/6/9, quantity 0/1000, dwell_ms negative or over 24 h: rule ``min``/``max``
``inconsistent_total`` total differs from Σ(quantity × unit_price − discount): ``total_matches_items``
``far_future``        event_time 1 to 60 days ahead of now: ``event_time_window``
``ancient``           event_time 2 to 10 years back: ``event_time_window``
``huge_string``       review text, name or product name far over its maximum: ``max_length``
====================  ==============================================================
"""

from __future__ import annotations

import random
from typing import Any

from shopstream.producers.keys import partition_key
from shopstream.producers.simulator.base import BAD_KINDS, BadKind, SimulatedEvent
from shopstream.producers.simulator.catalogue import Product
from shopstream.producers.simulator.world import DAY, World, at, random_uuid
from shopstream.schemas.codec import HEADER_SIZE, MAGIC, Codec

_NOT_MAGIC_FIRST = bytes(b for b in range(1, 256) if b != MAGIC[0])  # 0x00 is Confluent framing
_FILLER = "정말 좋아요 배송 빠르고 포장도 꼼꼼해요 "


class BadEvents:
    """Makes bad events from the world's shops and people, with a random generator of its own
    (reading the world, never drawing from its generator or changing it)."""

    def __init__(self, world: World, rng: random.Random, codec: Codec | None = None) -> None:
        self.world, self.rng = world, rng
        self.codec = codec or Codec()
        self._known = {schema.fingerprint for schema in self.codec.contract}
        self._kinds = list(BAD_KINDS)
        rng.shuffle(self._kinds)
        self._made = 0

    def next(self) -> SimulatedEvent:
        """The next bad event; the kinds take turns, so every kind appears once in eight."""
        kind = self._kinds[self._made % len(self._kinds)]
        self._made += 1
        return self.make(kind)

    def make(self, kind: BadKind) -> SimulatedEvent:
        rng = self.rng
        if kind == "random_bytes":
            raw = bytes([rng.choice(_NOT_MAGIC_FIRST)]) + rng.randbytes(rng.randrange(5, 200))
            key = partition_key(self._envelope(self.world.clock_ms))
            return SimulatedEvent(None, key, None, raw=raw, bad=kind)
        name, record = self._record(kind)
        raw = self.codec.encode(name, record)
        if kind == "truncated":
            cut = (
                rng.randrange(2, HEADER_SIZE)
                if rng.random() < 0.1
                else rng.randrange(HEADER_SIZE + 1, len(raw))
            )
            raw = raw[:cut]
        elif kind == "unknown_fingerprint":
            fingerprint = rng.randbytes(8)
            while fingerprint in self._known:  # pragma: no cover - one chance in 2**61
                fingerprint = rng.randbytes(8)
            raw = MAGIC + fingerprint + raw[HEADER_SIZE:]
        return SimulatedEvent(
            name, partition_key(record), record["event_id"], raw=raw, bad=kind, record=record
        )

    def _record(self, kind: BadKind) -> tuple[str, dict[str, Any]]:
        rng, now_ms = self.rng, self.world.now_ms
        t_ms = self.world.clock_ms
        if kind == "inconsistent_total":
            record = self._purchase(t_ms)
            record["total"] += rng.choice((-1, 1)) * rng.randrange(100, 10_000, 100)
            record["total"] = abs(record["total"])
            return "purchase", record
        if kind == "out_of_range":
            return self._out_of_range(t_ms)
        if kind == "huge_string":
            return self._huge_string(t_ms)
        name = rng.choice(("visit", "review", "purchase"))
        if kind == "far_future":
            t_ms = now_ms + rng.randrange(DAY, 60 * DAY)
        elif kind == "ancient":
            t_ms = now_ms - rng.randrange(2 * 365 * DAY, 10 * 365 * DAY)
        record = (
            self._visit(t_ms)
            if name == "visit"
            else self._review(t_ms)
            if name == "review"
            else self._purchase(t_ms)
        )
        if kind in ("far_future", "ancient"):
            record["sent_time"] = record["event_time"]  # a device whose clock is wrong
        return name, record

    def _out_of_range(self, t_ms: int) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        variant = rng.randrange(3)
        if variant == 0:
            record = self._review(t_ms)
            record["rating"] = rng.choice((0, 6, 9, -1))
            return "review", record
        if variant == 1:
            record = self._purchase(t_ms)
            item = record["items"][0]
            item["quantity"], item["discount"] = rng.choice((0, 1000)), 0
            record["total"] = sum(
                i["quantity"] * i["unit_price"] - i["discount"] for i in record["items"]
            )
            return "purchase", record
        record = self._visit(t_ms)
        record["dwell_ms"] = rng.choice(
            (-rng.randrange(1, 5000), 86_400_001 + rng.randrange(10**7))
        )
        return "visit", record

    def _huge_string(self, t_ms: int) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        variant = rng.random()
        if variant < 0.6:
            record = self._review(t_ms)
            record["text"] = (_FILLER * 400)[: rng.randrange(5_001, 12_000)]
            return "review", record
        if variant < 0.8:
            record = self._signup(t_ms)
            record["name"] = "김" * rng.randrange(101, 500)
            return "signup", record
        record = self._product(t_ms)
        record["product_name"] = "특가 " * rng.randrange(70, 400)
        return "product", record

    # -- base records: valid until a kind breaks them ------------------------------------

    def _envelope(self, t_ms: int) -> dict[str, Any]:
        person = self.rng.choice(self.world.people)
        return {
            "event_id": random_uuid(self.rng),
            "schema_version": 1,
            "shop_id": person.shop.shop_id,
            "event_time": at(t_ms),
            "sent_time": at(t_ms + self.rng.randrange(5, 1500)),
            "buyer_id": person.buyer_id,
            "anonymous_id": person.anonymous_id,
            "session_id": f"sess-{self.rng.getrandbits(64):016x}",
        }

    def _product_of(self, record: dict[str, Any]) -> Product:
        shop = next(s for s in self.world.shops if s.shop_id == record["shop_id"])
        return self.rng.choice(shop.products)

    def _visit(self, t_ms: int) -> dict[str, Any]:
        record = self._envelope(t_ms)
        product = self._product_of(record)
        return record | {
            "page_type": "product",
            "product_id": product.product_id,
            "referrer_class": "internal",
            "device": "mobile",
            "dwell_ms": self.rng.randrange(1000, 60_000),
        }

    def _review(self, t_ms: int) -> dict[str, Any]:
        record = self._envelope(t_ms)
        product = self._product_of(record)
        return record | {
            "product_id": product.product_id,
            "order_id": None,
            "rating": self.rng.randrange(1, 6),
            "text": "좋아요",
            "has_photo": False,
        }

    def _purchase(self, t_ms: int) -> dict[str, Any]:
        rng = self.rng
        record = self._envelope(t_ms)
        items: list[dict[str, Any]] = []
        for _ in range(rng.randrange(1, 4)):
            product = self._product_of(record)
            items.append(
                {
                    "product_id": product.product_id,
                    "category_id": product.category.category_id,
                    "quantity": rng.randrange(1, 3),
                    "unit_price": product.list_price,
                    "discount": 0,
                }
            )
        return record | {
            "order_id": f"O-{at(t_ms):%Y%m%d}-B{self._made:07d}",
            "items": items,
            "total": sum(i["quantity"] * i["unit_price"] for i in items),
            "currency": "KRW",
            "payment_method": "card",
            "status": "ordered",
        }

    def _signup(self, t_ms: int) -> dict[str, Any]:
        record = self._envelope(t_ms)
        record["buyer_id"] = record["buyer_id"] or f"mem-x{self._made:07d}"
        return record | {
            "name": None,
            "email": None,
            "phone": None,
            "address": None,
            "birth_date": None,
            "gender": "U",
            "signup_channel": "web",
            "marketing_email": False,
            "marketing_sms": False,
            "marketing_push": False,
        }

    def _product(self, t_ms: int) -> dict[str, Any]:
        record = self._envelope(t_ms)
        product = self._product_of(record)
        record.update(buyer_id=None, anonymous_id=None, session_id=None)
        return record | {
            "product_id": product.product_id,
            "product_name": product.name,
            "category_id": product.category.category_id,
            "category_path": list(product.category.path),
            "product_type": product.product_type.value,
            "brand": product.brand,
            "seller_id": product.seller_id,
            "list_price": product.list_price,
            "currency": "KRW",
            "on_sale": True,
            "tangible": product.tangible.model_dump() if product.tangible else None,
            "intangible": product.intangible.model_dump() if product.intangible else None,
        }


__all__ = ["BadEvents"]
