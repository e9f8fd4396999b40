"""How the middleware reads a request: page types, referrer and device classes, cookies."""

from __future__ import annotations

import pytest

from shopstream.producers.middleware.rules import (
    PageRule,
    VisitRules,
    classify_device,
    classify_referrer,
    read_cookies,
    set_cookie,
)
from shopstream.schemas.models import Device, PageType, ReferrerClass


@pytest.mark.parametrize(
    ("path", "page_type", "product_id"),
    [
        ("/", PageType.HOME, None),
        ("/products/P-1001", PageType.PRODUCT, "P-1001"),
        ("/product/P-1001/", PageType.PRODUCT, "P-1001"),
        ("/category/fashion/tops", PageType.CATEGORY, None),
        ("/search", PageType.SEARCH, None),
        ("/cart", PageType.CART, None),
        ("/checkout/step-2", PageType.CHECKOUT, None),
        ("/about", PageType.OTHER, None),
    ],
)
def test_default_page_mapping(path: str, page_type: PageType, product_id: str | None) -> None:
    assert VisitRules(shop_id="shop-1").page(path) == (page_type, product_id)


def test_a_shop_maps_its_own_paths() -> None:
    rules = VisitRules(
        shop_id="shop-1", pages=(PageRule(r"/goods/view/(?P<product_id>\d+)", PageType.PRODUCT),)
    )
    assert rules.page("/goods/view/123") == (PageType.PRODUCT, "123")
    assert rules.page("/") == (PageType.OTHER, None)


def test_only_page_loads_are_tracked() -> None:
    rules = VisitRules(shop_id="shop-1")
    assert rules.wants("GET", "/products/P-1")
    assert not rules.wants("POST", "/cart")
    assert not rules.wants("GET", "/static/app.js")
    assert not rules.wants("GET", "/healthz")


@pytest.mark.parametrize(
    ("referer", "query", "expected"),
    [
        ("", "", ReferrerClass.DIRECT),
        ("https://search.naver.com/search.naver?query=%EA%B7%A4", "", ReferrerClass.SEARCH),
        ("https://www.instagram.com/p/abc", "", ReferrerClass.SOCIAL),
        ("https://shop.example/cart", "", ReferrerClass.INTERNAL),
        ("https://mail.example.org/inbox", "", ReferrerClass.EMAIL),
        ("https://blog.example.net/post", "", ReferrerClass.OTHER),
        ("https://search.naver.com/", "utm_source=naver&utm_medium=cpc", ReferrerClass.AD),
    ],
)
def test_referrer_classes(referer: str, query: str, expected: ReferrerClass) -> None:
    assert classify_referrer(referer, "shop.example:443", query) == expected


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", Device.MOBILE),
        ("Mozilla/5.0 (Linux; Android 14; SM-S918N) Mobile Safari/537.36", Device.MOBILE),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", Device.TABLET),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130.0", Device.PC),
        ("Mozilla/5.0 (Linux; Android 14; wv) shopstream-app/2.1", Device.APP),
        ("", Device.UNKNOWN),
    ],
)
def test_device_classes(agent: str, expected: Device) -> None:
    assert classify_device(agent) == expected


def test_cookies_round_trip_and_garbage_is_ignored() -> None:
    header = set_cookie("shopstream_sid", "abc123", 1800, secure=True)
    assert "HttpOnly" in header
    assert "Secure" in header
    assert read_cookies("shopstream_sid=abc123; other=1") == {
        "shopstream_sid": "abc123",
        "other": "1",
    }
    assert read_cookies('bad="unterminated') == {}
