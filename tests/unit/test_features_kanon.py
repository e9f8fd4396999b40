"""k-anonymity by suppression on populations whose group sizes are known."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.processors.features.kanon import (
    UNKNOWN,
    BuyerRef,
    Combination,
    apply_plan,
    memberships,
    plan_suppression,
)

G1: Combination = ("30-39", "F", "KR-11")
G2: Combination = ("20-29", "M", "KR-26")
RARE: Combination = ("70+", "F", "KR-49")
LONE: Combination = ("40-49", "M", "KR-11")


def population(
    sizes: dict[Combination, int], *, shop: str = "shop-a", key: str = "k1", start: int = 0
) -> list[tuple[BuyerRef, Combination]]:
    """``sizes[c]`` distinct buyers showing combination c, numbered from ``start``."""
    out = []
    n = start
    for combination, size in sizes.items():
        for _ in range(size):
            out.append(((shop, key, f"b{n:03d}"), combination))
            n += 1
    return out


def sizes_of(plan_groups: tuple[object, ...]) -> dict[tuple[object, ...], int]:
    return {(g.shop_id, g.age_band, g.gender, g.region): g.buyers for g in plan_groups}  # type: ignore[attr-defined]


def test_groups_under_k_are_suppressed_into_the_unknown_group() -> None:
    plan = plan_suppression(population({G1: 7, G2: 5, RARE: 2, LONE: 1, UNKNOWN: 3}), k=5)
    assert sizes_of(plan.groups) == {
        ("shop-a", None, None, None): 6,  # 3 never known + 3 suppressed
        ("shop-a", *G1): 7,
        ("shop-a", *G2): 5,
    }
    assert len(plan.suppressed) == 3
    assert plan.dropped == frozenset()
    report = plan.report()
    assert report["totals"] == {
        "buyers": 18,
        "groups_before": 5,
        "groups_removed": 2,
        "suppressed_buyers": 3,
        "dropped_buyers": 0,
        "groups_in_package": 3,
        "smallest_group_in_package": 5,
    }
    assert report["removed_groups"] == [
        {"shop_id": "shop-a", "pseudonym_key_id": "k1", "buyers": 1, "groups": 1},
        {"shop_id": "shop-a", "pseudonym_key_id": "k1", "buyers": 2, "groups": 1},
    ]


def test_the_report_never_names_a_removed_group() -> None:
    plan = plan_suppression(population({G1: 7, RARE: 2, LONE: 1, UNKNOWN: 3}), k=5)
    text = json.dumps(plan.report())
    for value in ("70+", "KR-49", "40-49"):
        assert json.dumps(value) not in text
    assert json.dumps("30-39") in text


def test_an_unknown_group_under_k_is_dropped_whole() -> None:
    plan = plan_suppression(population({G1: 5, RARE: 2}), k=5)
    assert sizes_of(plan.groups) == {("shop-a", *G1): 5}
    assert len(plan.dropped) == 2
    assert plan.suppressed == frozenset()
    # Buyers never known, too few to hide among: dropped as well.
    plan = plan_suppression(population({G1: 5, UNKNOWN: 2}), k=5)
    assert sizes_of(plan.groups) == {("shop-a", *G1): 5}
    assert len(plan.dropped) == 2
    assert plan.report()["removed_groups"] == [
        {"shop_id": "shop-a", "pseudonym_key_id": "k1", "buyers": 2, "groups": 1}
    ]


def test_suppression_cascades_through_buyers_with_two_combinations() -> None:
    # b000 is in G1 (latest signup) and alone with an older combination: suppressing it
    # leaves G1 with 4, so G1 goes too; the 5 of them hide in the unknown group.
    members = population({G1: 5})
    members.append((("shop-a", "k1", "b000"), LONE))
    plan = plan_suppression(members, k=5)
    assert sizes_of(plan.groups) == {("shop-a", None, None, None): 5}
    assert len(plan.suppressed) == 5
    assert plan.report()["removed_groups"] == [
        {"shop_id": "shop-a", "pseudonym_key_id": "k1", "buyers": 1, "groups": 1},
        {"shop_id": "shop-a", "pseudonym_key_id": "k1", "buyers": 5, "groups": 1},
    ]


def test_buyers_are_counted_within_their_shop_and_key_id() -> None:
    members = population({G1: 3}, key="k1") + population({G1: 3}, key="k2", start=10)
    members += population({G2: 5}, shop="shop-b") + population({G2: 4}, shop="shop-c")
    plan = plan_suppression(members, k=5)
    # shop-a: 3 + 3 pseudonyms may be 3 people under two keys: neither key has k, and
    # neither has k to hide among; shop-c: 4, the same.
    assert sizes_of(plan.groups) == {("shop-b", *G2): 5}
    assert len(plan.dropped) == 10
    plan = plan_suppression(members, k=3)
    assert sizes_of(plan.groups) == {("shop-a", *G1): 3, ("shop-b", *G2): 5, ("shop-c", *G2): 4}
    assert [g.pseudonym_key_id for g in plan.groups if g.shop_id == "shop-a"] == ["k1", "k2"]


def test_k_1_changes_nothing_and_k_below_1_is_refused() -> None:
    plan = plan_suppression(population({G1: 1, RARE: 1}), k=1)
    assert (plan.suppressed, plan.dropped) == (frozenset(), frozenset())
    with pytest.raises(ValueError, match="at least 1"):
        plan_suppression([], k=0)


_combination = st.sampled_from([G1, G2, RARE, LONE, UNKNOWN, ("30-39", "F", None)])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["s1", "s2"]), st.integers(0, 30), _combination), max_size=80
    ),
    st.integers(1, 6),
)
def test_every_group_left_has_at_least_k_buyers(
    rows: list[tuple[str, int, Combination]], k: int
) -> None:
    members = [((shop, "k1", f"b{n}"), combination) for shop, n, combination in rows]
    plan = plan_suppression(members, k)
    # Recount from scratch what would be left in the data set.
    left: dict[tuple[str, Combination], set[str]] = {}
    for (shop, _, buyer), combination in members:
        ref = (shop, "k1", buyer)
        if ref in plan.dropped:
            continue
        shown = UNKNOWN if ref in plan.suppressed else combination
        left.setdefault((shop, shown), set()).add(buyer)
    assert all(len(buyers) >= k for buyers in left.values())
    assert sorted(len(b) for b in left.values()) == sorted(g.buyers for g in plan.groups)
    # Nobody is touched when every group, the unknown one included, already has k.
    groups = Counter((s, c) for s, _, c in {(s, b, c) for (s, _, b), c in members})
    if all(v >= k for v in groups.values()):
        assert (plan.suppressed, plan.dropped) == (frozenset(), frozenset())


def table_of(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def test_apply_nulls_the_suppressed_and_removes_the_dropped() -> None:
    base = {"shop_id": "shop-a", "pseudonym_key_id": "k1", "event_id": "e"}
    rows = [
        {**base, "buyer_pseudonym": f"b{i:03d}", "age_band": a, "gender": g, "region": r, "x": i}
        for i, (a, g, r) in enumerate([G1] * 5 + [RARE] * 2)
    ]
    table = table_of(rows).cast(
        pa.schema(
            [
                ("shop_id", pa.string()),
                ("pseudonym_key_id", pa.string()),
                ("event_id", pa.string()),
                ("buyer_pseudonym", pa.string()),
                ("age_band", pa.string()),
                ("gender", pa.dictionary(pa.int8(), pa.string())),
                ("region", pa.string()),
                ("x", pa.int64()),
            ]
        )
    )
    plan = plan_suppression(memberships(table), k=5)
    assert len(plan.dropped) == 2
    out = apply_plan(table, plan)
    assert out["x"].to_pylist() == [0, 1, 2, 3, 4]
    plan = plan_suppression(memberships(table), k=6)  # nobody has 6: all 7 hide together
    out = apply_plan(table, plan)
    assert out.num_rows == 7
    assert {(r["age_band"], r["gender"], r["region"]) for r in out.to_pylist()} == {UNKNOWN}


def test_a_row_without_a_buyer_counts_as_its_own_person() -> None:
    rows = [
        {
            "shop_id": "s",
            "pseudonym_key_id": "k1",
            "event_id": f"e{i}",
            "buyer_pseudonym": None,
            "age_band": "20-29",
            "gender": "M",
            "region": "KR-11",
        }
        for i in range(2)
    ]
    table = pa.Table.from_pylist(rows, schema=pa.schema([(k, pa.string()) for k in rows[0]]))
    found = memberships(table)
    assert sorted(ref for ref, _ in found) == [("s", "k1", "event:e0"), ("s", "k1", "event:e1")]
    assert apply_plan(table, plan_suppression(found, k=3)).num_rows == 0
