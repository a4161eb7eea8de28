"""The progress of a long compile: rows booked, their rate and the time left, redrawn on one
line of a terminal, or logged every few seconds otherwise."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger(__name__)

#: Seconds between two reports: on a terminal, and in a log.
TERMINAL_EVERY, LOG_EVERY = 0.5, 10.0


class Progress:
    """Counts the rows a pass books against the rows it expects, and reports them."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.clock = stream, clock
        self.terminal = stream.isatty()
        self.every = TERMINAL_EVERY if self.terminal else LOG_EVERY
        self.total = self.done = 0
        self.started = self.reported = clock()

    def planned(self, rows: int) -> None:
        self.total, self.done = rows, 0
        self.started = self.reported = self.clock()

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.clock() - self.reported >= self.every:
            self.report()

    def line(self) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        left = max(self.total - self.done, 0)
        eta = f"{left / rate:.0f} s left" if rate > 0 and left else "-"
        return (f"compiled {self.done:,} of about {self.total:,} rows, {rate:,.0f} rows/s, "
                f"{eta}")

    def report(self) -> None:
        self.reported = self.clock()
        if self.terminal:
            self.stream.write("\r" + self.line() + "\033[K")
            self.stream.flush()
        else:
            log.info("%s", self.line())

    def finish(self) -> None:
        """End the progress line on a terminal."""
        if self.terminal and self.total:
            self.report()
            self.stream.write("\n")
            self.stream.flush()
