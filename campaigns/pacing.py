"""Evenly spaced sends: the pace every sender to a platform shares.

Two rules together:

- **Slots.** A caller reserves the next free slot and sleeps until it. Slots are
  fixed points `1/rate` apart, so a late wake-up never drifts the pace (a leaky
  bucket of one loses that time and falls short of its rate), and nothing bursts
  after a quiet spell.
- **A window.** Just before a request leaves, it is admitted only if fewer than
  `per_second` requests left in the last second (plus a margin for the network
  jitter between our clock and the platform's). After a stall (a pause of the
  process), the slots that went by would otherwise all leave at once.

Slots are never closer together than the window allows (`per_second` in a second and
its margin), so only a stall makes anyone wait at the window. Before, 29.4 a second
(30 in 1.025 s: at most 29.27 a second) had slots run ahead of the window by one every
eight seconds; the engine's workers, which claim a delivery before they pass the
window, piled up there claimed but not sent, and a crash would have made them
'unknown'.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque


class Pacer:
    """At most `rate` slots a second, evenly spaced; never more than `per_second`
    requests in any one-second window."""

    def __init__(self, rate: float, per_second: int | None = None, margin: float = 0.025) -> None:
        if rate <= 0:
            raise ValueError("a pace needs a positive rate")
        self.rate = rate
        self.per_second = per_second or math.floor(rate) + 1
        self.window = 1.0 + margin
        self.interval = max(1.0 / rate, self.window / self.per_second)
        self._next = 0.0
        self._sent: deque[float] = deque()

    def reserve(self) -> float:
        """Take the next slot; return when it is (event-loop time)."""
        slot = max(asyncio.get_running_loop().time(), self._next)
        self._next = slot + self.interval
        return slot

    async def admit(self) -> None:
        """Let one request leave now, or as soon as the last second has room for it."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) < self.per_second:
                self._sent.append(now)
                return
            await asyncio.sleep(self._sent[0] + self.window - now)

    async def wait(self) -> None:
        """Take the next slot, wait for it, and be admitted."""
        await until(self.reserve())
        await self.admit()


async def until(moment: float) -> None:
    """Sleep until an event-loop time (at once if it has passed)."""
    delay = moment - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
