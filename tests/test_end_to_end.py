"""The whole bot as a user runs it: `campaignbot run` with Telegram and Discord tokens (a
real subprocess, against both fake servers), supporters subscribing on each, an ask
sent from the CLI while it runs, and `campaignbot stats` counting both platforms."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram

BIN = Path(sys.executable).parent / "campaignbot"
TG_USER, DC_USER = 6101, 6201
MARK = "18% → 0.04%"  # the statistic of the ask sent


async def cli(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(BIN),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.timeout(120)
async def test_an_ask_sent_from_the_cli_reaches_both_platforms_and_is_counted(
    tmp_path: Path,
) -> None:
    async with FakeTelegram() as telegram:
        discord = FakeDiscord()
        await discord.start()
        try:
            telegram.private_chat(TG_USER, "Sam")
            discord.add_user(DC_USER, "alex")
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("CAMPAIGNBOT_", "TELEGRAM_", "DISCORD_"))
            }
            env |= {
                "CAMPAIGNBOT_DB": str(tmp_path / "bot.db"),
                "CAMPAIGNBOT_WEB_PORT": "0",
                "TELEGRAM_BOT_TOKEN": telegram.token,
                "TELEGRAM_API_URL": telegram.base_url,
                "DISCORD_BOT_TOKEN": discord.token,
                "DISCORD_API_URL": discord.api_url,
                "DISCORD_GATEWAY_URL": discord.gateway_url,
            }
            log = (tmp_path / "bot.log").open("wb")
            bot = await asyncio.create_subprocess_exec(
                str(BIN), "run", env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
            try:
                await discord.wait_until_connected(timeout=30)  # a process starting up
                await discord.wait_for(lambda: discord.global_commands, timeout=20)
                telegram.user_sends(TG_USER, TG_USER, "/start leaflet")
                await discord.run_slash_command(
                    "subscribe",
                    user_id=DC_USER,
                    options=[{"name": "code", "type": 3, "value": "social"}],
                )
                await telegram.wait_for(lambda: len(telegram.sent_to(TG_USER)) >= 2, timeout=20)
                await discord.wait_for(lambda: len(discord.dms_to(DC_USER)) >= 2, timeout=20)

                await cli(env, "send", "one-step-ahead", "--now", "--ask", "pre-screening")
                await telegram.wait_for(
                    lambda: MARK in telegram.sent_to(TG_USER)[-1].get("text", ""), timeout=20
                )
                await discord.wait_for(
                    lambda: MARK in json.dumps(discord.dms_to(DC_USER)[-1], ensure_ascii=False),
                    timeout=20,
                )
                # answer on each platform
                ask = telegram.sent_to(TG_USER)[-1]
                done = next(
                    b["callback_data"]
                    for row in ask["reply_markup"]["inline_keyboard"]
                    for b in row
                    if b["text"] == "I did it"
                )
                query = telegram.user_presses(TG_USER, TG_USER, ask["message_id"], done)
                await telegram.wait_for(lambda: query in telegram.callback_answers)
                post = discord.dms_to(DC_USER)[-1]
                custom_id = next(
                    c["custom_id"]
                    for row in post["components"]
                    for c in row["components"]
                    if c.get("label") == "Not this week"
                )
                record = await discord.press_button(int(post["id"]), custom_id, user_id=DC_USER)
                await discord.wait_for_response(record)
            finally:
                bot.send_signal(signal.SIGTERM)
                await asyncio.wait_for(bot.wait(), timeout=10)
                log.close()
            assert bot.returncode == 0, (tmp_path / "bot.log").read_text()[-3000:]
            assert not [c for c in telegram.rejected if c.method != "getUpdates"]
            assert discord.rejected == []
        finally:
            await discord.stop()

    report = json.loads(await cli(env, "stats", "--json"))
    platforms = {row["platform"]: row for row in report["by_platform"]}
    assert platforms["telegram"]["delivered"] == 2 and platforms["telegram"]["done"] == 1
    assert platforms["discord"]["delivered"] == 2 and platforms["discord"]["skipped"] == 1
    sources = {row["source"] for row in report["by_source"]}
    assert sources == {"leaflet", "social"}
    week = [row for row in report["by_ask_week"] if row["ask_id"] == "pre-screening"]
    assert week and week[0]["delivered"] == 2
