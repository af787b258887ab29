"""Reliability benchmarks: `campaignbot run` as a real process against the fake Bot API
(in this process), counting from the fake's own journal who got the ask.

    .venv/bin/python -m bench.faults kills    # 2,000 supporters, faults, 10 SIGKILLs
    .venv/bin/python -m bench.faults outage   # 3,000 at 30/s, every request failing 60 s

kills: 3 % of sends answered 500, 2 % nginx's 502 page, 2 % delivered and then the
connection dropped, 50 ms added to every request, 100 sends a second, and the bot
killed with SIGKILL ten times at random moments of the send (0.1 to 1.5 s after the
restarted bot's first request), restarted each time. Targets: nobody gets the ask twice;
nobody misses it but for requests that were out at a kill (counted per kill).

outage: the default pace with the fake's flood limits on; a third of the way in,
every request (getUpdates included) is answered 500 for 60 s. Targets: everyone gets
it once, nothing 'failed', 0 × 429, and the rate before and after the outage
≥ 97 % of 30/s (the pause between the outage's end and the first send after it, at
most one probe's interval, is reported beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import describe_machine, new_prompt, seed
from tests.fakes.telegram import FakeTelegram

BIN = Path(sys.executable).parent / "campaignbot"
FIRST = 10_000
ASK = "age-verification"
MARK = "2,401"  # this ask's statistic: in every copy of it
LIMIT = 30.0  # Telegram's broadcast limit, messages a second


async def _start(
    db: Path, fake: FakeTelegram, log: Path, rate: float | None
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMPAIGNBOT_", "TELEGRAM_"))}
    env |= {
        "CAMPAIGNBOT_DB": str(db),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.base_url,
        "CAMPAIGNBOT_WEB_PORT": "0",
    }
    if rate is not None:
        env["CAMPAIGNBOT_TELEGRAM_MAX_RATE"] = str(rate)
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            str(BIN), "run", stdin=asyncio.subprocess.DEVNULL, stdout=handle, stderr=handle, env=env
        )


def _states(db: Path, prompt_id: int) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(
            conn.execute(
                "SELECT state, count(*) FROM deliveries WHERE prompt_id = ? GROUP BY state",
                [prompt_id],
            ).fetchall()
        )


def _finished(db: Path, prompt_id: int) -> bool:
    found = _states(db, prompt_id)
    return bool(found) and not found.get("pending", 0) and not found.get("sending", 0)


async def _until_finished(db: Path, prompt_id: int, timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not _finished(db, prompt_id):
        if time.monotonic() > deadline:
            raise TimeoutError(f"send not finished in {timeout:.0f}s: {_states(db, prompt_id)}")
        await asyncio.sleep(0.2)


def _more_sends(fake: FakeTelegram, seen: int) -> Callable[[], bool]:
    """True once the fake has had more sendMessage calls than `seen`."""
    return lambda: len(fake.calls("sendMessage")) > seen


async def _stop(bot: asyncio.subprocess.Process) -> None:
    bot.send_signal(signal.SIGTERM)
    await asyncio.wait_for(bot.wait(), 15)


async def kills(supporters: int = 2_000, times: int = 10, seed_value: int = 11) -> bool:
    rng = random.Random(seed_value)
    with tempfile.TemporaryDirectory() as folder:
        db, log = Path(folder) / "bot.db", Path(folder) / "bot.log"
        seed(db, "telegram", FIRST, supporters)
        prompt_id = new_prompt(db, ASK)
        async with FakeTelegram(latency=0.05) as fake:
            for n in range(supporters):
                fake.private_chat(FIRST + n)
            fake.random_faults(rate_500=0.03, rate_502=0.02, rate_drop_after=0.02, seed=seed_value)
            per_kill: list[int] = []
            started = time.monotonic()
            for _ in range(times):
                bot = await _start(db, fake, log, rate=100)
                await fake.wait_for(_more_sends(fake, len(fake.calls("sendMessage"))), 60)
                await asyncio.sleep(rng.uniform(0.1, 1.5))  # a random moment of the send
                moment = time.monotonic()
                bot.send_signal(signal.SIGKILL)
                await bot.wait()
                per_kill.append(len(fake.in_flight_at(moment, "sendMessage")))
            bot = await _start(db, fake, log, rate=100)
            await _until_finished(db, prompt_id, timeout=300)
            elapsed = time.monotonic() - started
            await _stop(bot)
            states = _states(db, prompt_id)
            got = fake.arrivals(MARK)
            faults = dict(fake.fault_counts)
    twice = sum(1 for count in got.values() if count > 1)
    missed = sum(1 for n in range(supporters) if got[FIRST + n] == 0)
    out = sum(per_kill)
    print(f"kills: {supporters} supporters, {times} SIGKILLs, {elapsed:.1f}s in all")
    print(f"  faults shown by the fake: {faults}")
    print(f"  database: {states}")
    print(f"  requests out at each kill: {per_kill} ({out} in all)")
    print(f"  got it twice: {twice}; never got it: {missed} (target: 0, and <= {out})")
    ok = twice == 0 and missed <= out
    print(f"  {'PASS' if ok else 'FAIL'}")
    return ok


async def outage(supporters: int = 3_000, outage_seconds: float = 60.0) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        db, log = Path(folder) / "bot.db", Path(folder) / "bot.log"
        seed(db, "telegram", FIRST, supporters)
        prompt_id = new_prompt(db, ASK)
        async with FakeTelegram(latency=0.05, limits=True) as fake:
            for n in range(supporters):
                fake.private_chat(FIRST + n)
            bot = await _start(db, fake, log, rate=None)  # the default pace
            await fake.wait_for(lambda: sum(fake.arrivals(MARK).values()) >= supporters // 3, 300)
            down = time.monotonic()
            fake.outage(outage_seconds, status=500)
            await asyncio.sleep(outage_seconds)
            up = time.monotonic()
            await _until_finished(db, prompt_id, timeout=supporters / 20 + 120)
            await _stop(bot)
            states = _states(db, prompt_id)
            got = fake.arrivals(MARK)
            sends = sorted(
                call.at
                for call in fake.calls("sendMessage")
                if call.status == 200 and MARK in str(call.params.get("text", ""))
            )
            too_many = fake.too_many_requests
    before = [t for t in sends if t < down]
    after = [t for t in sends if t >= up]
    resumed = after[0] - up if after else float("nan")
    rate_before = (len(before) - 1) / (before[-1] - before[0])
    rate_after = (len(after) - 1) / (after[-1] - after[0])
    sending = (before[-1] - before[0]) + (after[-1] - after[0])
    outside = (len(before) + len(after) - 2) / sending
    twice = sum(1 for count in got.values() if count > 1)
    missed = sum(1 for n in range(supporters) if got[FIRST + n] == 0)
    print(f"outage: {supporters} supporters, every request failing for {outage_seconds:.0f}s")
    print(f"  database: {states}")
    print(f"  got it twice: {twice}; never got it: {missed}; 429s: {too_many}")
    print(
        f"  rate before the outage {rate_before:.2f}/s, after it {rate_after:.2f}/s: "
        f"{outside:.2f}/s outside it ({outside / LIMIT:.1%} of {LIMIT:.0f}/s)"
    )
    print(f"  sends resumed {resumed:.1f}s after the outage ended")
    ok = (
        twice == 0
        and missed == 0
        and not states.get("failed")
        and too_many == 0
        and min(rate_before, rate_after) >= 0.97 * LIMIT
    )
    print(f"  {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("which", choices=["kills", "outage", "all"])
    which = parser.parse_args().which
    # The fake keeps every request it saw; the collector's pauses in its loop would
    # bunch up the arrivals it judges the flood limits by (as in bench/fakeproc.py).
    gc.disable()
    print(describe_machine())
    ok = True
    if which in ("kills", "all"):
        ok &= asyncio.run(kills())
    if which in ("outage", "all"):
        ok &= asyncio.run(outage())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
