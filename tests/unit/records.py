"""Synthetic records shared by the unit tests: one valid record of each event type.

Invented people only (김길동, example.com, the standard's own 010-2222-3333 example).
`GOLDEN_RECORDS` are frozen: test_codec.py pins their exact bytes. The helpers give
copies with other times, for tests that need records relative to "now".
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

T_EVENT = dt.datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=dt.UTC)
T_SENT = dt.datetime(2025, 3, 14, 9, 26, 54, 12000, tzinfo=dt.UTC)


def _envelope(event_id: str, **ids: str | None) -> dict[str, Any]:
    return {
        "event_id": uuid.UUID(event_id),
        "schema_version": 1,
        "shop_id": "gildong-mart",
        "event_time": T_EVENT,
        "sent_time": T_SENT,
        "buyer_id": ids.get("buyer_id"),
        "anonymous_id": ids.get("anonymous_id"),
        "session_id": ids.get("session_id"),
    }


GOLDEN_RECORDS: dict[str, dict[str, Any]] = {
    "signup": {
        **_envelope(
            "0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5b",
            buyer_id="member-000123",
            anonymous_id="dev-7f3a9c",
        ),
        "name": "김길동",
        "email": "gildong.kim@example.com",
        "phone": "010-2222-3333",
        "address": {
            "province": "서울특별시",
            "district": "영등포구",
            "line": "여의도동 푸른아파트 3동 2호",
            "postal_code": "07327",
        },
        "birth_date": dt.date(1993, 7, 21),
        "gender": "M",
        "signup_channel": "app",
        "marketing_email": True,
        "marketing_sms": False,
        "marketing_push": True,
    },
    "visit": {
        **_envelope(
            "0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5c", anonymous_id="dev-7f3a9c", session_id="sess-01"
        ),
        "page_type": "product",
        "product_id": "P-1001",
        "referrer_class": "search",
        "device": "mobile",
        "dwell_ms": 48213,
    },
    "review": {
        **_envelope("0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5d", buyer_id="member-000123"),
        "product_id": "P-1001",
        "order_id": "ORD-2025-0001",
        "rating": 5,
        "text": "배송이 빨라요. 귤이 달고 맛있어요! 다음에도 살게요 🍊",
        "has_photo": True,
    },
    "purchase": {
        **_envelope(
            "0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5e", buyer_id="member-000123", session_id="sess-01"
        ),
        "order_id": "ORD-2025-0001",
        "items": [
            {
                "product_id": "P-1001",
                "category_id": "C-FRUIT",
                "quantity": 2,
                "unit_price": 12900,
                "discount": 1000,
            },
            {
                "product_id": "P-2002",
                "category_id": "C-KITCHEN",
                "quantity": 1,
                "unit_price": 45000,
                "discount": 0,
            },
        ],
        "total": 69800,
        "currency": "KRW",
        "payment_method": "easy_pay",
        "status": "ordered",
    },
    "product": {
        **_envelope("0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5f"),
        "product_id": "P-1001",
        "product_name": "제주 감귤 5kg",
        "category_id": "C-FRUIT",
        "category_path": ["식품", "과일", "감귤"],
        "product_type": "tangible",
        "brand": "한라농원",
        "seller_id": "seller-42",
        "list_price": 32900,
        "currency": "KRW",
        "on_sale": True,
        "tangible": {
            "colour": "주황",
            "size": "5kg",
            "style": None,
            "material": None,
            "taste": "새콤달콤",
            "weight_g": 5200,
        },
        "intangible": None,
    },
}


def record_at(
    name: str, event_time: dt.datetime, sent_time: dt.datetime | None = None
) -> dict[str, Any]:
    """A deep copy of the golden ``name`` record, dated ``event_time``."""
    record = copy.deepcopy(GOLDEN_RECORDS[name])
    record["event_time"] = event_time
    record["sent_time"] = sent_time or event_time
    return record


def model_kwargs_at(name: str, event_time: dt.datetime) -> dict[str, Any]:
    """Keyword arguments for the SDK model of ``name``: the golden record, dated ``event_time``."""
    record = record_at(name, event_time, event_time + dt.timedelta(milliseconds=250))
    del record["schema_version"]  # written by the codec, not a model field
    return record
