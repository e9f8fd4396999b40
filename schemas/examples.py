"""One synthetic example event of each type, for the demo, benchmarks and docs.

All personal data here is invented (names, phone numbers and addresses that belong
to no one); never put real data in examples or tests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TypedDict

from shopstream.schemas.models import (
    Address,
    Device,
    Event,
    Gender,
    IntangibleAttributes,
    IntangibleKind,
    OrderStatus,
    PageType,
    PaymentMethod,
    ProductEvent,
    ProductType,
    PurchaseEvent,
    PurchaseItem,
    ReferrerClass,
    ReviewEvent,
    SignupChannel,
    SignupEvent,
    TangibleAttributes,
    VisitEvent,
)


class _Envelope(TypedDict):
    shop_id: str
    event_time: dt.datetime
    sent_time: dt.datetime


class _Buyer(TypedDict):
    buyer_id: str
    anonymous_id: str


def example_events(
    now: dt.datetime | None = None, shop_id: str = "demo-shop", seed: int = 0
) -> dict[str, Event]:
    """One valid event of each type, dated ``now``; ids are derived from ``seed``."""
    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)

    def eid(n: int) -> uuid.UUID:
        return uuid.UUID(int=(seed << 16) + n, version=4)

    envelope = _Envelope(shop_id=shop_id, event_time=now, sent_time=now)
    buyer = _Buyer(buyer_id=f"member-{seed:05d}", anonymous_id=f"anon-{seed:05d}")
    return {
        "signup": SignupEvent(
            event_id=eid(1),
            **envelope,
            **buyer,
            name="김민준",
            email="minjun.kim@example.com",
            phone="010-0000-1234",
            address=Address(
                province="서울특별시",
                district="영등포구",
                line="여의대로 1, 101동 202호",
                postal_code="07300",
            ),
            birth_date=dt.date(1992, 3, 14),
            gender=Gender.M,
            signup_channel=SignupChannel.APP,
            marketing_email=True,
        ),
        "visit": VisitEvent(
            event_id=eid(2),
            **envelope,
            **buyer,
            session_id=f"sess-{seed:05d}",
            page_type=PageType.PRODUCT,
            product_id="P-1001",
            referrer_class=ReferrerClass.SEARCH,
            device=Device.MOBILE,
            dwell_ms=42_000,
        ),
        "review": ReviewEvent(
            event_id=eid(3),
            **envelope,
            **buyer,
            product_id="P-1001",
            order_id="O-20261203-0001",
            rating=5,
            text="배송이 빨라요! 문의는 010-0000-1234 로 주세요",
            has_photo=True,
        ),
        "purchase": PurchaseEvent(
            event_id=eid(4),
            **envelope,
            **buyer,
            order_id="O-20261203-0001",
            items=[
                PurchaseItem(
                    product_id="P-1001",
                    category_id="C-FASHION-TOP",
                    quantity=2,
                    unit_price=29_000,
                    discount=3_000,
                ),
                PurchaseItem(
                    product_id="P-2002", category_id="C-TRAVEL-JEJU", quantity=1, unit_price=189_000
                ),
            ],
            total=244_000,
            currency="KRW",
            payment_method=PaymentMethod.EASY_PAY,
            status=OrderStatus.ORDERED,
        ),
        "product": ProductEvent(
            event_id=eid(5),
            **envelope,
            product_id="P-2002",
            product_name="제주 2박 3일 항공+호텔",
            category_id="C-TRAVEL-JEJU",
            category_path=["여행", "국내여행", "제주"],
            product_type=ProductType.INTANGIBLE,
            brand="섬여행사",
            list_price=189_000,
            intangible=IntangibleAttributes(
                kind=IntangibleKind.TRAVEL,
                destination="제주",
                start_date=now.date(),
                end_date=now.date() + dt.timedelta(days=2),
            ),
        ),
    }


def example_tangible_product(now: dt.datetime, shop_id: str = "demo-shop") -> ProductEvent:
    """A tangible catalogue entry, to show the other attribute set."""
    return ProductEvent(
        shop_id=shop_id,
        event_time=now,
        sent_time=now,
        product_id="P-1001",
        product_name="오버핏 니트 스웨터",
        category_id="C-FASHION-TOP",
        category_path=["패션", "여성의류", "니트"],
        product_type=ProductType.TANGIBLE,
        brand="하늘섬유",
        list_price=29_000,
        tangible=TangibleAttributes(
            colour="아이보리", size="FREE", style="캐주얼", material="울 30%"
        ),
    )


__all__ = [
    "example_events",
    "example_tangible_product",
]
