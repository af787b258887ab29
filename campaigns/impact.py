"""The public impact counter's numbers, and the count a weekly ask can carry.

What may be shown to the world is a campaign rule, so it is decided here: a count
under `FEWER_THAN` (10) never leaves this module. It becomes None, which the page,
the badge and the JSON show as "fewer than 10" and the weekly message leaves out, so
nothing public can print the exact count that might point at a person.

Per campaign the counter shows the supporters who acted (pressed "I did it" on one of
its asks, each person once) in the last seven days and in all, and the asks sent (the
deliveries of its asks that went out; reminders and journey steps are not asks).
"This week" is the last seven days up to the count, by when supporters acted, not
the calendar week: a calendar week would fall back to "fewer than 10" every Monday
morning, and a charity's campaigns may run in different time zones.

Campaigns shown: those the bot runs (the catalog's) once at least one of their asks
has gone out. One not yet launched is left out, title and all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from campaigns.catalog import Catalog
from db import dashboard as dashboard_db
from db import impact as impact_db
from db.impact import Tally
from db.prompts import PromptRow
from db.states import PromptKind
from db.times import from_text, to_text

FEWER_THAN = 10  # a count under this is never shown
THIS_WEEK = timedelta(days=7)
# How far back a weekly ask looks for last week's: a week, and a day for a run that
# went out late (a restart within its grace).
LAST_WEEK = timedelta(days=8)
CARRIES_COUNT = (PromptKind.WEEKLY, PromptKind.MANUAL)  # reminders and steps don't


def public(count: int) -> int | None:
    """A count as it may be shown: itself, or None for "fewer than 10"."""
    return count if count >= FEWER_THAN else None


@dataclass(frozen=True, slots=True)
class Figures:
    """Counts as they may be shown: None is "fewer than 10"."""

    acted_this_week: int | None
    acted_in_all: int | None
    asks_sent: int | None

    @classmethod
    def of(cls, tally: Tally) -> Figures:
        return cls(public(tally.acted_since), public(tally.acted_ever), public(tally.asks_sent))


@dataclass(frozen=True, slots=True)
class CampaignImpact:
    slug: str
    title: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class Impact:
    """The counter at one moment: each campaign shown, and all of them together (each
    supporter once, however many campaigns they acted on)."""

    counted_at: datetime
    week_from: datetime  # "this week" is from here to `counted_at`
    everyone: Figures
    campaigns: tuple[CampaignImpact, ...]

    def campaign(self, slug: str) -> CampaignImpact | None:
        return next((found for found in self.campaigns if found.slug == slug), None)


def impact(db: Database, catalog: Catalog, now: datetime) -> Impact:
    """The counter now, in one snapshot of the database (on the store's read pool)."""
    since = now - THIS_WEEK
    slugs = sorted(catalog.packs)
    with dashboard_db.snapshot(db):
        per_campaign, everyone = impact_db.tallies(db, slugs, to_text(since))
    shown = tuple(
        CampaignImpact(slug, catalog.packs[slug].campaign.title, Figures.of(per_campaign[slug]))
        for slug in slugs
        if per_campaign[slug].asks_sent > 0
    )
    return Impact(now, since, Figures.of(everyone), shown)


def last_week(db: Database, catalog: Catalog, prompt: PromptRow) -> int | None:
    """How many supporters did the campaign's previous ask, for the line under this
    weekly ask, when its pack asks for it (`show_count`). None, and no line, for a
    pack that doesn't, a reminder or journey step, no ask in the week before this one,
    or fewer than 10 who did it."""
    pack = catalog.packs.get(prompt.campaign)
    if pack is None or not pack.campaign.show_count or prompt.kind not in CARRIES_COUNT:
        return None
    after = to_text(from_text(prompt.scheduled_at) - LAST_WEEK)
    previous = impact_db.previous_ask(db, prompt.campaign, prompt.scheduled_at, after)
    return None if previous is None else public(impact_db.done_count(db, previous))
