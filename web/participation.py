"""The participation pages: overview, per ask and week, per source, and their CSVs.

Each page's numbers are gathered in one read on the store's read pool; the
report tables come from `db.stats.participation`, the query `campaignbot stats`
uses, so page, CSV and CLI always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlite_utils import Database
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from campaigns.catalog import Catalog
from campaigns.model import PLATFORMS
from campaigns.progress import Progress, running_progress
from campaigns.prompting import next_ask
from campaigns.reports import Table
from campaigns.weekly import weekly_trigger
from db import catalog as catalog_db
from db import dashboard as dashboard_db
from db import prompts as prompts_db
from db import supporters as supporters_db
from db.catalog import AskRow
from db.prompts import PromptRow
from db.stats import NO_SOURCE, Filters, Participation, participation
from db.times import to_text, utcnow
from web import charts
from web.context import Dashboard
from web.filters import read_filters
from web.tables import DataTable, chunks, csv_text, report_table

STATUSES = ("active", "paused", "stopped", "gone")
TREND_WEEKS = 12


# ---------------------------------------------------------------- overview


@dataclass(frozen=True)
class CampaignNow:
    slug: str
    title: str
    current: PromptRow | None
    current_ask: AskRow | None
    next_ask: AskRow | None
    next_weekly: str | None
    this_week: bool  # the current ask went out in the last seven days


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


def week_start(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def overview_data(db: Database, catalog: Catalog, now: datetime) -> Overview:
    with dashboard_db.snapshot(db):
        return _overview(db, catalog, now)


def _overview(db: Database, catalog: Catalog, now: datetime) -> Overview:
    counts = supporters_db.counts_by_status(db)
    platforms = sorted({platform for platform, _ in counts})
    rows: list[list[Any]] = []
    for platform in platforms:
        by_status = [counts.get((platform, status), 0) for status in STATUSES]
        rows.append([platform, *by_status, sum(by_status)])
    if rows:
        rows.append(["all", *[sum(row[i] for row in rows) for i in range(1, len(STATUSES) + 2)]])
    supporters = DataTable(
        "supporters",
        "Supporters per platform",
        ["platform", *STATUSES, "total"],
        rows,
        numeric=frozenset([*STATUSES, "total"]),
    )
    now_text = to_text(now)
    campaigns = []
    for slug in sorted(catalog.packs):
        current = prompts_db.current(db, slug, now_text)
        trigger = weekly_trigger(catalog, slug)
        fire = trigger.get_next_fire_time(None, now)
        try:
            coming = next_ask(db, slug)
        except ValueError:
            coming = None
        campaigns.append(
            CampaignNow(
                slug=slug,
                title=catalog.packs[slug].campaign.title,
                current=current,
                current_ask=catalog_db.get_ask(db, slug, current.ask_id) if current else None,
                next_ask=coming,
                next_weekly=to_text(fire) if fire else None,
                this_week=bool(
                    current and current.scheduled_at >= to_text(now - timedelta(days=7))
                ),
            )
        )
    recent = dashboard_db.recent_sends(db)
    upcoming = dashboard_db.upcoming(db)
    first = week_start(now) - timedelta(weeks=TREND_WEEKS - 1)
    report = participation(db, Filters(since=f"{first.isoformat()}T00:00:00Z"))
    by_week: dict[str, list[int]] = {}
    for row in report.by_ask_week:
        sums = by_week.setdefault(row.week, [0, 0])
        sums[0] += row.counts.delivered
        sums[1] += row.counts.done
    weeks = [(first + timedelta(weeks=n)).isoformat() for n in range(TREND_WEEKS)]
    trend = DataTable(
        "trend",
        f"Done per week, last {TREND_WEEKS} weeks",
        ["week", "delivered", "done"],
        [[week, *by_week.get(week, [0, 0])] for week in weeks],
        numeric=frozenset(["delivered", "done"]),
    )
    return Overview(
        supporters=supporters,
        campaigns=campaigns,
        recent=recent,
        upcoming=upcoming,
        delivered=dashboard_db.delivered(db, [p.id for p in recent]),
        trend=trend,
        report=report,
        running=running_progress(db),
    )


# ---------------------------------------------------------------- per ask and week


@dataclass(frozen=True)
class AskPage:
    report: Participation
    returning: dashboard_db.Returning
    sources: list[str]
    funnel: DataTable
    supporters: DataTable
    asks: DataTable
    platforms: DataTable
    weeks: list[tuple[str, int, int]]


def ask_page_data(db: Database, filters: Filters, tracking: bool) -> AskPage:
    with dashboard_db.snapshot(db):
        report = participation(db, filters)
        back = dashboard_db.returning(db, filters)
        sources = dashboard_db.sources(db)
    return ask_page(report, back, sources, tracking)


def ask_page(
    report: Participation, back: dashboard_db.Returning, sources: list[str], tracking: bool
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
    shares: list[tuple[str, float]]


def source_page_data(db: Database, filters: Filters) -> SourcePage:
    with dashboard_db.snapshot(db):
        report = participation(db, filters)
        subscribed = dashboard_db.supporters_by_source(db)
        sources = dashboard_db.sources(db)
    return source_page(report, subscribed, sources)


def source_page(
    report: Participation, subscribed: dict[str, dict[str, int]], sources: list[str]
) -> SourcePage:
    took_part = {row.key: row.counts.supporters for row in report.by_source}
    rows = []
    shares = []
    for source in sorted(subscribed.keys() | took_part.keys()):
        statuses = subscribed.get(source, {})
        total = sum(statuses.values())
        acted = took_part.get(source, 0)
        share = acted / total if total else 0.0
        rows.append([source, total, statuses.get("active", 0), acted, f"{100 * share:.1f}%"])
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


# ---------------------------------------------------------------- routes


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store
    catalog = dash.core.ctx.catalog

    # Each page's numbers come from one read, in one snapshot of the database.
    async def load_ask_page(filters: Filters) -> AskPage:
        return await store.read(ask_page_data, filters, dash.tracking)

    async def load_source_page(filters: Filters) -> SourcePage:
        return await store.read(source_page_data, filters)

    def choices(sources: list[str]) -> dict[str, Any]:
        return {
            "campaigns": sorted(catalog.packs.items()),
            "platforms": PLATFORMS,
            "sources": sources,
            "no_source": NO_SOURCE,
        }

    async def overview(request: Request) -> Response:
        data = await store.read(overview_data, catalog, utcnow())
        trend_chart = await dash.charts.svg(
            charts.trend([(row[0], row[2]) for row in data.trend.rows])
        )
        return dash.render(
            request,
            "overview.html",
            {"data": data, "trend_chart": trend_chart, "tables": [data.supporters, data.trend]},
        )

    async def asks_page(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog)
        data = await load_ask_page(form.filters)
        total = data.report.total
        opened = total.opened if (dash.tracking or total.opened) else None
        funnel_chart = await dash.charts.svg(
            charts.funnel(
                [("delivered", total.delivered), ("link opened", opened), ("done", total.done)]
            )
        )
        weekly_chart = await dash.charts.svg(charts.weekly(data.weeks)) if data.weeks else None
        context = {
            "data": data,
            "form": form,
            "funnel_chart": funnel_chart,
            "weekly_chart": weekly_chart,
            **choices(data.sources),
        }
        return dash.render(request, "participation.html", context)

    async def sources_page(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog)
        data = await load_source_page(form.filters)
        shares_chart = await dash.charts.svg(charts.shares(data.shares)) if data.shares else None
        context = {
            "data": data,
            "form": form,
            "shares_chart": shares_chart,
            **choices(data.sources),
        }
        return dash.render(request, "sources.html", context)

    async def overview_csv(request: Request) -> Response:
        data = await store.read(overview_data, catalog, utcnow())
        tables = {t.name: t for t in (data.supporters, data.trend)}
        return _csv(request, "overview", tables, None)

    async def asks_csv(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog)
        which = request.path_params["table"]
        if which in (Table.ASKS.value, Table.PLATFORMS.value):
            # the report alone: the same query, and nothing else, as `campaignbot stats`
            report = await store.read(participation, form.filters)
            table = report_table(report, Table(which), "")
            return _csv(request, "participation", {which: table}, report)
        data = await load_ask_page(form.filters)
        tables = {t.name: t for t in (data.funnel, data.supporters)}
        return _csv(request, "participation", tables, data.report)

    async def sources_csv(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog)
        if request.path_params["table"] == Table.SOURCES.value:
            report = await store.read(participation, form.filters)
            table = report_table(report, Table.SOURCES, "")
            return _csv(request, "sources", {table.name: table}, report)
        data = await load_source_page(form.filters)
        return _csv(request, "sources", {data.acting.name: data.acting}, data.report)

    return [
        Route("/", overview, methods=["GET"]),
        Route("/overview/{table}.csv", overview_csv, methods=["GET"]),
        Route("/participation", asks_page, methods=["GET"]),
        Route("/participation/{table}.csv", asks_csv, methods=["GET"]),
        Route("/sources", sources_page, methods=["GET"]),
        Route("/sources/{table}.csv", sources_csv, methods=["GET"]),
    ]


def _csv(
    request: Request, page: str, tables: dict[str, DataTable], report: Participation | None
) -> Response:
    table = tables.get(request.path_params["table"])
    if table is None:
        raise HTTPException(404)
    text = csv_text(table, report)
    filename = f"campaignbot-{page}-{table.name}-{utcnow():%Y-%m-%d}.csv"
    return StreamingResponse(
        chunks(text),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
