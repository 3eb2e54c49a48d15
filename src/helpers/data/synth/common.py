"""What every simulated process shares: time units, the random streams, Arrow column builders,
small vectorised helpers, the time-of-day profiles and the calendar of the window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

US_SEC = 1_000_000
US_MIN = 60 * US_SEC
US_HOUR = 60 * US_MIN
US_DAY = 24 * US_HOUR
US_WEEK = 7 * US_DAY
EPOCH = date(1970, 1, 1)

WAREHOUSES = ("WH-EAST", "WH-NORTH", "WH-SOUTH")


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent, reproducible stream for ``(seed, stream...)``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, stream)]))


def _ts(values_us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Microseconds since the epoch -> timestamp[us] (``mask`` True = null)."""
    return pa.array(np.asarray(values_us, dtype=np.int64), type=pa.timestamp("us"), mask=mask)


def _dates(days: np.ndarray) -> pa.Array:
    """Days since the epoch -> date32."""
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())


def _labels(labels: tuple[str, ...] | list[str], idx: np.ndarray, mask=None) -> pa.Array:
    """Category labels taken by index (fast: no Python string per row)."""
    return pa.array(list(labels), type=pa.string()).take(
        pa.array(np.asarray(idx, dtype=np.int64), mask=mask)
    )


def _money(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64), 2)


def _norm(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / x.mean()


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """Position of each row within its run of equal, sorted ``groups`` (0, 1, 2, ...)."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    return idx - np.maximum.accumulate(np.where(first, idx, 0))


def _cumsum_within(values: np.ndarray, groups: np.ndarray, exclusive: bool = False) -> np.ndarray:
    """Cumulative sum of ``values`` within runs of equal, sorted ``groups``."""
    if len(values) == 0:
        return np.zeros(0, dtype=values.dtype)
    total = np.cumsum(values)
    first = np.ones(len(groups), dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    start_idx = np.maximum.accumulate(np.where(first, np.arange(len(groups)), 0))
    before = total[start_idx] - values[start_idx]
    out = total - before
    return out - values if exclusive else out


def _choice_rows(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row of the row-wise cumulative probabilities ``cum``."""
    u = rng.random(cum.shape[0]) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


def _choice(rng: np.random.Generator, n: int, probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    return rng.choice(len(probs), size=n, p=probs / probs.sum())


def _lognormal_median(rng: np.random.Generator, median, sigma, size=None) -> np.ndarray:
    """``median * exp(sigma * Normal(0, 1))``, one draw per element of ``median`` by default."""
    size = np.shape(median) if size is None else size
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


ORDER_HOURS = np.array(
    [0.2] * 7 + [1, 3, 6, 7, 6, 3, 5, 6, 6, 5, 3, 1.5, 1, 0.8, 0.6, 0.4, 0.3], dtype=float
)
WEB_HOURS = np.array(
    [0.4] * 6 + [0.8, 2, 4, 6, 6.5, 6, 4.5, 5.5, 6, 6, 5.5, 4, 3, 3, 2.8, 2.2, 1.4, 0.8],
    dtype=float,
)
OFFICE_HOURS = np.array([0.0] * 8 + [1.0] * 9 + [0.0] * 7, dtype=float)


def _time_of_day(rng: np.random.Generator, n: int, hours: np.ndarray) -> np.ndarray:
    """Microseconds into the day: an hour drawn from ``hours`` weights, then uniform within it."""
    h = rng.choice(24, size=n, p=hours / hours.sum())
    return h * US_HOUR + rng.integers(0, US_HOUR, size=n)


def _round6(x: float) -> float:
    return float(f"{float(x):.6g}")


class _Ids:
    """Sequential ids shared across chunks (the chunks run in a fixed order)."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def take(self, name: str, n: int, start: int = 1) -> np.ndarray:
        first = self.next.get(name, start)
        self.next[name] = first + int(n)
        return np.arange(first, first + int(n), dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calendar:
    """The window ``[start, end]`` (both inclusive) and per-day month / weekday indices."""

    start: date
    end: date

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_day(self) -> int:
        """Days from the epoch to ``start``."""
        return (self.start - EPOCH).days

    @property
    def start_us(self) -> int:
        return self.start_day * US_DAY

    @property
    def end_us(self) -> int:
        """Exclusive: midnight after ``end``."""
        return (self.start_day + self.n_days) * US_DAY

    @property
    def month(self) -> np.ndarray:
        days = np.arange(self.n_days) + self.start_day
        return (days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)) % 12

    @property
    def weekday(self) -> np.ndarray:
        return (np.arange(self.n_days) + self.start_day + 3) % 7  # 1970-01-01 was a Thursday


def make_calendar(end_date: str | date, years: int) -> Calendar:
    """``years`` years of days ending on ``end_date`` (start = same day ``years`` back, + 1)."""
    end = date.fromisoformat(end_date) if isinstance(end_date, str) else end_date
    try:
        back = end.replace(year=end.year - years)
    except ValueError:  # 29 February
        back = end.replace(year=end.year - years, day=28)
    return Calendar(start=back + timedelta(days=1), end=end)
