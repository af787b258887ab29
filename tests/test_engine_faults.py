"""The delivery engine through a platform's bad day and a database that refuses writes:
nobody silently missed, nothing sent twice, nothing 'failed' because of an outage.

The platform here is `RecordingMessenger` (a stand-in for a platform, scripted to
fail); the adapters' own mapping of real errors is tested over the fake servers.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from campaigns import wording
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning, cancel_send, prepare
from campaigns.dialogue import Context
from campaigns.messenger import RateLimited, TransientFailure
from campaigns.model import ChatKind, Origin
from campaigns.progress import progress
from db import prompts as prompts_db
from db.store import StorageError, Store
from tests.messengers import RecordingMessenger
from tests.seeding import add_supporters, manual_prompt
from tests.test_delivery import states

QUICK = Tuning(
    workers=4,
    page=5,
    backoff_base=0.05,
    backoff_cap=0.1,
    probe_first=0.05,
    probe_cap=0.2,
    flush_every=0.01,
    storage_retry=0.05,
)


def deliveries(db: Database, prompt_id: int) -> list[tuple[str, str, int, str | None]]:
    return [
        (address, state, attempts, not_before)
        for address, state, attempts, not_before in db.execute(
            """
            SELECT s.address, d.state, d.attempts, d.not_before
            FROM deliveries d JOIN supporters s ON s.id = d.supporter_id
            WHERE d.prompt_id = ? ORDER BY d.id
            """,
            [prompt_id],
        ).fetchall()
    ]


async def wait_until(predicate: object, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_delivery_waiting_to_be_retried_is_pending_not_sending(core: Core) -> None:
    """Before: it stayed 'sending' through its backoff, and a crash then made it
    'unknown', never to be sent."""
    messenger = RecordingMessenger()
    slow_retry = Tuning(workers=2, backoff_base=30.0, backoff_cap=30.0, flush_every=0.01)
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=slow_retry)
    await core.store.write(add_supporters, 3)
    messenger.fail("telegram-1", TransientFailure("500 Internal Server Error"))
    prompt_id = await core.store.write(manual_prompt)
    task = engine.start(prompt_id)

    async def others_sent() -> bool:
        return (await core.store.read(states, prompt_id)).get("sent", 0) == 2

    await wait_until(others_sent)
    rows = {row[0]: row for row in await core.store.read(deliveries, prompt_id)}
    _, state, attempts, not_before = rows["telegram-1"]
    assert (state, attempts) == ("pending", 1)
    assert not_before is not None
    # a crash now, and the restart: nothing in flight, so nothing becomes unknown
    crashed = await core.store.write(prepare, prompt_id, ["telegram"])
    assert crashed is not None and crashed.unknown_after_crash == 0
    await engine.stop(grace=0.1)
    task.cancel()
    assert (await core.store.read(states, prompt_id)) == {"sent": 2, "pending": 1}


async def test_an_outage_pauses_the_platform_and_fails_nobody(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: five tries in a few seconds, then 'failed' for good."""
    messenger = RecordingMessenger()
    tuning = Tuning(
        workers=8, backoff_base=0.01, backoff_cap=0.02, max_attempts=3, probe_first=0.05,
        probe_cap=0.2, flush_every=0.01,
    )  # fmt: skip
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=tuning)
    await core.store.write(add_supporters, 40)
    prompt_id = await core.store.write(manual_prompt)
    messenger.outage(1.5)
    with caplog.at_level(logging.WARNING, logger="campaigns.delivery"):
        await asyncio.wait_for(engine.send_prompt(prompt_id), 20)
    assert await core.store.read(states, prompt_id) == {"sent": 40}
    assert Counter(messenger.addresses()) == Counter(f"telegram-{i}" for i in range(40))
    # paused, not hammering: a handful of probes, not every supporter again and again
    assert messenger.during_outage < 40
    text = caplog.text
    assert "sends pause" in text and "sends resume" in text


async def test_a_delivery_that_keeps_failing_alone_is_failed_after_its_tries(
    engine_parts_quick: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    """An outage fails nobody, but one recipient that fails while the rest go through
    is given up after `max_attempts`."""
    core, messenger, engine = engine_parts_quick
    await core.store.write(add_supporters, 12)
    messenger.fail("telegram-5", *[TransientFailure("500")] * 10)
    prompt_id = await core.store.write(manual_prompt)
    await asyncio.wait_for(engine.send_prompt(prompt_id), 20)
    assert await core.store.read(states, prompt_id) == {"sent": 11, "failed": 1}
    assert messenger.attempts["telegram-5"] == QUICK.max_attempts


async def test_a_rate_limit_is_waited_out_without_using_up_tries(
    engine_parts_quick: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    core, messenger, engine = engine_parts_quick
    await core.store.write(add_supporters, 3)
    messenger.fail("telegram-0", *[RateLimited(0.02)] * (QUICK.max_attempts + 2))
    prompt_id = await core.store.write(manual_prompt)
    await asyncio.wait_for(engine.send_prompt(prompt_id), 20)
    assert await core.store.read(states, prompt_id) == {"sent": 3}


async def test_getting_ready_to_send_fails_transiently_and_is_retried(
    engine_parts_quick: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    """Before: a DM channel that could not be opened (a 5xx) made the delivery 'failed'."""
    core, messenger, engine = engine_parts_quick
    await core.store.write(add_supporters, 2)
    messenger.prepare_script["telegram-1"] = [TransientFailure("503"), TransientFailure("503")]
    prompt_id = await core.store.write(manual_prompt)
    await asyncio.wait_for(engine.send_prompt(prompt_id), 20)
    assert await core.store.read(states, prompt_id) == {"sent": 2}
    assert sorted(messenger.addresses()) == ["telegram-0", "telegram-1"]


async def test_a_platform_not_yet_online_keeps_its_deliveries_pending(
    engine_parts_quick: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    core, messenger, engine = engine_parts_quick
    await core.store.write(add_supporters, 5)
    engine.set_online("telegram", False)
    prompt_id = await core.store.write(manual_prompt)
    task = engine.start(prompt_id)
    await asyncio.sleep(0.3)
    assert messenger.sent == []
    assert await core.store.read(states, prompt_id) == {"pending": 5}
    engine.set_online("telegram", True)
    await asyncio.wait_for(task, 20)
    assert await core.store.read(states, prompt_id) == {"sent": 5}


async def test_stopping_a_running_send_cancels_what_is_pending(
    engine_parts_quick: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    core, messenger, engine = engine_parts_quick
    messenger.pacer = None
    messenger.delay = 0.02
    await core.store.write(add_supporters, 60)
    prompt_id = await core.store.write(manual_prompt)
    task = engine.start(prompt_id)

    async def some_sent() -> bool:
        return len(messenger.sent) >= 5

    await wait_until(some_sent)
    cancelled = await core.store.write(cancel_send, prompt_id)
    assert cancelled is not None and cancelled > 0
    await asyncio.wait_for(task, 20)
    counts = await core.store.read(states, prompt_id)
    assert set(counts) <= {"sent", "cancelled"}
    assert counts["cancelled"] == cancelled
    assert counts["sent"] == len(messenger.sent) == 60 - cancelled  # in flight finished
    prompt = await core.store.read(prompts_db.get, prompt_id)
    assert prompt is not None and prompt.state == "cancelled"  # not flipped to 'sent'
    seen = await core.store.read(lambda db: progress(db, prompt))
    assert seen.cancelled == cancelled and seen.left == 0
    assert await core.store.write(cancel_send, prompt_id) is None  # not running any more


async def test_the_restart_line_gives_the_unknown_count_the_database_holds(
    engine_parts_quick: tuple[Core, RecordingMessenger, DeliveryEngine],
    caplog: pytest.LogCaptureFixture,
) -> None:
    core, _, engine = engine_parts_quick
    await core.store.write(add_supporters, 6)
    prompt_id = await core.store.write(manual_prompt)

    def two_crashes(db: Database) -> None:
        prepare(db, prompt_id, ["telegram"])
        db.execute("UPDATE deliveries SET state = 'unknown' WHERE id IN (1, 2)")  # an earlier one
        db.execute("UPDATE deliveries SET state = 'sending' WHERE id = 3")  # the last one

    await core.store.write(two_crashes)
    with caplog.at_level(logging.INFO, logger="campaigns.delivery"):
        await engine.send_prompt(prompt_id)
    assert "1 in flight when the process stopped are now unknown (3 unknown in all)" in caplog.text
    assert (await core.store.read(states, prompt_id))["unknown"] == 3


# --- the database refusing writes ----------------------------------------------------------


@pytest.fixture
def impatient_core(db_path: Path, catalog: Catalog, ctx: Context) -> Iterator[Core]:
    """A core whose store gives up on a refusing database after a fraction of a second."""
    store = Store(db_path, patience=0.3)
    store.submit(catalog.sync).result()
    core = Core(store, ctx, organisers=[])
    yield core
    core.close()


async def test_a_full_disk_fails_a_write_loudly_and_loses_nothing(
    impatient_core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    core = impatient_core
    messenger = RecordingMessenger()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=QUICK)
    await core.store.write(add_supporters, 300)
    prompt_id = await core.store.write(manual_prompt)

    def disk_full(db: Database) -> None:  # SQLite's own SQLITE_FULL, as on a full disk
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")

    await core.store.write(disk_full)
    with pytest.raises(StorageError, match="full"), caplog.at_level(logging.ERROR):
        await core.store.write(lambda db: db.execute("CREATE TABLE filler AS SELECT zeroblob(1e6)"))
    assert "database refused a write of 1 jobs for 0.3s (database or disk is full)" in caplog.text
    task = engine.start(prompt_id)  # 300 deliveries to make: no room for them
    await asyncio.sleep(0.5)
    assert messenger.sent == []
    assert "database write refused (the database refused the write: database or disk is full)" in (
        caplog.text
    )
    await core.store.write(lambda db: db.execute("PRAGMA max_page_count = 1073741823"))
    await asyncio.wait_for(task, 20)
    assert await core.store.read(states, prompt_id) == {"sent": 300}
    assert Counter(messenger.addresses()) == Counter(f"telegram-{i}" for i in range(300))


async def test_a_database_locked_by_another_process_is_waited_out(
    impatient_core: Core, db_path: Path
) -> None:
    core = impatient_core
    messenger = RecordingMessenger()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=QUICK)
    await core.store.write(add_supporters, 20)
    prompt_id = await core.store.write(manual_prompt)
    other = sqlite3.connect(db_path, isolation_level=None)  # a backup tool, Datasette...
    other.execute("BEGIN EXCLUSIVE")
    task = engine.start(prompt_id)
    await asyncio.sleep(1.0)  # longer than the store's patience: writes fail, and wait
    assert messenger.sent == []
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(task, 20)
    assert await core.store.read(states, prompt_id) == {"sent": 20}
    assert len(messenger.sent) == 20


@pytest.fixture
def engine_parts_quick(core: Core) -> tuple[Core, RecordingMessenger, DeliveryEngine]:
    messenger = RecordingMessenger()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=QUICK)
    return core, messenger, engine


async def test_a_supporter_gets_an_apology_when_the_database_refuses(
    impatient_core: Core, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = impatient_core
    origin = Origin("telegram", "4242", ChatKind.PRIVATE, "4242")
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with caplog.at_level(logging.ERROR):
        replies = await core.command(origin, "start")
    other.execute("COMMIT")
    other.close()
    assert [reply.text for reply in replies] == [wording.SORRY]
    assert "command /start on telegram not answered" in caplog.text
    assert "Traceback" not in caplog.text
    replies = await core.command(origin, "start")  # the lock is gone: answered as usual
    assert replies and replies[0].text != wording.SORRY
