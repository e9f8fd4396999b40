"""The producer SDK embedded in shop sites (see issue: producers)."""

__all__: list[str] = []
