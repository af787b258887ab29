"""The schedule: local time across daylight saving, missed runs, never twice, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.packs import Pack
from campaigns.prompting import next_ask
from campaigns.weekly import latest_run, weekly_trigger
from db import prompts as prompts_db
from db.times import to_text
from scheduler import CampaignScheduler, ensure_weekly_prompt, make_reminders, settle_due
from tests.messengers import RecordingMessenger
from tests.seeding import add_supporters

SLUG = "one-step-ahead"


def with_schedule(catalog: Catalog, **schedule: object) -> Catalog:
    pack = catalog.packs[SLUG]
    changed = pack.campaign.schedule.model_copy(update=schedule)
    campaign = pack.campaign.model_copy(update={"schedule": changed})
    return Catalog({SLUG: Pack(campaign=campaign, asks=pack.asks)}, SLUG)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fire_times(catalog: Catalog, start: str, count: int) -> list[str]:
    trigger = weekly_trigger(catalog, SLUG)
    times: list[str] = []
    moment = trigger.get_next_fire_time(None, utc(start))
    while moment is not None and len(times) < count:
        times.append(to_text(moment))
        moment = trigger.get_next_fire_time(moment, moment.astimezone(UTC) + timedelta(seconds=1))
    return times


def test_weekly_runs_keep_local_time_across_daylight_saving(catalog: Catalog) -> None:
    # Tuesday 18:30 in London: BST (UTC+1) until 25 October 2026, then GMT.
    assert fire_times(catalog, "2026-10-14 00:00", 3) == [
        "2026-10-20T17:30:00Z",
        "2026-10-27T18:30:00Z",
        "2026-11-03T18:30:00Z",
    ]
    # and into summer time on 29 March 2026
    assert fire_times(catalog, "2026-03-20 00:00", 2) == [
        "2026-03-24T18:30:00Z",
        "2026-03-31T17:30:00Z",
    ]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # 01:30 does not exist in London on 29 March 2026: that week's run still happens
        ("2026-03-28 00:00", ["2026-03-29T01:30:00Z", "2026-04-05T00:30:00Z"]),
        # 01:30 happens twice on 25 October 2026 (the trigger fires at both): one prompt
        ("2026-10-24 00:00", ["2026-10-25T00:30:00Z", "2026-11-01T01:30:00Z"]),
    ],
)
def test_runs_in_a_daylight_saving_gap_or_overlap_make_one_prompt_a_week(
    db: Database, catalog: Catalog, start: str, expected: list[str]
) -> None:
    from datetime import time as time_of_day

    sunday = with_schedule(catalog, weekday="sunday", time=time_of_day(1, 30))
    end = utc(start) + timedelta(days=10)
    for fired in fire_times(sunday, start, 5):
        if datetime.fromisoformat(fired) < end:
            ensure_weekly_prompt(db, sunday, SLUG, datetime.fromisoformat(fired))
    made = [row[0] for row in db.execute("SELECT scheduled_at FROM prompts ORDER BY id")]
    assert made == expected


def test_latest_run(catalog: Catalog) -> None:
    trigger = weekly_trigger(catalog, SLUG)
    now = utc("2026-11-05 12:00")
    assert latest_run(trigger, now, now - timedelta(days=8)) == utc("2026-11-03 18:30")
    assert latest_run(trigger, now, utc("2026-11-04 00:00")) is None


def test_next_ask_goes_in_pack_order_and_wraps(db: Database) -> None:
    order = []
    for week in range(6):
        ask = next_ask(db, SLUG)
        assert ask is not None  # the bundled pack repeats
        order.append(ask.id)
        prompts_db.create(
            db,
            campaign=SLUG,
            ask_id=ask.id,
            kind="weekly",
            state="sent",
            scheduled_at=f"2026-11-{week + 1:02d}T18:30:00Z",
            timezone="Europe/London",
            created_by="test",
        )
    assert order == [
        "ai-images",
        "pre-screening",
        "age-verification",
        "encrypted-messaging",
        "mandatory-reporting",
        "ai-images",
    ]


async def start_scheduler(
    core: Core, catalog: Catalog, now: datetime
) -> tuple[CampaignScheduler, RecordingMessenger]:
    messenger = RecordingMessenger()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=Tuning(workers=2))
    scheduler = CampaignScheduler(core.store, catalog, engine)
    await scheduler.catch_up(now)
    await scheduler.dispatch(now)
    for task in list(engine._running.values()):
        await task
    return scheduler, messenger


def weekly_states(db: Database) -> list[tuple[str, str]]:
    return db.execute(
        "SELECT scheduled_at, state FROM prompts WHERE kind = 'weekly' ORDER BY id"
    ).fetchall()


async def _subscribe_one(core: Core) -> None:
    await core.store.write(add_supporters, 1, addresses=["1"])
    await core.store.write(
        lambda db: db.execute("UPDATE campaigns SET created_at = '2026-10-01T00:00:00Z'")
    )


async def test_a_run_missed_while_down_is_sent_within_the_grace_window(
    core: Core, catalog: Catalog
) -> None:
    await _subscribe_one(core)
    # down over Tuesday 18:30 (UTC, winter), back at 22:00: within 6 hours
    _, messenger = await start_scheduler(core, catalog, utc("2026-11-03 22:00"))
    assert await core.store.read(weekly_states) == [("2026-11-03T18:30:00Z", "sent")]
    assert len(messenger.sent) == 1
    # a second start (a restart) makes and sends nothing more
    _, again = await start_scheduler(core, catalog, utc("2026-11-03 22:05"))
    assert await core.store.read(weekly_states) == [("2026-11-03T18:30:00Z", "sent")]
    assert again.sent == []


async def test_a_run_missed_beyond_the_grace_window_is_recorded_as_missed(
    core: Core, catalog: Catalog
) -> None:
    await _subscribe_one(core)
    _, messenger = await start_scheduler(core, catalog, utc("2026-11-04 09:00"))
    assert await core.store.read(weekly_states) == [("2026-11-03T18:30:00Z", "missed")]
    assert messenger.sent == []
    # the missed ask is not used up: the next run sends the same one
    coming = await core.store.read(next_ask, SLUG)
    assert coming is not None and coming.id == "ai-images"


async def test_a_new_campaign_has_no_missed_runs(core: Core, catalog: Catalog) -> None:
    await core.store.write(
        lambda db: db.execute("UPDATE campaigns SET created_at = '2026-11-04T08:00:00Z'")
    )
    await start_scheduler(core, catalog, utc("2026-11-04 09:00"))
    assert await core.store.read(weekly_states) == []


def test_settle_due_by_grace(db: Database, catalog: Catalog) -> None:
    for at in ("2026-11-03T10:00:00Z", "2026-11-03T17:00:00Z", "2026-11-09T00:00:00Z"):
        prompts_db.create(
            db,
            campaign=SLUG,
            ask_id="ai-images",
            kind="manual",
            scheduled_at=at,
            timezone="UTC",
            created_by="test",
        )
    assert settle_due(db, catalog, "2026-11-03T18:00:00Z") == [2]  # 1 is 8 hours late: missed
    assert settle_due(db, catalog, "2026-11-03T22:00:00Z") == [2]  # not started yet: still due
    db.execute("UPDATE prompts SET state = 'sent' WHERE id = 2")
    assert settle_due(db, catalog, "2026-11-09T01:00:00Z") == [3]
    assert [p.state for p in prompts_db.listed(db)] == ["scheduled", "sent", "missed"]


async def test_reminders_once_and_only_to_those_who_did_not_answer(
    core: Core, catalog: Catalog
) -> None:
    reminding = with_schedule(catalog, reminder_days=3)

    def setup(db: Database) -> int:
        add_supporters(db, 3, addresses=[str(n) for n in range(3)])
        return prompts_db.create(
            db,
            campaign=SLUG,
            ask_id="ai-images",
            kind="weekly",
            scheduled_at="2026-11-03T18:30:00Z",
            timezone="Europe/London",
            created_by="test",
        ).id

    prompt_id = await core.store.write(setup)
    messenger = RecordingMessenger()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=Tuning(workers=2))
    await engine.send_prompt(prompt_id)
    assert len(messenger.sent) == 3
    from campaigns.model import Origin

    first = messenger.sent[0][1]
    done = next(b.id for b in first.all_buttons() if b.label == "I did it")
    assert done is not None
    await core.press(Origin("telegram", "0"), done)
    await core.command(Origin("telegram", "1"), "skip")
    await core.store.write(
        lambda db: db.execute("UPDATE prompts SET started_at = '2026-11-03T18:30:00Z'")
    )
    assert (
        await core.store.write(make_reminders, reminding, utc("2026-11-05 18:00")) == []
    )  # too soon
    made = await core.store.write(make_reminders, reminding, utc("2026-11-06 19:00"))
    assert len(made) == 1
    assert await core.store.write(make_reminders, reminding, utc("2026-11-06 20:00")) == []  # once
    messenger.sent.clear()
    await engine.send_prompt(made[0])
    assert messenger.addresses() == ["2"]
    reminder = messenger.sent[0][1]
    assert reminder.card is not None and reminder.card.reminder
    assert reminder.card.prompt_id == prompt_id  # its buttons count for the ask itself
    assert "Still time this week" in reminder.text
    # a late reminder run, long after, makes nothing
    assert await core.store.write(make_reminders, reminding, utc("2026-11-20 19:00")) == []
