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
from tests.fakes.discord import FakeDiscord
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
