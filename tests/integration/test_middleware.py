"""The middleware with a real tracker and broker: one page view, one visit event on the topic.

The WSGI and ASGI apps are plain callables driven through their own protocols (the
protocol is the interface; no web server is needed to exercise it)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any
from wsgiref.util import setup_testing_defaults

from shopstream.producers import Tracker, TrackerConfig
from shopstream.producers.middleware import VisitASGIMiddleware, VisitRules, VisitWSGIMiddleware

from .test_tracker import consume_all


def _wsgi_page(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<html>ok</html>"]


def test_wsgi_page_view_becomes_one_visit(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(stem="wsgi")
    tracker = Tracker(TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic))
    rules = VisitRules(shop_id="shop-1", buyer_id=lambda headers: headers.get("x-member"))
    app = VisitWSGIMiddleware(_wsgi_page, tracker, rules)
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(
        PATH_INFO="/products/P-1001", HTTP_COOKIE="shopstream_sid=s-1", HTTP_X_MEMBER="member-7",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile", HTTP_REFERER="https://m.search.naver.com/x?q=1",
        QUERY_STRING="q=private-text", **{"wsgi.input": io.BytesIO()},
    )  # fmt: skip
    headers: list[tuple[str, str]] = []
    body = app(environ, lambda status, h, exc=None: headers.extend(h))
    assert b"".join(body) == b"<html>ok</html>"
    # The anonymous id cookie is set because the browser had none; the session renewed.
    cookies = [v for k, v in headers if k == "Set-Cookie"]
    assert any(c.startswith("shopstream_aid=") for c in cookies)
    assert any(c.startswith("shopstream_sid=s-1") for c in cookies)
    static: dict[str, Any] = dict(environ, PATH_INFO="/static/app.js")
    list(app(static, lambda *a: None))  # not a page: no visit
    tracker.close(30)

    (_, _, record), *rest = consume_all(kafka_bootstrap, topic, 1)
    assert rest == []
    assert record["page_type"] == "product"
    assert record["product_id"] == "P-1001"
    assert record["session_id"] == "s-1"
    assert record["buyer_id"] == "member-7"
    assert record["device"] == "mobile"
    assert record["referrer_class"] == "search"
    assert "private-text" not in repr(record)


def test_asgi_page_view_becomes_one_visit(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(stem="asgi")
    tracker = Tracker(TrackerConfig(bootstrap_servers=kafka_bootstrap, topic=topic))

    async def page(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})

    app = VisitASGIMiddleware(page, tracker, VisitRules(shop_id="shop-1"))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def request(path: str, status_app: Any = None) -> None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": b"",
            "headers": [(b"user-agent", b"Mozilla/5.0 (Windows NT 10.0)")],
        }
        await (status_app or app)(scope, receive, send)

    async def not_found(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    asyncio.run(request("/cart"))
    asyncio.run(
        request("/missing", VisitASGIMiddleware(not_found, tracker, VisitRules(shop_id="shop-1")))
    )
    tracker.close(30)
    assert any(h[0] == b"set-cookie" for h in sent[0]["headers"])

    found = consume_all(kafka_bootstrap, topic, 1)
    assert len(found) == 1  # the 404 is not a visit
    record = found[0][2]
    assert record["page_type"] == "cart"
    assert record["device"] == "pc"
    assert record["referrer_class"] == "direct"
    assert record["session_id"]
    assert record["anonymous_id"]
