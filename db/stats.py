"""Participation counts: one set of queries behind the CLI, the chat command and the dashboard.

"Delivered" counts deliveries that went out (state 'sent'); reminders are not
counted again. Actions count for the prompt they answer. "Supporters" counts the
distinct supporters who said they did it. Weeks start on Monday (UTC) and are
the week the prompt went out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

NO_SOURCE = "(none)"


@dataclass(frozen=True, slots=True)
class Filters:
    campaign: str | None = None
    platform: str | None = None
    source: str | None = None
    since: str | None = None  # UTC text, inclusive, on the prompt's time
    until: str | None = None  # UTC text, exclusive


@dataclass(frozen=True, slots=True)
class Counts:
    delivered: int = 0
    opened: int = 0
    done: int = 0
    skipped: int = 0
    supporters: int = 0


@dataclass(frozen=True, slots=True)
class AskWeekRow:
    week: str
    campaign: str
    ask_id: str
    ask_title: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class GroupRow:
    key: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class Participation:
    by_ask_week: list[AskWeekRow]
    by_platform: list[GroupRow]
    by_source: list[GroupRow]
    total: Counts


def _prompt_filter(filters: Filters) -> tuple[str, list[Any]]:
    clauses = ["p.kind != 'reminder'", "p.state != 'cancelled'"]
    params: list[Any] = []
    if filters.campaign:
        clauses.append("p.campaign = ?")
        params.append(filters.campaign)
    if filters.since:
        clauses.append("p.scheduled_at >= ?")
        params.append(filters.since)
    if filters.until:
        clauses.append("p.scheduled_at < ?")
        params.append(filters.until)
    return " AND ".join(clauses), params


def _row_filter(alias: str, filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.platform:
        clauses.append(f"{alias}.platform = ?")
        params.append(filters.platform)
    if filters.source:
        if filters.source == NO_SOURCE:
            clauses.append(f"{alias}.source IS NULL")
        else:
            clauses.append(f"{alias}.source = ?")
            params.append(filters.source)
    return "".join(f" AND {clause}" for clause in clauses), params


def _grouped(db: Database, filters: Filters, group: str) -> dict[tuple[Any, ...], Counts]:
    """Counts grouped by an SQL expression over the prompt `p` and the row (`d` or `a`).

    `group` is one of the fixed expressions below, never user input.
    """
    prompt_where, prompt_params = _prompt_filter(filters)
    d_where, d_params = _row_filter("d", filters)
    a_where, a_params = _row_filter("a", filters)
    d_group = group.replace("{row}", "d")
    a_group = group.replace("{row}", "a")
    delivered: dict[tuple[Any, ...], int] = {}
    for *key, n in db.execute(
        f"""SELECT {d_group}, count(*) FROM deliveries d JOIN prompts p ON p.id = d.prompt_id
        WHERE d.state = 'sent' AND {prompt_where}{d_where} GROUP BY {d_group}""",
        [*prompt_params, *d_params],
    ).fetchall():
        delivered[tuple(key)] = n
    acted: dict[tuple[Any, ...], tuple[int, int, int, int]] = {}
    for *key, opened, done, skipped, supporters in db.execute(
        f"""SELECT {a_group},
            sum(a.kind = 'opened'), sum(a.kind = 'done'), sum(a.kind = 'skipped'),
            count(DISTINCT CASE WHEN a.kind = 'done' THEN a.supporter_key END)
        FROM actions a JOIN prompts p ON p.id = a.prompt_id
        WHERE {prompt_where}{a_where} GROUP BY {a_group}""",
        [*prompt_params, *a_params],
    ).fetchall():
        acted[tuple(key)] = (opened, done, skipped, supporters)
    result: dict[tuple[Any, ...], Counts] = {}
    for key in delivered.keys() | acted.keys():
        opened, done, skipped, supporters = acted.get(key, (0, 0, 0, 0))
        result[key] = Counts(delivered.get(key, 0), opened, done, skipped, supporters)
    return result


WEEK = "date(p.scheduled_at, 'weekday 0', '-6 days')"


def participation(db: Database, filters: Filters | None = None) -> Participation:
    """Every count the reports show, for one set of filters."""
    filters = filters or Filters()
    titles = {
        (campaign, ask_id): title
        for campaign, ask_id, title in db.execute("SELECT campaign, id, title FROM asks").fetchall()
    }
    by_ask = _grouped(db, filters, f"{WEEK}, p.campaign, p.ask_id")
    ask_rows = [
        AskWeekRow(week, campaign, ask_id, titles.get((campaign, ask_id), ask_id), counts)
        for (week, campaign, ask_id), counts in by_ask.items()
    ]
    ask_rows.sort(key=lambda row: (row.week, row.campaign, row.ask_id), reverse=False)
    by_platform = _grouped(db, filters, "{row}.platform")
    by_source = _grouped(db, filters, f"COALESCE({{row}}.source, '{NO_SOURCE}')")
    totals = _grouped(db, filters, "'all'")
    return Participation(
        by_ask_week=ask_rows,
        by_platform=[GroupRow(key[0], c) for key, c in sorted(by_platform.items())],
        by_source=[GroupRow(key[0], c) for key, c in sorted(by_source.items())],
        total=totals.get(("all",), Counts()),
    )
