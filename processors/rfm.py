"""RFM scores and customer grades over a shop's buyers, from their feature records.

Pure: a list of buyer feature records in, scores out (no Kafka, no engine). The records
are dicts shaped as ``schemas/avro/features/buyer/v1.avsc``; only ``shop_id``,
``buyer_pseudonym``, ``as_of``, ``orders``, ``recency_days``, ``spend`` and
``currency`` are read.

Rules:

- **Population.** Scores are relative to the buyer's own shop. Only *purchasers*
  (``orders`` > 0) are scored; buyers who never ordered would crowd the bottom quintiles
  with ties, so they are graded separately: score ``R0 F0 M0`` (:data:`NO_PURCHASE`),
  grade ``prospect``.
- **Recency** is counted to one reference date per shop: the latest ``as_of`` date
  among its buyers (or the ``reference`` argument). A record's ``recency_days`` counts
  from that buyer's *own* ``as_of`` (their latest event), so a buyer last seen three
  weeks ago who bought that day has ``recency_days`` 0 yet is not recent; the days
  between the buyer's ``as_of`` and the reference are added. Fewer days score higher.
- **Frequency** is ``orders``, **monetary** is ``spend`` (net of cancellations and
  refunds, minor units); more scores higher. A shop must not mix currencies.
- **Quintiles with ties.** Among the shop's *n* purchasers, a buyer whose value is
  strictly better than *b* others' scores ``1 + floor(5 b / n)``. Equal values get equal scores
  (the score of the lowest rank of their tie group), so the result depends only on the
  values, never on input order; with *n* distinct values and *n* a multiple of 5 each
  score holds exactly *n* / 5 buyers. A shop with one purchaser scores it 1, 1, 1.
- **Grade**, first rule that matches (:func:`grade`):

  ============  ==========================================  ==============================
  grade         rule                                        meaning
  ============  ==========================================  ==============================
  prospect      no orders (``R0 F0 M0``)                    signed up or visited, never bought
  VIP           R ≥ 4 and F ≥ 4 and M ≥ 4                   recent, frequent, big spenders
  loyal         R ≥ 3 and F ≥ 3                             buy regularly and still do
  at-risk       R ≤ 2 and (F ≥ 3 or M ≥ 4)                  were valuable, have not bought lately
  dormant       R ≤ 2                                       lapsed, little bought
  regular       anything else (R ≥ 3, F ≤ 2)                recent, occasional buyers
  ============  ==========================================  ==============================
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

BuyerKey = tuple[str, str]
"""(shop_id, buyer_pseudonym)."""

GRADES: Final = ("VIP", "loyal", "regular", "at-risk", "dormant", "prospect")
"""Every grade :func:`grade` gives, from most to least valuable."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True, order=True)
class RfmScore:
    """Recency, frequency and monetary scores, each 1 (worst) to 5 (best); 0 for non-buyers."""

    recency: int
    frequency: int
    monetary: int

    @property
    def purchased(self) -> bool:
        return self.recency > 0

    @property
    def code(self) -> str:
        """The three digits, ``"543"``; ``"000"`` for a buyer without orders."""
        return f"{self.recency}{self.frequency}{self.monetary}"

    def __str__(self) -> str:
        return f"R{self.recency} F{self.frequency} M{self.monetary}"


NO_PURCHASE: Final = RfmScore(0, 0, 0)


def quintile_scores(values: Sequence[float], *, lower_is_better: bool = False) -> list[int]:
    """Scores 1-5 of ``values``, in their order: ``1 + floor(5 b / n)``, *b* strictly worse."""
    n = len(values)
    ordered = sorted(values)
    scores = []
    for value in values:
        if lower_is_better:
            worse = n - bisect.bisect_right(ordered, value)
        else:
            worse = bisect.bisect_left(ordered, value)
        scores.append(1 + (5 * worse) // n)
    return scores


def rfm_scores(
    records: Iterable[Mapping[str, Any]], *, reference: dt.date | None = None
) -> dict[BuyerKey, RfmScore]:
    """The RFM score of every buyer, keyed by (shop_id, buyer_pseudonym), sorted by key.

    ``reference`` is the date recency is counted to, for every shop; by default each
    shop's latest ``as_of`` date. Raises ``ValueError`` for two records of one buyer or
    two currencies in one shop.
    """
    by_shop: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    seen: set[BuyerKey] = set()
    for record in records:
        key = (record["shop_id"], record["buyer_pseudonym"])
        if key in seen:
            raise ValueError(f"two feature records of one buyer of shop {key[0]!r}")
        seen.add(key)
        by_shop[key[0]].append(record)

    scores: dict[BuyerKey, RfmScore] = {}
    for shop, shop_records in by_shop.items():
        scores.update(_shop_scores(shop, shop_records, reference))
    return dict(sorted(scores.items()))


def grade(score: RfmScore) -> str:
    """The customer grade of a score (rules in the module docstring); one of :data:`GRADES`."""
    r, f, m = score.recency, score.frequency, score.monetary
    if not score.purchased:
        return "prospect"
    if r >= 4 and f >= 4 and m >= 4:
        return "VIP"
    if r >= 3 and f >= 3:
        return "loyal"
    if r <= 2 and (f >= 3 or m >= 4):
        return "at-risk"
    if r <= 2:
        return "dormant"
    return "regular"


def _shop_scores(
    shop: str, records: Sequence[Mapping[str, Any]], reference: dt.date | None
) -> dict[BuyerKey, RfmScore]:
    currencies = {str(r["currency"]) for r in records if r.get("currency") is not None}
    if len(currencies) > 1:
        raise ValueError(f"shop {shop!r} has features in several currencies: {sorted(currencies)}")
    scores = {(shop, r["buyer_pseudonym"]): NO_PURCHASE for r in records}
    buyers = [
        r for r in records if (r.get("orders") or 0) > 0 and r.get("recency_days") is not None
    ]
    if not buyers:
        return scores
    as_of = [_date(r["as_of"]) for r in buyers]
    until = reference or max(as_of)
    recency = [r["recency_days"] + (until - d).days for r, d in zip(buyers, as_of, strict=True)]
    r_scores = quintile_scores(recency, lower_is_better=True)
    f_scores = quintile_scores([r["orders"] for r in buyers])
    m_scores = quintile_scores([r["spend"] for r in buyers])
    for record, r, f, m in zip(buyers, r_scores, f_scores, m_scores, strict=True):
        scores[(shop, record["buyer_pseudonym"])] = RfmScore(r, f, m)
    return scores


def _date(value: dt.datetime | dt.date | int) -> dt.date:
    """The UTC date of ``as_of``: a datetime (as fastavro decodes it) or epoch milliseconds."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).date()
    if isinstance(value, dt.date):
        return value
    return (_EPOCH + dt.timedelta(milliseconds=value)).date()


__all__ = [
    "GRADES",
    "NO_PURCHASE",
    "BuyerKey",
    "RfmScore",
    "grade",
    "quintile_scores",
    "rfm_scores",
]
