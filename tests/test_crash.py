"""Crash safety: `campaignbot run`, killed with SIGKILL in the middle of a send and started
again, finishes the send with exactly one delivery record per supporter and nobody
getting the ask twice. SIGTERM stops it within five seconds.

The bot runs as a real subprocess against the fake Bot API served from this process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from campaigns.catalog import Catalog
from campaigns.prompting import Request, send_now
from db.store import open_database
from tests.fakes.telegram import FakeTelegram
from tests.seeding import add_supporters

BIN = Path(sys.executable).parent / "campaignbot"
SUPPORTERS = 240
FIRST_ID = 10_000
ASK_MARK = "2,401"  # the statistic of the ask under test


def seed(db_path: Path, catalog: Catalog) -> int:
    db = open_database(db_path)
    with db.atomic():
        catalog.sync(db)
        addresses = [str(FIRST_ID + n) for n in range(SUPPORTERS)]
        add_supporters(db, SUPPORTERS, addresses=addresses, source="crash-test")
        prompt = send_now(db, catalog, Request("one-step-ahead", "age-verification"), "test")
    db.close()
    return prompt.id


async def start(db_path: Path, fake: FakeTelegram, log: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMPAIGNBOT_", "TELEGRAM_"))}
    env |= {
        "CAMPAIGNBOT_DB": str(db_path),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.base_url,
        "CAMPAIGNBOT_TELEGRAM_MAX_RATE": "150",
        "CAMPAIGNBOT_WEB_PORT": "0",
    }
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            str(BIN),
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=handle,
            stderr=handle,
            env=env,
        )


def delivered(fake: FakeTelegram) -> Counter[int]:
    """How many times each chat got the ask (successful sends only)."""
    return Counter(
        int(call.params["chat_id"])
        for call in fake.calls("sendMessage")
        if call.status == 200 and ASK_MARK in str(call.params.get("text", ""))
    )


def states(db_path: Path, prompt_id: int) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM deliveries WHERE prompt_id = ? GROUP BY state", [prompt_id]
        ).fetchall()
    return dict(rows)


async def until_finished(db_path: Path, prompt_id: int, within: float) -> None:
    """Wait (up to `within` seconds) until no delivery of the prompt is left to send."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = states(db_path, prompt_id)
        if found and found.get("pending", 0) + found.get("sending", 0) == 0:
            return
        await asyncio.sleep(0.1)


@pytest.mark.timeout(90)
async def test_sigkill_mid_send_then_restart_finishes_exactly_once(
    tmp_path: Path, catalog: Catalog
) -> None:
    db_path = tmp_path / "bot.db"
    prompt_id = seed(db_path, catalog)
    log = tmp_path / "bot.log"
    async with FakeTelegram(latency=0.004) as fake:
        for n in range(SUPPORTERS):
            fake.private_chat(FIRST_ID + n)
        first = await start(db_path, fake, log)
        await fake.wait_for(lambda: sum(delivered(fake).values()) >= SUPPORTERS // 3, timeout=30)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        at_kill = sum(delivered(fake).values())
        assert at_kill < SUPPORTERS, "the kill came too late to test anything"

        second = await start(db_path, fake, log)
        await until_finished(db_path, prompt_id, within=40)
        stopping = time.monotonic()
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), timeout=10)
        assert time.monotonic() - stopping < 5, "SIGTERM took too long"
        assert second.returncode == 0, log.read_text()[-2000:]

    final = states(db_path, prompt_id)
    got = delivered(fake)
    # every supporter has exactly one delivery record, in a final state
    assert sum(final.values()) == SUPPORTERS, final
    assert set(final) <= {"sent", "unknown"}, final
    # nobody got the ask twice
    assert max(got.values()) == 1
    with sqlite3.connect(db_path) as conn:
        by_chat = dict(
            conn.execute(
                "SELECT s.address, d.state FROM deliveries d"
                " JOIN supporters s ON s.id = d.supporter_id WHERE d.prompt_id = ?",
                [prompt_id],
            ).fetchall()
        )
        prompt_state = conn.execute(
            "SELECT state FROM prompts WHERE id = ?", [prompt_id]
        ).fetchone()
    assert prompt_state == ("sent",)
    # every 'sent' record was really received; the only ones that may be missing are the
    # few in flight at the kill, recorded as 'unknown' (never resent: invariant 1)
    for address, state in by_chat.items():
        if state == "sent":
            assert got[int(address)] == 1, address
    unknown = [a for a, s in by_chat.items() if s == "unknown"]
    assert len(unknown) <= 32  # at most the workers in flight
    received_or_unknown = {a for a in by_chat if got[int(a)] == 1} | set(unknown)
    assert received_or_unknown == set(by_chat)


@pytest.mark.timeout(90)
async def test_sigkill_while_failed_sends_wait_to_be_retried_misses_nobody(
    tmp_path: Path, catalog: Catalog
) -> None:
    """Before: a delivery answered with a 5xx stayed 'sending' through its backoff; a
    kill then made it 'unknown', never resent, though nothing had been sent to it."""
    db_path = tmp_path / "bot.db"
    prompt_id = seed(db_path, catalog)
    log = tmp_path / "bot.log"
    async with FakeTelegram(latency=0.004) as fake:
        for n in range(SUPPORTERS):
            fake.private_chat(FIRST_ID + n)
        first = await start(db_path, fake, log)
        await fake.wait_for(lambda: sum(delivered(fake).values()) >= SUPPORTERS // 4, timeout=30)
        # one send in three answered 500: many waiting to be retried, never an outage for long
        fake.random_faults(rate_500=0.3, seed=7)

        def answered_500() -> int:
            return sum(1 for call in fake.calls("sendMessage") if call.status == 500)

        await fake.wait_for(lambda: answered_500() >= 20, timeout=30)
        in_flight = len(fake.in_flight("sendMessage"))
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert sum(delivered(fake).values()) < SUPPORTERS, "the kill came too late"
        fake.random_faults()  # all rates 0: faults off

        second = await start(db_path, fake, log)
        await until_finished(db_path, prompt_id, within=60)
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), timeout=10)

    got = delivered(fake)
    assert max(got.values()) == 1  # nobody twice
    missed = [chat for chat in range(FIRST_ID, FIRST_ID + SUPPORTERS) if got[chat] == 0]
    # only a request that was out at the kill (or claimed a moment before it) can be missed
    assert len(missed) <= in_flight + 2, (missed, in_flight, states(db_path, prompt_id))
