"""Plain words: STOP, UNSUBSCRIBE and START alone in a message work as the commands,
in any case, on Telegram, Discord and the console; any other text is still answered
with where to get help and never kept.

The real PTB and discord.py clients run against the strict fakes. Every id and word
is made up.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator

import pytest
from rich.console import Console

from bots.console import ConsoleChat
from bots.discord.bot import DiscordBot
from bots.telegram.bot import TelegramBot
from campaigns import wording
from campaigns.commands import Command, plain_word
from campaigns.core import Core
from db import supporters as supporters_db
from db.states import SupporterStatus
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.platforms import discord_online, telegram_online

SAM = 4301
DEE = 5301


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        ("Stop.", "stop"),
        ("  unsubscribe!  ", "stop"),
        ("UNSUBSCRIBE", "stop"),
        ("START", "start"),
        ("start\n", "start"),
        ("ＳＴＯＰ", "stop"),  # full-width letters, as some keyboards type them
    ],
)
def test_a_plain_word_alone_is_its_command(text: str, command: str) -> None:
    assert plain_word(text) == Command(command, ())


@pytest.mark.parametrize(
    "text",
    ["", "stop it", "please stop", "stopp", "s t o p", "/stop", "start now", "STOP" * 5, "halt"],
)
def test_anything_else_is_not_a_command(text: str) -> None:
    assert plain_word(text) is None


def status(core: Core, platform: str, address: str) -> SupporterStatus | None:
    row = core.store.submit(supporters_db.get, platform, address).result()
    return None if row is None else row.status


# --- Telegram ---------------------------------------------------------------------------


@pytest.fixture
async def telegram(core: Core) -> AsyncIterator[tuple[TelegramBot, FakeTelegram]]:
    async with FakeTelegram() as fake:
        fake.private_chat(SAM, "Sam")
        async with telegram_online(core, fake) as bot:
            yield bot, fake


async def test_telegram_stop_and_start_as_plain_words(
    telegram: tuple[TelegramBot, FakeTelegram], core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, fake = telegram
    fake.user_sends(SAM, SAM, "START")
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 2)  # the welcome and the ask
    assert status(core, "telegram", str(SAM)) is SupporterStatus.ACTIVE
    before = len(fake.sent_to(SAM))
    fake.user_sends(SAM, SAM, "Stop")
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) > before)
    assert fake.sent_to(SAM)[-1]["text"] == wording.STOPPED
    assert status(core, "telegram", str(SAM)) is SupporterStatus.STOPPED
    before = len(fake.sent_to(SAM))
    fake.user_sends(SAM, SAM, "unsubscribe")  # nothing left to stop: said so
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) > before)
    assert fake.sent_to(SAM)[-1]["text"] == wording.ALREADY_STOPPED
    before = len(fake.sent_to(SAM))
    fake.user_sends(SAM, SAM, "stop sending me these quokka-words")  # not a plain word
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) > before)
    assert fake.sent_to(SAM)[-1]["text"] == wording.FREE_TEXT
    assert "quokka" not in caplog.text


# --- Discord ----------------------------------------------------------------------------


@pytest.fixture
async def discord_bot(core: Core) -> AsyncIterator[tuple[DiscordBot, FakeDiscord]]:
    fake = FakeDiscord()
    await fake.start()
    fake.add_user(DEE, "dee")
    async with discord_online(core, fake) as bot:
        yield bot, fake
    await fake.stop()
    assert fake.internal_errors == []


def dms(fake: FakeDiscord, user: int) -> list[str]:
    bot_id = str(fake.world.bot.id)
    return [m["content"] or "" for m in fake.dms_to(user) if m["author"]["id"] == bot_id]


async def test_discord_stop_and_start_as_plain_words_in_a_dm(
    discord_bot: tuple[DiscordBot, FakeDiscord], core: Core
) -> None:
    _, fake = discord_bot
    await fake.send_user_message(DEE, content="start")
    await fake.wait_for(lambda: len(dms(fake, DEE)) >= 2)  # the welcome and the ask
    assert status(core, "discord", str(DEE)) is SupporterStatus.ACTIVE
    # free text, then STOP at once: the one-answer-per-interval gate never swallows a STOP
    await fake.send_user_message(DEE, content="hello there")
    await fake.send_user_message(DEE, content="STOP")
    await fake.wait_for(lambda: wording.STOPPED in dms(fake, DEE))
    assert status(core, "discord", str(DEE)) is SupporterStatus.STOPPED


# --- console ----------------------------------------------------------------------------


async def test_console_stop_and_start_as_plain_words(core: Core) -> None:
    screen = io.StringIO()
    chat = ConsoleChat(core, console=Console(file=screen, width=80), address="plain")
    await chat.handle_line("Start")
    assert status(core, "console", "plain") is SupporterStatus.ACTIVE
    await chat.handle_line("UNSUBSCRIBE")
    assert status(core, "console", "plain") is SupporterStatus.STOPPED
    assert wording.STOPPED.split("\n")[0][:30] in " ".join(screen.getvalue().split())
    await chat.handle_line("stop me please")
    assert "Childline" in screen.getvalue()
