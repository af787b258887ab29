"""Campaigns as choices: which of the catalog's campaigns a supporter (or a group)
joined, joining and leaving them, and the buttons that do it.

A supporter's status (active, paused, stopped) holds for every campaign they
joined; a subscription only says which. A subscription to a campaign whose pack
is gone is kept but left out of everything here, as if it were not there.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from campaigns import campaign_languages, wording
from campaigns.buttons import ButtonIds, Verb
from campaigns.keys import tag
from campaigns.model import Button, Message
from campaigns.reports import Filters, defuse
from db import subscriptions as subscriptions_db
from db.states import SupporterStatus
from db.supporters import SupporterRow

if TYPE_CHECKING:  # only named here: `campaignbot stats` loads this without the packs' pydantic
    from campaigns.catalog import Catalog

TAG_CHARS = 12  # a campaign button's argument: a short fingerprint of the slug
BUTTON_ROWS = 5  # Discord shows five rows of buttons at most
# The `campaigns` report table: subscribers per campaign and platform, by status.
STATUSES = tuple(status.value for status in SupporterStatus if status is not SupporterStatus.MEMBER)
HEADER = ["campaign", "platform", *STATUSES]
ALL = "all"  # the row that sums a campaign's platforms

Rows = tuple[list[str], list[list[Any]]]


def ordered(catalog: Catalog) -> list[str]:
    """Every campaign, the default first, then by slug: the order they are shown in."""
    return [catalog.default, *sorted(slug for slug in catalog.packs if slug != catalog.default)]


def chosen(db: Database, catalog: Catalog, supporter: SupporterRow) -> list[str]:
    """The campaigns a supporter joined that still run, in the order they are shown."""
    joined = {row.campaign for row in subscriptions_db.of_supporter(db, supporter.id)}
    return [slug for slug in ordered(catalog) if slug in joined]


def button_tag(slug: str) -> str:
    """What a campaign's button carries: the slug may be longer than a button's argument."""
    return tag(f"campaign:{slug}", TAG_CHARS)


def by_tag(catalog: Catalog, value: str) -> str | None:
    """The campaign a button stands for; None if it no longer runs."""
    return next((slug for slug in catalog.packs if button_tag(slug) == value), None)


def by_name(catalog: Catalog, name: str) -> str | None:
    """The campaign a typed name means (its slug, in any case)."""
    slug = name.strip().lower()
    return slug if slug in catalog.packs else None


def join(db: Database, supporter: SupporterRow, slug: str) -> bool:
    """Join a campaign; False if they were already on it."""
    return subscriptions_db.join(db, supporter.id, slug)


def join_first(db: Database, catalog: Catalog, supporter: SupporterRow) -> str | None:
    """A supporter with no campaign (new, or all theirs are gone) joins the default one,
    which is returned; one who has campaigns keeps them (None)."""
    if chosen(db, catalog, supporter):
        return None
    join(db, supporter, catalog.default)
    return catalog.default


class Left(StrEnum):
    LEFT = "left"
    NOT_ON_IT = "not-on-it"
    LAST = "last"  # refused: a supporter keeps at least one campaign (/stop ends all)


def leave(db: Database, catalog: Catalog, supporter: SupporterRow, slug: str) -> Left:
    """Leave a campaign, unless it is the last one they are on."""
    mine = chosen(db, catalog, supporter)
    if slug not in mine:
        return Left.NOT_ON_IT
    if mine == [slug]:
        return Left.LAST
    subscriptions_db.leave(db, supporter.id, slug)
    return Left.LEFT


@dataclass(frozen=True, slots=True)
class Toggled:
    slug: str
    joined: bool  # True: joined; False: left (or refused, if `refused`)
    refused: bool = False


def toggle(db: Database, catalog: Catalog, supporter: SupporterRow, slug: str) -> Toggled:
    """A campaign's button: join it, or leave it (never the last one)."""
    if slug not in chosen(db, catalog, supporter):
        join(db, supporter, slug)
        return Toggled(slug, joined=True)
    left = leave(db, catalog, supporter, slug)
    return Toggled(slug, joined=False, refused=left is Left.LAST)


def title(catalog: Catalog, slug: str) -> str:
    """The campaign's name in the language being spoken (its pack's, without one)."""
    return campaign_languages.title(catalog.packs[slug].campaign)


def campaigns_message(
    db: Database, catalog: Catalog, ids: ButtonIds, supporter: SupporterRow
) -> Message:
    """Every campaign with a line about it, and a button each to join or leave it."""
    slugs = ordered(catalog)
    mine = chosen(db, catalog, supporter)
    lines = [
        wording.campaign_line(
            title(catalog, slug), campaign_languages.description(catalog.packs[slug].campaign)
        )
        for slug in slugs
    ]
    now = wording.campaigns_now([title(catalog, slug) for slug in mine])
    text = "\n\n".join([wording.CAMPAIGNS_INTRO, "\n".join(lines), now])
    buttons = [
        Button(
            ("✓ " if slug in mine else "○ ") + title(catalog, slug),
            id=ids.make(Verb.CAMPAIGN, button_tag(slug)),
        )
        for slug in slugs
    ]
    per_row = math.ceil(len(buttons) / BUTTON_ROWS)  # one a row, until they need sharing
    rows = tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
    return Message(text=text, buttons=rows)


def table(db: Database, filters: Filters | None = None) -> Rows:
    """Subscribers per campaign: a row per platform, then the campaign's `all` row (also
    for a campaign nobody joined), each counting supporters by status. The campaign,
    platform and source filters apply; the days don't (these are who is on the list
    now). Counts only: nothing says who."""
    filters = filters or Filters()
    found: dict[str, dict[str, dict[str, int]]] = {}
    for row in subscriptions_db.counts(
        db, campaign=filters.campaign, platform=filters.platform, source=filters.source
    ):
        found.setdefault(row.campaign, {}).setdefault(row.platform, {})[row.status] = row.n
    rows: list[list[Any]] = []
    for slug in subscriptions_db.campaigns(db, filters.campaign):
        platforms = found.get(slug, {})
        for platform in sorted(platforms):
            rows.append([slug, platform, *(platforms[platform].get(s, 0) for s in STATUSES)])
        sums = [sum(by.get(s, 0) for by in platforms.values()) for s in STATUSES]
        rows.append([slug, ALL, *sums])
    return HEADER, rows


def to_csv(rows: Rows) -> str:
    """The campaigns table as CSV, by the report tables' rules (formula-looking text
    defused)."""
    header, body = rows
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([defuse(value) for value in row] for row in body)
    return out.getvalue()


def records(rows: Rows) -> list[dict[str, Any]]:
    """The campaigns table's rows as JSON objects."""
    header, body = rows
    return [dict(zip(header, row, strict=True)) for row in body]
