"""RFM scores and grades on constructed populations whose quintiles are known."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopstream.processors.rfm import (
    GRADES,
    NO_PURCHASE,
    RfmScore,
    grade,
    quintile_scores,
    rfm_scores,
)

DAY = dt.timedelta(days=1)
LATEST = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC)


@pytest.fixture
def record_factory() -> Callable[..., dict[str, Any]]:
    def make(
        buyer: str,
        *,
        shop: str = "shop-a",
        orders: int = 1,
        spend: int = 10_000,
        recency_days: int | None = 0,
        as_of: dt.datetime | int = LATEST,
        currency: str = "KRW",
    ) -> dict[str, Any]:
        return {
            "shop_id": shop,
            "buyer_pseudonym": buyer,
            "as_of": as_of,
            "orders": orders,
            "spend": spend,
            "recency_days": None if orders == 0 else recency_days,
            "currency": currency,
        }

    return make


# -- quintiles ------------------------------------------------------------------------------


def test_ten_distinct_values_give_two_buyers_per_quintile() -> None:
    values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert quintile_scores(values) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintile_scores(values, lower_is_better=True) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_scores_follow_the_values_not_their_order() -> None:
    values = list(range(100, 0, -3))  # 34 distinct values, descending
    shuffled = values[:]
    random.Random(5).shuffle(shuffled)
    by_value = dict(zip(values, quintile_scores(values), strict=True))
    assert dict(zip(shuffled, quintile_scores(shuffled), strict=True)) == by_value


def test_ties_share_the_score_of_the_lowest_rank_of_their_group() -> None:
    # Three one-time buyers are beaten by nobody worse: all score 1; the 2 beats three (1 + 15 // 5).
    assert quintile_scores([1, 1, 1, 2, 3]) == [1, 1, 1, 4, 5]
    # Lower is better: three buyers at 0 days each beat the two others.
    assert quintile_scores([0, 0, 0, 5, 9], lower_is_better=True) == [3, 3, 3, 2, 1]
    assert quintile_scores([7, 7, 7, 7]) == [1, 1, 1, 1]


def test_a_single_buyer_scores_one_and_no_buyers_score_nothing() -> None:
    assert quintile_scores([42]) == [1]
    assert quintile_scores([]) == []


@given(st.lists(st.integers(min_value=-5, max_value=40), min_size=1, max_size=60))
def test_scores_are_1_to_5_monotone_and_equal_for_equal_values(values: list[int]) -> None:
    scores = quintile_scores(values)
    assert all(1 <= s <= 5 for s in scores)
    pairs = sorted(zip(values, scores, strict=True))
    for (v1, s1), (v2, s2) in itertools.pairwise(pairs):
        assert s1 <= s2
        if v1 == v2:
            assert s1 == s2
    assert scores[values.index(min(values))] == 1


@given(st.integers(min_value=1, max_value=40))
def test_distinct_values_fill_each_quintile_equally_when_n_is_a_multiple_of_5(k: int) -> None:
    values = random.Random(k).sample(range(10_000), 5 * k)
    assert Counter(quintile_scores(values)) == {score: k for score in range(1, 6)}


# -- scores of a shop -----------------------------------------------------------------------


def test_a_shop_of_five_purchasers_scores_each_dimension_by_rank(
    record_factory: Callable[..., dict[str, Any]],
) -> None:
    records = [
        record_factory("b1", orders=1, spend=1_000, recency_days=40),
        record_factory("b2", orders=2, spend=5_000, recency_days=30),
        record_factory("b3", orders=3, spend=3_000, recency_days=20),
        record_factory("b4", orders=8, spend=9_000, recency_days=10),
        record_factory("b5", orders=5, spend=7_000, recency_days=0),
        record_factory("never", orders=0, spend=0),
    ]
    scores = rfm_scores(records)
    assert scores == {
        ("shop-a", "b1"): RfmScore(1, 1, 1),
        ("shop-a", "b2"): RfmScore(2, 2, 3),
        ("shop-a", "b3"): RfmScore(3, 3, 2),
        ("shop-a", "b4"): RfmScore(4, 5, 5),
        ("shop-a", "b5"): RfmScore(5, 4, 4),
        ("shop-a", "never"): NO_PURCHASE,
    }
    assert list(scores) == sorted(scores)


def test_each_shop_is_its_own_population(record_factory: Callable[..., dict[str, Any]]) -> None:
    small = [record_factory(f"s{i}", shop="small", spend=1_000 * (i + 1)) for i in range(5)]
    big = [record_factory(f"g{i}", shop="big", spend=1_000_000 * (i + 1)) for i in range(5)]
    scores = rfm_scores(small + big)
    assert [scores[("small", f"s{i}")].monetary for i in range(5)] == [1, 2, 3, 4, 5]
    assert [scores[("big", f"g{i}")].monetary for i in range(5)] == [1, 2, 3, 4, 5]


def test_recency_counts_to_the_shops_latest_date_not_the_buyers_own(
    record_factory: Callable[..., dict[str, Any]],
) -> None:
    # "gone" bought on its last day of activity, three weeks before the others' last events.
    records = [
        record_factory("gone", recency_days=0, as_of=LATEST - 21 * DAY),
        record_factory("a", recency_days=2),
        record_factory("b", recency_days=5),
        record_factory("c", recency_days=9),
        record_factory("d", recency_days=14),
    ]
    scores = rfm_scores(records)
    assert scores[("shop-a", "gone")].recency == 1
    assert scores[("shop-a", "a")].recency == 5
    # An explicit reference date shifts every buyer alike: the ranks stay.
    later = rfm_scores(records, reference=(LATEST + 30 * DAY).date())
    assert {k: s.recency for k, s in later.items()} == {k: s.recency for k, s in scores.items()}


def test_as_of_may_be_epoch_milliseconds(record_factory: Callable[..., dict[str, Any]]) -> None:
    ms = int(LATEST.timestamp() * 1000)
    records = [
        record_factory("old", recency_days=0, as_of=ms - 10 * 86_400_000),
        record_factory("new", recency_days=1, as_of=ms),
    ]
    scores = rfm_scores(records)
    assert scores[("shop-a", "new")].recency > scores[("shop-a", "old")].recency


def test_one_record_per_buyer_and_one_currency_per_shop(
    record_factory: Callable[..., dict[str, Any]],
) -> None:
    with pytest.raises(ValueError, match="two feature records"):
        rfm_scores([record_factory("b1"), record_factory("b1", orders=2)])
    with pytest.raises(ValueError, match="currencies"):
        rfm_scores([record_factory("b1"), record_factory("b2", currency="USD")])


def test_no_records_no_scores() -> None:
    assert rfm_scores([]) == {}


# -- grades ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (NO_PURCHASE, "prospect"),
        (RfmScore(5, 5, 5), "VIP"),
        (RfmScore(4, 4, 4), "VIP"),
        (RfmScore(4, 4, 3), "loyal"),
        (RfmScore(3, 3, 1), "loyal"),
        (RfmScore(5, 2, 5), "regular"),
        (RfmScore(3, 1, 1), "regular"),
        (RfmScore(2, 3, 1), "at-risk"),
        (RfmScore(1, 1, 4), "at-risk"),
        (RfmScore(2, 2, 3), "dormant"),
        (RfmScore(1, 1, 1), "dormant"),
    ],
)
def test_grade_rules(score: RfmScore, expected: str) -> None:
    assert grade(score) == expected


def test_every_score_has_one_of_the_documented_grades() -> None:
    every = [RfmScore(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    grades = Counter(grade(s) for s in [*every, NO_PURCHASE])
    assert set(grades) == set(GRADES)
    assert grades["prospect"] == 1


def test_score_texts() -> None:
    assert str(RfmScore(5, 4, 3)) == "R5 F4 M3"
    assert RfmScore(5, 4, 3).code == "543"
    assert NO_PURCHASE.code == "000"
    assert not NO_PURCHASE.purchased
