"""Progress lines for long work: ``done / total``, rate and ETA at a steady interval (not per item) — loops
(:class:`Progress`) and Spark steps (:class:`SparkProgress`)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


class Progress:
    """Log ``<what>: done / total (rate/s, ETA)`` at most every ``every_s`` seconds, and once at the end.

    With ``total=None`` (a stream of unknown length) the line is ``<what>: done (rate/s)`` and :meth:`finish`
    writes the last one.

    >>> p = Progress(1000, "embedded reviews", logging.getLogger(__name__))  # doctest: +SKIP
    >>> for batch in batches:                                                # doctest: +SKIP
    ...     p.update(len(batch))
    """

    def __init__(self, total: int | None, what: str, log: logging.Logger, every_s: float = 30.0) -> None:
        self.total, self.what, self.log, self.every_s = total, what, log, every_s
        self.done = 0
        self.started = self._last = time.monotonic()
        self._logged_at = -1

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every_s or (self.total is not None and self.done >= self.total):
            self._last = now
            self._log(now)

    @contextlib.contextmanager
    def beating(self) -> Iterator[Progress]:
        """While open, a line at least every ``every_s`` seconds even when no :meth:`update` comes (one long call:
        a few thousand texts through a CPU encoder), so a long step never looks hung."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(min(self.every_s, 5.0)):
                now = time.monotonic()
                if now - self._last >= self.every_s:
                    self._last = now
                    self.log.info("%s: %s / %s so far, working (%.0f s)", self.what, self.done,
                                  "?" if self.total is None else self.total, now - self.started)  # fmt: skip

        thread = threading.Thread(target=beat, name="progress-beat", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    def finish(self) -> None:
        """Log the final count (once; a no-op when the last update already logged it)."""
        if self._logged_at != self.done:
            self._log(time.monotonic())

    def _log(self, now: float) -> None:
        self._logged_at = self.done
        rate = self.done / max(now - self.started, 1e-9)
        if self.total is None:
            self.log.info("%s: %s (%s/s)", self.what, self.done, _rate(rate))
            return
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        self.log.info("%s: %s / %s (%s/s, ETA %.0f s)", self.what, self.done, self.total, _rate(rate), eta)


def _rate(per_s: float) -> str:
    """``1234`` or ``0.42``: whole numbers once the rate is at least 10 per second, two significant digits below."""
    return f"{per_s:.0f}" if per_s >= 10 else f"{per_s:.2g}"


# ---- Spark -------------------------------------------------------------------------------------------------------
# Spark's console progress bar is off in spark-submit logs (not a terminal) and Spark logs nothing between a stage's
# start and end, so a long curate or training job looked hung. SparkProgress polls the application's status tracker
# from a daemon thread while a job step runs (``shoplake.jobconfig.run_job`` wraps every Spark step in one) and logs
# one line per interval while stages run, e.g.
#   spark: 2 stages running, tasks 120 / 400 (35/s, ETA 8 s); stage 12 'parquet at …' 100 / 200
# (duck-typed on the session: nothing here imports pyspark)


class SparkProgress:
    """Context manager: while open, log the running stages of ``spark`` every ``every_s`` seconds."""

    def __init__(self, spark: Any, every_s: float = 30.0, logger: logging.Logger = log) -> None:
        self.tracker = spark.sparkContext.statusTracker()
        self.every_s, self.log = every_s, logger
        self.stages_seen: set[int] = set()
        self._last_done: dict[int, int] = {}
        self._last_poll = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = time.monotonic()
        self._jobs_before: set[int] = set()

    def line(self) -> str | None:
        """The progress line for the stages running now (``None`` when none runs); updates the rate state."""
        now = time.monotonic()
        stages = [s for s in (self.tracker.getStageInfo(i) for i in self.tracker.getActiveStageIds()) if s]
        elapsed, self._last_poll = max(now - self._last_poll, 1e-9), now
        if not stages:
            return None
        done = sum(s.numCompletedTasks for s in stages)
        total = sum(s.numTasks for s in stages)
        newly = sum(max(s.numCompletedTasks - self._last_done.get(s.stageId, 0), 0) for s in stages)
        self._last_done = {s.stageId: s.numCompletedTasks for s in stages}
        self.stages_seen.update(s.stageId for s in stages)
        rate = newly / elapsed
        eta = f"ETA {(total - done) / rate:.0f} s" if rate > 0 else "ETA unknown"
        busiest = max(stages, key=lambda s: s.numTasks - s.numCompletedTasks)
        return (
            f"spark: {len(stages)} stage{'s' if len(stages) != 1 else ''} running, tasks {done} / {total} "
            f"({rate:.0f}/s, {eta}); stage {busiest.stageId} '{busiest.name}' "
            f"{busiest.numCompletedTasks} / {busiest.numTasks}"
            + (f", {busiest.numFailedTasks} failed" if busiest.numFailedTasks else "")
        )

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                text = self.line()
            except Exception as exc:  # the session is stopping: progress must never fail the job
                self.log.debug("spark progress poll failed: %s", exc)
                return
            if text:
                self.log.info(text)

    def __enter__(self) -> SparkProgress:
        self._jobs_before = set(self.tracker.getJobIdsForGroup())
        self._thread = threading.Thread(target=self._run, name="spark-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            jobs = len(set(self.tracker.getJobIdsForGroup()) - self._jobs_before)
        except Exception:  # the session is already stopped
            jobs = "?"
        plural = "" if jobs == 1 else "s"
        self.log.info("spark: step finished in %.0f s (%s Spark job%s)", time.monotonic() - self.started, jobs, plural)
