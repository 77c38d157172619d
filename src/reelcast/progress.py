"""Progress of long steps: a live bar with an ETA on a terminal, one summary line per stage in a log.

A tqdm bar redraws itself with carriage returns; written to a file or a CI log that is thousands of
lines of noise. So a bar is drawn only when stderr is a terminal, and every stage, terminal or not,
ends with one INFO line: what it did, how many, how fast, how long. `-q` (WARNING level) hides both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

log = logging.getLogger("reelcast.progress")
T = TypeVar("T")

# REELCAST_PROGRESS=lines forces summary lines even on a terminal; =bar forces bars even when piped.
ENV = "REELCAST_PROGRESS"
# Without a bar, a stage still running logs a line at least this often: a piped log never goes quiet.
HEARTBEAT_SECONDS = 5.0


def interactive() -> bool:
    """Whether live bars should be drawn: stderr is a terminal (or REELCAST_PROGRESS=bar)."""
    mode = os.environ.get(ENV, "").strip().lower()
    if mode in ("bar", "lines"):
        return mode == "bar"
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


def rate_text(count: float, seconds: float, unit: str) -> str:
    """`12.3 film/s`, or `4.1 s/film` when slower than one a second (readable either way)."""
    if count <= 0 or seconds <= 0:
        return f"- {unit}/s"
    per_s = count / seconds
    return f"{per_s:.1f} {unit}/s" if per_s >= 1 else f"{seconds / count:.1f} s/{unit}"


class Progress:
    """One stage's progress: `update(n)` as work finishes, `close(note)` at the end (or use `with`).

    enabled=False (quiet mode, library callers) shows and logs nothing. On a terminal a tqdm bar with
    the count, rate and ETA is drawn while the stage runs and removed when it ends; in every mode the
    stage then logs `desc: N/T unit in S s (R unit/s); note`.
    """

    def __init__(self, total: int | None, desc: str, unit: str = "item", enabled: bool = True):
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.n = 0
        self.t0 = self._last_line = time.perf_counter()
        if enabled:
            _Quiet.stage = desc
        self._closed = False
        self._bar = None
        if enabled and interactive():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        """Count n more units done."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        else:
            self.heartbeat()

    def heartbeat(self, note: str = "") -> None:
        """In a log (no bar): a `still running` line when the last line is HEARTBEAT_SECONDS old."""
        now = time.perf_counter()
        if (
            self._bar is not None
            or not self.enabled
            or self._closed
            or now - self._last_line < HEARTBEAT_SECONDS
        ):
            return
        self._last_line = now
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        rate = rate_text(self.n, self.seconds, self.unit)
        tail = f"; {note}" if note else ""
        log.info("%s: %s %s so far in %.1f s (%s)%s", self.desc, count, self.unit, self.seconds, rate, tail)

    def set_total(self, total: int) -> None:
        """Set the total once it is known (the bar's ETA follows it)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def set_postfix(self, **values: Any) -> None:
        """Live figures beside the bar (e.g. the epoch's loss); nothing when there is no bar."""
        if self._bar is not None:
            self._bar.set_postfix(**values)

    @property
    def seconds(self) -> float:
        """Time since the stage started."""
        return time.perf_counter() - self.t0

    def summary(self, note: str = "") -> str:
        """The stage's one-line summary."""
        count = f"{self.n}/{self.total}" if self.total is not None and self.total != self.n else f"{self.n}"
        rate = rate_text(self.n, self.seconds, self.unit)
        line = f"{self.desc}: {count} {self.unit} in {self.seconds:.1f} s ({rate})"
        return f"{line}; {note}" if note else line

    def close(self, note: str = "") -> None:
        """End the stage: remove the bar and log the summary line (once)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        if self.enabled:
            log.info("%s", self.summary(note))

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.close()
        elif self._bar is not None:  # a failed stage logs no summary; its error says what happened
            self._bar.close()
            self._closed = True


def track(
    items: Iterable[T], desc: str, unit: str = "item", enabled: bool = True, total: int | None = None
) -> Iterator[T]:
    """Iterate with a Progress stage around the loop (like tqdm(items)); the line is logged at the end."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with Progress(total, desc, unit, enabled) as p:
        for item in items:
            yield item
            p.update()


class _Quiet(logging.Handler):
    """Notes when reelcast last logged, and which stage began last (for `watch_quiet`)."""

    stage = ""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last = time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.last = time.perf_counter()


@contextlib.contextmanager
def watch_quiet(enabled: bool = True, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """While a batch job runs with a piped log: when reelcast has logged nothing for `every` seconds,
    log that it is still working and in which stage, so a step without progress updates (an encoder
    fit, a model's set-up) never leaves the log silent. A terminal has live bars instead."""
    if not enabled or interactive() or not log.isEnabledFor(logging.INFO):
        yield
        return
    root = logging.getLogger("reelcast")
    seen, stop = _Quiet(), threading.Event()
    root.addHandler(seen)
    t0 = time.perf_counter()

    def watch() -> None:
        while not stop.wait(min(1.0, every / 5)):
            quiet = time.perf_counter() - seen.last
            if quiet >= every:
                where = f" (last stage started: {_Quiet.stage})" if _Quiet.stage else ""
                log.info(
                    "still working%s: %.0f s into the run, %.0f s since the last line",
                    where,
                    time.perf_counter() - t0,
                    quiet,
                )

    thread = threading.Thread(target=watch, name="reelcast-watch-quiet", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        root.removeHandler(seen)
