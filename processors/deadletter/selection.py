"""Which dead letters an operator means: by rule, by id, by failure time. Pure."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from shopstream.processors.deadletter.letters import DeadLetter


@dataclass(frozen=True, slots=True)
class Selection:
    """Letters having any of ``rules``, any of ``ids``, failed in ``[since_ms, until_ms)``.

    An empty set or ``None`` bound does not filter.
    """

    rules: frozenset[str] = field(default_factory=frozenset)
    ids: frozenset[str] = field(default_factory=frozenset)
    since_ms: int | None = None
    until_ms: int | None = None

    def __post_init__(self) -> None:
        # Ids compare in their canonical form: any case, with or without braces.
        object.__setattr__(self, "ids", frozenset(_canonical_id(i) for i in self.ids))

    def matches(self, letter: DeadLetter) -> bool:
        if self.rules and self.rules.isdisjoint(letter.rules):
            return False
        if self.ids and _canonical_id(letter.dead_letter_id) not in self.ids:
            return False
        if self.since_ms is not None and letter.failed_time < self.since_ms:
            return False
        return self.until_ms is None or letter.failed_time < self.until_ms


def count_by_rule(letters: Iterable[DeadLetter]) -> Counter[str]:
    """How many letters name each rule (a letter counts once per rule it names)."""
    counts: Counter[str] = Counter()
    for letter in letters:
        counts.update(letter.rules)
    return counts


def _canonical_id(text: str) -> str:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return text.strip().lower()


__all__ = ["Selection", "count_by_rule"]
