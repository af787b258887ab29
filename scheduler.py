"""When prompts go out: one APScheduler `AsyncIOScheduler` in the bot's event loop.

- Each campaign's weekly run is a cron job (stable id `weekly:<slug>`) in the
  campaign's own time zone, so it stays on local time across daylight saving.
  A run makes a weekly prompt for the next ask; the database makes sure a run
  never makes two. A campaign whose pack says stop after its last ask makes none
  once every ask has gone out (`campaigns.prompting.weekly_ask`).
- A loop picks up due prompts every half second, including those an organiser
  queued or scheduled from the CLI or the dashboard while the bot runs. A prompt is sent
  if it is still within its campaign's grace window, and recorded as missed if not.
- At start-up the latest weekly run is checked: one missed while the process
  was down is made now (then sent or recorded as missed, by the same rule), and
  any send a crash interrupted carries on.
- Another interval job makes reminders, where a pack asks for them.
- A job every minute adds the welcome messages and outcome polls whose day has
  come, and starts every journey step with deliveries waiting
  (`campaigns.journeys`; a next step is started by the core at once).
- A daily job erases or anonymises records older than the retention period.
- When a backup folder is set, a daily job backs the database up (`db/backup.py`),
  a day after the latest backup there, or shortly after start if that is past.
- Given a `CatalogFollower`, a job every two seconds picks up campaigns changed in
  the database (`campaigns.reloading`: one small read when nothing changed) and moves
  the weekly jobs to match: a new campaign gets one, a changed schedule moves it, a
  retired campaign loses it (one log line each).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlite_utils import Database

from campaigns import journeys, retention
from campaigns.catalog import Catalog
from campaigns.delivery import DeliveryEngine, grace_passed
from campaigns.prompting import weekly_ask
from campaigns.reloading import FOLLOW_SECONDS, CatalogFollower
from campaigns.weekly import latest_run, weekly_trigger
from db import catalog as catalog_db
from db import prompts as prompts_db
from db.backup import BackupError, latest_backup, make_backup
from db.states import PromptKind, PromptState
from db.store import Store
from db.times import from_text, now_text, to_text, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

# The first backup after start waits this long: off the start's critical path, and
# after the retention run's minute (whose checkpoint would wait for the copy).
BACKUP_AFTER_START = timedelta(minutes=2)


def ensure_weekly_prompt(db: Database, catalog: Catalog, slug: str, run: datetime) -> int | None:
    """The weekly prompt for one run, made once (a unique index sees to that); None,
    and nothing made, when every ask has gone out and the pack says stop (the log
    says so, once per run checked).

    Two runs within a day are one run: on the night clocks go back, a local time
    such as 01:30 happens twice, and the cron trigger fires at both.
    """
    text = to_text(run)
    existing = db.execute(
        """
        SELECT id FROM prompts WHERE campaign = ? AND kind = 'weekly'
          AND scheduled_at > ? AND scheduled_at < ?
        ORDER BY scheduled_at LIMIT 1
        """,
        [slug, to_text(run - timedelta(days=1)), to_text(run + timedelta(days=1))],
    ).fetchone()
    if existing:
        return int(existing[0])
    ask = weekly_ask(db, slug)
    if ask is None:
        return None
    prompt = prompts_db.ensure_weekly(
        db,
        campaign=slug,
        ask_id=ask.id,
        scheduled_at=text,
        timezone=catalog.packs[slug].campaign.schedule.timezone,
    )
    return prompt.id


def make_reminders(db: Database, catalog: Catalog, now: datetime) -> list[int]:
    """Reminder prompts for sent asks whose reminder day has come (at most one each)."""
    made: list[int] = []
    for slug, pack in catalog.packs.items():
        days = pack.campaign.schedule.reminder_days
        if not days:
            continue
        before = to_text(now - timedelta(days=days))
        after = to_text(now - timedelta(days=days + 2))  # never remind about old asks
        for parent in prompts_db.needing_reminder(db, slug, after, before):
            reminder = prompts_db.create(
                db,
                campaign=slug,
                ask_id=parent.ask_id,
                kind=PromptKind.REMINDER,
                parent_id=parent.id,
                scheduled_at=to_text(now),
                timezone=parent.timezone,
                platform=parent.platform,
                source=parent.source,
                created_by="schedule",
            )
            made.append(reminder.id)
    return made


def settle_due(db: Database, catalog: Catalog, now: str) -> list[int]:
    """Due prompts to send now; those past their grace window are recorded as missed."""
    to_send: list[int] = []
    for prompt in prompts_db.due(db, now):
        pack = catalog.packs.get(prompt.campaign)
        grace = pack.campaign.schedule.grace_hours if pack else 0.0
        if grace_passed(prompt, grace, now):
            prompts_db.set_state(db, prompt.id, PromptState.MISSED)
            log.warning(
                "prompt %d was due at %s: past its grace window, missed",
                prompt.id,
                prompt.scheduled_at,
            )
        else:
            to_send.append(prompt.id)
    return to_send


def weekly_job_id(slug: str) -> str:
    """A campaign's weekly job, by an id that stays: rescheduling replaces it."""
    return f"weekly:{slug}"


def weekly_when(catalog: Catalog, slug: str) -> str:
    """When a campaign's weekly run falls, as the log says it: 'tuesdays 18:30 Europe/London'."""
    schedule = catalog.packs[slug].campaign.schedule
    return f"{schedule.weekday}s {schedule.time:%H:%M} {schedule.timezone}"


def first_backup_at(latest: datetime | None, now: datetime) -> datetime:
    """A day after the latest backup; shortly after start if that is past, or if none."""
    soon = now + BACKUP_AFTER_START
    return soon if latest is None else max(soon, latest + timedelta(days=1))


async def in_daemon_thread(fn: Callable[[], T], name: str) -> T:
    """`fn()` in a daemon thread of its own. Not the loop's executor: `asyncio.run`
    waits for that at exit, so a long backup would hold up a SIGTERM; a daemon thread
    is dropped at exit, leaving only a temporary file that the next rotation removes."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def work() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the awaiting task
                future.set_exception(exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await asyncio.wrap_future(future)


class CampaignScheduler:
    """The weekly runs, the pick-up of due prompts, reminders, journey steps, retention,
    backups and, given a `follower`, campaign changes made while the bot runs."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        engine: DeliveryEngine,
        *,
        poll_seconds: float = 0.5,
        reminder_minutes: float = 10.0,
        journey_seconds: float = 60.0,
        retention_months: int = 24,
        backup_dir: Path | None = None,
        backup_keep: int = 14,
        follower: CatalogFollower | None = None,
        follow_seconds: float = FOLLOW_SECONDS,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.follower = follower
        self.follow_seconds = follow_seconds
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.reminder_minutes = reminder_minutes
        self.journey_seconds = journey_seconds
        self.retention_months = retention_months
        self.backup_dir = backup_dir
        self.backup_keep = backup_keep
        self._poller: asyncio.Task[None] | None = None
        self.scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})

    async def start(self) -> None:
        """Register the jobs, catch up on a run missed while down, resume sends."""
        for slug in sorted(self.catalog.packs):
            self._weekly_job(slug)
        if self.follower is not None:
            self.scheduler.add_job(
                self.follow_catalog,
                IntervalTrigger(seconds=self.follow_seconds),
                id="catalog",
                name="pick up campaign changes",
                replace_existing=True,
            )
        self.scheduler.add_job(
            self.remind,
            IntervalTrigger(minutes=self.reminder_minutes),
            id="reminders",
            name="make reminders",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.reach_journeys,
            IntervalTrigger(seconds=self.journey_seconds),
            id="journeys",
            name="welcome messages, polls and next steps",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.retain,
            IntervalTrigger(hours=24),
            id="retention",
            name="erase or anonymise old records",
            replace_existing=True,
            # first a minute after start-up, off the start's critical path
            next_run_time=utcnow() + timedelta(minutes=1),
        )
        if self.backup_dir is not None:
            latest = latest_backup(self.backup_dir)
            self.scheduler.add_job(
                self.backup,
                IntervalTrigger(days=1),
                id="backup",
                name=f"back up the database to {self.backup_dir}",
                replace_existing=True,
                next_run_time=first_backup_at(latest[1] if latest else None, utcnow()),
                misfire_grace_time=None,  # late (a busy loop, a suspended host) beats never
            )
        await self.reach_journeys()  # first: a welcome series new in the packs starts now
        await self.catch_up()
        await self.engine.resume()
        self.scheduler.start()
        for job in self.scheduler.get_jobs():
            if job.id.startswith("weekly:") or job.id == "backup":
                log.info("%s: next at %s", job.name, job.next_run_time)
        await self.remind()
        await self.dispatch()
        self._poller = asyncio.create_task(self._poll(), name="pick up due prompts")

    def _weekly_job(self, slug: str) -> None:
        """Add the campaign's weekly job, or replace it (the same id) with its schedule now."""
        self.scheduler.add_job(
            self.weekly,
            weekly_trigger(self.catalog, slug),
            args=[slug],
            id=weekly_job_id(slug),
            name=f"weekly ask of {slug}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def follow_catalog(self) -> bool:
        """Pick up campaign changes made in the database (the follower swaps the core's
        catalog), then move the weekly jobs to match. True if the catalog changed."""
        if self.follower is None:
            return False
        try:
            catalog = await self.follower.check()
        except Exception as exc:  # the store is busy or closing: the next look tries again
            log.warning("campaigns: can't look for changes now (%s)", type(exc).__name__)
            return False
        if catalog.version <= self.catalog.version:
            return False
        self.follow(catalog)
        return True

    def follow(self, catalog: Catalog) -> None:
        """Run `catalog` from now on: a weekly job for each new campaign, a changed
        schedule moved (the job keeps its id), a retired campaign's job removed. One
        log line for each; at once, on the event loop, so no job sees half of it."""
        before, self.catalog = self.catalog, catalog
        for slug in sorted(before.packs.keys() | catalog.packs.keys()):
            if slug not in catalog.packs:
                if self.scheduler.get_job(weekly_job_id(slug)) is not None:
                    self.scheduler.remove_job(weekly_job_id(slug))
                log.info("campaign %s: retired, so no weekly ask", slug)
            elif slug not in before.packs or weekly_when(before, slug) != weekly_when(
                catalog, slug
            ):
                self._weekly_job(slug)
                log.info("campaign %s: weekly ask now %s", slug, weekly_when(catalog, slug))

    async def catch_up(self, now: datetime | None = None) -> None:
        """Make the latest weekly run of each campaign if it never happened."""
        now = now or utcnow()
        for slug in sorted(self.catalog.packs):
            created = await self.store.read(catalog_db.campaign_created_at, slug)
            since = max(now - timedelta(days=8), from_text(created) if created else now)
            run = latest_run(weekly_trigger(self.catalog, slug), now, since)
            if run is not None:
                await self.store.write(ensure_weekly_prompt, self.catalog, slug, run)

    async def weekly(self, slug: str) -> None:
        """A campaign's weekly run: make its prompt, then send it."""
        catalog = self.catalog
        if slug not in catalog.packs:  # retired just as its job fired
            return
        run = latest_run(weekly_trigger(catalog, slug), utcnow(), utcnow() - timedelta(days=8))
        if run is not None:
            await self.store.write(ensure_weekly_prompt, catalog, slug, run)
        await self.dispatch()

    async def dispatch(self, now: datetime | None = None) -> None:
        """Send whatever is due (the engine never runs one prompt twice)."""
        moment = to_text(now) if now else now_text()
        # a read first: most polls find nothing, and leave the writer alone
        if not await self.store.read(prompts_db.due, moment):
            return
        for prompt_id in await self.store.write(settle_due, self.catalog, moment):
            self.engine.start(prompt_id)

    async def _poll(self) -> None:
        """Pick up due prompts every `poll_seconds`, such as a `send --now` from the CLI.

        A loop of its own rather than an APScheduler job: it runs often, and a slow
        round should delay the next, not be reported as a skipped run."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.dispatch()
            except Exception:
                log.exception("picking up due prompts failed; trying again")

    async def remind(self) -> None:
        made = await self.store.write(make_reminders, self.catalog, utcnow())
        if made:
            log.info("made %d reminder prompt(s)", len(made))
            await self.dispatch()

    async def reach_journeys(self, now: datetime | None = None) -> int:
        """Add the welcome messages and polls whose day has come (for supporters on the
        platforms this engine sends to), then start every journey step with deliveries
        waiting; how many were added."""
        added = await self.store.write(
            journeys.reach_due_steps,
            sorted(self.catalog.packs),
            sorted(self.engine.messengers),
            now or utcnow(),
        )
        if added:
            log.info("%d welcome message(s) and poll(s) to send", added)
        await journeys.start_waiting(self.store, self.engine)
        return added

    async def retain(self) -> None:
        """The daily retention run."""
        await retention.purge(self.store, self.retention_months)

    async def backup(self) -> None:
        """The daily backup, off the event loop (`db/backup.py` says what it holds on the
        live database, and for how long). A failure, such as a full disk or a folder
        that can't be written, is one error line; the next day's run tries again."""
        if self.backup_dir is None:
            return
        job = functools.partial(
            make_backup, self.store.path, self.backup_dir, keep=self.backup_keep
        )
        try:
            made = await in_daemon_thread(job, name="db-backup")
        except BackupError as exc:
            log.error("backup failed: %s (tried again in a day)", exc)
            return
        log.info(
            "backed up the database to %s (%.1f MB, read for %.1f s, checked in %.1f s)%s",
            made.path,
            made.size / 1e6,
            made.copy_seconds,
            made.check_seconds,
            f"; removed {len(made.removed)} older file(s)" if made.removed else "",
        )

    def shutdown(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
