"""`campaignbot stats`: participation counts as tables, JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from campaigns import invites, journeys, polls, reports, subscriptions
from campaigns.reports import Table
from campaigns.wording import counted
from cli import app, database, fail, out, settings
from cli.tables import terminal_table
from db.stats import Filters, participation
from db.times import to_text

if TYPE_CHECKING:  # `stats --help` must not import pydantic: experiments needs the packs
    from campaigns import experiments


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
    from campaigns import experiments

    db = database(config)
    try:
        report = participation(db, filters)
        answered = polls.results(db, filters)
        joined = invites.referrals(db, filters)
        steps = journeys.table(db, filters)
        subscribed = subscriptions.table(db, filters)
        tested = experiments.experiments(db, filters)
    finally:
        db.close()
    if as_json:
        more = {
            "polls": polls.records(answered),
            "referrals": invites.records(joined),
            "journeys": journeys.records(steps),
            "campaigns": subscriptions.records(subscribed),
            "variants": experiments.records(tested),
        }
        text = reports.to_json(report, more)
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    if as_csv and which is Table.POLLS:
        typer.echo(polls.to_csv(answered), nl=False)
        return
    if as_csv and which is Table.REFERRALS:
        typer.echo(invites.to_csv(joined), nl=False)
        return
    if as_csv and which is Table.JOURNEYS:
        typer.echo(journeys.to_csv(steps), nl=False)
        return
    if as_csv and which is Table.CAMPAIGNS:
        typer.echo(subscriptions.to_csv(subscribed), nl=False)
        return
    if as_csv and which is Table.VARIANTS:
        typer.echo(experiments.to_csv(tested), nl=False)
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
    _print_polls(answered)
    _print_referrals(joined)
    _print_journeys(steps)
    _print_campaigns(subscribed)
    _print_variants(tested)


def _print_variants(tested: list[experiments.Experiment]) -> None:
    """Wording experiments: per ask and version, each wording's sends, done and done
    rate with its 95 % interval; under the table, what each test says."""
    columns = ["ask", "variant", "sent", "done", "done rate (95 % CI)"]
    table = terminal_table("Wording experiments", columns, numeric=("sent", "done"))
    for found in tested:
        version = "" if found.version is None else f" v{found.version}"
        for index, arm in enumerate(found.arms):
            ask = (
                f"{found.ask_title}\n{found.campaign}/{found.ask_id}{version}" if index == 0 else ""
            )
            table.add_row(ask, arm.variant, str(arm.sent), str(arm.done), _rate(arm))
    if not tested:
        table.add_row("no experiments yet", *[""] * (len(columns) - 1))
    out.print(table)
    for found in tested:  # under the table, so it fits in 80 columns
        version = "" if found.version is None else f" v{found.version}"
        ended = "" if found.running else " (no longer sent)"
        line = f"{found.campaign}/{found.ask_id}{version}{ended}: {found.verdict}."
        out.print(line, markup=False)


def _rate(arm: experiments.Arm) -> str:
    rate = arm.rate
    if rate is None:
        return "no sends"
    return f"{rate:.1%} ({arm.low:.1%} to {arm.high:.1%})"


def _print_campaigns(subscribed: subscriptions.Rows) -> None:
    """Subscribers per campaign and platform, by status (each campaign's `all` row sums
    its platforms). Counts only."""
    header, rows = subscribed
    table = terminal_table("Subscribers per campaign", header, numeric=subscriptions.STATUSES)
    for row in rows:
        table.add_row(*(str(value) for value in row))
    if not rows:
        table.add_row("no data yet", *[""] * (len(header) - 1))
    out.print(table)


def _print_journeys(steps: tuple[list[str], list[list[Any]]]) -> None:
    """Next steps, welcome messages and polls: per campaign and step, how many were
    sent, wait to go, may have arrived, or could not be sent. Counts only."""
    header, rows = steps
    names = [name.replace("_", " ") for name in header]
    counts = [name.replace("_", " ") for name in journeys.COLUMNS]
    table = terminal_table("Journeys: next steps, welcome messages, polls", names, numeric=counts)
    for row in rows:
        table.add_row(*(str(value) for value in row))
    if not rows:
        table.add_row("no data yet", *[""] * (len(header) - 1))
    out.print(table)


def _print_referrals(joined: invites.Rows) -> None:
    """People who joined through invite links, per week, campaign and platform: counts
    only, never who invited or who joined."""
    header, rows = joined
    table = terminal_table(
        "Joined through invite links", header, numeric=("joined",), whole=("week",)
    )
    for row in rows:
        table.add_row(*(str(value) for value in row))
    if not rows:
        table.add_row("no data yet", *[""] * (len(header) - 1))
    out.print(table)


def _print_polls(found: list[polls.PollCounts]) -> None:
    """The outcome polls: each poll's question (over `campaign/ask_id`) on its first
    answer's row, then each answer's count and share of those who answered."""
    columns = ["poll", "answer", "count", "share", "answered", "asked"]
    table = terminal_table("Outcome polls", columns, numeric=columns[2:])
    for poll in found:
        title = f"{poll.question or poll.ask_title}\n{poll.campaign}/{poll.ask_id}"
        for index, (label, n) in enumerate(zip(poll.labels, poll.counts, strict=True)):
            share = polls.share(n, poll.answered)
            shown = "" if share is None else f"{share}%"
            if index == 0:
                table.add_row(title, label, str(n), shown, str(poll.answered), str(poll.asked))
            else:
                table.add_row("", label, str(n), shown, "", "")
    if not found:
        table.add_row("no data yet", *[""] * (len(columns) - 1))
    out.print(table)


def _one_ask_column(header: list[str], rows: list[list[Any]]) -> tuple[list[str], list[list[Any]]]:
    """week, campaign, ask_id, ask_title, version, counts... → week, ask, counts...: the
    ask's title, and under it `campaign/ask_id v2` (the version of its text the counts
    are for), so the table fits in 80 columns."""
    counts = header[5:]
    joined = [
        [row[0], f"{row[3]}\n{row[1]}/{row[2]}{'' if row[4] is None else f' v{row[4]}'}", *row[5:]]
        for row in rows
    ]
    return ["week", "ask", *counts], joined
