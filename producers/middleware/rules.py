"""What the middleware derives from a request: pure functions, no web framework."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from shopstream.schemas.models import Device, PageType, ReferrerClass


@dataclass(frozen=True)
class PageRule:
    """A path pattern and the page type it means; a ``product_id`` group names the product."""

    pattern: str
    page_type: PageType

    def match(self, path: str) -> re.Match[str] | None:
        return _compiled(self.pattern).fullmatch(path)


DEFAULT_PAGES: tuple[PageRule, ...] = (
    PageRule(r"/", PageType.HOME),
    PageRule(r"/products?/(?P<product_id>[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63})/?", PageType.PRODUCT),
    PageRule(r"/(categor(y|ies)|c)(/.*)?", PageType.CATEGORY),
    PageRule(r"/search(/.*)?", PageType.SEARCH),
    PageRule(r"/cart/?", PageType.CART),
    PageRule(r"/(checkout|order)(/.*)?", PageType.CHECKOUT),
)

SEARCH_HOSTS = ("naver.", "daum.", "google.", "bing.", "yahoo.", "zum.", "duckduckgo.")
SOCIAL_HOSTS = (
    "instagram.",
    "facebook.",
    "kakao",
    "youtube.",
    "twitter.",
    "x.com",
    "threads.",
    "band.us",
    "tiktok.",
)
AD_MEDIUMS = frozenset({"cpc", "ppc", "paid", "display", "ad", "ads"})


@dataclass(frozen=True)
class VisitRules:
    """How requests become visit events. Every field has a sensible default."""

    shop_id: str
    pages: Sequence[PageRule] = DEFAULT_PAGES
    session_cookie: str = "shopstream_sid"
    anonymous_cookie: str = "shopstream_aid"
    session_max_age_s: int = 30 * 60
    anonymous_max_age_s: int = 365 * 24 * 3600
    secure_cookies: bool = True
    buyer_id: Callable[[Mapping[str, str]], str | None] | None = field(default=None)
    """Given the request headers (lower-case names), the signed-in member's id, if any."""
    skip_prefixes: tuple[str, ...] = (
        "/static/",
        "/assets/",
        "/favicon",
        "/healthz",
        "/readyz",
        "/metrics",
    )

    def wants(self, method: str, path: str) -> bool:
        return method in ("GET", "HEAD") and not path.startswith(self.skip_prefixes)

    def page(self, path: str) -> tuple[PageType, str | None]:
        for rule in self.pages:
            match = rule.match(path)
            if match:
                return rule.page_type, match.groupdict().get("product_id")
        return PageType.OTHER, None


def classify_device(user_agent: str) -> Device:
    ua = user_agent.lower()
    if "shopstream-app" in ua or "; wv)" in ua:
        return Device.APP
    if "ipad" in ua or "tablet" in ua:
        return Device.TABLET
    if "mobi" in ua or "android" in ua or "iphone" in ua:
        return Device.MOBILE
    return Device.PC if ua else Device.UNKNOWN


def classify_referrer(referer: str, own_host: str, query: str = "") -> ReferrerClass:
    """The referrer's class; the URL itself is never kept (it can carry personal data)."""
    if any(
        part.lower().startswith("utm_medium=") and part.split("=", 1)[1].lower() in AD_MEDIUMS
        for part in query.split("&")
    ):
        return ReferrerClass.AD
    if not referer:
        return ReferrerClass.DIRECT
    host = (urlsplit(referer).hostname or "").lower()
    if not host:
        return ReferrerClass.OTHER
    if host == own_host.split(":")[0].lower():
        return ReferrerClass.INTERNAL
    if any(s in host for s in SEARCH_HOSTS):
        return ReferrerClass.SEARCH
    if any(s in host for s in SOCIAL_HOSTS):
        return ReferrerClass.SOCIAL
    if host.startswith(("mail.", "webmail.")):
        return ReferrerClass.EMAIL
    return ReferrerClass.OTHER


def read_cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {k: m.value for k, m in jar.items()}


def new_id() -> str:
    return secrets.token_urlsafe(16)


def set_cookie(name: str, value: str, max_age: int, secure: bool) -> str:
    flags = "; Secure" if secure else ""
    return f"{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{flags}"


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern)
    return compiled


__all__ = [
    "DEFAULT_PAGES",
    "PageRule",
    "VisitRules",
    "classify_device",
    "classify_referrer",
    "new_id",
    "read_cookies",
    "set_cookie",
]
