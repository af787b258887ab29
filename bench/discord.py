"""Discord benchmarks: a DM broadcast under the fake's 50 requests/s limit, and button
presses end to end. The fake Discord runs in its own process.

    .venv/bin/python -m bench.discord broadcast   # >= 90% of 50 req/s over 2,000 DMs, zero 429s
    .venv/bin/python -m bench.discord presses     # >= 300 presses/s
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import core_over, describe_machine, new_prompt, seed, summary
from bench.fakeproc import FakeProcess
from bots.discord.bot import REQUEST_RATE
from runner import tune_garbage_collector

FIRST = 300_000


async def _online(path: Path, fake: FakeProcess, request_rate: float | None) -> Any:
    from bots.discord.bot import DiscordBot

    core = core_over(path)
    bot = DiscordBot(
        core,
        fake.token,
        api_url=fake.info["api_url"],
        gateway_url=fake.info["gateway_url"],
        request_rate=request_rate,
        guild_ready_timeout=0.05,
    )
    await bot.online()
    return core, bot


async def _broadcast(path: Path, fake: FakeProcess, prompt_id: int) -> dict[str, Any]:
    from campaigns.delivery import DeliveryEngine, Tuning

    core, bot = await _online(path, fake, REQUEST_RATE)
    await fake.acall("clear")
    engine = DeliveryEngine(core.store, core.ctx, {"discord": bot}, tuning=Tuning(workers=16))
    started = time.monotonic()
    await engine.send_prompt(prompt_id)
    elapsed = time.monotonic() - started

    def states(db: Any) -> dict[str, int]:
        return dict(db.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall())

    found = await core.store.read(states)
    await bot.offline()
    core.close()
    return {"elapsed": elapsed, "states": found}


def broadcast(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        seed(path, "discord", FIRST, count)
        prompt_id = new_prompt(path, "ai-images")
        fake = FakeProcess("discord", rate_limit_per_second=50)
        try:
            fake.call("users", list(range(FIRST, FIRST + count)))
            result = asyncio.run(_broadcast(path, fake, prompt_id))
            times = sorted(fake.call("request_times"))
            stats = fake.call("stats")
        finally:
            fake.close()
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span
    print(
        f"broadcast: {count} DMs ({len(times)} requests) in {result['elapsed']:.1f} s, "
        f"states {result['states']}"
    )
    print(
        f"  sustained {rate:.1f} requests/s = {rate / 50:.1%} of the fake's 50/s; "
        f"{count / result['elapsed']:.1f} DMs/s; 429 answers: {stats['too_many_requests']}"
    )


async def _presses(path: Path, fake: FakeProcess, prompt_id: int, count: int, rate: float) -> Any:
    from campaigns.delivery import DeliveryEngine, Tuning

    core, bot = await _online(path, fake, None)
    engine = DeliveryEngine(core.store, core.ctx, {"discord": bot}, tuning=Tuning(workers=32))
    await engine.send_prompt(prompt_id)  # an ask with buttons in every DM
    targets = await fake.acall("asks", "I did it")
    await fake.acall("clear")  # the set-up's requests are not the benchmark's
    tune_garbage_collector()  # as `campaignbot run` does once it is up
    started = time.monotonic()
    await fake.acall("press_all", targets[:count], rate)

    def done(db: Any) -> int:
        return int(db.execute("SELECT count(*) FROM actions WHERE kind = 'done'").fetchone()[0])

    while await core.store.read(done) < len(targets[:count]) and time.monotonic() - started < 60:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    latencies = await fake.acall("latencies")
    stored = await core.store.read(done)
    await bot.offline()
    core.close()
    return {"elapsed": elapsed, "latencies": latencies, "stored": stored}


def presses(count: int, rate: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        seed(path, "discord", FIRST, count)
        prompt_id = new_prompt(path, "ai-images")
        fake = FakeProcess("discord")
        try:
            fake.call("users", list(range(FIRST, FIRST + count)))
            result = asyncio.run(_presses(path, fake, prompt_id, count, rate))
            stats = fake.call("stats")
            reasons = fake.call("reasons")
        finally:
            fake.close()
    latencies = result["latencies"]
    print(
        f"presses: {len(latencies)} answered of {count} pressed at {rate:.0f}/s in "
        f"{result['elapsed']:.2f} s = {len(latencies) / result['elapsed']:,.0f}/s sustained"
    )
    print(f"  interaction dispatched -> response received by the fake: {summary(latencies)}")
    print(f"  actions stored: {result['stored']}; refused by the fake: {stats['rejected']}")
    for reason in reasons:
        print(f"    refused: {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("which", choices=["broadcast", "presses", "all"])
    parser.add_argument("--count", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    if args.which in ("broadcast", "all"):
        broadcast(args.count or 2_000)
    if args.which in ("presses", "all"):
        presses(args.count or 3_000, 400.0)


if __name__ == "__main__":
    main()
