"""Synthetic clean events for the aggregate tests, and proof that they match the clean schemas.

``CleanEventFactory`` builds (event_type, record) pairs as fastavro decodes clean events:
UUID event_ids, aware UTC datetimes, enum symbols. Times are given in days after ``T0``.
Invented identities only: pseudonyms are SHA-256 of labels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import strategies as st

from shopstream.processors.aggregate import AggregateSettings, BuyerState, apply_event
from shopstream.schemas.contract import schemas_root

T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
SHOP = "gildong-mart"
KEY_ID = "k2025-01"

Event = tuple[str, dict[str, Any]]
Item = tuple[str, int, int, int]  # category_id, quantity, unit_price, discount


def pseudonym(label: str) -> str:
    """A synthetic pseudonym: 64 lower-case hex digits."""
    return hashlib.sha256(label.encode()).hexdigest()


BUYER = pseudonym("buyer-1")


def at(day: float | dt.datetime) -> dt.datetime:
    """``T0`` plus ``day`` days, to the millisecond (what timestamp-millis can hold)."""
    if isinstance(day, dt.datetime):
        return day
    return T0 + dt.timedelta(milliseconds=round(day * 86_400_000))


class CleanEventFactory:
    """Clean records of one shop and buyer; keyword arguments override any field."""

    def __init__(self, buyer: str | None = BUYER, shop_id: str = SHOP) -> None:
        self.buyer = buyer
        self.shop_id = shop_id
        self._count = 0

    def next_id(self) -> uuid.UUID:
        self._count += 1
        return uuid.UUID(int=self._count, version=4)

    def _record(self, day: float | dt.datetime, body: dict[str, Any], **fields: Any) -> Any:
        session = fields.pop("session", "session-1")
        event_time = at(day)
        record = {
            "event_id": self.next_id(),
            "schema_version": 1,
            "shop_id": self.shop_id,
            "event_time": event_time,
            "sent_time": event_time + dt.timedelta(seconds=1),
            "buyer_pseudonym": self.buyer,
            "anonymous_pseudonym": pseudonym("device-1"),
            "session_pseudonym": None if session is None else pseudonym(session),
            "pseudonym_key_id": KEY_ID,
            "processed_time": event_time + dt.timedelta(seconds=2),
            **body,
        }
        unknown = set(fields) - set(record)
        assert not unknown, f"not fields of the record: {unknown}"
        record.update(fields)
        return record

    def signup(
        self,
        day: float | dt.datetime = 0,
        *,
        age_band: str | None = "30-39",
        gender: str = "F",
        region: str | None = "KR-11",
        signup_channel: str = "web",
        **fields: Any,
    ) -> Event:
        body = {
            "email_pseudonym": pseudonym("mail-1"),
            "phone_pseudonym": None,
            "region": region,
            "age_band": age_band,
            "gender": gender,
            "signup_channel": signup_channel,
            "marketing_email": True,
            "marketing_sms": False,
            "marketing_push": False,
        }
        return "signup", self._record(day, body, **fields)

    def visit(
        self,
        day: float | dt.datetime = 0,
        *,
        device: str = "pc",
        dwell_ms: int = 1_000,
        **fields: Any,
    ) -> Event:
        body = {
            "page_type": "product",
            "product_id": "P-1",
            "referrer_class": "direct",
            "device": device,
            "dwell_ms": dwell_ms,
        }
        return "visit", self._record(day, body, **fields)

    def purchase(
        self,
        day: float | dt.datetime = 0,
        *,
        items: Iterable[Item] = (("C1", 1, 10_000, 0),),
        currency: str = "KRW",
        status: str = "ordered",
        **fields: Any,
    ) -> Event:
        lines = [
            {
                "product_id": f"P-{category}-{n}",
                "category_id": category,
                "quantity": quantity,
                "unit_price": unit_price,
                "discount": discount,
            }
            for n, (category, quantity, unit_price, discount) in enumerate(items)
        ]
        body = {
            "order_id": f"O-{self._count + 1}",
            "items": lines,
            "total": sum(i["quantity"] * i["unit_price"] - i["discount"] for i in lines),
            "currency": currency,
            "payment_method": "card",
            "status": status,
        }
        return "purchase", self._record(day, body, **fields)

    def review(self, day: float | dt.datetime = 0, *, rating: int = 5, **fields: Any) -> Event:
        body = {
            "product_id": "P-1",
            "order_id": None,
            "rating": rating,
            "text": "좋아요",
            "has_photo": False,
            "redactions": 0,
        }
        return "review", self._record(day, body, **fields)

    def product(self, day: float | dt.datetime = 0, **fields: Any) -> Event:
        body = {
            "product_id": "P-1",
            "product_name": "머그컵",
            "category_id": "C1",
            "category_path": ["주방", "컵"],
            "product_type": "tangible",
            "brand": None,
            "seller_id": None,
            "list_price": 10_000,
            "currency": "KRW",
            "on_sale": True,
            "tangible": {
                "colour": "white",
                "size": None,
                "style": None,
                "material": None,
                "taste": None,
                "weight_g": 300,
            },
            "intangible": None,
        }
        return "product", self._record(day, body, **fields)


def replay(events: Iterable[Event], settings: AggregateSettings | None = None) -> BuyerState | None:
    """The state after applying ``events`` in order to an empty state."""
    settings = settings or AggregateSettings()
    state: BuyerState | None = None
    for event_type, record in events:
        state, _ = apply_event(state, event_type, record, settings)
    return state


DAY_MS = 86_400_000

# Strategies are built once: building them per draw is what makes a property test slow.
_KINDS = st.sampled_from(
    ["signup", "visit", "visit", "visit", "purchase", "purchase", "review", "product", "anon"]
)
_KEY_IDS = st.sampled_from(["k1", "k2"])
_SHARED_SESSIONS = st.sampled_from(["s1", "s2", "s3", None])
_AGE_BANDS = st.sampled_from(["<20", "30-39", "70+", None])
_GENDERS = st.sampled_from(["M", "F", "U"])
_REGIONS = st.sampled_from(["KR-11", "KR-26:해운대구", None])
_CHANNELS = st.sampled_from(["web", "app", "unknown"])
_DEVICES = st.sampled_from(["pc", "mobile", "tablet", "app", "unknown"])
_DWELL = st.integers(0, 600_000)
_LINES = st.lists(
    st.tuples(
        st.sampled_from(["C1", "C2", "C3", "C4", "C5"]),
        st.integers(1, 5),
        st.integers(0, 50_000),
        st.floats(0, 1),  # the line's discount, as a share of quantity × unit_price
    ),
    min_size=1,
    max_size=3,
)
_CURRENCIES = st.sampled_from(["KRW", "KRW", "KRW", "USD"])
_STATUSES = st.sampled_from(["ordered", "ordered", "cancelled", "refunded", "unknown"])
_RATINGS = st.integers(1, 5)


@st.composite
def event_lists(
    draw: st.DrawFn, *, span_ms: int, duplicates: bool, shared_sessions: bool
) -> list[Event]:
    """Events of one buyer (with some product and anonymous ones) within ``span_ms`` of T0.

    ``duplicates`` adds resends (the same record, event_id as UUID or str) of some of them;
    ``shared_sessions`` draws sessions from a pool of three, otherwise each visit has its own.
    """
    f = CleanEventFactory()
    anonymous = CleanEventFactory(buyer=None)
    count = draw(st.integers(1, 16))
    ids = draw(st.lists(st.uuids(), min_size=count, max_size=count, unique=True))
    times = st.one_of(st.integers(0, span_ms), st.sampled_from([0, span_ms // 2, span_ms]))
    events: list[Event] = []
    for n, event_id in enumerate(ids):
        kind = draw(_KINDS)
        when = T0 + dt.timedelta(milliseconds=draw(times))
        common: dict[str, Any] = {
            "event_id": event_id if n % 2 else str(event_id),
            "pseudonym_key_id": draw(_KEY_IDS),
            "session": draw(_SHARED_SESSIONS) if shared_sessions else f"s{n}",
        }
        if kind == "signup":
            event = f.signup(
                when,
                age_band=draw(_AGE_BANDS),
                gender=draw(_GENDERS),
                region=draw(_REGIONS),
                signup_channel=draw(_CHANNELS),
                **common,
            )
        elif kind == "visit":
            event = f.visit(when, device=draw(_DEVICES), dwell_ms=draw(_DWELL), **common)
        elif kind == "purchase":
            items = [(c, q, p, int(q * p * share)) for c, q, p, share in draw(_LINES)]
            event = f.purchase(
                when,
                items=items,
                currency=draw(_CURRENCIES),
                status=draw(_STATUSES),
                **common,
            )
        elif kind == "review":
            event = f.review(when, rating=draw(_RATINGS), **common)
        elif kind == "product":
            event = f.product(when, **common)
        else:
            event = anonymous.visit(when, **common)
        events.append(event)
    if duplicates:
        for n in draw(st.lists(st.integers(0, count - 1), max_size=6)):
            event_type, record = events[n]
            same_id = str(record["event_id"])
            # A resend decodes the same; the other spelling checks str() normalisation too.
            spelling = uuid.UUID(same_id) if n % 3 else same_id
            events.append((event_type, {**record, "event_id": spelling}))
    return events


@cache
def clean_schema(event_type: str) -> Any:
    path = schemas_root() / "clean" / event_type / "v1.avsc"
    return parse_schema(json.loads(path.read_text("utf-8")))


def decoded(event_type: str, record: dict[str, Any]) -> Any:
    """``record`` encoded with its clean schema and decoded again, as stage 2 would see it."""
    buf = io.BytesIO()
    schemaless_writer(buf, clean_schema(event_type), record, strict=True)
    buf.seek(0)
    return schemaless_reader(buf, clean_schema(event_type), None)


@pytest.fixture
def event_factory() -> CleanEventFactory:
    return CleanEventFactory()


@pytest.mark.parametrize("event_type", ["signup", "visit", "purchase", "review", "product"])
def test_factory_records_are_clean_events_as_decoded(
    event_factory: CleanEventFactory, event_type: str
) -> None:
    built_type, record = getattr(event_factory, event_type)(3.25)
    assert built_type == event_type
    assert decoded(event_type, record) == record  # every field, same Python types


def test_factory_overrides_only_known_fields(event_factory: CleanEventFactory) -> None:
    _, record = event_factory.visit(0, buyer_pseudonym=None, session=None, device="tablet")
    assert (record["buyer_pseudonym"], record["session_pseudonym"]) == (None, None)
    assert record["device"] == "tablet"
    with pytest.raises(AssertionError, match="not fields"):
        event_factory.visit(0, colour="red")
