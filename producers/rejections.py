"""What a rejected event's errors may say: field paths and rule names, never the values sent.

Shared by the tracker's helpers and the HTTP collector, so that both name a failing field
the same way the contract does (``items[0].quantity``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypedDict

from pydantic import ValidationError

MAX_ERRORS_PER_EVENT = 20
MAX_FIELD_PATH = 200
# Unknown keys are client-chosen and could be anything, a phone number included: a key is
# echoed only when it looks like a field name, as every name in the contract does.
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
UNNAMED_FIELD = "<key>"


class FieldError(TypedDict):
    field: str
    rule: str


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Field paths and rule names of a validation error; no input, no context, no URL.

    A cross-field rule of the contract fails the whole model (its location is empty);
    its field path is then read from the rule's context, which holds the path, never a value.
    """
    shaped = exc.errors(include_input=False, include_url=False, include_context=False)
    errors: list[FieldError] = []
    for i, error in enumerate(shaped[:MAX_ERRORS_PER_EVENT]):
        where = field_path(error["loc"])
        if not where:
            where = _rule_path(exc, i)
        errors.append(FieldError(field=where[:MAX_FIELD_PATH] or "$", rule=error["type"]))
    return errors


def field_path(loc: Sequence[int | str]) -> str:
    """``("items", 0, "quantity")`` -> ``items[0].quantity``, as the contract names paths."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = part if _FIELD_NAME.fullmatch(part) else UNNAMED_FIELD
        path += f".{name}" if path else name
    return path


def _rule_path(exc: ValidationError, i: int) -> str:
    context = exc.errors(include_input=False, include_url=False)[i].get("ctx") or {}
    path = context.get("path")
    return path if isinstance(path, str) else ""


__all__ = ["MAX_ERRORS_PER_EVENT", "UNNAMED_FIELD", "FieldError", "field_errors", "field_path"]
