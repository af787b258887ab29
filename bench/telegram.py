"""Telegram benchmarks: deliveries (unthrottled, against a naive loop, throttled, 100k
memory) and button presses end to end. The fake Bot API runs in its own process.

    .venv/bin/python -m bench.telegram deliver      # >= 1,000/s, >= 10x a naive loop
    .venv/bin/python -m bench.telegram throttled    # >= 97% of 30/s, zero 429s
    .venv/bin/python -m bench.telegram memory       # 100,000 supporters, peak RSS < 250 MB
    .venv/bin/python -m bench.telegram presses      # >= 500 presses/s, p99 < 50 ms
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import core_over, describe_machine, new_prompt, peak_rss_mb, seed, summary
from bench.fakeproc import FakeProcess
from runner import tune_garbage_collector

FIRST = 100_000
ASK_MARKS = {"ai-images": "20,254", "pre-screening": "18% → 0.04%", "age-verification": "2,401"}


async def _send(
    path: Path, base_url: str, token: str, prompt_id: int, max_rate: float, workers: int
) -> dict[str, Any]:
    from bots.telegram.bot import TelegramBot
    from campaigns.delivery import DeliveryEngine, Tuning

    core = core_over(path)
    bot = TelegramBot(core, token, base_url=base_url, max_rate=max_rate)
    await bot.online()
    tune_garbage_collector()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": bot}, tuning=Tuning(workers=workers))
    started = time.monotonic()
    await engine.send_prompt(prompt_id)
    elapsed = time.monotonic() - started

    def states(db: Any) -> dict[str, int]:
        return dict(
            db.execute(
                "SELECT state, count(*) FROM deliveries WHERE prompt_id = ? GROUP BY state",
                [prompt_id],
            ).fetchall()
        )

    found = await core.store.read(states)
    await bot.offline()
    core.close()
    return {"elapsed": elapsed, "states": found, "peak_rss_mb": peak_rss_mb()}


def _send_in_child(args: tuple[Any, ...], out: Any) -> None:
    out.send(asyncio.run(_send(*args)))


def send_in_fresh_process(*args: Any) -> dict[str, Any]:
    """Run one send in a new process, so its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_send_in_child, args=(args, child))
    process.start()
    result: dict[str, Any] = parent.recv()
    process.join()
    return result


async def naive_loop(base_url: str, token: str, chats: list[int], text: str) -> float:
    """The baseline: one `send_message` awaited after another, on the same PTB `Bot`."""
    from telegram import Bot

    from bots.telegram.request import AiohttpRequest

    bot = Bot(token, base_url=base_url, request=AiohttpRequest())
    async with bot:
        started = time.monotonic()
        for chat in chats:
            await bot.send_message(chat, text, parse_mode="HTML")
        return len(chats) / (time.monotonic() - started)


def deliver(count: int, latency: float, naive_count: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        seed(path, "telegram", FIRST, count)
        prompt_id = new_prompt(path, "ai-images")
        fake = FakeProcess(latency=latency)
        try:
            fake.call("chats", list(range(FIRST, FIRST + count)))
            naive = asyncio.run(
                naive_loop(
                    fake.base_url,
                    fake.token,
                    list(range(FIRST, FIRST + naive_count)),
                    "<b>naive</b> baseline",
                )
            )
            result = send_in_fresh_process(path, fake.base_url, fake.token, prompt_id, 0, workers)
            rate = count / result["elapsed"]
            stats = fake.call("stats")
            received = fake.call("sent", ASK_MARKS["ai-images"])
        finally:
            fake.close()
    print(f"deliver: {count} deliveries, fake latency {latency * 1000:.0f} ms, {workers} workers")
    print(
        f"  engine: {rate:,.0f}/s end to end ({result['elapsed']:.2f} s), states {result['states']}"
    )
    print(f"  naive loop: {naive:,.1f}/s over {naive_count}; ratio {rate / naive:,.1f}x")
    refused, limited = stats["rejected"], stats["too_many_requests"]
    print(f"  fake received {received}; refused {refused}, 429s {limited}")


def throttled(count: int, latency: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        seed(path, "telegram", FIRST, count)
        prompt_id = new_prompt(path, "pre-screening")
        fake = FakeProcess(latency=latency, limits=True)
        try:
            fake.call("chats", list(range(FIRST, FIRST + count)))
            result = send_in_fresh_process(path, fake.base_url, fake.token, prompt_id, 29.4, 32)
            times = sorted(fake.call("message_times", ASK_MARKS["pre-screening"]))
            stats = fake.call("stats")
        finally:
            fake.close()
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span
    print(f"throttled: {count} deliveries, fake limit 30/s, latency {latency * 1000:.0f} ms")
    print(f"  sustained {rate:.2f}/s = {rate / 30:.1%} of the limit over {span:.1f} s")
    print(f"  states {result['states']}; 429 answers: {stats['too_many_requests']}")


def memory(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        seed(path, "telegram", FIRST, count)
        prompt_id = new_prompt(path, "age-verification")
        fake = FakeProcess()
        try:
            fake.call("chats", list(range(FIRST, FIRST + count)))
            result = send_in_fresh_process(path, fake.base_url, fake.token, prompt_id, 0, 64)
        finally:
            fake.close()
    print(
        f"memory: {count:,} supporters sent in {result['elapsed']:.1f} s "
        f"({count / result['elapsed']:,.0f}/s), states {result['states']}"
    )
    print(f"  peak RSS of the sending process: {result['peak_rss_mb']:.0f} MB")


async def _presses(path: Path, fake: FakeProcess, count: int, rate: float) -> dict[str, Any]:
    from bots.telegram.bot import TelegramBot
    from campaigns.delivery import DeliveryEngine, Tuning

    core = core_over(path)
    bot = TelegramBot(core, fake.token, base_url=fake.base_url)  # production limits
    await bot.online()
    prompt_id = await core.store.write(
        lambda db: db.execute("SELECT max(id) FROM prompts").fetchone()[0]
    )
    fast = TelegramBot(core, fake.token, base_url=fake.base_url, max_rate=0)
    await fast.app.initialize()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": fast}, tuning=Tuning(workers=64))
    await engine.send_prompt(prompt_id)  # put an ask with buttons in every chat
    await fast.app.shutdown()
    targets = await fake.acall("asks", ASK_MARKS["ai-images"], "I did it")
    await fake.acall("clear")
    tune_garbage_collector()  # as `campaignbot run` does once it is up
    started = time.monotonic()
    await fake.acall("press_all", targets[:count], rate)

    def done(db: Any) -> int:
        return int(db.execute("SELECT count(*) FROM actions WHERE kind = 'done'").fetchone()[0])

    while await core.store.read(done) < len(targets[:count]) and time.monotonic() - started < 60:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    latencies = await fake.acall("answer_latencies")
    stored = await core.store.read(done)
    await bot.offline()
    core.close()
    return {"elapsed": elapsed, "latencies": latencies, "stored": stored, "targets": len(targets)}


def presses(count: int, rate: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        seed(path, "telegram", FIRST, count)
        new_prompt(path, "ai-images")
        fake = FakeProcess()
        try:
            fake.call("chats", list(range(FIRST, FIRST + count)))
            result = asyncio.run(_presses(path, fake, count, rate))
            stats = fake.call("stats")
        finally:
            fake.close()
    latencies = result["latencies"]
    print(
        f"presses: {len(latencies)} answered of {count} pressed at {rate:.0f}/s "
        f"in {result['elapsed']:.2f} s = {len(latencies) / result['elapsed']:,.0f}/s sustained"
    )
    print(f"  update in -> answer received by the fake: {summary(latencies)}")
    print(f"  actions stored: {result['stored']}; refused by the fake: {stats['rejected']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("which", choices=["deliver", "throttled", "memory", "presses", "all"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--latency", type=float, default=None)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    if args.which in ("deliver", "all"):
        deliver(args.count or 10_000, 0.0 if args.latency is None else args.latency, 300, 64)
        deliver(args.count or 10_000, 0.05, 60, 128)
    if args.which in ("throttled", "all"):
        throttled(args.count or 3_000, 0.05 if args.latency is None else args.latency)
    if args.which in ("memory", "all"):
        memory(args.count or 100_000)
    if args.which in ("presses", "all"):
        presses(args.count or 6_000, 600.0)


if __name__ == "__main__":
    main()
