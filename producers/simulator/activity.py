"""Browsing sessions and what happens in them: page views, sign-up, orders, and, in later
sessions, the cancellations, refunds and reviews those orders lead to."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from shopstream.producers.simulator import reviews
from shopstream.producers.simulator.buyers import Order, PendingAction, Person, signup_event
from shopstream.producers.simulator.catalogue import Product
from shopstream.producers.simulator.world import DAY, HOUR, MINUTE, World
from shopstream.schemas.models import (
    Device,
    Event,
    OrderStatus,
    PageType,
    PaymentMethod,
    ProductEvent,
    PurchaseEvent,
    PurchaseItem,
    ReferrerClass,
    ReviewEvent,
    VisitEvent,
)

_REFERRERS = (
    ReferrerClass.DIRECT, ReferrerClass.SEARCH, ReferrerClass.SOCIAL,
    ReferrerClass.AD, ReferrerClass.EMAIL, ReferrerClass.OTHER,
)  # fmt: skip
_REFERRER_WEIGHTS = (30, 30, 15, 15, 7, 3)
_LANDING = {
    ReferrerClass.DIRECT: PageType.HOME,
    ReferrerClass.SEARCH: PageType.SEARCH,
    ReferrerClass.SOCIAL: PageType.PRODUCT,
    ReferrerClass.AD: PageType.PRODUCT,
    ReferrerClass.EMAIL: PageType.HOME,
    ReferrerClass.OTHER: PageType.HOME,
}
_BROWSE = (PageType.PRODUCT, PageType.CATEGORY, PageType.SEARCH, PageType.HOME, PageType.OTHER)
_BROWSE_WEIGHTS = (55, 20, 15, 5, 5)
_DWELL_MEDIAN_S = {
    PageType.HOME: 8, PageType.CATEGORY: 15, PageType.SEARCH: 12, PageType.PRODUCT: 35,
    PageType.CART: 20, PageType.CHECKOUT: 45, PageType.OTHER: 10,
}  # fmt: skip
_PAYMENTS = tuple(PaymentMethod)[:7]
_PAYMENT_WEIGHTS = (45, 8, 8, 8, 25, 3, 3)  # card .. cash_on_delivery, as declared
BUY_CHANCE = 0.3


def product_event(
    world: World, product: Product, t_ms: int, *, on_sale: bool = True
) -> ProductEvent:
    return ProductEvent(
        **world.envelope(product.shop_id, t_ms),
        product_id=product.product_id,
        product_name=product.name,
        category_id=product.category.category_id,
        category_path=list(product.category.path),
        product_type=product.product_type,
        brand=product.brand,
        seller_id=product.seller_id,
        list_price=product.list_price,
        on_sale=on_sale,
        tangible=product.tangible,
        intangible=product.intangible,
    )


class _Session:
    """One visit to the shop; ``t`` moves forward with every event."""

    def __init__(self, world: World, person: Person, start_ms: int) -> None:
        self.world, self.person, self.t = world, person, start_ms
        self.session_id = world.token("sess-")
        rng = world.rng
        self.device = person.device if rng.random() < 0.85 else rng.choice(tuple(Device)[:4])
        self.referrer = rng.choices(_REFERRERS, weights=_REFERRER_WEIGHTS)[0]
        self.pages = 0

    def visit(self, page: PageType, product: Product | None = None) -> VisitEvent:
        rng = self.world.rng
        median = _DWELL_MEDIAN_S[page] * 1000
        dwell = int(min(max(rng.lognormvariate(math.log(median), 0.8), 800.0), 300_000.0))
        event = VisitEvent(
            **self.envelope(),
            page_type=page,
            product_id=product.product_id if product else None,
            referrer_class=self.referrer if self.pages == 0 else ReferrerClass.INTERNAL,
            device=self.device,
            dwell_ms=dwell,
        )
        self.pages += 1
        self.t += dwell + rng.randrange(150, 2500)
        return event

    def envelope(self) -> dict[str, Any]:
        return self.world.envelope(
            self.person.shop.shop_id, self.t, person=self.person, session_id=self.session_id
        )

    def step(self) -> None:
        """Time between a page and the event it leads to (a form posted, a payment made)."""
        self.t += self.world.rng.randrange(300, 4000)


def session(world: World, person: Person, start_ms: int) -> Iterator[Event]:
    """Every event of one session of ``person``, in time order; updates their state."""
    rng = world.rng
    s = _Session(world, person, start_ms)
    person.sessions += 1
    yield from _due_actions(s)
    pages = 1 + min(int(rng.expovariate(1 / 3.5)), 9)
    signup_after = -1
    if person.member_id and not person.signed_up and (rng.random() < 0.6 or person.sessions > 2):
        signup_after = rng.randrange(min(pages, 3))
    viewed: list[Product] = []
    for i in range(pages):
        page = _LANDING[s.referrer] if i == 0 else rng.choices(_BROWSE, weights=_BROWSE_WEIGHTS)[0]
        if page is PageType.SEARCH and rng.random() < 0.3:
            page = PageType.PRODUCT
        product = _browse_product(world, person) if page is PageType.PRODUCT else None
        if product is not None:
            viewed.append(product)
        yield s.visit(page, product)
        if i == signup_after:
            yield signup_event(world, person, s.t, s.session_id)
            s.step()
    if viewed and rng.random() < (BUY_CHANCE if person.signed_up else 0.1):
        yield s.visit(PageType.CART)
        if person.signed_up:
            yield s.visit(PageType.CHECKOUT)
            yield _order(s, viewed)
    person.last_ms = s.t


def _browse_product(world: World, person: Person) -> Product:
    rng, shop = world.rng, person.shop
    if rng.random() < 0.6:
        for family in rng.sample(person.interests, len(person.interests)):
            products = shop.by_family.get(family)
            if products:
                return rng.choice(products)
    return rng.choice(shop.products)


def _order(s: _Session, viewed: list[Product]) -> PurchaseEvent:
    world, person, rng = s.world, s.person, s.world.rng
    basket: list[Product] = []
    for product in viewed:
        if product not in basket:
            basket.append(product)
    wanted = rng.choices((1, 2, 3, 4), weights=(50, 28, 14, 8))[0]
    while len(basket) < wanted and len(basket) < len(person.shop.products):
        extra = rng.choice(person.shop.products)
        if extra not in basket:
            basket.append(extra)
    rng.shuffle(basket)
    items = tuple(_item(world, product) for product in basket[:wanted])
    order = Order(
        order_id=world.next_order_id(person.shop, s.t),
        items=items,
        total=sum(i.quantity * i.unit_price - i.discount for i in items),
        payment_method=rng.choices(_PAYMENTS, weights=_PAYMENT_WEIGHTS)[0],
        products=tuple(basket[:wanted]),
    )
    event = _purchase(s, order, OrderStatus.ORDERED)
    fate = rng.random()
    if fate < 0.05:
        person.pending.append(
            PendingAction("cancel", s.t + rng.randrange(10 * MINUTE, 6 * HOUR), order)
        )
        return event
    if fate < 0.09:
        person.pending.append(
            PendingAction("refund", s.t + rng.randrange(3 * DAY, 14 * DAY), order)
        )
    if rng.random() < 0.35:
        person.pending.append(
            PendingAction("review", s.t + rng.randrange(2 * DAY, 10 * DAY), order)
        )
    return event


def _item(world: World, product: Product) -> PurchaseItem:
    rng = world.rng
    quantity = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
    price = product.list_price
    if rng.random() < 0.2:  # on sale: 10% off, whole hundreds
        price = price * 9 // 1000 * 100
    discount = 0
    if rng.random() < 0.25:  # a coupon on the line
        discount = quantity * price * rng.choice((5, 10, 15, 20)) // 10_000 * 100
    return PurchaseItem(
        product_id=product.product_id,
        category_id=product.category.category_id,
        quantity=quantity,
        unit_price=price,
        discount=discount,
    )


def _purchase(s: _Session, order: Order, status: OrderStatus) -> PurchaseEvent:
    event = PurchaseEvent(
        **s.envelope(),
        order_id=order.order_id,
        items=list(order.items),
        total=order.total,
        currency="KRW",
        payment_method=order.payment_method,
        status=status,
    )
    s.step()
    return event


def _due_actions(s: _Session) -> Iterator[Event]:
    """Cancellations, refunds and reviews that are due, from the buyer's order history page."""
    person, rng = s.person, s.world.rng
    due = [a for a in person.pending if a.due_ms <= s.t]
    if not due:
        return
    person.pending = [a for a in person.pending if a.due_ms > s.t]
    refunded = {a.order.order_id for a in due if a.kind == "refund"}
    for action in due:
        if action.kind == "review":
            product = rng.choice(action.order.products)
            yield s.visit(PageType.PRODUCT, product)
            stars = reviews.rating(rng, unhappy=action.order.order_id in refunded)
            yield ReviewEvent(
                **s.envelope(),
                product_id=product.product_id,
                order_id=action.order.order_id,
                rating=stars,
                text=reviews.review_text(rng, stars, product.category.family, person.profile),
                has_photo=rng.random() < 0.3,
            )
            s.step()
        else:
            yield s.visit(PageType.OTHER)
            status = OrderStatus.CANCELLED if action.kind == "cancel" else OrderStatus.REFUNDED
            yield _purchase(s, action.order, status)


__all__ = ["BUY_CHANCE", "product_event", "session"]
