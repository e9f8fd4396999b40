"""k-anonymity over the buyers' quasi-identifiers (age band, gender, region), by suppression.

Pure: memberships in, a suppression plan and its report out; :func:`apply_plan` applies a
plan to a pyarrow table. The rules (docs/sinks.md, "Shareable package"):

- **Population.** A buyer is counted within its shop and pseudonym key id (a key
  rotation gives the same person a second pseudonym: counting across key ids would
  count one person twice and overstate a group). Every row that carries a
  quasi-identifier counts: the features and the signup events alike, so a buyer whose
  older signup shows another combination is a member of both groups.
- **Groups.** A group is one combination of (age_band, gender, region) in one shop and
  key id, null being a value; its size is the number of distinct buyers showing it.
- **Suppression.** Every buyer of a group smaller than ``k`` has all three
  quasi-identifiers nulled, in every row (buyer-level, so that no single row keeps a rare
  combination). Nulled buyers join the *unknown* group (all three null) with the
  buyers who never had any; if that group is itself smaller than ``k``, its buyers are
  **dropped** from the package, with all their rows: an attacker who knows that the
  victim's combination is missing from the package would otherwise find the victim
  among fewer than ``k`` buyers. Removing buyers can shrink other groups, so the two
  steps repeat until nothing changes. Afterwards every group in the package, the unknown
  one included, has at least ``k`` buyers.
- **The report** lists the groups left in the package with their sizes; of the
  suppressed groups only their number and sizes, never their values.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

QUASI_IDENTIFIERS: Final = ("age_band", "gender", "region")
UNKNOWN: Final[tuple[None, None, None]] = (None, None, None)
_SEPARATOR: Final = "\x1f"

Combination = tuple[str | None, str | None, str | None]
Scope = tuple[str, str]
"""(shop_id, pseudonym_key_id): the population a buyer is counted in."""
BuyerRef = tuple[str, str, str]
"""(shop_id, pseudonym_key_id, buyer): the buyer's pseudonym, or ``event:<id>`` without one."""


@dataclass(frozen=True, slots=True, order=True)
class Group:
    shop_id: str
    pseudonym_key_id: str
    age_band: str | None
    gender: str | None
    region: str | None
    buyers: int

    @property
    def unknown(self) -> bool:
        return (self.age_band, self.gender, self.region) == UNKNOWN


@dataclass(frozen=True, slots=True)
class SuppressionPlan:
    """Which buyers lose their quasi-identifiers and which leave the package."""

    k: int
    buyers: int
    groups_before: int
    suppressed: frozenset[BuyerRef]
    dropped: frozenset[BuyerRef]
    groups: tuple[Group, ...]
    """The groups left in the package (the unknown group included), each of ≥ k buyers."""
    removed_group_sizes: Mapping[Scope, Mapping[int, int]] = field(default_factory=dict)
    """Per scope, size before suppression → number of groups that left the package."""

    def report(self) -> dict[str, Any]:
        """The machine-readable report (``k-anonymity.json``): no value of a removed group."""
        removed = [
            {"shop_id": shop, "pseudonym_key_id": key, "buyers": size, "groups": count}
            for (shop, key), sizes in sorted(self.removed_group_sizes.items())
            for size, count in sorted(sizes.items())
        ]
        return {
            "k": self.k,
            "quasi_identifiers": list(QUASI_IDENTIFIERS),
            "population": "buyers counted within each (shop_id, pseudonym_key_id); every row carrying a quasi-identifier counts (features and signup events)",
            "suppression": "buyers of groups smaller than k have their quasi-identifiers nulled in every row; if the unknown group (all null) is then smaller than k, its buyers are dropped with all their rows",
            "totals": {
                "buyers": self.buyers,
                "groups_before": self.groups_before,
                "groups_removed": sum(r["groups"] for r in removed),
                "suppressed_buyers": len(self.suppressed),
                "dropped_buyers": len(self.dropped),
                "groups_in_package": len(self.groups),
                "smallest_group_in_package": min((g.buyers for g in self.groups), default=None),
            },
            "groups": [
                {
                    "shop_id": g.shop_id,
                    "pseudonym_key_id": g.pseudonym_key_id,
                    "age_band": g.age_band,
                    "gender": g.gender,
                    "region": g.region,
                    "buyers": g.buyers,
                }
                for g in self.groups
            ],
            "removed_groups": removed,
        }


def plan_suppression(
    memberships: Iterable[tuple[BuyerRef, Combination]], k: int
) -> SuppressionPlan:
    """The suppression plan for ``memberships`` (buyer, combination it shows somewhere)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    members: dict[tuple[Scope, Combination], set[BuyerRef]] = defaultdict(set)
    for ref, combination in memberships:
        members[((ref[0], ref[1]), combination)].add(ref)
    suppressed: set[BuyerRef] = set()
    dropped: set[BuyerRef] = set()
    changed = True
    while changed:
        # Suppress until every known group is ≥ k (or empty), then look at the pools.
        changed = False
        suppressing = True
        while suppressing:
            suppressing = False
            for (_, combination), buyers in members.items():
                live = buyers - suppressed - dropped
                if combination != UNKNOWN and 0 < len(live) < k:
                    suppressed |= live
                    suppressing = True
        for pool in _unknown_pools(members, suppressed).values():
            live = pool - dropped
            if 0 < len(live) < k:
                dropped |= live
                changed = True
    suppressed -= dropped

    groups: list[Group] = []
    removed: dict[Scope, Counter[int]] = defaultdict(Counter)
    for (scope, combination), buyers in members.items():
        if combination == UNKNOWN:
            continue
        live = buyers - suppressed - dropped
        if live:
            groups.append(Group(*scope, *combination, buyers=len(live)))
        else:
            removed[scope][len(buyers)] += 1
    for scope, pool in _unknown_pools(members, suppressed).items():
        live = pool - dropped
        if live:
            groups.append(Group(*scope, *UNKNOWN, buyers=len(live)))
        elif (scope, UNKNOWN) in members:
            removed[scope][len(members[(scope, UNKNOWN)])] += 1
    groups.sort(key=_group_order)
    assert all(g.buyers >= k for g in groups), "a group under k survived suppression"
    return SuppressionPlan(
        k=k,
        buyers=len({ref for buyers in members.values() for ref in buyers}),
        groups_before=len(members),
        suppressed=frozenset(suppressed),
        dropped=frozenset(dropped),
        groups=tuple(groups),
        removed_group_sizes={s: dict(c) for s, c in sorted(removed.items())},
    )


def buyer_keys(table: pa.Table) -> pa.ChunkedArray:
    """Each row's buyer as one string (shop, key id, pseudonym or ``event:<id>``), for joins."""
    n = table.num_rows
    shop = _strings(table, "shop_id", n)
    key_id = _strings(table, "pseudonym_key_id", n)
    buyer = _strings(table, "buyer_pseudonym", n)
    event = _strings(table, "event_id", n)
    fallback = pc.binary_join_element_wise("event:", pc.fill_null(event, ""), "")
    identity = pc.coalesce(buyer, fallback)
    return pc.binary_join_element_wise(shop, pc.fill_null(key_id, ""), identity, _SEPARATOR)


def memberships(table: pa.Table) -> list[tuple[BuyerRef, Combination]]:
    """The distinct (buyer, combination) pairs of a table with quasi-identifier columns."""
    n = table.num_rows
    columns = {"buyer": buyer_keys(table)}
    for name in QUASI_IDENTIFIERS:
        columns[name] = _strings(table, name, n)
    distinct = pa.table(columns).group_by(["buyer", *QUASI_IDENTIFIERS]).aggregate([])
    out: list[tuple[BuyerRef, Combination]] = []
    for row in distinct.to_pylist():
        shop, key_id, identity = row["buyer"].split(_SEPARATOR, 2)
        out.append(((shop, key_id, identity), (row["age_band"], row["gender"], row["region"])))
    return out


def has_quasi_identifiers(schema: pa.Schema) -> bool:
    return any(name in schema.names for name in QUASI_IDENTIFIERS)


def apply_plan(table: pa.Table, plan: SuppressionPlan) -> pa.Table:
    """``table`` without the dropped buyers' rows, the suppressed buyers' quasi-identifiers null.

    Rows are matched by :func:`buyer_keys`; tables without a ``buyer_pseudonym`` column
    (none in this contract) pass unchanged.
    """
    if "buyer_pseudonym" not in table.column_names or table.num_rows == 0:
        return table
    keys = buyer_keys(table)
    if plan.dropped:
        dropped = pa.array([_SEPARATOR.join(ref) for ref in plan.dropped], pa.string())
        keep = pc.invert(pc.is_in(keys, value_set=dropped))
        table = table.filter(keep)
        keys = keys.filter(keep)
    if not plan.suppressed or not has_quasi_identifiers(table.schema):
        return table
    suppressed = pa.array([_SEPARATOR.join(ref) for ref in plan.suppressed], pa.string())
    hit = pc.is_in(keys, value_set=suppressed)
    for name in QUASI_IDENTIFIERS:
        if name not in table.column_names:
            continue
        column = _strings(table, name, table.num_rows)
        nulled = pc.if_else(hit, pa.scalar(None, pa.string()), column)
        index = table.schema.get_field_index(name)
        table = table.set_column(index, pa.field(name, pa.string(), nullable=True), nulled)
    return table


def _unknown_pools(
    members: Mapping[tuple[Scope, Combination], set[BuyerRef]], suppressed: set[BuyerRef]
) -> dict[Scope, set[BuyerRef]]:
    pools: dict[Scope, set[BuyerRef]] = defaultdict(set)
    for (scope, combination), buyers in members.items():
        if combination == UNKNOWN:
            pools[scope] |= buyers
    for ref in suppressed:
        pools[(ref[0], ref[1])].add(ref)
    return pools


def _strings(table: pa.Table, name: str, n: int) -> pa.ChunkedArray:
    if name not in table.column_names:
        return pa.chunked_array([pa.nulls(n, pa.string())])
    column = table[name]
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.cast(pa.string())


def _group_order(group: Group) -> tuple[Any, ...]:
    values = (group.age_band, group.gender, group.region)
    return (group.shop_id, group.pseudonym_key_id, [(v is not None, v or "") for v in values])


__all__ = [
    "QUASI_IDENTIFIERS",
    "UNKNOWN",
    "BuyerRef",
    "Combination",
    "Group",
    "Scope",
    "SuppressionPlan",
    "apply_plan",
    "buyer_keys",
    "has_quasi_identifiers",
    "memberships",
    "plan_suppression",
]
