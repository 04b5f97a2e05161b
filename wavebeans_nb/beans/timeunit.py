"""Time lengths and units: ``TimeMeasure`` and exact parsing of strings such as ``"1.5s"``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ..errors import InvalidParameterError

__all__ = ["TimeMeasure", "UNIT_NANOS", "to_nanos", "parse_time", "samples_to_length"]

#: Nanoseconds in one of each supported unit.
UNIT_NANOS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}

_UNIT_ALIASES = {
    "nanoseconds": "ns", "microseconds": "us", "milliseconds": "ms", "seconds": "s",
    "sec": "s", "min": "m", "minutes": "m", "hours": "h", "days": "d",
}

_TIME_PATTERN = re.compile(r"^\s*(-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*(ns|us|ms|s|m|h|d)\s*$")


def normalize_unit(unit: str) -> str:
    """Return the canonical abbreviation of a time unit (``"ms"`` for ``"milliseconds"``).

    Raises
    ------
    InvalidParameterError
        If the unit is not one of ns, us, ms, s, m, h, d or their long names.
    """
    key = str(unit).strip().lower()
    key = _UNIT_ALIASES.get(key, key)
    if key not in UNIT_NANOS:
        raise InvalidParameterError(
            f"unknown time unit {unit!r}; use one of {', '.join(UNIT_NANOS)}"
        )
    return key


@dataclass(frozen=True, order=True)
class TimeMeasure:
    """A length of time stored exactly as a whole number of nanoseconds.

    Unlike the original library, fractional lengths such as ``1.5 s`` keep
    their fraction instead of being truncated to the unit.
    """

    nanos: int

    @classmethod
    def of(cls, value: "int | float | str | TimeMeasure", unit: str = "ms") -> "TimeMeasure":
        """Build a measure from a number in ``unit`` or from a string such as ``"250ms"``."""
        if isinstance(value, TimeMeasure):
            return value
        if isinstance(value, str):
            return cls(parse_time(value))
        return cls(to_nanos(value, unit))

    def seconds(self) -> Fraction:
        """Return the length in seconds as an exact fraction."""
        return Fraction(self.nanos, 1_000_000_000)

    def to(self, unit: str) -> int:
        """Return the length in ``unit``, truncated toward zero."""
        per = UNIT_NANOS[normalize_unit(unit)]
        return int(math.copysign(abs(self.nanos) // per, self.nanos)) if self.nanos else 0

    def __str__(self) -> str:
        for unit in ("d", "h", "m", "s", "ms", "us"):
            per = UNIT_NANOS[unit]
            if self.nanos % per == 0 and self.nanos != 0:
                return f"{self.nanos // per}{unit}"
        return f"{self.nanos}ns"


def to_nanos(value: "int | float | str | Decimal", unit: str = "ms") -> int:
    """Convert ``value`` in ``unit`` to whole nanoseconds, rounding half to even.

    Floats are converted through their shortest decimal form, so ``1.1`` seconds
    is 1 100 000 000 ns and not one nanosecond less.

    Raises
    ------
    InvalidParameterError
        If the value is not a finite number or the unit is unknown.
    """
    if isinstance(value, str):
        return parse_time(value) if not _is_plain_number(value) else to_nanos(Decimal(value), unit)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, Fraction)):
        raise InvalidParameterError(f"time value {value!r} is not a number; pass a number with unit=, or a string such as '1.5s'")
    per = UNIT_NANOS[normalize_unit(unit)]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameterError(f"time value {value!r} is not finite; pass a finite number with unit=, or a string such as '1.5s'")
        value = Decimal(repr(value))
    if isinstance(value, Fraction):
        return round(value * per)
    exact = Decimal(value) * per
    return int(exact.to_integral_value())


def _is_plain_number(text: str) -> bool:
    try:
        Decimal(text.strip())
    except InvalidOperation:
        return False
    return True


def parse_time(text: str) -> int:
    """Parse a length such as ``"1.5s"``, ``"100ms"`` or ``"2e3us"`` to exact nanoseconds.

    Raises
    ------
    InvalidParameterError
        If the text is not a number followed by one of ns, us, ms, s, m, h, d.
    """
    match = _TIME_PATTERN.match(str(text).lower())
    if not match:
        raise InvalidParameterError(
            f"invalid time {text!r}; write a number followed by a unit, "
            f"for example '1.5s' or '250ms' (units: {', '.join(UNIT_NANOS)})"
        )
    number, unit = match.groups()
    return int((Decimal(number) * UNIT_NANOS[unit]).to_integral_value())


def samples_to_length(count: int, sample_rate: float, unit: str = "ms") -> int:
    """Return the time of sample ``count`` at ``sample_rate`` in ``unit``, truncated toward zero.

    The arithmetic is exact (rational), so sample 1 at 4 Hz is 250 ms, and
    index 1 of a window stream with step 2 at 4 Hz is 500 ms, not 499 ms.
    """
    per = UNIT_NANOS[normalize_unit(unit)]
    nanos = Fraction(count) * 1_000_000_000 / Fraction(sample_rate)
    return int(nanos / per)


def time_to_sample_floor(nanos: int, sample_rate: float) -> int:
    """Return ``floor(t * sample_rate)`` for a time ``t`` in nanoseconds, exactly."""
    return math.floor(Fraction(nanos, 1_000_000_000) * Fraction(sample_rate))


def time_to_sample_ceil(nanos: int, sample_rate: float) -> int:
    """Return ``ceil(t * sample_rate)`` for a time ``t`` in nanoseconds, exactly."""
    return math.ceil(Fraction(nanos, 1_000_000_000) * Fraction(sample_rate))
