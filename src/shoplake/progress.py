"""Progress lines for long loops: ``done / total``, rate and ETA, at a steady interval (not per item)."""

from __future__ import annotations

import logging
import time


class Progress:
    """Log ``<what>: done / total (rate/s, ETA)`` at most every ``every_s`` seconds, and once at the end.

    >>> p = Progress(1000, "embedded reviews", logging.getLogger(__name__))  # doctest: +SKIP
    >>> for batch in batches:                                                # doctest: +SKIP
    ...     p.update(len(batch))
    """

    def __init__(self, total: int, what: str, log: logging.Logger, every_s: float = 30.0) -> None:
        self.total, self.what, self.log, self.every_s = total, what, log, every_s
        self.done = 0
        self.started = self._last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every_s or self.done >= self.total:
            self._last = now
            rate = self.done / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            self.log.info("%s: %s / %s (%.0f/s, ETA %.0f s)", self.what, self.done, self.total, rate, eta)
