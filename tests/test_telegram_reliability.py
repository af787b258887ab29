"""The Telegram adapter on a bad day (issue 11): polling rides out an outage and says so in
a line or two; a send ends in one of the engine's DeliveryErrors whatever happened; and,
through the real delivery engine, what ARRIVED at each chat (the fake's record, not the
bot's belief) is checked: once each, at the default pace with Telegram's flood limits on,
through 5xx answers, dropped connections and an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlite_utils import Database

from bots.telegram.bot import OVERALL_RATE, TelegramBot
from bots.telegram.retry import PollingWatch
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.messenger import (
    DeliveryError,
    OutcomeUnknown,
    RateLimited,
    RecipientGone,
    Refused,
    TransientFailure,
)
from campaigns.model import ChatKind, Message
from campaigns.prompting import Request, send_now
from settings import Settings
from tests.fakes.telegram import FakeTelegram
from tests.platforms import telegram_bot
from tests.seeding import add_supporters
from tests.steady_loop import run_steadily

FIRST = 30_000
MARK = "20,254"  # the statistic of the first ask
SAM = 4501


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.private_chat(SAM, "Sam")
        yield server


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r.getMessage() for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


# --- polling through an outage ------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 0])
async def test_polling_rides_out_an_outage_in_two_lines(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """Every request failing (a 5xx, nginx's page, or no connection at all) for a while:
    polling keeps going by itself (PTB's retry loop, waits growing to 30 s at most), logs
    one warning when it starts failing and one line when it works again, and then the bot
    answers as before."""
    caplog.set_level(logging.INFO)
    bot = telegram_bot(core, fake, limits=False)
    await bot.online()
    try:
        fake.outage(4.0, status=status)
        await fake.wait_for(lambda: not fake.in_outage, timeout=10)
        await fake.settled()
        fake.user_sends(SAM, SAM, "/start")
        await fake.wait_for(lambda: fake.sent_to(SAM), timeout=40)
        await fake.wait_for(lambda: not bot.polling.failing)
    finally:
        await bot.offline()
    assert len(lines(caplog, "polling for updates failed")) == 1
    (again,) = lines(caplog, "polling works again")
    tries = int(re.search(r"after (\d+) failed tries", again).group(1))  # type: ignore[union-attr]
    assert tries >= 2  # it kept polling through the outage
    no_tracebacks(caplog)
    assert fake.token not in caplog.text


def test_a_long_failure_streak_is_reminded_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from telegram.error import NetworkError

    caplog.set_level(logging.INFO)
    now = [0.0]
    watch = PollingWatch(token="123:secret", clock=lambda: now[0])
    for _ in range(130):  # a failure a second for over two minutes
        watch.failed(NetworkError("Internal Server Error"))
        now[0] += 1.0
    watch.answered(409)  # an error answer doesn't end the streak
    assert watch.failing
    watch.answered(200)
    assert not watch.failing
    assert len(lines(caplog, "polling for updates failed")) == 1
    assert len(lines(caplog, "polling still failing")) == 2
    assert lines(caplog, "works again") == [
        "telegram: polling works again, after 130 failed tries in 130s"
    ]


# --- what a send says -------------------------------------------------------------------


async def outcome(bot: TelegramBot, chat: int = SAM) -> type[DeliveryError] | None:
    try:
        await bot.send(str(chat), ChatKind.PRIVATE, Message(text="hello"))
    except DeliveryError as exc:
        return type(exc)
    return None


async def test_every_failure_of_a_send_is_a_delivery_error(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """No raw exception escapes a send: each fault maps to what the engine must do with it."""
    caplog.set_level(logging.INFO)
    fake.private_chat(4502).blocked = True
    bot = telegram_bot(core, fake, limits=False, read_timeout=0.3)
    assert await outcome(bot) is TransientFailure  # not online yet: nothing can leave
    await bot.online()
    try:
        cases: list[tuple[str, object, type[DeliveryError] | None]] = [
            ("500", lambda: fake.fail_with_5xx("sendMessage", status=500), TransientFailure),
            ("502 page", lambda: fake.fail_with_5xx("sendMessage", status=502), TransientFailure),
            ("503", lambda: fake.fail_with_5xx("sendMessage", status=503), TransientFailure),
            ("outage", lambda: fake.outage(status=500), TransientFailure),
            ("429", lambda: fake.fail_next("sendMessage", retry_after=1), RateLimited),
            ("hang", lambda: fake.hang_next("sendMessage", 0.6), OutcomeUnknown),
            (
                "dropped after delivery",
                lambda: fake.random_faults(rate_drop_after=1.0),
                OutcomeUnknown,
            ),
            (
                "bad request",
                lambda: fake.fail_next("sendMessage", status=400, description="Bad Request: x"),
                Refused,
            ),
            ("fine", lambda: None, None),
        ]
        for name, inject, expected in cases:
            assert callable(inject)
            inject()
            assert await outcome(bot) is expected, name
            fake.end_outage()
            fake.random_faults()
            if expected is RateLimited:
                await asyncio.sleep(1.1)  # honour it: the fake refuses an early retry
            await fake.wait_for(lambda: not fake.in_flight("sendMessage"))
        assert await outcome(bot, 4502) is RecipientGone  # blocked
        assert await outcome(bot, 4999) is RecipientGone  # chat not found
    finally:
        await bot.offline()
    assert await outcome(bot) is TransientFailure  # after offline: nothing can leave
    no_tracebacks(caplog)


async def test_a_send_with_no_connection_is_transient(core: Core, fake: FakeTelegram) -> None:
    bot = telegram_bot(core, fake, limits=False)
    await bot.online()
    try:
        fake.outage(status=0)
        await fake.settled()
        first = await outcome(bot)  # on the open connection: dropped, it may have arrived
        assert first in (OutcomeUnknown, TransientFailure)
        assert await outcome(bot) is TransientFailure  # a new connection: refused
        assert fake.arrivals("hello") == Counter()
    finally:
        fake.end_outage()
        await bot.offline()


# --- through the engine: what arrived ------------------------------------------------------


def seed(db: Database, n: int, catalog: Catalog) -> int:
    add_supporters(db, n, addresses=[str(FIRST + i) for i in range(n)])
    return send_now(db, catalog, Request("one-step-ahead", "ai-images"), "test").id


def states(db: Database) -> dict[str, int]:
    rows = db.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall()
    return dict(rows)


async def send_to_everyone(
    core: Core, fake: FakeTelegram, n: int, bot: TelegramBot, tuning: Tuning | None = None
) -> dict[str, int]:
    """Send the first ask to n private chats through the real engine; the deliveries' states."""
    for i in range(n):
        fake.private_chat(FIRST + i)
    prompt_id = await core.store.write(seed, n, core.ctx.catalog)
    await bot.online()
    try:
        engine = DeliveryEngine(core.store, core.ctx, {"telegram": bot}, tuning=tuning)
        await engine.send_prompt(prompt_id)
    finally:
        await bot.offline()
    return await core.store.read(states)


def everyone_once(n: int) -> Counter[int]:
    return Counter({FIRST + i: 1 for i in range(n)})


QUICK_RETRIES = Tuning(workers=8, backoff_base=0.05, backoff_cap=0.2, probe_first=0.2)


def test_the_settings_default_pace_is_the_adapters() -> None:
    """campaigns/ may not import an adapter, so the number is written twice: keep them one."""
    assert Settings.model_fields["telegram_max_rate"].default == OVERALL_RATE


def test_the_default_pace_is_near_telegrams_limit_and_never_over_it(core: Core) -> None:
    """At the pace `campaignbot run` uses by default, against Telegram's flood limits (30
    messages a second): not one 429, and close to the limit (a ratio, not a timing).

    The fake judges on the event loop's clock, run without the machine's stalls
    (tests/steady_loop.py): fake and bot share one process here, and a stall between a
    request leaving and the fake taking it in would bunch what the pace spaced, which
    Telegram, on servers of its own, would never see."""
    default = Settings.model_fields["telegram_max_rate"].default
    n = 100

    async def send() -> tuple[list[float], int]:
        async with FakeTelegram(limits=True) as fake:
            fake.limiter.clock = asyncio.get_running_loop().time
            bot = telegram_bot(core, fake, max_rate=default)
            assert await send_to_everyone(core, fake, n, bot) == {"sent": n}
            assert fake.too_many_requests == 0
            assert fake.arrivals(MARK) == everyone_once(n)
            times = [c.reached for c in fake.calls("sendMessage") if c.status == 200]
            return times, fake.limiter.global_per_second

    times, limit = run_steadily(send())
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 0.8 * limit <= rate <= limit


async def test_5xx_answers_are_resent_until_each_supporter_has_it_once(core: Core) -> None:
    """A 500 or a 502 sends nothing: the delivery must be tried again, and a supporter
    counted as sent must really have the message in their chat."""
    n = 30
    async with FakeTelegram() as fake:
        fake.random_faults(rate_500=0.15, rate_502=0.15, seed=11)
        bot = telegram_bot(core, fake, max_rate=200)
        assert await send_to_everyone(core, fake, n, bot, QUICK_RETRIES) == {"sent": n}
        assert fake.fault_counts["500"] >= 2 and fake.fault_counts["502"] >= 2
        assert fake.arrivals(MARK) == everyone_once(n)


async def test_connections_dropped_after_delivery_are_unknown_and_never_resent(
    core: Core,
) -> None:
    n = 30
    async with FakeTelegram() as fake:
        fake.random_faults(rate_500=0.1, rate_drop_after=0.15, seed=5)
        bot = telegram_bot(core, fake, max_rate=200)
        result = await send_to_everyone(core, fake, n, bot, QUICK_RETRIES)
        dropped = fake.fault_counts["drop_after"]
        assert dropped >= 2
        assert result == {"sent": n - dropped, "unknown": dropped}
        assert fake.arrivals(MARK) == everyone_once(n)  # the dropped ones did arrive, once


async def test_an_outage_mid_send_pauses_it_and_nobody_is_failed(core: Core) -> None:
    """Every request failing for a few seconds in the middle of a send: afterwards everyone
    has the ask exactly once and nothing is 'failed'."""
    n = 60
    async with FakeTelegram() as fake:
        bot = telegram_bot(core, fake, max_rate=30)

        async def outage_after_a_third() -> None:
            await fake.wait_for(lambda: sum(fake.arrivals(MARK).values()) >= n // 3, timeout=60)
            fake.outage(3.0, status=500)

        cutting_in = asyncio.create_task(outage_after_a_third())
        try:
            result = await send_to_everyone(core, fake, n, bot, QUICK_RETRIES)
        finally:
            cutting_in.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await cutting_in
        assert fake.fault_counts["outage"] > 0
        assert result == {"sent": n}
        assert fake.arrivals(MARK) == everyone_once(n)
