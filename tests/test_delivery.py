"""The delivery engine: once each, topic filtering, retries, gone, unknown, crash resume."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.messenger import (
    OutcomeUnknown,
    RateLimited,
    RecipientGone,
    Refused,
    TransientFailure,
)
from campaigns.progress import running_progress
from db import prompts as prompts_db
from db import supporters as supporters_db
from db.times import to_text, utcnow
from tests.messengers import RecordingMessenger
from tests.seeding import add_supporters, manual_prompt

FAST = Tuning(workers=4, page=3, backoff_base=0.01, backoff_cap=0.02, flush_every=0.01)


def states(db: Database, prompt_id: int) -> dict[str, int]:
    return dict(
        db.execute(
            "SELECT state, count(*) FROM deliveries WHERE prompt_id = ? GROUP BY state", [prompt_id]
        ).fetchall()
    )


@pytest.fixture
def engine_parts(core: Core) -> tuple[Core, RecordingMessenger, DeliveryEngine]:
    messenger = RecordingMessenger()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=FAST)
    return core, messenger, engine


async def test_every_active_supporter_gets_it_once(
    engine_parts: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    core, messenger, engine = engine_parts
    await core.store.write(add_supporters, 10)
    await core.store.write(add_supporters, 2, "telegram", 10, status="stopped")
    prompt_id = await core.store.write(manual_prompt)
    await engine.send_prompt(prompt_id)
    await engine.send_prompt(prompt_id)  # again: nothing more
    assert sorted(messenger.addresses()) == sorted(f"telegram-{i}" for i in range(10))
    assert await core.store.read(states, prompt_id) == {"sent": 10}
    prompt = await core.store.read(prompts_db.get, prompt_id)
    assert prompt is not None and prompt.state == "sent"
    card = messenger.sent[0][1].card
    assert card is not None and card.ask_id == "ai-images" and card.prompt_id == prompt_id


async def test_topics_pauses_platform_and_source_filters(
    engine_parts: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    core, messenger, engine = engine_parts

    def setup(db: Database) -> None:
        ids = add_supporters(db, 6)
        supporters_db.set_topics(db, ids[0], ["encryption"])  # not this ask's topic
        supporters_db.set_topics(db, ids[1], ["ai", "encryption"])  # includes it
        supporters_db.set_status(db, ids[2], "paused")  # paused for good
        supporters_db.set_status(db, ids[3], "paused", paused_until=to_text(utcnow()))  # over
        supporters_db.set_status(db, ids[4], "gone")
        add_supporters(db, 2, "discord")  # no discord messenger here

    await core.store.write(setup)
    prompt_id = await core.store.write(manual_prompt)
    await engine.send_prompt(prompt_id)
    assert sorted(messenger.addresses()) == ["telegram-1", "telegram-3", "telegram-5"]

    def only_source(db: Database) -> int:
        db.execute("UPDATE supporters SET source = 'leaflet' WHERE address = 'telegram-5'")
        return manual_prompt(db, source="leaflet")

    messenger.sent.clear()
    await engine.send_prompt(await core.store.write(only_source))
    assert messenger.addresses() == ["telegram-5"]


async def test_outcomes_gone_unknown_refused_transient_and_rate_limit(
    engine_parts: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    core, messenger, engine = engine_parts
    await core.store.write(add_supporters, 6)
    messenger.fail("telegram-0", RecipientGone("blocked"))
    messenger.fail("telegram-1", OutcomeUnknown("timed out"))
    messenger.fail("telegram-2", Refused("bad request"))
    messenger.fail("telegram-3", TransientFailure("502"), TransientFailure("502"))
    messenger.fail("telegram-4", *[TransientFailure("503")] * engine.tuning.max_attempts)
    messenger.fail("telegram-5", RateLimited(0.05))
    prompt_id = await core.store.write(manual_prompt)
    await engine.send_prompt(prompt_id)
    assert await core.store.read(states, prompt_id) == {
        "gone": 1,
        "unknown": 1,
        "failed": 2,
        "sent": 2,
    }
    assert messenger.attempts["telegram-1"] == 1  # unknown is never retried
    assert messenger.attempts["telegram-3"] == 3
    assert messenger.attempts["telegram-4"] == engine.tuning.max_attempts  # gave up at the cap
    gone = await core.store.read(supporters_db.get, "telegram", "telegram-0")
    assert gone is not None and gone.status == "gone"
    # the next prompt leaves the gone supporter out
    messenger.sent.clear()
    await engine.send_prompt(await core.store.write(manual_prompt))
    assert "telegram-0" not in messenger.addresses()


async def test_resume_after_a_crash_marks_in_flight_unknown_and_sends_the_rest(
    engine_parts: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    core, messenger, engine = engine_parts
    await core.store.write(add_supporters, 8)
    prompt_id = await core.store.write(manual_prompt)

    def crashed_mid_send(db: Database) -> None:
        from campaigns.delivery import prepare

        prepare(db, prompt_id, ["telegram"])
        # as if three had been claimed and one of them answered before the kill
        db.execute("UPDATE deliveries SET state = 'sending' WHERE id IN (1, 2, 3)")
        db.execute("UPDATE deliveries SET state = 'sent' WHERE id = 3")

    await core.store.write(crashed_mid_send)
    assert [p.left for p in await core.store.read(running_progress)] == [7]
    await engine.resume()
    for task in list(engine._running.values()):
        await task
    assert await core.store.read(states, prompt_id) == {"unknown": 2, "sent": 6}
    assert sorted(messenger.addresses()) == sorted(f"telegram-{i}" for i in range(3, 8))


async def test_erasure_during_a_send(
    engine_parts: tuple[Core, RecordingMessenger, DeliveryEngine],
) -> None:
    core, messenger, engine = engine_parts
    await core.store.write(add_supporters, 3)
    prompt_id = await core.store.write(manual_prompt)

    def prepare_then_erase(db: Database) -> None:
        from campaigns.delivery import prepare

        prepare(db, prompt_id, ["telegram"])
        supporters_db.delete(db, 2)

    await core.store.write(prepare_then_erase)
    await engine.send_prompt(prompt_id)
    assert sorted(messenger.addresses()) == ["telegram-0", "telegram-2"]
    assert await core.store.read(states, prompt_id) == {"sent": 2, "gone": 1}


async def test_pacing_holds_the_rate(core: Core) -> None:
    import time

    messenger = RecordingMessenger(max_rate=50)
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=FAST)
    await core.store.write(add_supporters, 26)
    prompt_id = await core.store.write(manual_prompt)
    started = time.monotonic()
    await engine.send_prompt(prompt_id)
    elapsed = time.monotonic() - started
    assert len(messenger.sent) == 26
    assert elapsed >= 25 / 50 * 0.95  # evenly spaced, about 20 ms apart


def test_catalog_sync_is_idempotent(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    with db.atomic():
        catalog.sync(db)
        catalog.sync(db)
    assert db.execute("SELECT count(*) FROM asks").fetchone()[0] == 5
