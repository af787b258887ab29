"""One running bot per database, and `send --now` telling the truth about it: a second
`campaignbot run` on the same database stops at once naming the first; other commands
work beside it; a killed bot leaves no lock behind; a running bot picks a queued send
up within about a second. Real `campaignbot` subprocesses, no chat tokens (the bot
runs as scheduler and dashboard only)."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
from pathlib import Path

import pytest

from campaigns.catalog import Catalog
from campaigns.packs import BUNDLED_PACKS
from cli.lock import BotRunning, hold, lock_path, running_pid
from db import prompts as prompts_db
from db.store import open_database
from tests.cli_run import RunningBot, assert_one_clean_line, base_env, run
from tests.seeding import manual_prompt


def test_the_lock_says_who_holds_it(tmp_path: Path) -> None:
    db = tmp_path / "data" / "bot.db"
    assert running_pid(db) is None  # never run: no lock file at all
    with hold(db):
        assert lock_path(db).read_text().strip() == str(os.getpid())
        assert running_pid(db) == os.getpid()
        with pytest.raises(BotRunning) as refused, hold(db):
            pass
        assert str(db) in str(refused.value) and str(os.getpid()) in str(refused.value)
    assert running_pid(db) is None
    assert not db.exists()  # the lock never touches the database file itself


@pytest.mark.timeout(120)
async def test_a_second_run_on_one_database_stops_at_once_naming_the_first(
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path)
    db = env["CAMPAIGNBOT_DB"]
    async with RunningBot(env, tmp_path / "first.log") as first:
        assert await first.healthz() == 200
        started = time.monotonic()
        code, output = await run(env, "run", limit=30)
        assert code != 0
        assert_one_clean_line(output, db, str(first.pid), "CAMPAIGNBOT_DB")
        assert time.monotonic() - started < 20  # at once: no retrying, no waiting
        # the first is untouched, and other commands work beside it
        assert first.running and await first.healthz() == 200
        for args in (("status",), ("schedule", "list"), ("stats",)):
            code, output = await run(env, *args)
            assert code == 0, output
        assert await first.stop() == 0


@pytest.mark.timeout(120)
async def test_a_killed_bot_leaves_no_lock_behind(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    db = Path(env["CAMPAIGNBOT_DB"])
    async with RunningBot(env, tmp_path / "first.log") as first:
        await first.dashboard()
        assert running_pid(db) == first.pid
        os.kill(first.pid, signal.SIGKILL)
        await first.exit_code()
    assert running_pid(db) is None
    async with RunningBot(env, tmp_path / "second.log") as second:
        assert await second.healthz() == 200
        assert running_pid(db) == second.pid
        assert await second.stop() == 0


@pytest.mark.timeout(120)
async def test_send_now_says_whether_a_running_bot_picked_it_up(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    code, output = await run(env, "send", "one-step-ahead", "--now")
    assert code == 0, output
    assert "queued; no running bot has picked it up" in output
    assert "within seconds" not in output  # no promise nobody keeps
    async with RunningBot(env, tmp_path / "bot.log") as bot:
        await bot.dashboard()
        code, output = await run(env, "send", "one-step-ahead", "--now")
        assert code == 0, output
        assert f"The running bot (process {bot.pid}) has picked it up" in output
        assert await bot.stop() == 0
    # the bot sent what was queued while it was down too (no chat platform: no deliveries)
    db = open_database(env["CAMPAIGNBOT_DB"])
    assert [p.state for p in prompts_db.listed(db)] == ["sent", "sent"]
    db.close()


@pytest.mark.timeout(120)
async def test_a_running_bot_picks_a_queued_send_up_within_a_second(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    async with RunningBot(env, tmp_path / "bot.log") as bot:
        await bot.dashboard()
        db = open_database(env["CAMPAIGNBOT_DB"])
        with db.atomic():
            Catalog.load(BUNDLED_PACKS).sync(db)
        waits = []
        for _ in range(8):
            with db.atomic():
                prompt_id = manual_prompt(db)
            queued = time.monotonic()
            while (found := prompts_db.get(db, prompt_id)) and found.state == "scheduled":
                assert time.monotonic() - queued < 10, bot.output()
                await asyncio.sleep(0.01)
            waits.append(time.monotonic() - queued)
        db.close()
        assert await bot.stop() == 0
    # polled every 2 s, the waits spread over 0-2 s; every half second, over 0-0.5 s
    assert max(waits) < 1.25 and statistics.mean(waits) < 0.8, waits
