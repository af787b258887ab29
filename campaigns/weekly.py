"""When a campaign's weekly run falls: its cron rule in the campaign's own time zone,
and the latest run in a period (a run missed while the bot was down).

APScheduler's `CronTrigger` does the calendar arithmetic (daylight saving
included) for the scheduler's jobs and for the pages and reports that show the
next run, so there is one reading of a pack's schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from campaigns.catalog import Catalog


def weekly_trigger(catalog: Catalog, slug: str) -> CronTrigger:
    """The campaign's weekly run as a cron rule in its own time zone."""
    schedule = catalog.packs[slug].campaign.schedule
    return CronTrigger(
        day_of_week=schedule.weekday[:3],
        hour=schedule.time.hour,
        minute=schedule.time.minute,
        timezone=schedule.zone,
    )


def latest_run(trigger: CronTrigger, now: datetime, since: datetime) -> datetime | None:
    """The latest time the trigger fired (or would have) in (since, now]."""
    latest = None
    moment = trigger.get_next_fire_time(None, since.astimezone(UTC) + timedelta(seconds=1))
    while moment is not None and moment <= now:
        latest = moment
        # step on in UTC: wall-clock arithmetic on the night clocks go back loops forever
        after = moment.astimezone(UTC) + timedelta(seconds=1)
        moment = trigger.get_next_fire_time(moment, after)
    return latest.astimezone(UTC) if latest else None
