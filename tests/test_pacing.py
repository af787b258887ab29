"""The pace: evenly spaced slots, and never more than the limit in any second."""

from __future__ import annotations

import asyncio
import bisect
import itertools

from campaigns.pacing import Pacer, until


def most_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


async def test_slots_are_evenly_spaced_whoever_waits() -> None:
    pacer = Pacer(40)
    loop = asyncio.get_running_loop()
    sent: list[float] = []

    async def worker() -> None:
        while len(sent) < 60:
            await pacer.wait()
            sent.append(loop.time())

    await asyncio.gather(*(worker() for _ in range(8)))
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
