"""Personal invite links: a random code per supporter, the link (or the words) that carry
it on each platform, and counting who joined by one.

A code is random (`db.invites`), tied to the supporter's pseudonymous key, and goes
with /forget. A start argument carries it as `i_<code>` (`campaigns.deeplinks`).
How an argument reaches the bot differs by platform, and only the adapter knows it
(Telegram's bot username comes from getMe): each adapter registers its `StartLinks`
on the core once online (`Core.set_start_links`), and the core words the rest.

Supporters see how many joined through them; staff see counts per campaign, platform
and week. Nobody sees who.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from campaigns import campaign_languages, wording
from campaigns.deeplinks import INVITE_PREFIX, start_argument
from campaigns.model import Message
from campaigns.reports import defuse
from db import invites as invites_db
from db import subscriptions as subscriptions_db
from db.stats import NO_SOURCE, Filters
from db.supporters import SupporterRow

if TYPE_CHECKING:  # the packs' models (pydantic) stay out of `campaignbot stats --help`
    from campaigns.catalog import Catalog

_CODE = re.compile(rf"[{invites_db.CODE_ALPHABET}]{{{invites_db.CODE_LENGTH}}}")
ARGUMENT = "{argument}"  # where a start argument goes in a `StartLinks` template


@dataclass(frozen=True, slots=True)
class StartLinks:
    """How someone on a platform starts the bot with a start argument: a link that opens
    the bot with it (`url`, a template with `{argument}` in it, such as Telegram's
    `https://t.me/<bot>?start={argument}`), else the words to send the bot (`typed`);
    and `bot_url`, where to find the bot first (Discord's install link), if any."""

    url: str | None = None
    typed: str = "/start " + ARGUMENT
    bot_url: str | None = None


def links_on(registered: Mapping[str, StartLinks], platform: str) -> StartLinks:
    """A platform's start links; `/start <argument>` (which the core understands on every
    platform) until its adapter has registered its own."""
    return registered.get(platform) or StartLinks()


@dataclass(frozen=True, slots=True)
class Invite:
    """A supporter's invitation to a campaign, as a platform carries it."""

    code: str
    argument: str  # the start argument: `i_<code>`, or `<campaign>-i_<code>`
    url: str | None  # the link that starts the bot with it, where the platform has one
    typed: str  # the words that do the same
    bot_url: str | None
    joined: int  # how many people joined through this supporter's code, so far


def invite_for(
    db: Database, links: StartLinks, supporter: SupporterRow, campaign: str | None = None
) -> Invite:
    """The supporter's invitation (their code is made on first use, so call this in a
    write). `campaign` None: the default campaign, which a plain start joins."""
    code = invites_db.code_for(db, supporter.key)
    argument = start_argument(campaign, INVITE_PREFIX + code)
    return Invite(
        code=code,
        argument=argument,
        url=links.url.replace(ARGUMENT, argument) if links.url else None,
        typed=links.typed.replace(ARGUMENT, argument),
        bot_url=links.bot_url,
        joined=invites_db.joined_through(db, supporter.key),
    )


def invite_text(
    db: Database,
    registered: Mapping[str, StartLinks],
    supporter: SupporterRow,
    campaign_title: str,
    campaign: str | None = None,
) -> str:
    """The invitation to bring a friend, with the supporter's own link (or words) and how
    many joined through them: what /invite says, for a next step that invites too."""
    invite = invite_for(db, links_on(registered, supporter.platform), supporter, campaign)
    return wording.invite(campaign_title, invite.url, invite.typed, invite.bot_url, invite.joined)


def invite_link(
    db: Database,
    registered: Mapping[str, StartLinks],
    supporter: SupporterRow,
    campaign: str | None = None,
) -> str:
    """Just the supporter's link, or on a platform without links the words that do the
    same (`/subscribe code:i_…`), for a message that has words of its own around it."""
    invite = invite_for(db, links_on(registered, supporter.platform), supporter, campaign)
    return invite.url or invite.typed


def command(
    db: Database,
    catalog: Catalog,
    registered: Mapping[str, StartLinks],
    supporter: SupporterRow,
    args: tuple[str, ...],
) -> list[Message]:
    """/invite [campaign]: the supporter's link to the default campaign, or to one they
    joined."""
    campaign = catalog.default
    if args:
        wanted = args[0].lower()
        mine = {row.campaign for row in subscriptions_db.of_supporter(db, supporter.id)}
        # the default campaign (a plain start joins it), then the others they joined
        joined = [catalog.default, *sorted(mine & catalog.packs.keys() - {catalog.default})]
        if len(args) > 1 or wanted not in joined:
            return [Message(text=wording.invite_usage(joined))]
        campaign = wanted
    title = campaign_languages.title(catalog.packs[campaign].campaign)  # in their language
    slug = None if campaign == catalog.default else campaign
    return [Message(text=invite_text(db, registered, supporter, title, slug))]


def record_referral(db: Database, code: str | None, joined: SupporterRow, campaign: str) -> bool:
    """Count one person who joined `campaign` through `code`, if the code is real and
    not their own. Call it only for a first subscription (a returning supporter is
    not a new referral). A malformed or unknown code counts nothing; the person still
    joins."""
    if not code or not _CODE.fullmatch(code):
        return False
    inviter = invites_db.inviter_of(db, code)
    if inviter is None or inviter == joined.key:
        return False
    invites_db.record_referral(db, inviter, campaign, joined.platform)
    return True


def export(db: Database, supporter: SupporterRow) -> dict[str, Any] | None:
    """For /mydata: the supporter's code, when it was made, and how many joined through
    it (never who: we don't know). None if they never asked for one."""
    found = invites_db.invite_of(db, supporter.key)
    if found is None:
        return None
    return {
        "code": INVITE_PREFIX + found.code,
        "made_at": found.created_at,
        "people_joined_through_it": invites_db.joined_through(db, supporter.key),
    }


# ---------------------------------------------------------------- staff counts

Rows = tuple[list[str], list[list[Any]]]
REFERRAL_HEADER = ["week", "campaign", "platform", "joined"]


def referrals(db: Database, filters: Filters) -> Rows:
    """People who joined through invite links, per week, campaign and platform: the
    `referrals` report table, under the campaign, platform and day filters. Whoever
    joins through an invite brings no source, so only "no source" keeps the rows.
    Nothing in it says who invited or who joined."""
    if filters.source not in (None, NO_SOURCE):
        return REFERRAL_HEADER, []
    rows = invites_db.per_week(
        db,
        campaign=filters.campaign,
        platform=filters.platform,
        since=filters.since,
        until=filters.until,
    )
    return REFERRAL_HEADER, [[row.week, row.campaign, row.platform, row.joined] for row in rows]


def to_csv(table: Rows) -> str:
    """The referrals table as CSV, by the report tables' rules (formula-looking text
    defused)."""
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([defuse(value) for value in row] for row in rows)
    return out.getvalue()


def records(table: Rows) -> list[dict[str, Any]]:
    """The referrals table's rows as JSON objects."""
    header, rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


def totals(db: Database, week_from: str) -> Rows:
    """Per campaign and platform: who joined through invites since the day `week_from`
    (this week's Monday), and in all: the dashboard's summary."""
    rows = invites_db.totals(db, week_from)
    header = ["campaign", "platform", "this_week", "total"]
    return header, [[row.campaign, row.platform, row.recent, row.total] for row in rows]
