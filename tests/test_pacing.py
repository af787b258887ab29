"""The pace: evenly spaced slots, and never more than the limit in any second."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time

from campaigns.pacing import Pacer, until
from tests.steady_loop import run_steadily


def most_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


def test_slots_are_evenly_spaced_whoever_waits() -> None:
    """Judged on a clock without the machine's stalls (tests/steady_loop.py): a process
    descheduled for a moment would otherwise wake two workers a slot apart together."""

    async def send_60() -> list[float]:
        pacer = Pacer(40)
        loop = asyncio.get_running_loop()
        sent: list[float] = []

        async def worker() -> None:
            while len(sent) < 60:
                await pacer.wait()
                sent.append(loop.time())

        await asyncio.gather(*(worker() for _ in range(8)))
        return sent

    sent = run_steadily(send_60())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) > 0.02  # never two at once (the interval is 25 ms)
    assert most_in_a_second(sent) <= 41


async def test_after_a_stall_the_missed_slots_do_not_leave_at_once() -> None:
    pacer = Pacer(80)
    loop = asyncio.get_running_loop()
    slots = [pacer.reserve() for _ in range(100)]
    await asyncio.sleep(1.1)  # the process stalls: 88 slots go by
    sent: list[float] = []
    for slot in slots:
        await until(slot)
        await pacer.admit()
        sent.append(loop.time())
    assert most_in_a_second(sent) <= pacer.per_second


async def test_a_request_counts_from_when_it_left_not_from_when_it_was_admitted() -> None:
    """aiohttp writes a request on the event loop's next turn: ten admitted in a turn that
    then runs 0.3 s long (a busy loop) reach Telegram 0.3 s after their admission, and the
    eleventh may follow only a whole window after that, not after their admission."""
    pacer = Pacer(10, per_second=10, margin=0.0)
    loop = asyncio.get_running_loop()
    for _ in range(10):
        await pacer.admit()
    time.sleep(0.3)  # noqa: ASYNC251 - the rest of this busy turn: nothing has left yet
    await asyncio.sleep(0)  # the next turn: they leave
    left = loop.time()
    await pacer.admit()
    assert loop.time() - left >= pacer.window - 0.01


async def test_a_request_whose_answer_came_late_counts_from_when_it_must_have_left() -> None:
    """A request that waited for something after its admission (a new connection, a busy
    turn of the loop) is seen by its late answer: counted from when it must have left."""
    pacer = Pacer(10, per_second=10, margin=0.0)
    loop = asyncio.get_running_loop()
    tickets = [await pacer.admit() for _ in range(10)]
    await asyncio.sleep(0)  # the loop's next turn: they leave
    left = loop.time()
    for ticket in tickets[1:]:
        pacer.answered(ticket)  # answered at once: the quickest round trip
    await asyncio.sleep(0.3)
    pacer.answered(tickets[0])  # 0.3 s later than the others: it left 0.3 s late
    for _ in range(9):
        await pacer.admit()  # room once the nine that left on time are out of the window
    await pacer.admit()  # the tenth only once the late one is out too
    assert loop.time() - left >= 0.3 + pacer.window - 0.01
