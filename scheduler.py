"""When prompts go out: one APScheduler `AsyncIOScheduler` in the bot's event loop.

Each campaign's weekly schedule is a cron job with a stable id, in the
campaign's own time zone, so it stays on local time across daylight saving.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from campaigns.catalog import Catalog

log = logging.getLogger(__name__)

WeeklyJob = Callable[[str], Awaitable[None]]


def weekly_trigger(catalog: Catalog, slug: str) -> CronTrigger:
    schedule = catalog.packs[slug].campaign.schedule
    return CronTrigger(
        day_of_week=schedule.weekday[:3],
        hour=schedule.time.hour,
        minute=schedule.time.minute,
        timezone=schedule.zone,
    )


class CampaignScheduler:
    """The weekly jobs of every campaign."""

    def __init__(self, catalog: Catalog, weekly: WeeklyJob) -> None:
        self.catalog = catalog
        self.weekly = weekly
        self.scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})

    def start(self) -> None:
        for slug in sorted(self.catalog.packs):
            self.scheduler.add_job(
                self.weekly,
                weekly_trigger(self.catalog, slug),
                args=[slug],
                id=f"weekly:{slug}",
                name=f"weekly ask of {slug}",
                replace_existing=True,
                misfire_grace_time=None,
            )
        self.scheduler.start()
        for job in self.scheduler.get_jobs():
            log.info("scheduled %s, next at %s", job.name, job.next_run_time)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
