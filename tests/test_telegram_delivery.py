"""The delivery engine through the real Telegram adapter, with faults injected by the fake:
429 storms, 5xx answers and timeouts."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlite_utils import Database

from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.prompting import Request, send_now
from tests.fakes.telegram import FakeTelegram
from tests.platforms import telegram_bot
from tests.seeding import add_supporters

FIRST = 20_000
MARK = "20,254"  # the statistic of the first ask


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def seed(db: Database, n: int, catalog: object) -> int:
    from campaigns.catalog import Catalog

    assert isinstance(catalog, Catalog)
    add_supporters(db, n, addresses=[str(FIRST + i) for i in range(n)])
    return send_now(db, catalog, Request("one-step-ahead", "ai-images"), "test").id


async def run_send(core: Core, fake: FakeTelegram, n: int, **bot_options: float) -> dict[str, int]:
    for i in range(n):
        fake.private_chat(FIRST + i)
    prompt_id = await core.store.write(seed, n, core.ctx.catalog)
    bot = telegram_bot(core, fake, **bot_options)
    await bot.online()
    try:
        engine = DeliveryEngine(
            core.store,
            core.ctx,
            {"telegram": bot},
            tuning=Tuning(workers=8, backoff_base=0.05, backoff_cap=0.2),
        )
        await engine.send_prompt(prompt_id)
    finally:
        await bot.offline()

    def states(db: Database) -> dict[str, int]:
        rows = db.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall()
        return dict(rows)

    return await core.store.read(states)


def received(fake: FakeTelegram) -> Counter[int]:
    return Counter(
        int(c.params["chat_id"])
        for c in fake.calls("sendMessage")
        if c.status == 200 and MARK in str(c.params.get("text"))
    )


async def test_a_429_storm_is_waited_out_and_everyone_gets_it_once(
    core: Core, fake: FakeTelegram
) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=1, times=4)
    assert await run_send(core, fake, 20, max_rate=200) == {"sent": 20}
    # the injected four, plus any already in flight when the first came back
    assert fake.too_many_requests >= 4
    assert fake.limiter.early_retries == 0  # nothing was retried before retry_after
    assert set(received(fake).values()) == {1} and len(received(fake)) == 20


async def test_5xx_answers_are_retried(core: Core, fake: FakeTelegram) -> None:
    fake.fail_with_5xx("sendMessage", times=3, status=502)  # nginx's HTML page, as on Telegram
    assert await run_send(core, fake, 10, max_rate=200) == {"sent": 10}
    # what arrived in each chat, not what the bot was answered: a 5xx taken for a
    # success would leave a supporter out here while the states above still say "sent"
    assert fake.arrivals(MARK) == Counter({FIRST + i: 1 for i in range(10)})


async def test_a_timeout_after_the_request_left_is_unknown_and_never_resent(
    core: Core, fake: FakeTelegram
) -> None:
    fake.hang_next("sendMessage", 1.5)  # it still arrives, after the bot gave up waiting
    assert await run_send(core, fake, 6, max_rate=200, read_timeout=0.5) == {
        "sent": 5,
        "unknown": 1,
    }
    await fake.wait_for(lambda: sum(received(fake).values()) == 6, timeout=5)
    assert set(received(fake).values()) == {1}  # the unknown one arrived once, and only once
