"""The real adapters pointed at the fake platform servers, as the tests start them.

The fakes (tests/fakes) are strict stand-ins for Telegram and Discord; what repeats
across tests is wiring our own adapter to one: its addresses and token, and the
settings that keep a test quick (no request pacing, a short wait for guilds). A test
that checks a setting passes its own value, which wins over these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bots.discord.bot import DiscordBot
from bots.telegram.bot import TelegramBot
from campaigns.core import Core
from tests.fakes.discord import FakeDiscord, InteractionRecord
from tests.fakes.telegram import FakeTelegram


def discord_bot(core: Core, fake: FakeDiscord, **options: Any) -> DiscordBot:
    """The Discord adapter against `fake`, not yet online: no request pacing and a
    short wait for guilds unless `options` say otherwise."""
    settings: dict[str, Any] = {"request_rate": None, "guild_ready_timeout": 0.05}
    return DiscordBot(
        core,
        fake.token,
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        **settings | options,
    )


@asynccontextmanager
async def discord_online(
    core: Core, fake: FakeDiscord, **options: Any
) -> AsyncIterator[DiscordBot]:
    """`discord_bot(core, fake, **options)` online for the block, offline after it."""
    bot = discord_bot(core, fake, **options)
    await bot.online()
    try:
        yield bot
    finally:
        await bot.offline()


def telegram_bot(core: Core, fake: FakeTelegram, **options: Any) -> TelegramBot:
    """The Telegram adapter against `fake`, not yet online (`options` as TelegramBot's)."""
    return TelegramBot(core, fake.token, base_url=fake.base_url, **options)


@asynccontextmanager
async def telegram_online(
    core: Core, fake: FakeTelegram, **options: Any
) -> AsyncIterator[TelegramBot]:
    """The Telegram adapter against `fake` without its rate limits (`limits=False`, unless
    `options` say otherwise), online for the block, offline after it."""
    bot = telegram_bot(core, fake, **{"limits": False} | options)
    await bot.online()
    try:
        yield bot
    finally:
        await bot.offline()


async def first_response(fake: FakeDiscord, record: InteractionRecord) -> dict[str, Any]:
    """The first thing the bot answered to an interaction, once Discord took it as
    acknowledged (a deferral counts: its follow-up is the answer)."""
    await fake.wait_for_response(record)
    await fake.wait_for(lambda: record.acknowledged)
    return dict(record.responses[0])


def components_by_label(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A Discord message's components (buttons, menus) by their label."""
    return {
        c.get("label", ""): c
        for row in message.get("components", [])
        for c in row.get("components", [])
    }
