"""WSGI and ASGI middleware that track a visit event for every page served.

The session id and anonymous id live in first-party cookies the middleware sets when
absent; the page type (and a product id) comes from a configurable path mapping. No
query string, full URL or referrer URL is ever tracked: only their classes.
"""

from shopstream.producers.middleware.asgi import VisitASGIMiddleware
from shopstream.producers.middleware.rules import PageRule, VisitRules
from shopstream.producers.middleware.wsgi import VisitWSGIMiddleware

__all__ = ["PageRule", "VisitASGIMiddleware", "VisitRules", "VisitWSGIMiddleware"]
