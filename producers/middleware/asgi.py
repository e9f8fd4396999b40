"""ASGI: track a visit for each page a FastAPI, Starlette or any ASGI app serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shopstream.producers.middleware.rules import (
    VisitRules,
    classify_device,
    classify_referrer,
    new_id,
    read_cookies,
    set_cookie,
)
from shopstream.producers.tracker import Tracker

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class VisitASGIMiddleware:
    """Wrap an ASGI app: ``app.add_middleware(VisitASGIMiddleware, tracker=t, rules=VisitRules(...))``."""

    def __init__(self, app: ASGIApp, tracker: Tracker, rules: VisitRules) -> None:
        self.app = app
        self.tracker = tracker
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "/") or "/"
        if scope["type"] != "http" or not self.rules.wants(scope.get("method", "GET"), path):
            await self.app(scope, receive, send)
            return
        rules = self.rules
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        cookies = read_cookies(headers.get("cookie", ""))
        session_id = cookies.get(rules.session_cookie) or new_id()
        anonymous_id = cookies.get(rules.anonymous_cookie) or new_id()

        async def send_with_visit(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (
                        b"set-cookie",
                        set_cookie(
                            rules.session_cookie,
                            session_id,
                            rules.session_max_age_s,
                            rules.secure_cookies,
                        ).encode(),
                    )
                ]
                if rules.anonymous_cookie not in cookies:
                    extra.append(
                        (
                            b"set-cookie",
                            set_cookie(
                                rules.anonymous_cookie,
                                anonymous_id,
                                rules.anonymous_max_age_s,
                                rules.secure_cookies,
                            ).encode(),
                        )
                    )
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                if message["status"] < 400:
                    self._track(scope, headers, path, session_id, anonymous_id)
            await send(message)

        await self.app(scope, receive, send_with_visit)

    def _track(
        self, scope: Scope, headers: dict[str, str], path: str, session_id: str, anonymous_id: str
    ) -> None:
        page_type, product_id = self.rules.page(path)
        query = scope.get("query_string", b"").decode("latin-1")
        self.tracker.visit(
            shop_id=self.rules.shop_id,
            buyer_id=self.rules.buyer_id(headers) if self.rules.buyer_id else None,
            anonymous_id=anonymous_id,
            session_id=session_id,
            page_type=page_type,
            product_id=product_id,
            referrer_class=classify_referrer(
                headers.get("referer", ""), headers.get("host", ""), query
            ),
            device=classify_device(headers.get("user-agent", "")),
        )


__all__ = ["VisitASGIMiddleware"]
