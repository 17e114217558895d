"""The slice of time a run owns: its data interval, as a partition date and unix-second bounds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shoplake.paths import validate_ds


@dataclass(frozen=True)
class Window:
    """Half-open interval ``[start_ts, end_ts)`` in unix seconds, owned by partition ``ds``."""

    ds: str
    start_ts: int
    end_ts: int

    def __post_init__(self) -> None:
        validate_ds(self.ds)
        if self.start_ts >= self.end_ts:
            raise ValueError(f"empty data interval [{self.start_ts}, {self.end_ts}) for ds={self.ds}")

    @property
    def last_day(self) -> str:
        """The UTC day before the window's end: ``ds`` of a daily window, the Sunday of one ending Monday 04:00."""
        return (dt.datetime.fromtimestamp(self.end_ts, dt.UTC).date() - dt.timedelta(days=1)).isoformat()

    @classmethod
    def from_interval(cls, start: dt.datetime, end: dt.datetime) -> Window:
        """Window of a data interval; ``ds`` is the UTC date of its start.

        Raises:
            ValueError: naive datetimes, or an empty interval (a DAG on a trigger timetable has
                ``start == end``: use a data-interval timetable such as ``CronDataIntervalTimetable``).
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("data interval bounds must be timezone-aware")
        ds = start.astimezone(dt.UTC).date().isoformat()
        return cls(ds=ds, start_ts=int(start.timestamp()), end_ts=int(end.timestamp()))

    @classmethod
    def for_day(cls, ds: str) -> Window:
        """The UTC day ``ds`` (what a daily run for ``ds`` owns)."""
        start = dt.datetime.fromisoformat(validate_ds(ds)).replace(tzinfo=dt.UTC)
        return cls.from_interval(start, start + dt.timedelta(days=1))
