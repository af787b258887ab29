"""The Telegram adapter coming online. A definite refusal (the token, an address that is not
the Bot API) is one line naming the setting to fix, never the token, never a library
traceback (issue 10, item 5). Anything that may pass (no connection, a 5xx, an outage, an
emulator without setMyCommands) is retried, one warning line a try, until it works or the
runner cancels it (issue 11, item 2). The real PTB against the fake Bot API, a closed port,
and addresses that lead somewhere other than the Bot API."""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from collections.abc import AsyncIterator

import pytest

from bots.telegram.bot import TelegramBot
from campaigns import wording
from campaigns.core import Core
from campaigns.messenger import StartupFailure
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def quick_bot(
    core: Core, token: str, base_url: str, *, menus_first: float = 30.0, menus_cap: float = 3600.0
) -> TelegramBot:
    """A bot that retries within a fraction of a second (production: 1 s, doubling to 60)."""
    return TelegramBot(
        core, token, base_url=base_url, limits=False, retry_first=0.05, retry_cap=0.2,
        menus_retry_first=menus_first, menus_retry_cap=menus_cap,
    )  # fmt: skip


async def start_failure(
    core: Core, token: str, base_url: str, caplog: pytest.LogCaptureFixture
) -> str:
    """Bring the bot online, which must fail; the failure's one line, once checked that
    neither it, its traceback nor any log line holds the token."""
    caplog.set_level(logging.DEBUG)
    bot = quick_bot(core, token, base_url)
    with pytest.raises(StartupFailure) as failure:
        await bot.online()
    await bot.offline()  # what the runner does after a failed start; must be harmless
    line = str(failure.value)
    printed = "".join(traceback.format_exception(failure.value))
    assert "\n" not in line
    assert token not in printed and token not in caplog.text
    assert "Traceback" not in caplog.text
    return line


@pytest.mark.parametrize(
    "token",
    [
        "654321:AAnother-bots-secret",  # shaped like a token: Telegram answers 401
        "654321-pasted-badly",  # not shaped like one: Telegram answers 404
    ],
)
async def test_a_refused_token_is_one_line_that_says_where_to_get_it(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, token: str
) -> None:
    line = await start_failure(core, token, fake.base_url, caplog)
    assert "TELEGRAM_BOT_TOKEN" in line and "@BotFather" in line
    assert [call.status for call in fake.calls("getMe")] == [401 if ":" in token else 404]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def test_an_unreachable_api_url_is_retried_one_line_a_try_until_cancelled(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = closed_port()
    bot = quick_bot(core, fake.token, f"http://127.0.0.1:{port}/bot")
    coming = asyncio.create_task(bot.online())
    await fake.wait_for(lambda: len(warnings(caplog, "can't reach")) >= 3)
    assert not coming.done()  # still trying: the rest of the process runs meanwhile
    coming.cancel()  # what the runner does at shutdown
    with pytest.raises(asyncio.CancelledError):
        await coming
    await bot.offline()  # and then this, which must be harmless
    lines = warnings(caplog, "can't reach")
    assert all(f"http://127.0.0.1:{port} (NotSent); trying again in" in line for line in lines)
    assert fake.token not in caplog.text and "/bot" not in "".join(lines)
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
    assert all(request._session is None for request in bot._requests)  # nothing left open


@pytest.mark.parametrize("status", [500, 502, 503, 0])
async def test_an_outage_at_start_up_is_waited_out(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """getMe answered with a 5xx (502: nginx's page, not JSON) or no connection at all for
    a while: online() returns once the API answers again, and the bot then answers."""
    caplog.set_level(logging.INFO)
    fake.outage(1.0, status=status)
    await fake.settled()
    bot = quick_bot(core, fake.token, fake.base_url)
    await bot.online()
    try:
        assert not fake.in_outage
        assert len(warnings(caplog, "can't reach the Bot API")) >= 2
        assert fake.calls("getMe")[-1].status == 200
        fake.private_chat(4301)
        fake.user_sends(4301, 4301, "/start")
        await fake.wait_for(lambda: fake.sent_to(4301))
    finally:
        await bot.offline()
    assert "Traceback" not in caplog.text and fake.token not in caplog.text


@pytest.mark.parametrize("status", [500, 404])
async def test_an_emulator_without_set_my_commands_still_polls_and_answers(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """A third-party emulator answers setMyCommands with a 500, or 404 (which PTB raises as
    InvalidToken): the menus are cosmetic, so the bot comes online without them, says so
    once, and sets them when the method works."""
    caplog.set_level(logging.INFO)
    fake.unimplemented("setMyCommands", status=status)
    bot = quick_bot(core, fake.token, fake.base_url, menus_first=0.2, menus_cap=0.4)
    await bot.online()
    try:
        fake.private_chat(4301)
        fake.user_sends(4301, 4301, "/start")
        await fake.wait_for(lambda: fake.sent_to(4301))
        assert "You're subscribed" in fake.sent_to(4301)[0]["text"]
        await fake.wait_for(lambda: len(fake.calls("setMyCommands")) >= 3)  # tried again
        assert len(warnings(caplog, "command menus")) == 1  # said once
        assert fake.commands == {}
        fake.restore_method("setMyCommands")
        await fake.wait_for(lambda: fake.commands_for(), timeout=5)
        assert [c["command"] for c in fake.commands_for()] == [n for n, _ in wording.COMMANDS]
    finally:
        await bot.offline()
    assert "Traceback" not in caplog.text and "TELEGRAM_BOT_TOKEN" not in caplog.text


async def test_a_refused_token_stops_at_once_even_after_an_outage(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake.outage(0.3, status=502)
    line = await start_failure(core, "654321:AAnother-bots-secret", fake.base_url, caplog)
    assert "TELEGRAM_BOT_TOKEN" in line
    assert [c.status for c in fake.calls("getMe")][-1] == 401  # no try after the refusal


@pytest.mark.parametrize("mistake", ["wrong path", "token pasted into the URL"])
async def test_an_api_url_that_is_not_the_bot_api_is_one_line_with_its_host_only(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, mistake: str
) -> None:
    host = fake.base_url.removesuffix("/bot")
    url = f"{host}/wrong/bot" if mistake == "wrong path" else f"{fake.base_url}{fake.token}/"
    line = await start_failure(core, fake.token, url, caplog)
    assert "TELEGRAM_API_URL" in line and host in line
    assert "doesn't answer like the Telegram Bot API" in line
    assert "/wrong" not in line and "TELEGRAM_BOT_TOKEN" not in line  # the token is not to blame
    assert "404: Not Found" not in caplog.text  # the page it answered with is not logged
