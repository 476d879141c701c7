"""Chinese public holidays (with the official substituted days off) as forecast features."""

from __future__ import annotations

from functools import lru_cache

import holidays
import numpy as np
import pandas as pd


@lru_cache(maxsize=64)
def _china_holidays(years: tuple[int, ...]) -> frozenset[pd.Timestamp]:
    return frozenset(pd.Timestamp(day) for day in holidays.China(years=list(years)))


def holiday_flags(dates: pd.DatetimeIndex) -> np.ndarray:
    """1.0 on a Chinese public holiday or official day off, else 0.0."""
    if len(dates) == 0:
        return np.zeros(0, dtype=np.float32)
    years = tuple(range(dates.min().year, dates.max().year + 1))
    days_off = _china_holidays(years)
    return np.fromiter((day in days_off for day in dates.normalize()), np.float32, len(dates))
