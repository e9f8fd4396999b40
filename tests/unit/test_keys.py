"""Message keys: one buyer's events share one key whatever the event type."""

from __future__ import annotations

from shopstream.producers.keys import partition_key
from shopstream.schemas.examples import example_events


def test_a_buyers_events_share_one_key() -> None:
    events = example_events(shop_id="shop-a")
    keys = {partition_key(e.to_avro()) for name, e in events.items() if name != "product"}
    assert keys == {b"shop-a|member-00000"}


def test_anonymous_visitor_keyed_by_anonymous_id_and_product_by_product_id() -> None:
    assert partition_key({"shop_id": "sh", "buyer_id": None, "anonymous_id": "a1"}) == b"sh|a1"
    product = example_events(shop_id="sh")["product"].to_avro()
    assert partition_key(product) == b"sh|P-2002"


def test_same_buyer_in_two_shops_gets_two_keys() -> None:
    record = {"buyer_id": "m1", "anonymous_id": None}
    assert partition_key({**record, "shop_id": "s1"}) != partition_key({**record, "shop_id": "s2"})
