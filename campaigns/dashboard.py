"""What the dashboard's participation pages show, as plain data: the overview, the
page per ask and week, the page per source and the outcome polls.

The numbers and what they mean (the funnel's stages and shares, who counts as
returning, which week is "this week", when the next weekly run falls) are
campaign rules, so they live in the core; the dashboard only reads the filters,
calls these through the store's read pool and draws the result. Each page is
gathered in one snapshot of the database, so its numbers add up even while
supporters act. Its report tables come from `campaigns.reports`, the same rows
`campaignbot stats` prints.

The row types the dashboard shows (an ask, a prompt, an audit entry) are named
here too, so `web/` reads nothing from `db/` but its own accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from campaigns import invites, journeys, polls, subscriptions
from campaigns.catalog import Catalog
from campaigns.progress import Progress, running_progress
from campaigns.prompting import next_ask
from campaigns.reports import DataTable, Filters, Participation, Table, report_table
from campaigns.weekly import Outlook, campaign_outlook, weekly_trigger
from db import catalog as catalog_db
from db import dashboard as dashboard_db
from db import prompts as prompts_db
from db import supporters as supporters_db
from db.audit import AuditRow as AuditRow
from db.catalog import AskRow as AskRow
from db.dashboard import Returning as Returning
from db.prompts import PromptRow as PromptRow
from db.states import SupporterStatus
from db.stats import participation
from db.times import to_text

# The supporters table's columns: a group's members, known only from a press, are left out.
STATUSES: tuple[str, ...] = tuple(
    status.value for status in SupporterStatus if status is not SupporterStatus.MEMBER
)
TREND_WEEKS = 12
THIS_WEEK = timedelta(days=7)  # an ask sent this recently is "this week's"


# ---------------------------------------------------------------- overview


@dataclass(frozen=True)
class CampaignNow:
    """A campaign's latest ask, the one after it, when the weekly run next falls, and
    when the weekly runs use the campaign's last ask (`runs_out_soon`: warn)."""

    slug: str
    title: str
    current: PromptRow | None
    current_ask: AskRow | None
    next_ask: AskRow | None
    next_weekly: str | None
    this_week: bool  # the current ask went out in the last seven days
    outlook: Outlook
    runs_out_soon: bool  # has run out, or runs out (or starts again) within two weeks


@dataclass(frozen=True)
class Overview:
    supporters: DataTable
    campaigns: list[CampaignNow]
    recent: list[PromptRow]
    upcoming: list[PromptRow]
    delivered: dict[int, int]
    trend: DataTable
    report: Participation
    running: list[Progress]
    referrals: DataTable  # joined through invite links, per campaign and platform
    journeys: DataTable  # next steps, welcome messages and polls: sent, waiting, not sent
    subscribers: DataTable  # per campaign and platform, by status


def week_start(moment: datetime) -> date:
    """The Monday (UTC) of a moment's week, as the report counts weeks."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def overview(db: Database, catalog: Catalog, now: datetime) -> Overview:
    """Supporters, each campaign's latest and next ask, recent and coming sends,
    the last weeks' trend and the sends under way."""
    with dashboard_db.snapshot(db):
        return _overview(db, catalog, now)


def _overview(db: Database, catalog: Catalog, now: datetime) -> Overview:
    recent = dashboard_db.recent_sends(db)
    first = week_start(now) - timedelta(weeks=TREND_WEEKS - 1)
    report = participation(db, Filters(since=f"{first.isoformat()}T00:00:00Z"))
    return Overview(
        supporters=_supporters_table(db),
        campaigns=[_campaign_now(db, catalog, slug, now) for slug in sorted(catalog.packs)],
        recent=recent,
        upcoming=dashboard_db.upcoming(db),
        delivered=dashboard_db.delivered(db, [p.id for p in recent]),
        trend=_trend_table(report, first),
        report=report,
        running=running_progress(db),
        referrals=_referrals_table(db, now),
        journeys=_journeys_table(db),
        subscribers=_subscribers_table(db),
    )


def _subscribers_table(db: Database) -> DataTable:
    """Who is on each campaign's list, by platform and status: the rows `campaignbot
    stats --csv --table campaigns` writes. Counts only."""
    header, rows = subscriptions.table(db)
    return DataTable(
        Table.CAMPAIGNS.value,
        "Subscribers per campaign",
        header,
        rows,
        numeric=frozenset(subscriptions.STATUSES),
        notes={"platform": "each campaign's “all” row counts its platforms together"},
    )


def _journeys_table(db: Database) -> DataTable:
    """Each journey step (a next step, a welcome message, a poll) and its deliveries:
    the rows `campaignbot stats --csv --table journeys` writes. Counts only."""
    header, rows = journeys.table(db)
    return DataTable(
        Table.JOURNEYS.value,
        "Next steps, welcome messages and polls",
        header,
        rows,
        numeric=frozenset(journeys.COLUMNS),
        notes=journeys.NOTES,
    )


def _referrals_table(db: Database, now: datetime) -> DataTable:
    """Who joined through supporters' invite links, per campaign and platform: this week
    and in all. Counts only: nothing says who invited or who joined."""
    header, rows = invites.totals(db, week_start(now).isoformat())
    return DataTable(
        Table.REFERRALS.value,
        "Joined through invite links",
        header,
        rows,
        numeric=frozenset(["this_week", "total"]),
        notes={"this_week": "since Monday (UTC)"},
    )


def _supporters_table(db: Database) -> DataTable:
    counts = supporters_db.counts_by_status(db)
    platforms = sorted({platform for platform, _ in counts})
    rows: list[list[Any]] = []
    for platform in platforms:
        by_status = [counts.get((platform, status), 0) for status in STATUSES]
        rows.append([platform, *by_status, sum(by_status)])
    if rows:
        rows.append(["all", *[sum(row[i] for row in rows) for i in range(1, len(STATUSES) + 2)]])
    return DataTable(
        "supporters",
        "Supporters per platform",
        ["platform", *STATUSES, "total"],
        rows,
        numeric=frozenset([*STATUSES, "total"]),
    )


def _campaign_now(db: Database, catalog: Catalog, slug: str, now: datetime) -> CampaignNow:
    current = prompts_db.current(db, slug, to_text(now))
    fire = weekly_trigger(catalog, slug).get_next_fire_time(None, now)
    try:
        coming = next_ask(db, slug)  # None: every ask has gone out, and the pack says stop
    except ValueError:  # a campaign with no asks has no next one
        coming = None
    outlook = campaign_outlook(db, catalog, slug, now)
    return CampaignNow(
        slug=slug,
        title=catalog.packs[slug].campaign.title,
        current=current,
        current_ask=catalog_db.get_ask(db, slug, current.ask_id) if current else None,
        next_ask=coming,
        next_weekly=to_text(fire) if fire else None,
        this_week=bool(current and current.scheduled_at >= to_text(now - THIS_WEEK)),
        outlook=outlook,
        runs_out_soon=outlook.soon(now),
    )


def _trend_table(report: Participation, first: date) -> DataTable:
    by_week: dict[str, list[int]] = {}
    for row in report.by_ask_week:
        sums = by_week.setdefault(row.week, [0, 0])
        sums[0] += row.counts.delivered
        sums[1] += row.counts.done
    weeks = [(first + timedelta(weeks=n)).isoformat() for n in range(TREND_WEEKS)]
    return DataTable(
        "trend",
        f"Done per week, last {TREND_WEEKS} weeks",
        ["week", "delivered", "done"],
        [[week, *by_week.get(week, [0, 0])] for week in weeks],
        numeric=frozenset(["delivered", "done"]),
    )


# ---------------------------------------------------------------- per ask and week


@dataclass(frozen=True)
class AskPage:
    report: Participation
    returning: Returning
    sources: list[str]
    funnel: DataTable
    supporters: DataTable
    asks: DataTable
    platforms: DataTable
    weeks: list[tuple[str, int, int]]  # week, done, skipped
    opened_tracked: bool  # are link opens counted (tracking on, or opens seen before)?


def ask_page(db: Database, filters: Filters, tracking: bool) -> AskPage:
    """The funnel, unique and returning supporters, and the counts per ask, week and
    platform, for the prompts the filters cover. `tracking`: are links tracked now?"""
    with dashboard_db.snapshot(db):
        report = participation(db, filters)
        back = dashboard_db.returning(db, filters)
        sources = dashboard_db.sources(db)
    return _ask_page(report, back, sources, tracking)


def _ask_page(
    report: Participation, back: Returning, sources: list[str], tracking: bool
) -> AskPage:
    total = report.total
    opened_tracked = tracking or total.opened > 0
    funnel = DataTable(
        "funnel",
        "The funnel: delivered → link opened → done",
        ["stage", "count", "share_of_delivered"],
        [
            ["delivered", total.delivered, _share(total.delivered, total.delivered)],
            [
                "link opened",
                total.opened if opened_tracked else "not tracked",
                _share(total.opened, total.delivered) if opened_tracked else "",
            ],
            ["done", total.done, _share(total.done, total.delivered)],
            ["skipped", total.skipped, _share(total.skipped, total.delivered)],
        ],
        numeric=frozenset(["count", "share_of_delivered"]),
    )
    supporters = DataTable(
        "supporters",
        "Unique and returning supporters",
        ["measure", "supporters"],
        [
            ["unique: did at least one ask", back.unique],
            ["returning: did asks of two or more prompts", back.returning],
            ["once only", back.unique - back.returning],
        ],
        numeric=frozenset(["supporters"]),
    )
    by_week: dict[str, list[int]] = {}
    for row in report.by_ask_week:
        sums = by_week.setdefault(row.week, [0, 0])
        sums[0] += row.counts.done
        sums[1] += row.counts.skipped
    return AskPage(
        report=report,
        returning=back,
        sources=sources,
        funnel=funnel,
        supporters=supporters,
        asks=report_table(report, Table.ASKS, "Per ask and week"),
        platforms=report_table(report, Table.PLATFORMS, "Per platform"),
        weeks=[(week, done, skipped) for week, (done, skipped) in sorted(by_week.items())],
        opened_tracked=opened_tracked,
    )


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else ""


# ---------------------------------------------------------------- per source


@dataclass(frozen=True)
class SourcePage:
    report: Participation
    sources: list[str]
    participation: DataTable
    acting: DataTable
    shares: list[tuple[str, float]]  # source, share of its supporters who took part


def source_page(db: Database, filters: Filters) -> SourcePage:
    """Which sources bring supporters who act, and the counts per source."""
    with dashboard_db.snapshot(db):
        report = participation(db, filters)
        subscribed = dashboard_db.supporters_by_source(db)
        sources = dashboard_db.sources(db)
    return _source_page(report, subscribed, sources)


def _source_page(
    report: Participation, subscribed: dict[str, dict[str, int]], sources: list[str]
) -> SourcePage:
    # subscribed: source → status → how many supporters
    took_part = {row.key: row.counts.supporters for row in report.by_source}
    rows = []
    shares = []
    for source in sorted(subscribed.keys() | took_part.keys()):
        statuses = subscribed.get(source, {})
        total = sum(statuses.values())
        acted = took_part.get(source, 0)
        share = acted / total if total else 0.0
        rows.append(
            [source, total, statuses.get(SupporterStatus.ACTIVE, 0), acted, f"{100 * share:.1f}%"]
        )
        if total:
            shares.append((source, round(min(share, 1.0), 4)))
    acting = DataTable(
        "acting",
        "Which sources bring supporters who act",
        ["source", "subscribed", "active_now", "took_part", "share_who_took_part"],
        rows,
        numeric=frozenset(["subscribed", "active_now", "took_part", "share_who_took_part"]),
        notes={
            "subscribed": "everyone who joined from that source and is still on our list, "
            "whatever their status (erased supporters are gone from here, though their "
            "past actions still count)",
            "took_part": "distinct supporters who did at least one ask in the chosen period",
        },
    )
    return SourcePage(
        report=report,
        sources=sources,
        participation=report_table(report, Table.SOURCES, "Participation per source"),
        acting=acting,
        shares=shares,
    )


# ---------------------------------------------------------------- outcome polls


@dataclass(frozen=True)
class PollPage:
    polls: list[polls.PollCounts]  # each poll: its question, answers, counts, and who was asked
    results: DataTable  # the rows `campaignbot stats --csv --table polls` writes
    sources: list[str]


def poll_page(db: Database, filters: Filters) -> PollPage:
    """What supporters answered to each ask's outcome poll, as counts and shares, beside
    how many were sent the poll (so the response rate shows)."""
    with dashboard_db.snapshot(db):
        found = polls.results(db, filters)
        sources = dashboard_db.sources(db)
    header, rows = polls.table(found)
    results = DataTable(
        Table.POLLS.value,
        "Outcome polls: answers per ask",
        header,
        rows,
        numeric=polls.NUMERIC,
        notes={
            "share_percent": "of those who answered that poll",
            "answered": "supporters who answered it (each once, with their latest answer)",
            "asked": "supporters it was sent to",
        },
    )
    return PollPage(found, results, sources)
