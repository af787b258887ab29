"""The Telegram adapter's start-up failures: one line naming the setting to fix, never the
token, never a library traceback (issue 10, item 5). The real PTB against the fake Bot API,
a closed port, and addresses that lead somewhere other than the Bot API."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import AsyncIterator

import pytest

from bots.telegram.bot import TelegramBot
from campaigns.core import Core
from campaigns.delivery import StartupFailure
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def start_failure(
    core: Core, token: str, base_url: str, caplog: pytest.LogCaptureFixture
) -> str:
    """Bring the bot online, which must fail; the failure's one line, once checked that
    neither it, its traceback nor any log line holds the token."""
    caplog.set_level(logging.DEBUG)
    bot = TelegramBot(core, token, base_url=base_url, limits=False)
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


async def test_an_unreachable_api_url_is_one_line_with_its_host_only(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    line = await start_failure(core, fake.token, f"http://127.0.0.1:{port}/bot", caplog)
    assert "TELEGRAM_API_URL" in line and f"http://127.0.0.1:{port}" in line
    assert "/bot" not in line


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
