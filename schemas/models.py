"""Typed event classes for the SDK, with their constraints taken from the schemas.

Field names, types and optionality are written here for static typing; every
format and range comes from the schema annotations through :func:`contract_field`,
and ``tests/unit/test_models_match_schemas.py`` fails if the two drift apart.
Pydantic checks the fields (its Rust regex engine and stage 1's Python ``re`` agree on
the contract's patterns because the patterns avoid engine-dependent classes such as
``\\s``: a convention ``shopstream schemas check`` enforces), then every event runs the
schema's cross-field rules through :func:`shopstream.schemas.validation.check_rules`, the
code stage 1 runs. The unit tests prove the SDK and stage 1 agree.

The time rules run here too, against this machine's clock: an event stamped in
seconds instead of milliseconds, or years off, fails where the shop developer sees it
rather than in the dead-letter topic.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shopstream.schemas.contract import Contract, FieldSpec
from shopstream.schemas.validation import RuleContext, check_rules


def contract_field(event: str, path: str) -> Any:
    """A pydantic ``Field`` carrying the doc, format and range the schema declares for ``path``."""
    spec: FieldSpec = Contract.load().latest(event).field(path)
    kwargs: dict[str, Any] = {"description": spec.doc}
    if spec.pattern is not None:
        kwargs["pattern"] = spec.pattern
    if spec.min_length is not None:
        kwargs["min_length"] = spec.min_length
    if spec.max_length is not None:
        kwargs["max_length"] = spec.max_length
    if spec.min_items is not None:
        kwargs["min_length"] = spec.min_items
    if spec.max_items is not None:
        kwargs["max_length"] = spec.max_items
    for key, bound in (("ge", spec.minimum), ("le", spec.maximum)):
        if isinstance(bound, str):
            kwargs[key] = dt.date.fromisoformat(bound)
        elif bound is not None:
            kwargs[key] = bound
    return Field(**kwargs)


def item_field(event: str, path: str) -> Any:
    """A pydantic ``Field`` for each item of an array of strings (``x-item-max-length``)."""
    spec: FieldSpec = Contract.load().latest(event).field(path)
    return Field(max_length=spec.item_max_length)


def _to_millis(value: dt.datetime) -> dt.datetime:
    """Avro timestamp-millis keeps milliseconds; dropping the rest here keeps a model equal
    to what a reader decodes."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _now() -> dt.datetime:
    return _to_millis(dt.datetime.now(dt.UTC))


# Event ids come from a per-process generator seeded by the OS, not from uuid4(): uuid4 makes
# a system call per id, which releases the GIL in the middle of the shop's tracking call and
# lets the tracker's sender thread take it (a tail-latency spike). An id is a deduplication
# key, not a secret; the generator is reseeded in every forked child.
_ids = random.Random(os.urandom(32))  # noqa: S311 - ids, not secrets (see above)
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_event_id() -> uuid.UUID:
    """A random (version 4) UUID."""
    return uuid.UUID(int=(_ids.getrandbits(128) & _V4_CLEAR) | _V4_SET)


Millis = Annotated[AwareDatetime, AfterValidator(_to_millis)]


class Gender(StrEnum):
    M = "M"
    F = "F"
    U = "U"


class SignupChannel(StrEnum):
    WEB = "web"
    APP = "app"
    SOCIAL = "social"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


class PageType(StrEnum):
    HOME = "home"
    CATEGORY = "category"
    PRODUCT = "product"
    SEARCH = "search"
    CART = "cart"
    CHECKOUT = "checkout"
    OTHER = "other"
    UNKNOWN = "unknown"


class ReferrerClass(StrEnum):
    DIRECT = "direct"
    SEARCH = "search"
    SOCIAL = "social"
    AD = "ad"
    EMAIL = "email"
    INTERNAL = "internal"
    OTHER = "other"
    UNKNOWN = "unknown"


class Device(StrEnum):
    PC = "pc"
    MOBILE = "mobile"
    TABLET = "tablet"
    APP = "app"
    UNKNOWN = "unknown"


class PaymentMethod(StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    VIRTUAL_ACCOUNT = "virtual_account"
    MOBILE = "mobile"
    EASY_PAY = "easy_pay"
    POINTS = "points"
    CASH_ON_DELIVERY = "cash_on_delivery"
    OTHER = "other"
    UNKNOWN = "unknown"


class OrderStatus(StrEnum):
    ORDERED = "ordered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"


class ProductType(StrEnum):
    TANGIBLE = "tangible"
    INTANGIBLE = "intangible"
    UNKNOWN = "unknown"


class IntangibleKind(StrEnum):
    TRAVEL = "travel"
    TICKET = "ticket"
    SERVICE = "service"
    DIGITAL = "digital"
    OTHER = "other"
    UNKNOWN = "unknown"


# hide_input_in_errors: a validation error must never carry personal data into a log.
_CONFIG = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Address(BaseModel):
    model_config = _CONFIG
    province: Annotated[str, contract_field("signup", "address.province")]
    district: Annotated[str | None, contract_field("signup", "address.district")] = None
    line: Annotated[str | None, contract_field("signup", "address.line")] = None
    postal_code: Annotated[str | None, contract_field("signup", "address.postal_code")] = None


class PurchaseItem(BaseModel):
    model_config = _CONFIG
    product_id: Annotated[str, contract_field("purchase", "items[].product_id")]
    category_id: Annotated[str, contract_field("purchase", "items[].category_id")]
    quantity: Annotated[int, contract_field("purchase", "items[].quantity")]
    unit_price: Annotated[int, contract_field("purchase", "items[].unit_price")]
    discount: Annotated[int, contract_field("purchase", "items[].discount")] = 0


class TangibleAttributes(BaseModel):
    model_config = _CONFIG
    colour: Annotated[str | None, contract_field("product", "tangible.colour")] = None
    size: Annotated[str | None, contract_field("product", "tangible.size")] = None
    style: Annotated[str | None, contract_field("product", "tangible.style")] = None
    material: Annotated[str | None, contract_field("product", "tangible.material")] = None
    taste: Annotated[str | None, contract_field("product", "tangible.taste")] = None
    weight_g: Annotated[int | None, contract_field("product", "tangible.weight_g")] = None


class IntangibleAttributes(BaseModel):
    model_config = _CONFIG
    kind: Annotated[IntangibleKind, contract_field("product", "intangible.kind")] = (
        IntangibleKind.UNKNOWN
    )
    destination: Annotated[str | None, contract_field("product", "intangible.destination")] = None
    venue: Annotated[str | None, contract_field("product", "intangible.venue")] = None
    start_date: Annotated[dt.date | None, contract_field("product", "intangible.start_date")] = None
    end_date: Annotated[dt.date | None, contract_field("product", "intangible.end_date")] = None
    duration_minutes: Annotated[
        int | None, contract_field("product", "intangible.duration_minutes")
    ] = None


class Event(BaseModel):
    """Fields every event carries (the envelope). Subclasses are the event types."""

    model_config = _CONFIG
    event_type: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=new_event_id, description="Client-generated UUID.")
    shop_id: Annotated[str, contract_field("visit", "shop_id")]
    event_time: Annotated[Millis, contract_field("visit", "event_time")] = Field(
        default_factory=_now
    )
    sent_time: Annotated[Millis, contract_field("visit", "sent_time")] = Field(default_factory=_now)
    buyer_id: Annotated[str | None, contract_field("visit", "buyer_id")] = None
    anonymous_id: Annotated[str | None, contract_field("visit", "anonymous_id")] = None
    session_id: Annotated[str | None, contract_field("visit", "session_id")] = None

    _record: dict[str, Any] = PrivateAttr()

    @model_validator(mode="after")
    def _check_rules(self) -> Event:
        schema = Contract.load().latest(self.event_type)
        record = self.model_dump()
        record["schema_version"] = schema.version
        violations = list(check_rules(schema, record, RuleContext(now=_now())))
        if violations:
            first = violations[0]
            raise PydanticCustomError(
                first.rule,
                "{path}: {message}",
                {"path": first.path, "message": first.message, "violations": len(violations)},
            )
        self._record = record
        return self

    def to_avro(self) -> dict[str, Any]:
        """The record as the codec encodes it: built once, at validation; a fresh top-level
        dict each call, so a caller may set a field (the SDK stamps ``sent_time``)."""
        return dict(self._record)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, validated again like a new event (pydantic skips that)."""
        if not update:
            return super().model_copy(deep=deep)
        return self.model_validate({**dict(self), **update})


class SignupEvent(Event):
    """A buyer created an account."""

    event_type: ClassVar[str] = "signup"
    name: Annotated[str | None, contract_field("signup", "name")] = None
    email: Annotated[str | None, contract_field("signup", "email")] = None
    phone: Annotated[str | None, contract_field("signup", "phone")] = None
    address: Annotated[Address | None, contract_field("signup", "address")] = None
    birth_date: Annotated[dt.date | None, contract_field("signup", "birth_date")] = None
    gender: Annotated[Gender, contract_field("signup", "gender")] = Gender.U
    signup_channel: Annotated[SignupChannel, contract_field("signup", "signup_channel")] = (
        SignupChannel.UNKNOWN
    )
    marketing_email: Annotated[bool, contract_field("signup", "marketing_email")] = False
    marketing_sms: Annotated[bool, contract_field("signup", "marketing_sms")] = False
    marketing_push: Annotated[bool, contract_field("signup", "marketing_push")] = False


class VisitEvent(Event):
    """A page view in a session."""

    event_type: ClassVar[str] = "visit"
    page_type: Annotated[PageType, contract_field("visit", "page_type")] = PageType.UNKNOWN
    product_id: Annotated[str | None, contract_field("visit", "product_id")] = None
    referrer_class: Annotated[ReferrerClass, contract_field("visit", "referrer_class")] = (
        ReferrerClass.UNKNOWN
    )
    device: Annotated[Device, contract_field("visit", "device")] = Device.UNKNOWN
    dwell_ms: Annotated[int, contract_field("visit", "dwell_ms")] = 0


class ReviewEvent(Event):
    """A product review."""

    event_type: ClassVar[str] = "review"
    product_id: Annotated[str, contract_field("review", "product_id")]
    order_id: Annotated[str | None, contract_field("review", "order_id")] = None
    rating: Annotated[int, contract_field("review", "rating")]
    text: Annotated[str | None, contract_field("review", "text")] = None
    has_photo: Annotated[bool, contract_field("review", "has_photo")] = False


class PurchaseEvent(Event):
    """An order placed, cancelled or refunded."""

    event_type: ClassVar[str] = "purchase"
    order_id: Annotated[str, contract_field("purchase", "order_id")]
    items: Annotated[list[PurchaseItem], contract_field("purchase", "items")]
    total: Annotated[int, contract_field("purchase", "total")]
    currency: Annotated[str, contract_field("purchase", "currency")] = "KRW"
    payment_method: Annotated[PaymentMethod, contract_field("purchase", "payment_method")] = (
        PaymentMethod.UNKNOWN
    )
    status: Annotated[OrderStatus, contract_field("purchase", "status")]


class ProductEvent(Event):
    """A catalogue entry created or changed."""

    event_type: ClassVar[str] = "product"
    product_id: Annotated[str, contract_field("product", "product_id")]
    product_name: Annotated[str, contract_field("product", "product_name")]
    category_id: Annotated[str, contract_field("product", "category_id")]
    category_path: Annotated[
        list[Annotated[str, item_field("product", "category_path")]],
        contract_field("product", "category_path"),
    ]
    product_type: Annotated[ProductType, contract_field("product", "product_type")]
    brand: Annotated[str | None, contract_field("product", "brand")] = None
    seller_id: Annotated[str | None, contract_field("product", "seller_id")] = None
    list_price: Annotated[int, contract_field("product", "list_price")]
    currency: Annotated[str, contract_field("product", "currency")] = "KRW"
    on_sale: Annotated[bool, contract_field("product", "on_sale")] = True
    tangible: Annotated[TangibleAttributes | None, contract_field("product", "tangible")] = None
    intangible: Annotated[IntangibleAttributes | None, contract_field("product", "intangible")] = (
        None
    )


EVENT_CLASSES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (SignupEvent, VisitEvent, ReviewEvent, PurchaseEvent, ProductEvent)
}

__all__ = [
    "EVENT_CLASSES",
    "Address",
    "Device",
    "Event",
    "Gender",
    "IntangibleAttributes",
    "IntangibleKind",
    "OrderStatus",
    "PageType",
    "PaymentMethod",
    "ProductEvent",
    "ProductType",
    "PurchaseEvent",
    "PurchaseItem",
    "ReferrerClass",
    "ReviewEvent",
    "SignupChannel",
    "SignupEvent",
    "TangibleAttributes",
    "VisitEvent",
    "contract_field",
    "item_field",
]
