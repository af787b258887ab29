"""Where a paid send's 429s come from: every message traced from the pace to the fake.

    .venv/bin/python -m bench.paid_trace [--count 30000] [--rate 1000] [--latency 0.05]

The fake Bot API (limits on, 50 ms away) runs in a process of its own, as in
`bench.engine paid`, and so does the engine's send. For every message the engine's
process notes when the pace admitted it (`admit`), when aiohttp had written it
(`written`), and the fake notes when its handler took it in (`arrived`; the fake counts
from there plus its latency). Both processes also note their event loop's stalls (a
1 ms ticker waking late). All times are `time.monotonic()`, one clock for the machine.

It prints, for each 429 burst, the second the fake judged: how many of its messages the
pace admitted within that second (by the pace's clock), how many aiohttp wrote within
it, and how late each step was at the start of the window compared with its end. A
sliding second is overrun only where what came first was delayed more (by over the
pace's margin) than what came a second later: this says on which side, and by what.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import contextvars
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import core_over, describe_machine, new_prompt, seed
from campaigns.pacing import Ticket

FIRST = 100_000
MARK = "20,254"  # the statistic of the "ai-images" ask


async def _stalls(into: list[tuple[float, float]], tick: float = 0.001) -> None:
    """Note (when, how late) each time a 1 ms sleep comes back more than 3 ms late."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(tick)
        late = time.monotonic() - before - tick
        if late > 0.003:
            into.append((before, late))


def _fake_child(conn: Connection, latency: float, watch: bool, kernel: bool) -> None:
    import gc

    from tests.fakes.telegram import FakeTelegram, arrival

    if not kernel:  # as before: arrival counted from when the fake's handler ran
        arrival.watch = lambda transport: None
    gc.disable()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)

    async def main() -> None:
        fake = FakeTelegram(latency=latency, limits=True)
        await fake.start()
        stalls: list[tuple[float, float]] = []
        ticker = asyncio.create_task(_stalls(stalls) if watch else asyncio.sleep(0))
        conn.send({"base_url": fake.base_url, "token": fake.token})
        loop = asyncio.get_running_loop()
        while True:
            name, args = await loop.run_in_executor(None, conn.recv)
            if name == "chats":
                for chat in args[0]:
                    fake.private_chat(chat)
                conn.send(None)
            elif name == "log":
                conn.send(
                    {
                        "calls": [
                            (int(str(c.params.get("chat_id", 0))), c.at, c.status)
                            for c in fake.requests
                            if c.method == "sendMessage"
                        ],
                        "stalls": stalls,
                        "paid": fake.limiter.paid,
                    }
                )
            else:
                ticker.cancel()
                await fake.stop()
                conn.send(None)
                return

    asyncio.run(main())


async def _send(
    path: Path,
    base_url: str,
    token: str,
    prompt_id: int,
    rate: float,
    watch: bool,
    old: bool,
    answers: bool,
) -> Any:
    import aiohttp

    from bots.telegram.bot import TelegramBot
    from campaigns.delivery import DeliveryEngine
    from runner import tune_garbage_collector

    core = core_over(path)
    bot = TelegramBot(
        core, token, base_url=base_url, max_rate=29.4, paid_broadcast=True, paid_rate=rate
    )
    await bot.online()
    tune_garbage_collector()
    chat: contextvars.ContextVar[int] = contextvars.ContextVar("chat", default=0)
    admitted: contextvars.ContextVar[list[float]] = contextvars.ContextVar("admitted")
    # chat: [admitted, written, answered, the loop's next turn after admission, request
    # started in aiohttp]
    trace: dict[int, list[float]] = {}
    pacer = bot.pacer
    assert pacer is not None
    admit = _counted_from_admission(pacer) if old else pacer.admit
    loop = asyncio.get_running_loop()

    async def traced_admit() -> Ticket:
        ticket = await admit()
        moments = [time.monotonic(), 0.0]
        admitted.set(moments)
        loop.call_soon(_note_now, moments)
        return ticket

    pacer.admit = traced_admit  # type: ignore[method-assign]
    if not answers:  # the window not told of late answers
        pacer.answered = lambda ticket: None  # type: ignore[method-assign]
    send = bot.send
    turns: dict[int, list[float]] = {}

    async def traced_send(address: str, kind: Any, message: Any) -> None:
        chat.set(int(address))
        moments = admitted.get([0.0, 0.0])
        turns.setdefault(int(address), moments)
        entry = trace.setdefault(int(address), [moments[0], 0.0, 0.0, 0.0, 0.0])
        try:
            await send(address, kind, message)
        finally:
            entry[2] = time.monotonic()

    bot.send = traced_send  # type: ignore[method-assign]

    async def on_written(*_: Any) -> None:
        entry = trace.get(chat.get())
        if entry is not None and not entry[1]:
            entry[1] = time.monotonic()

    async def on_started(*_: Any) -> None:
        entry = trace.get(chat.get())
        if entry is not None and not entry[4]:
            entry[4] = time.monotonic()

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_started)
    config.on_request_chunk_sent.append(on_written)  # right before the write
    config.freeze()
    session = bot._requests[0]._session
    assert session is not None
    session._trace_configs.append(config)
    stalls: list[tuple[float, float]] = []
    ticker = asyncio.create_task(_stalls(stalls) if watch else asyncio.sleep(0))
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": bot})
    started = time.monotonic()
    await engine.send_prompt(prompt_id)
    elapsed = time.monotonic() - started
    ticker.cancel()
    for address, entry in trace.items():
        entry[3] = turns[address][1]
    counts = engine.counts()["telegram"]
    await bot.offline()
    core.close()
    return {"trace": trace, "stalls": stalls, "elapsed": elapsed, "counts": counts}


def _note_now(moments: list[float]) -> None:
    moments[1] = time.monotonic()


def _counted_from_admission(pacer: Any) -> Any:
    """The pace's window as it was: each request counted from when it was admitted."""

    async def admit() -> Ticket:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while pacer._sent and pacer._sent[0] <= now - pacer.window:
                pacer._sent.popleft()
            if len(pacer._sent) < pacer.per_second:
                pacer._sent.append(now)
                return Ticket()  # never left, as far as `answered` knows: nothing moves
            await asyncio.sleep(pacer._sent[0] + pacer.window - now)

    return admit


def _send_child(args: tuple[Any, ...], out: Connection) -> None:
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, -5)
    out.send(asyncio.run(_send(*args)))


def most_in(times: list[float], window: float) -> tuple[int, float]:
    """The most of `times` in any `window`, and where that window starts."""
    best, at = 0, 0.0
    for i, t in enumerate(times):
        n = bisect.bisect_left(times, t + window) - i
        if n > best:
            best, at = n, t
    return best, at


def run(
    count: int, rate: float, latency: float, watch: bool, kernel: bool, old: bool, answers: bool
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.db"
        seed(path, "telegram", FIRST, count)
        prompt_id = new_prompt(path, "ai-images")
        parent, child = context.Pipe()
        options = (child, latency, watch, kernel)
        fake = context.Process(target=_fake_child, args=options, daemon=True)
        fake.start()
        info = parent.recv()
        parent.send(("chats", (list(range(FIRST, FIRST + count)),)))
        parent.recv()
        mine, theirs = context.Pipe()
        sender = context.Process(
            target=_send_child,
            args=(
                (path, info["base_url"], info["token"], prompt_id, rate, watch, old, answers),
                theirs,
            ),
        )
        sender.start()
        sent = mine.recv()
        sender.join()
        parent.send(("log", ()))
        log = parent.recv()
        parent.send(("stop", ()))
        parent.recv()
        fake.join(timeout=10)
    setup = {"kernel_arrival": kernel, "old_pace": old, "answers": answers}
    return {**sent, "fake": log, "count": count, "rate": rate, "latency": latency, **setup}


def analyse(data: dict[str, Any]) -> None:
    trace = {int(k): v for k, v in data["trace"].items()}
    calls = data["fake"]["calls"]
    first: dict[int, tuple[float, int]] = {}
    for chat, at, status in calls:
        first.setdefault(chat, (at, status))
    ok = sorted(at for _, at, status in calls if status == 200)
    refused = sorted(at for _, at, status in calls if status == 429)
    span = ok[-1] - ok[0]
    sustained = (len(ok) - 1) / span
    print(
        "fake counting from "
        + ("the kernel's arrival" if data["kernel_arrival"] else "when its handler ran")
        + "; pace's window counting from "
        + ("admission" if data["old_pace"] else "when each request left")
        + ("" if data.get("answers", True) else ", late answers not counted")
    )
    print(
        f"{data['count']:,} at a paid rate of {data['rate']:,.0f}/s, fake "
        f"{data['latency'] * 1000:.0f} ms away: {sustained:,.1f}/s sustained = "
        f"{sustained / data['rate']:.1%}; {len(refused)} × 429; engine {data['counts']}"
    )
    rows = [(trace[c][0], trace[c][1], first[c][0]) for c in trace if c in first and trace[c][1]]
    admit_to_write = [(w - a) * 1000 for a, w, _ in rows]
    write_to_fake = [(f - w) * 1000 for _, w, f in rows]
    full = [trace[c] for c in trace if c in first and trace[c][1] and trace[c][3] and trace[c][4]]
    admit_to_turn = [(e[3] - e[0]) * 1000 for e in full]
    admit_to_start = [(e[4] - e[0]) * 1000 for e in full]
    start_to_write = [(e[1] - e[4]) * 1000 for e in full]
    turn_to_write = [(e[1] - e[3]) * 1000 for e in full]
    for name, values in (
        ("admit → written", admit_to_write),
        ("  admit → the loop's next turn", admit_to_turn),
        ("  admit → aiohttp's request start", admit_to_start),
        ("  request start → written", start_to_write),
        ("  the loop's next turn → written", turn_to_write),
        ("written → fake", write_to_fake),
    ):
        q = statistics.quantiles(values, n=1000)
        print(
            f"  {name}: p50 {q[499]:.1f} ms, p99 {q[989]:.1f} ms, p99.9 {q[998]:.1f} ms, "
            f"max {max(values):.1f} ms"
        )
    admits = sorted(a for a, _, _ in rows)
    writes = sorted(w for _, w, _ in rows)
    fakes = sorted(f for _, _, f in rows)
    for name, times in (("admitted", admits), ("written", writes), ("at the fake", fakes)):
        n1, _ = most_in(times, 1.0)
        print(f"  most {name} in any second: {n1}")
    for label, stalls in (("engine", data["stalls"]), ("fake", data["fake"]["stalls"])):
        lates = sorted((late * 1000 for _, late in stalls), reverse=True)
        longest = [round(x) for x in lates[:8]]
        print(f"  {label} loop stalls > 3 ms: {len(lates)}; longest {longest}")
    # Each 429 burst: the fake's second that ended with its first refusal.
    bursts: list[float] = []
    for at in refused:
        if not bursts or at - bursts[-1] > 0.5:
            bursts.append(at)
    by_fake = sorted(rows, key=lambda r: r[2])
    for start in bursts[:6]:
        window = [r for r in by_fake if start - 1.0 <= r[2] < start]
        head = [r for r in window if r[2] < start - 0.95]
        tail = [r for r in window if r[2] >= start - 0.05]

        def lag(rs: list[tuple[float, float, float]], i: int, j: int) -> float:
            return statistics.mean(r[j] - r[i] for r in rs) * 1000 if rs else float("nan")

        a_span = (max(r[0] for r in window) - min(r[0] for r in window)) * 1000
        w_span = (max(r[1] for r in window) - min(r[1] for r in window)) * 1000
        near = [
            (label, round((at - start) * 1000), round(late * 1000))
            for label, stalls in (("engine", data["stalls"]), ("fake", data["fake"]["stalls"]))
            for at, late in stalls
            if start - 1.1 <= at <= start and late > 0.01
        ]
        print(
            f"  429 at +{start - ok[0]:.1f} s: {len(window)} in the fake's second before it; "
            f"they were admitted over {a_span:.0f} ms and written over {w_span:.0f} ms; "
            f"admit→written {lag(head, 0, 1):.1f} ms at its start vs {lag(tail, 0, 1):.1f} at "
            f"its end, written→fake {lag(head, 1, 2):.1f} vs {lag(tail, 1, 2):.1f}; "
            f"stalls > 10 ms in it (who, ms before the 429, ms late): {near}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--save", default="")
    parser.add_argument("--stalls", action="store_true", help="note each loop's stalls (costs CPU)")
    parser.add_argument("--old-fake", action="store_true", help="arrival when the handler ran")
    parser.add_argument("--old-pace", action="store_true", help="window counted from admission")
    parser.add_argument("--no-answers", action="store_true", help="late answers not counted")
    args = parser.parse_args()
    print(f"machine: {describe_machine()}; load average {os.getloadavg()}")
    kernel, answers = not args.old_fake, not args.no_answers
    data = run(args.count, args.rate, args.latency, args.stalls, kernel, args.old_pace, answers)
    if args.save:
        Path(args.save).write_text(json.dumps(data))
    analyse(data)


if __name__ == "__main__":
    main()
