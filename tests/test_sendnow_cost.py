"""An organiser's /sendnow says what the send will cost when Telegram's paid broadcasts
are on (issue 16, part 4), in the words `send --dry-run` and the dashboard use, and
says nothing of cost when they are off.

Over the fake Telegram: the real adapter (started with or without paid broadcasts, as
`campaignbot run` starts it from `telegram_paid_broadcast`), the engine and the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlite_utils import Database

from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from tests.fakes.telegram import FakeTelegram
from tests.platforms import telegram_bot
from tests.seeding import add_supporters

ORGANISER = 900  # in the core fixture's organiser list
SUPPORTERS = [5301, 5302, 5303]  # on Telegram; one more supporter is on Discord
MARK = "20,254"  # the statistic of the ask sent (ai-images)
COST = "Cost: Telegram: 3 supporters × 0.1 Stars = 0.3 Stars (paid broadcast is on)"


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.private_chat(ORGANISER, "Olu")
        for chat in SUPPORTERS:
            server.private_chat(chat)
        yield server
        assert not [call for call in server.rejected if call.method != "getUpdates"]


def seed(db: Database) -> None:
    add_supporters(db, len(SUPPORTERS), addresses=[str(chat) for chat in SUPPORTERS])
    add_supporters(db, 1, "discord")  # reached for free: not in the cost


def button(message: dict[str, Any], label: str) -> str:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == label))


@pytest.mark.parametrize("paid", [True, False])
async def test_sendnow_says_what_a_paid_send_costs(
    core: Core, fake: FakeTelegram, paid: bool
) -> None:
    await core.store.write(seed)
    bot = telegram_bot(core, fake, paid_broadcast=paid)
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": bot}, tuning=Tuning(workers=2))
    core.attach(engine)
    await bot.online()
    try:
        fake.user_sends(ORGANISER, ORGANISER, "/sendnow one-step-ahead ai-images")
        await fake.wait_for(lambda: "Send it now" in str(fake.sent_to(ORGANISER)))
        confirm = fake.sent_to(ORGANISER)[-1]
        first, *more = str(confirm["text"]).split("\n")
        assert first == (
            "Send one-step-ahead/ai-images now to its 4 subscribers (those active whose "
            "topics include it)? This can't be undone."
        )
        assert more == ([COST] if paid else [])

        # and the send is what it said: paid broadcasts to the Telegram supporters
        fake.user_presses(
            ORGANISER, ORGANISER, confirm["message_id"], button(confirm, "Send it now")
        )

        def asks() -> list[dict[str, Any]]:
            return [
                c.params
                for c in fake.calls("sendMessage")
                if c.status == 200 and MARK in str(c.params.get("text"))
            ]

        await fake.wait_for(lambda: len(asks()) == len(SUPPORTERS))
        assert {bool(a.get("allow_paid_broadcast")) for a in asks()} == {paid}
    finally:
        await engine.stop()
        await bot.offline()
