"""The participation pages: overview, per ask and week, per source, outcome polls, and
their CSVs.

HTTP only: the filters come from the query string, the pages' numbers from the
core (`campaigns.dashboard`, each page in one read on the store's read pool), and
this module draws them as HTML, charts and CSV. The report tables are the rows
`campaignbot stats` prints, so page, CSV and CLI always agree. The participation page
also shows the wording experiments (`campaigns.experiments`), and an organiser chooses
a winner there (`POST /participation/winner`).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from campaigns import dashboard, experiments
from campaigns.catalog import Catalog
from campaigns.dashboard import AskPage, SourcePage
from campaigns.editing import EditError
from campaigns.model import PLATFORMS
from campaigns.packs import SLUG, VARIANT_NAME
from campaigns.reports import (
    NO_SOURCE,
    DataTable,
    Filters,
    Participation,
    Table,
    participation,
    report_table,
)
from db.times import utcnow
from web import charts
from web.auth import actor, organiser_only
from web.context import Dashboard, flash
from web.filters import read_filters
from web.security import MAX_FORM_FIELDS
from web.tables import chunks, csv_text


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store

    def catalog() -> Catalog:
        """The campaigns the bot runs now: read per request, as the running bot swaps in
        changes made while it runs (`campaigns.reloading`)."""
        return dash.core.ctx.catalog

    # Each page's numbers come from one read, in one snapshot of the database.
    async def load_ask_page(filters: Filters) -> AskPage:
        return await store.read(dashboard.ask_page, filters, dash.tracking)

    async def load_source_page(filters: Filters) -> SourcePage:
        return await store.read(dashboard.source_page, filters)

    def choices(sources: list[str]) -> dict[str, Any]:
        return {
            "campaigns": sorted(catalog().packs.items()),
            "platforms": PLATFORMS,
            "sources": sources,
            "no_source": NO_SOURCE,
        }

    async def overview(request: Request) -> Response:
        data = await store.read(dashboard.overview, catalog(), utcnow())
        trend_chart = await dash.charts.svg(
            charts.trend([(row[0], row[2]) for row in data.trend.rows])
        )
        return dash.render(
            request,
            "overview.html",
            {"data": data, "trend_chart": trend_chart, "tables": [data.supporters, data.trend]},
        )

    async def asks_page(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog())
        data = await load_ask_page(form.filters)
        total = data.report.total
        opened = total.opened if data.opened_tracked else None
        funnel_chart = await dash.charts.svg(
            charts.funnel(
                [("delivered", total.delivered), ("link opened", opened), ("done", total.done)]
            )
        )
        weekly_chart = await dash.charts.svg(charts.weekly(data.weeks)) if data.weeks else None
        tested = await store.read(experiments.experiments, form.filters)
        context = {
            "data": data,
            "form": form,
            "funnel_chart": funnel_chart,
            "weekly_chart": weekly_chart,
            "experiments": tested,
            **choices(data.sources),
        }
        return dash.render(request, "participation.html", context)

    async def variants_csv(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog())
        tested = await store.read(experiments.experiments, form.filters)
        return _download(experiments.to_csv(tested), "participation", "variants")

    @organiser_only
    async def choose_winner(request: Request) -> Response:
        """An organiser ends a wording experiment: the wording named is sent from now on
        (a new version of the ask, through the editor's rules: `experiments.choose_winner`)."""
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        campaign, ask_id, name = (
            str(form.get(key) or "") for key in ("campaign", "ask", "variant")
        )
        back = RedirectResponse("/participation#variants-heading", status_code=303)
        if not (re.fullmatch(SLUG, campaign) and re.fullmatch(SLUG, ask_id)) or not re.fullmatch(
            VARIANT_NAME, name
        ):
            flash(request, "That form was not one of this page's: nothing was changed.", "error")
            return back
        try:
            line = await store.write(
                experiments.choose_winner,
                campaign,
                ask_id,
                name,
                actor(request),
                require_approval=dash.settings.require_approval,
            )
        except EditError as exc:
            flash(request, exc.message, "error")
            return back
        flash(request, line + ".")
        return back

    async def sources_page(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog())
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
        data = await store.read(dashboard.overview, catalog(), utcnow())
        shown = (data.supporters, data.trend, data.referrals, data.journeys, data.subscribers)
        tables = {t.name: t for t in shown}
        return _csv(request, "overview", tables, None)

    async def asks_csv(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog())
        which = request.path_params["table"]
        if which in (Table.ASKS.value, Table.PLATFORMS.value):
            # the report alone: the same query, and nothing else, as `campaignbot stats`
            report = await store.read(participation, form.filters)
            table = report_table(report, Table(which), "")
            return _csv(request, "participation", {which: table}, report)
        data = await load_ask_page(form.filters)
        tables = {t.name: t for t in (data.funnel, data.supporters)}
        return _csv(request, "participation", tables, data.report)

    async def polls_page(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog())
        data = await store.read(dashboard.poll_page, form.filters)
        poll_charts = [
            await dash.charts.svg(charts.poll(list(zip(poll.labels, poll.counts, strict=True))))
            for poll in data.polls
        ]
        context = {
            "data": data,
            "form": form,
            "poll_charts": poll_charts,
            **choices(data.sources),
        }
        return dash.render(request, "polls.html", context)

    async def polls_csv(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog())
        data = await store.read(dashboard.poll_page, form.filters)
        return _csv(request, "polls", {data.results.name: data.results}, None)

    async def sources_csv(request: Request) -> Response:
        form = read_filters(request, dash.zone, catalog())
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
        Route("/participation/variants.csv", variants_csv, methods=["GET"]),
        Route("/participation/winner", choose_winner, methods=["POST"]),
        Route("/participation/{table}.csv", asks_csv, methods=["GET"]),
        Route("/sources", sources_page, methods=["GET"]),
        Route("/sources/{table}.csv", sources_csv, methods=["GET"]),
        Route("/polls", polls_page, methods=["GET"]),
        Route("/polls/{table}.csv", polls_csv, methods=["GET"]),
    ]


def _csv(
    request: Request, page: str, tables: dict[str, DataTable], report: Participation | None
) -> Response:
    table = tables.get(request.path_params["table"])
    if table is None:
        raise HTTPException(404)
    return _download(csv_text(table, report), page, table.name)


def _download(text: str, page: str, name: str) -> Response:
    filename = f"campaignbot-{page}-{name}-{utcnow():%Y-%m-%d}.csv"
    return StreamingResponse(
        chunks(text),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
