"""Start-up failures are one line that names the setting and the fix, and no output ever
holds a token or the secret: `campaignbot` runs as a real subprocess, against the fake
Telegram and Discord servers where a platform is involved.

Only a definite refusal (a refused token) stops an adapter, and `run` stops only when
no adapter can chat: an unreachable platform is retried while the rest serves.

The tokens here are synthetic, shaped like real ones so that a leak would be seen.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from cli.logs import MASK, configure_logging
from tests.cli_run import (
    DISCORD_TOKEN,
    SECRET,
    TELEGRAM_TOKEN,
    RunningBot,
    assert_one_clean_line,
    base_env,
    closed_port,
    discord_env,
    run,
    telegram_env,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram


async def test_a_rejected_telegram_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    async with FakeTelegram() as telegram:  # it accepts only its own token
        env = base_env(tmp_path) | telegram_env(telegram, TELEGRAM_TOKEN)
        code, output = await run(env, "run")
    assert code != 0
    assert_one_clean_line(output, "TELEGRAM_BOT_TOKEN")


def assert_clean(output: str) -> None:
    """No traceback, no token, no secret anywhere in the output."""
    assert "Traceback" not in output, output
    for secret in (TELEGRAM_TOKEN, DISCORD_TOKEN, SECRET, TELEGRAM_TOKEN.split(":")[1]):
        assert secret not in output, output


def lines_with(output: str, *words: str) -> list[str]:
    return [line for line in output.splitlines() if all(w in line for w in words)]


def error_lines(output: str) -> list[str]:
    """The lines `campaignbot` ends with when it stops on an error."""
    return [line for line in output.splitlines() if line.startswith("error:")]


@pytest.mark.timeout(120)
async def test_an_unreachable_telegram_api_leaves_the_rest_running(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{closed_port()}/bot",
    }
    async with RunningBot(env, tmp_path / "bot.log") as bot:
        # the dashboard serves while Telegram is retried (and says Telegram is down)
        assert await bot.healthz() == 503
        await bot.wait_for_output("WARNING bots.telegram")
        warning = lines_with(bot.output(), "WARNING bots.telegram")[0]
        assert "TELEGRAM_API_URL" in warning or "127.0.0.1" in warning, warning
        await asyncio.sleep(3)  # a few more tries: still up, still serving
        assert bot.running and await bot.healthz() == 503
        started = time.monotonic()
        assert await bot.stop() == 0  # quick and clean while still retrying
        assert time.monotonic() - started < 10
        output = bot.output()
    assert_clean(output)
    assert not lines_with(output, "ERROR") and not error_lines(output), output


@pytest.mark.timeout(120)
async def test_a_refused_telegram_token_beside_a_working_discord_keeps_running(
    tmp_path: Path,
) -> None:
    async with FakeTelegram() as telegram:  # it accepts only its own token
        discord = FakeDiscord()
        await discord.start()
        try:
            env = base_env(tmp_path) | telegram_env(telegram, TELEGRAM_TOKEN) | discord_env(discord)
            async with RunningBot(env, tmp_path / "bot.log") as bot:
                await discord.wait_until_connected(timeout=30)  # a process starting up
                await bot.wait_for_output("TELEGRAM_BOT_TOKEN")
                # serving, and saying that a configured adapter is down
                assert bot.running and await bot.healthz() == 503
                assert await bot.stop() == 0
                output = bot.output()
        finally:
            await discord.stop()
    assert len(lines_with(output, "ERROR", "TELEGRAM_BOT_TOKEN")) == 1, output
    assert not error_lines(output), output  # it didn't stop
    assert_clean(output.replace(discord.token, "<the fake's own token>"))


@pytest.mark.timeout(120)
async def test_a_refused_discord_token_beside_a_working_telegram_keeps_running(
    tmp_path: Path,
) -> None:
    async with FakeTelegram() as telegram:
        discord = FakeDiscord()  # it accepts only its own token
        await discord.start()
        try:
            env = base_env(tmp_path) | telegram_env(telegram) | discord_env(discord, DISCORD_TOKEN)
            async with RunningBot(env, tmp_path / "bot.log") as bot:
                await bot.wait_for_output("DISCORD_BOT_TOKEN")
                await telegram.wait_for(
                    lambda: any(call.method == "getUpdates" for call in telegram.requests),
                    timeout=30,
                )
                assert bot.running and await bot.healthz() == 503
                assert await bot.stop() == 0
                output = bot.output()
        finally:
            await discord.stop()
    assert len(lines_with(output, "ERROR", "DISCORD_BOT_TOKEN")) == 1, output
    assert not error_lines(output), output


@pytest.mark.timeout(120)
async def test_both_tokens_refused_stops_with_a_line_for_each(tmp_path: Path) -> None:
    async with FakeTelegram() as telegram:
        discord = FakeDiscord()
        await discord.start()
        try:
            env = (
                base_env(tmp_path)
                | telegram_env(telegram, TELEGRAM_TOKEN)
                | discord_env(discord, DISCORD_TOKEN)
            )
            code, output = await run(env, "run")
        finally:
            await discord.stop()
    assert code != 0
    errors = error_lines(output)
    assert len(errors) == 2, output
    assert any("TELEGRAM_BOT_TOKEN" in line for line in errors), output
    assert any("DISCORD_BOT_TOKEN" in line for line in errors), output
    assert_clean(output)


async def test_a_rejected_discord_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    discord = FakeDiscord()  # it accepts only its own token
    await discord.start()
    try:
        env = base_env(tmp_path) | discord_env(discord, DISCORD_TOKEN)
        code, output = await run(env, "run")
    finally:
        await discord.stop()
    assert code != 0
    assert_one_clean_line(output, "DISCORD_BOT_TOKEN")


async def test_a_database_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = base_env(tmp_path) | {"CAMPAIGNBOT_DB": str(blocker / "bot.db")}
    for args in (("run",), ("stats",), ("schedule", "list")):
        code, output = await run(env, *args)
        assert code == 2, output
        assert_one_clean_line(output, "CAMPAIGNBOT_DB", str(blocker / "bot.db"))


async def test_a_broken_or_missing_settings_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "campaignbot.toml"
    broken.write_text(f'telegram_bot_token = "{TELEGRAM_TOKEN}"\nweb_port = [\n')
    env = base_env(tmp_path) | {"CAMPAIGNBOT_CONFIG": str(broken)}
    code, output = await run(env, "run")
    assert code == 2
    assert_one_clean_line(output, str(broken), "TOML")

    # the same file found in the working directory, with no CAMPAIGNBOT_CONFIG
    env = base_env(tmp_path) | {"CWD": str(tmp_path)}
    code, output = await run(env, "run")
    assert code == 2
    assert_one_clean_line(output, "campaignbot.toml", "TOML")

    missing = tmp_path / "elsewhere.toml"
    env = base_env(tmp_path) | {"CAMPAIGNBOT_CONFIG": str(missing)}
    code, output = await run(env, "stats")
    assert code == 2
    assert_one_clean_line(output, "CAMPAIGNBOT_CONFIG", str(missing))


async def test_a_role_name_instead_of_a_role_id_is_refused_at_start(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {
        "CAMPAIGNBOT_DISCORD_ORGANISER_GUILD": "112233445566778899",
        "CAMPAIGNBOT_DISCORD_ORGANISER_ROLE": "Campaign organiser",
    }
    code, output = await run(env, "run")
    assert code == 2
    assert_one_clean_line(output, "CAMPAIGNBOT_DISCORD_ORGANISER_ROLE", "role id", "Copy Role ID")
    # a role id without the server it belongs to
    env |= {"CAMPAIGNBOT_DISCORD_ORGANISER_ROLE": "998877665544332211"}
    del env["CAMPAIGNBOT_DISCORD_ORGANISER_GUILD"]
    code, output = await run(env, "run")
    assert code == 2
    assert_one_clean_line(output, "CAMPAIGNBOT_DISCORD_ORGANISER_GUILD")


@pytest.fixture
def masked_logging() -> Iterator[io.StringIO]:
    """The bot's own logging set-up, writing to a buffer; put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    buffer = io.StringIO()
    real_stderr = sys.stderr
    sys.stderr = buffer
    try:
        configure_logging(
            "DEBUG", [TELEGRAM_TOKEN, DISCORD_TOKEN, SECRET], console=Console(file=buffer)
        )
        yield buffer
    finally:
        sys.stderr = real_stderr
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        sys.excepthook, threading.excepthook = saved[2], saved[3]


def test_every_log_line_is_masked_library_loggers_and_tracebacks_included(
    masked_logging: io.StringIO,
) -> None:
    webhook = "https://discord.com/api/v10/webhooks/1100/aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ"
    dm_channel = "https://discord.com/api/v10/channels/1234567890123/messages"
    # discord.py's own 429 warning, word for word, as its logger writes it
    logging.getLogger("discord.http").warning(
        "We are being rate limited. %s %s responded with 429. Retrying in %.2f seconds.",
        "POST",
        webhook,
        1.5,
    )
    logging.getLogger("discord.http").warning(
        "We are being rate limited. %s %s responded with 429. Retrying in %.2f seconds.",
        "POST",
        dm_channel,
        0.5,
    )
    logging.getLogger("telegram.ext").warning(
        "calling https://api.telegram.org/bot%s/getMe", TELEGRAM_TOKEN
    )
    try:
        raise RuntimeError(f"token {DISCORD_TOKEN} and secret {SECRET} in an error")
    except RuntimeError:
        logging.getLogger("campaigns.core").exception("failed")
    logging.getLogger("web").info("opened /l/1a2b.AbCdEfGhIjKlMnOp")
    written = masked_logging.getvalue()
    for leak in (
        TELEGRAM_TOKEN,
        DISCORD_TOKEN,
        SECRET,
        "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ",
        "1234567890123",
        "1a2b.AbCdEfGhIjKlMnOp",
    ):
        assert leak not in written, written
    assert written.count(MASK) == 6, written
    assert "RuntimeError" in written and "Traceback" in written  # the traceback is kept, masked
    assert "responded with 429" in written


def test_an_uncaught_exception_is_masked(
    masked_logging: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        raise ValueError(f"bad {TELEGRAM_TOKEN}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    written = capsys.readouterr().err
    assert "ValueError" in written and TELEGRAM_TOKEN not in written and MASK in written


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    """The bot's logging set-up with `log_format = "json"`, writing to a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    buffer = io.StringIO()
    real_stderr = sys.stderr
    sys.stderr = buffer
    try:
        configure_logging(
            "DEBUG",
            [TELEGRAM_TOKEN, DISCORD_TOKEN, SECRET],
            console=Console(file=buffer),
            json_lines=True,
        )
        yield buffer
    finally:
        sys.stderr = real_stderr
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        sys.excepthook, threading.excepthook = saved[2], saved[3]


def test_json_log_lines_are_one_object_each_and_masked_like_plain_ones(
    json_logging: io.StringIO,
) -> None:
    webhook = "https://discord.com/api/v10/webhooks/1100/aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ"
    logging.getLogger("discord.http").warning(
        "We are being rate limited. %s %s responded with 429. Retrying in %.2f seconds.",
        "POST",
        webhook,
        1.5,
    )
    logging.getLogger("telegram.ext").warning(
        "calling https://api.telegram.org/bot%s/getMe", TELEGRAM_TOKEN
    )
    try:
        raise RuntimeError(f"token {DISCORD_TOKEN} and secret {SECRET} in an error")
    except RuntimeError:
        logging.getLogger("campaigns.core").exception("failed with\na second line")
    logging.getLogger("web").info("opened /l/1a2b.AbCdEfGhIjKlMnOp")
    written = json_logging.getvalue()
    for leak in (
        TELEGRAM_TOKEN,
        DISCORD_TOKEN,
        SECRET,
        "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ",
        "1a2b.AbCdEfGhIjKlMnOp",
    ):
        assert leak not in written, written
    lines = [json.loads(line) for line in written.splitlines()]
    assert len(lines) == 4, written  # one a record, a traceback and a newline included
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message"}, line
        assert line["time"].endswith("Z")
    assert [line["logger"] for line in lines] == [
        "discord.http",
        "telegram.ext",
        "campaigns.core",
        "web",
    ]
    assert "responded with 429" in lines[0]["message"] and MASK in lines[0]["message"]
    failed = lines[2]
    assert failed["level"] == "ERROR" and failed["message"] == "failed with\na second line"
    assert failed["exception"]["type"] == "RuntimeError"
    trace = failed["exception"]["traceback"]
    assert trace.startswith("Traceback") and "test_startup.py" in trace
    assert trace.count(MASK) == 2, trace
    assert "exception" not in lines[3]


def test_an_uncaught_exception_is_a_masked_json_line(
    json_logging: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        raise ValueError(f"bad {TELEGRAM_TOKEN}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    written = capsys.readouterr().err
    line = json.loads(written)
    assert line["level"] == "CRITICAL" and line["exception"]["type"] == "ValueError"
    assert TELEGRAM_TOKEN not in written and MASK in line["exception"]["traceback"]


@pytest.mark.timeout(120)
async def test_run_with_log_format_json_writes_only_json_lines(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{closed_port()}/bot",
        "CAMPAIGNBOT_LOG_FORMAT": "json",
    }
    async with RunningBot(env, tmp_path / "bot.log") as bot:
        await bot.dashboard()
        await bot.wait_for_output('"logger": "bots.telegram.bot"')  # retrying, one line a try
        assert await bot.stop() == 0
        output = bot.output()
    assert_clean(output)
    lines = [json.loads(line) for line in output.splitlines()]
    assert all(set(line) >= {"time", "level", "logger", "message"} for line in lines), output
    warning = next(line for line in lines if line["logger"] == "bots.telegram.bot")
    assert warning["level"] == "WARNING" and "127.0.0.1" in warning["message"]
