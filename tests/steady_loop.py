"""An event loop whose clock leaves out the time the process stood still.

A test of a pace asks what the pace decided: how far apart it let requests go, and
what the fake Bot API, judging by the same clock, made of them. On a machine shared
with other people's test suites, the process can be descheduled for tens of
milliseconds at any moment; by the wall clock, two requests a slot apart then leave
together, and a test of spacing fails for the machine's sake, not the pace's.

`SteadyLoop.time()` advances while the loop waits for what it asked to wait for (a
timer, a socket, a thread), as the wall clock does, but a wait that overran its
timeout counts only up to the timeout, and the work between two waits counts at most
`busy_cap`. A stall anywhere in the process is so left out; a pace that lets two
requests go closer than it should is still seen doing so, since nothing it decides is
left out. Timers, `asyncio.sleep` and timeouts all run on this clock.

Run a test's body on it with `run_steadily(coroutine)`.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
BUSY_CAP = 0.002  # seconds of work between two waits that count at most


class SteadyLoop(asyncio.SelectorEventLoop):
    """A selector event loop on a clock without the process's stalls."""

    def __init__(self, busy_cap: float = BUSY_CAP) -> None:
        selector = selectors.DefaultSelector()
        super().__init__(selector)
        self._cap = busy_cap
        self._now = time.monotonic()  # this clock when the current stretch of work began
        self._since = self._now  # the wall clock then
        select = selector.select

        def steady_select(timeout: float | None = None) -> list[Any]:
            began = time.monotonic()
            self._now += min(began - self._since, self._cap)
            events = select(timeout)
            ended = time.monotonic()
            waited = ended - began
            self._now += waited if timeout is None else min(waited, max(timeout, 0.0))
            self._since = ended
            return events

        selector.select = steady_select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._now + min(time.monotonic() - self._since, self._cap)


def run_steadily(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on a fresh `SteadyLoop`."""
    with asyncio.Runner(loop_factory=SteadyLoop) as runner:
        return runner.run(main)
