"""When a campaign's weekly run falls: its cron rule in the campaign's own time zone,
the latest run in a period (a run missed while the bot was down), and when the
weekly runs use the campaign's last ask (`Outlook`, for `campaigns list` and the
dashboard).

APScheduler's `CronTrigger` does the calendar arithmetic (daylight saving
included) for the scheduler's jobs and for the pages and reports that show the
next run, so there is one reading of a pack's schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlite_utils import Database

from campaigns.catalog import Catalog
from campaigns.prompting import SentAsks, coming_asks, sent_asks
from db.states import AfterLast
from db.times import from_text

# Two fires of the trigger within a day are one run (the night clocks go back, a local
# time happens twice); `scheduler.ensure_weekly_prompt` makes one prompt of them.
ONE_RUN = timedelta(days=1)
# The dashboard warns about a campaign that runs out of asks this soon.
RUNS_OUT_SOON = timedelta(days=14)


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


def upcoming_runs(trigger: CronTrigger, now: datetime, count: int) -> list[datetime]:
    """The next `count` weekly runs after `now`, in the trigger's time zone."""
    runs: list[datetime] = []
    moment = trigger.get_next_fire_time(None, now)
    while moment is not None and len(runs) < count:
        if not runs or moment - runs[-1] >= ONE_RUN:
            runs.append(moment)
        after = moment.astimezone(UTC) + timedelta(seconds=1)
        moment = trigger.get_next_fire_time(moment, after)
    return runs


@dataclass(frozen=True, slots=True)
class Outlook:
    """When a campaign's weekly runs use its last ask, and what follows.

    `left` asks are still to go; `last_run` is the weekly run that sends the last of
    them. Once none is left, `ran_out` is when the last ask went out: a campaign whose
    pack says stop sends no weekly ask from then on, and one that repeats starts
    again from the first ask at its next run. Times are in the campaign's time zone.
    """

    campaign: str
    timezone: str  # the campaign's, which its dates are in
    after_last: AfterLast
    left: int
    last_run: datetime | None = None
    ran_out: datetime | None = None
    next_run: datetime | None = None

    @property
    def stopped(self) -> bool:
        """Every ask has gone out and the pack says stop: no weekly ask is sent."""
        return self.after_last is AfterLast.STOP and self.left == 0

    def summary(self) -> str:
        """One line, the same in `campaigns list` and on the dashboard."""
        if self.left:
            then = (
                "then stops (after_last = stop)"
                if self.after_last is AfterLast.STOP
                else "then starts again from the first ask"
            )
            return f"runs out of asks on {_day(self.last_run)}, {then}"
        if self.stopped:
            return f"has run out of asks on {_day(self.ran_out)}: no weekly ask is sent"
        return f"has used every ask: starts again from the first ask on {_day(self.next_run)}"

    def soon(self, now: datetime, within: timedelta = RUNS_OUT_SOON) -> bool:
        """Has run out, or runs out (or starts again) within `within` of `now`."""
        moment = self.last_run if self.left else self.next_run
        return self.stopped or moment is None or moment - now <= within


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else "an unknown day"


def outlook(catalog: Catalog, slug: str, now: datetime, sent: SentAsks | None = None) -> Outlook:
    """When the campaign runs out of asks, from its pack as loaded and what has gone
    out (`sent`; nothing when there is no database yet)."""
    pack = catalog.packs[slug]
    trigger = weekly_trigger(catalog, slug)
    sent = sent or SentAsks({})
    ids = [ask.id for ask in pack.asks]
    schedule = pack.campaign.schedule
    after_last = pack.campaign.after_last
    coming = coming_asks(ids, sent, after_last)
    runs = upcoming_runs(trigger, now, len(coming.asks) + 1)
    next_run = runs[0] if runs else None
    if coming.again or not coming.asks:
        gone = [sent.when[i] for i in ids if i in sent.when]
        ran_out = from_text(max(gone)).astimezone(schedule.zone) if gone else None
        return Outlook(slug, schedule.timezone, after_last, 0, ran_out=ran_out, next_run=next_run)
    left = len(coming.asks)
    last_run = runs[left - 1] if len(runs) >= left else None
    return Outlook(slug, schedule.timezone, after_last, left, last_run=last_run, next_run=next_run)


def campaign_outlook(db: Database, catalog: Catalog, slug: str, now: datetime) -> Outlook:
    """`outlook` with what has gone out according to the database."""
    return outlook(catalog, slug, now, sent_asks(db, slug))
