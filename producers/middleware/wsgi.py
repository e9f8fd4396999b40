"""WSGI: track a visit for each page a Flask, Django or any WSGI app serves."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class VisitWSGIMiddleware:
    """Wrap a WSGI app: ``app.wsgi_app = VisitWSGIMiddleware(app.wsgi_app, tracker, VisitRules(...))``.

    The visit is tracked when the app starts its response with a status below 400; the
    tracker queues it (no network on the request path) and never raises.
    """

    def __init__(self, app: WSGIApp, tracker: Tracker, rules: VisitRules) -> None:
        self.app = app
        self.tracker = tracker
        self.rules = rules

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        if not self.rules.wants(method, path):
            return self.app(environ, start_response)
        rules = self.rules
        cookies = read_cookies(environ.get("HTTP_COOKIE", ""))
        session_id = cookies.get(rules.session_cookie) or new_id()
        anonymous_id = cookies.get(rules.anonymous_cookie) or new_id()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = list(headers)
            # The session cookie slides: every page view renews its expiry.
            headers.append(
                (
                    "Set-Cookie",
                    set_cookie(
                        rules.session_cookie,
                        session_id,
                        rules.session_max_age_s,
                        rules.secure_cookies,
                    ),
                )
            )
            if rules.anonymous_cookie not in cookies:
                headers.append(
                    (
                        "Set-Cookie",
                        set_cookie(
                            rules.anonymous_cookie,
                            anonymous_id,
                            rules.anonymous_max_age_s,
                            rules.secure_cookies,
                        ),
                    )
                )
            if int(status.split(" ", 1)[0]) < 400:
                self._track(environ, path, session_id, anonymous_id)
            return (
                start_response(status, headers, exc_info)
                if exc_info
                else start_response(status, headers)
            )

        return self.app(environ, start)

    def _track(
        self, environ: dict[str, Any], path: str, session_id: str, anonymous_id: str
    ) -> None:
        page_type, product_id = self.rules.page(path)
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        buyer_id = self.rules.buyer_id(headers) if self.rules.buyer_id else None
        self.tracker.visit(
            shop_id=self.rules.shop_id,
            buyer_id=buyer_id,
            anonymous_id=anonymous_id,
            session_id=session_id,
            page_type=page_type,
            product_id=product_id,
            referrer_class=classify_referrer(
                headers.get("referer", ""), headers.get("host", ""), environ.get("QUERY_STRING", "")
            ),
            device=classify_device(headers.get("user-agent", "")),
        )


__all__ = ["VisitWSGIMiddleware"]
