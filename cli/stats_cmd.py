"""`campaignbot stats`: participation counts as tables, JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from campaigns import reports
from campaigns.reports import Table
from campaigns.wording import counted
from cli import app, database, fail, out, settings
from cli.tables import terminal_table
from db.stats import Filters, participation
from db.times import to_text


def _day(value: str | None, zone: str, option: str) -> str | None:
    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        fail(f"{option} takes a date such as 2026-11-30, not {value!r}")
    return to_text(day)


@app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Every table as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="One table as CSV (see --table).")] = False,
    which: Annotated[Table, typer.Option("--table", help="The table --csv writes.")] = Table.ASKS,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    source: Annotated[str | None, typer.Option(help="Only supporters from this source.")] = None,
    since: Annotated[str | None, typer.Option(help="Prompts from this day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Prompts before this day (YYYY-MM-DD).")] = None,
) -> None:
    """Participation counts: per ask and week, per platform, per source."""
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    config = settings()
    filters = Filters(
        campaign=campaign,
        platform=platform,
        source=source,
        since=_day(since, config.timezone, "--since"),
        until=_day(until, config.timezone, "--until"),
    )
    db = database(config)
    try:
        report = participation(db, filters)
    finally:
        db.close()
    if as_json:
        out.print(reports.to_json(report), markup=False, highlight=False, soft_wrap=True)
        return
    if as_csv:
        typer.echo(reports.to_csv(report, which), nl=False)
        return
    titles = {
        Table.ASKS: "Per ask and week",
        Table.PLATFORMS: "Per platform",
        Table.SOURCES: "Per source",
    }
    for kind, title in titles.items():
        header, rows = reports.table(report, kind)
        if kind is Table.ASKS:  # one column for the ask: its title over campaign/ask id
            header, rows = _one_ask_column(header, rows)
        names = [name.replace("_", " ") for name in header]
        table = terminal_table(title, names, numeric=reports.COUNT_COLUMNS, whole=("week",))
        for row in rows:
            table.add_row(*(str(value) for value in row))
        if not rows:
            table.add_row(*(["no data yet"] + [""] * (len(header) - 1)))
        out.print(table)
    total = report.total
    out.print(
        f"Total: {total.delivered} delivered, {total.done} done, {total.skipped} skipped, "
        f"{counted(total.supporters, 'supporter')} took part.",
        markup=False,
    )


def _one_ask_column(header: list[str], rows: list[list[Any]]) -> tuple[list[str], list[list[Any]]]:
    """week, campaign, ask_id, ask_title, counts... → week, ask, counts...: the ask's
    title, and under it `campaign/ask_id`, so the table fits in 80 columns."""
    counts = header[4:]
    joined = [[row[0], f"{row[3]}\n{row[1]}/{row[2]}", *row[4:]] for row in rows]
    return ["week", "ask", *counts], joined
