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

A request is counted in the window from when it really left, not from when it was
admitted. aiohttp writes a request's body (and, coalesced with it, its headers) in a
task of its own, so a request admitted now reaches the socket only on the event
loop's next turn, after everything else queued in this one: measured at 1,000 a
second on a busy machine (`bench.paid_trace`), 4 to 17 ms later at the median and up
to hundreds of ms later in a stall. Counted from its admission, a request held up so
was forgotten that much too early, and the requests admitted a second after it
reached Telegram in the same second as it: up to 1,028 in one second, and 429s, with
never more than 1,000 admitted in any 1.02 s. So an admitted request is `pending`
until the loop's next turn, which notes when it left; the window counts both. A
request that waited longer (for a new connection: the first of each new worker) is
told by its answer, later than the quickest round trip of late, and counted from when
it must have left (`answered`; the engine reports every answer through `sent`).

Slots are never closer together than the window allows (`per_second` in a second and
its margin), so only a stall makes anyone wait at the window. Before, 29.4 a second
(30 in 1.025 s: at most 29.27 a second) had slots run ahead of the window by one every
eight seconds; the engine's workers, which claim a delivery before they pass the
window, piled up there claimed but not sent, and a crash would have made them
'unknown'.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# An answer this much later than the quickest round trip of late means the request left
# late (a new connection, a busy turn of the loop): it is counted from when it must have
# left. Below this, answers vary with the way back, which the window's margin covers.
LATE = 0.010
TRIP_DRIFT = 0.0001  # seconds the quickest round trip may grow by at each answer


@dataclass(slots=True)
class Ticket:
    """One admitted request: when it left (None until the loop's next turn)."""

    left: float | None = None


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
        self._sent: deque[float] = deque()  # when each request in the window left
        self._pending = 0  # admitted, leaving on the event loop's next turn
        self._trip: float | None = None  # the quickest round trip of late, left to answer

    def reserve(self) -> float:
        """Take the next slot; return when it is (event-loop time)."""
        slot = max(asyncio.get_running_loop().time(), self._next)
        self._next = slot + self.interval
        return slot

    async def admit(self) -> Ticket:
        """Let one request leave now, or as soon as the last second has room for it.
        The caller sends it at once (nothing awaited between), so that it leaves on the
        event loop's next turn, from when it is counted; the caller may say when the
        answer came (`answered`), which tells a request that left later than that."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) + self._pending < self.per_second:
                self._pending += 1
                ticket = Ticket()
                loop.call_soon(self._left, loop, ticket)
                return ticket
            # Room comes when the oldest that left drops out of the window, or, if all in
            # it are still leaving, once they have left (the loop's next turn).
            await asyncio.sleep(self._sent[0] + self.window - now if self._sent else 0)

    def _left(self, loop: asyncio.AbstractEventLoop, ticket: Ticket) -> None:
        """A request admitted on the loop's last turn has been written by now, unless it
        waited for something (a new connection): it counts from here (these run in the
        order they were admitted, so the window stays sorted)."""
        self._pending -= 1
        ticket.left = loop.time()
        self._sent.append(ticket.left)

    def answered(self, ticket: Ticket) -> None:
        """The platform answered the request admitted with `ticket` (or it failed). An
        answer later than the quickest round trip of late by more than `LATE` means it
        left late: it is counted from then on, as the platform counted it."""
        left = ticket.left
        if left is None:
            return
        now = asyncio.get_running_loop().time()
        trip = now - left
        quickest = self._trip = trip if self._trip is None else min(trip, self._trip + TRIP_DRIFT)
        if trip <= quickest + LATE:
            return
        ticket.left = now - quickest
        if left <= now - self.window:
            return  # out of the window already
        with_it = bisect.bisect_left(self._sent, left)
        if with_it < len(self._sent) and self._sent[with_it] == left:
            del self._sent[with_it]
            self._sent.insert(bisect.bisect_right(self._sent, ticket.left), ticket.left)

    async def sent(self, ticket: Ticket, request: Awaitable[T]) -> T:
        """Await the request admitted with `ticket`, then note its answer (`answered`)."""
        try:
            return await request
        finally:
            self.answered(ticket)

    async def wait(self) -> Ticket:
        """Take the next slot, wait for it, and be admitted."""
        await until(self.reserve())
        return await self.admit()


async def until(moment: float) -> None:
    """Sleep until an event-loop time (at once if it has passed)."""
    delay = moment - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
