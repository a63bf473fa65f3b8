"""Business days of the demo as whole numbers relative to its as-of date.

Day 0 is the as-of date, -1 the day before, 7 a week later. Arrays of such
numbers are cheap to draw and shift with numpy and are turned into ISO
dates only when a file is written.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

# Marks a missing date in a day array. Files get an empty cell for it.
NO_DAY = np.iinfo(np.int32).min

FIRST_DAY = -800  # covers two years of history plus their lead times
LAST_DAY = 400  # covers promises and supplier date changes after the as-of date


class DayCalendar:
    """Converts day numbers to dates, weekdays and holiday windows around one as-of date."""

    def __init__(self, as_of: date):
        self.as_of = as_of
        span = LAST_DAY - FIRST_DAY + 1
        dates = [as_of + timedelta(days=FIRST_DAY + offset) for offset in range(span)]
        # The extra last cell is the empty text that NO_DAY maps to.
        self._iso = np.array([d.isoformat() for d in dates] + [""], dtype=object)
        self._weekday = np.array([d.weekday() for d in dates] + [0], dtype=np.int8)
        self._holiday_window = np.array([_before_holiday(d) for d in dates] + [False], dtype=bool)

    def _index(self, days: np.ndarray) -> np.ndarray:
        days = np.asarray(days, dtype=np.int64)
        present = days != NO_DAY
        if present.any():
            low, high = days[present].min(), days[present].max()
            if low < FIRST_DAY or high > LAST_DAY:
                raise ValueError(f"day {low if low < FIRST_DAY else high} is outside {FIRST_DAY}..{LAST_DAY}")
        return np.where(present, days - FIRST_DAY, len(self._iso) - 1)

    def iso(self, days: np.ndarray) -> np.ndarray:
        """Return ISO dates (YYYY-MM-DD) for the days, with an empty string for NO_DAY."""
        return self._iso[self._index(days)]

    def date_of(self, day: int) -> date:
        return self.as_of + timedelta(days=int(day))

    def next_weekday(self, days: np.ndarray) -> np.ndarray:
        """Move days that fall on a Saturday or Sunday to the following Monday."""
        weekday = self._weekday[self._index(days)]
        shift = np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
        return (days + shift).astype(np.int32)

    def previous_weekday(self, days: np.ndarray) -> np.ndarray:
        """Move days that fall on a Saturday or Sunday to the Friday before."""
        weekday = self._weekday[self._index(days)]
        shift = np.where(weekday == 5, 1, np.where(weekday == 6, 2, 0))
        return (days - shift).astype(np.int32)

    def in_holiday_window(self, days: np.ndarray) -> np.ndarray:
        """Return True for days in the two weeks before Thanksgiving, Christmas or July 4."""
        return self._holiday_window[self._index(days)]

    def local_timestamp(self, day: int, hour: int, time_zone: str) -> str:
        """Return the ISO 8601 instant of an hour of a day in a time zone, with its UTC offset."""
        moment = datetime.combine(self.date_of(day), time(hour), tzinfo=ZoneInfo(time_zone))
        return moment.isoformat()

    def utc_timestamps(self, days: np.ndarray, minutes: np.ndarray) -> list[str]:
        """Return ISO 8601 UTC instants for minutes after midnight UTC of the days."""
        base = datetime.combine(self.as_of, time(0), tzinfo=timezone.utc)
        return [
            (base + timedelta(days=day, minutes=minute)).isoformat()
            for day, minute in zip(np.asarray(days).tolist(), np.asarray(minutes).tolist())
        ]


def _thanksgiving(year: int) -> date:
    """Return the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(weeks=3)


def _before_holiday(day: date) -> bool:
    holidays = (date(day.year, 7, 4), _thanksgiving(day.year), date(day.year, 12, 25))
    return any(timedelta(0) <= holiday - day <= timedelta(days=14) for holiday in holidays)
