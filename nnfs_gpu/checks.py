"""Checks of public arguments where they enter: each error names the argument, what it got and what
it needs (a ``TypeError`` for the wrong kind of value, a ``ValueError`` for a value out of range).

Whole numbers are Python or NumPy integers (``2.0`` is refused: a size computed as ``n / 2`` is a
mistake worth naming); real numbers are finite unless said otherwise; flags are ``True``/``False``
(``0`` and ``1`` too, as Python treats them).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def shown(value: Any) -> str:
    """A value as an error shows it: its repr (shortened) and its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _where(owner: str) -> str:
    return f"{owner}: " if owner else ""


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def whole_number(value: Any, name: str, *, minimum: int | None = None, owner: str = "") -> int:
    """``value`` as an int, refused unless it is an integer (not a bool) of at least ``minimum``."""
    need = "a whole number" + (f" >= {minimum}" if minimum is not None else "")
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_where(owner)}{name} must be {need}, got {shown(value)}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"{_where(owner)}{name} must be {need}, got {number}")
    return number


def real_number(
    value: Any,
    name: str,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    owner: str = "",
) -> float:
    """``value`` as a finite float within the bounds given (``above``/``below`` exclude the bound)."""
    limits = " and ".join(f"{sign} {bound:g}" for sign, bound in ((">", above), (">=", at_least), ("<", below)) if bound is not None)
    need = "a finite number" + (f" {limits}" if limits else "")
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_where(owner)}{name} must be {need}, got {shown(value)}")
    number = float(value)
    if (
        not math.isfinite(number)
        or (above is not None and not number > above)
        or (at_least is not None and not number >= at_least)
        or (below is not None and not number < below)
    ):
        raise ValueError(f"{_where(owner)}{name} must be {need}, got {number!r}")
    return number


def flag(value: Any, name: str, *, owner: str = "") -> bool:
    """``value`` as a bool: True, False (or 1, 0)."""
    if _is_bool(value) or (isinstance(value, numbers.Integral) and int(value) in (0, 1)):
        return bool(value)
    raise TypeError(f"{_where(owner)}{name} must be True or False, got {shown(value)}")


def instance(value: Any, kind: type, name: str, example: str, *, owner: str = "") -> Any:
    """``value`` when it is an instance of ``kind``; a class given instead of an instance gets a hint."""
    if isinstance(value, kind):
        return value
    raise TypeError(f"{_where(owner)}{name} must be {example}, got {_class_or_value(value)}")


def _class_or_value(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__} itself; create one with {value.__name__}(...)"
    return shown(value)


def object_with(value: Any, methods: tuple[str, ...], name: str, example: str, *, owner: str = "") -> Any:
    """``value`` when it is an object (not a class) with the callable ``methods`` (duck typing)."""
    if not isinstance(value, type) and all(callable(getattr(value, method, None)) for method in methods):
        return value
    raise TypeError(f"{_where(owner)}{name} must be {example}, got {_class_or_value(value)}")
