"""Parameter checks at the boundary: one home for "between 0 and 1", "positive", "at least n".

Each check returns the value (as ``float`` or ``int``) when it is valid and raises a
``ValueError`` naming the parameter, what was expected and what was given otherwise, so a topic
writes ``rate = validate.fraction("service_level", service_level, open_ends=True)`` instead of
spelling the test and its message out again. Cheap to import (standard library only).
"""

from __future__ import annotations

import math

__all__ = ["at_least", "fraction", "non_negative", "one_of", "positive", "positive_int"]


def _number(name: str, value, expected: str) -> float:
    """``value`` as a float, or the ValueError saying what ``name`` expected."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"parameter '{name}' must be {expected}, got {value!r}") from None
    if math.isnan(x):
        raise ValueError(f"parameter '{name}' must be {expected}, got {value!r}")
    return x


def fraction(name: str, value, *, open_ends: bool = False) -> float:
    """``value`` when 0 ≤ value ≤ 1 (0 < value < 1 with ``open_ends``), else a ValueError:
    "parameter 'name' must be between 0 and 1 [strictly], got ..."."""
    expected = "strictly between 0 and 1" if open_ends else "between 0 and 1"
    x = _number(name, value, expected)
    ok = 0.0 < x < 1.0 if open_ends else 0.0 <= x <= 1.0
    if not ok:
        raise ValueError(f"parameter '{name}' must be {expected}, got {value!r}")
    return x


def positive(name: str, value) -> float:
    """``value`` when it is a number > 0, else "parameter 'name' must be a positive number"."""
    x = _number(name, value, "a positive number")
    if not x > 0:
        raise ValueError(f"parameter '{name}' must be a positive number, got {value!r}")
    return x


def non_negative(name: str, value) -> float:
    """``value`` when it is a number ≥ 0, else "parameter 'name' must be 0 or more"."""
    x = _number(name, value, "0 or more")
    if x < 0:
        raise ValueError(f"parameter '{name}' must be 0 or more, got {value!r}")
    return x


def at_least(name: str, value, least: int) -> int:
    """``int(value)`` when it is at least ``least``, else "parameter 'name' must be at least
    <least>"."""
    x = _number(name, value, f"at least {least}")
    if x < least:
        raise ValueError(f"parameter '{name}' must be at least {least}, got {value!r}")
    return int(x)


def positive_int(name: str, value) -> int:
    """``int(value)`` when it is a whole number ≥ 1 (a number of days, bins, draws), else
    "parameter 'name' must be a positive number"."""
    x = _number(name, value, "a positive number")
    if int(x) < 1:
        raise ValueError(f"parameter '{name}' must be a positive number, got {value!r}")
    return int(x)


def one_of(name: str, value, choices) -> object:
    """``value`` when it is one of ``choices``, else "parameter 'name' must be one of ..."."""
    if value not in tuple(choices):
        raise ValueError(f"parameter '{name}' must be one of {list(choices)}, got {value!r}")
    return value
