"""Participation counts: one set of queries behind the CLI, the chat command and the dashboard.

"Delivered" counts deliveries that went out (state 'sent'); reminders are not
counted again. Actions count for the prompt they answer. "Supporters" counts the
distinct supporters who said they did it. Weeks start on Monday (UTC) and are
the week the prompt went out. An ask's rows are per version of its text (the version
each prompt sent, `prompts.ask_version`), so an edit after delivery starts new rows
and the counts of the text supporters received stay put.

The sums come from `participation_counts`, which triggers keep exact per
prompt, platform and source (migration 0002), so a report reads a few hundred
rows however many deliveries there are. Distinct supporters can't be summed, so
they are counted from the actions themselves, in indexes made for it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
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
    ask_version: int | None = None  # the version of the ask's text the prompts sent


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


WEEK = "date(p.scheduled_at, 'weekday 0', '-6 days')"


def _prompt_filter(filters: Filters) -> tuple[str, list[Any]]:
    clauses = ["p.kind IN ('weekly', 'manual', 'standing')", "p.state != 'cancelled'"]
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


def row_filter(alias: str, filters: Filters, *, none: Any = None) -> tuple[str, list[Any]]:
    """Platform and source conditions on a row; `none` is how that table spells no source."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.platform:
        clauses.append(f"{alias}.platform = ?")
        params.append(filters.platform)
    if filters.source:
        if filters.source == NO_SOURCE:
            clauses.append(f"{alias}.source IS NULL" if none is None else f"{alias}.source = ?")
            params += [] if none is None else [none]
        else:
            clauses.append(f"{alias}.source = ?")
            params.append(filters.source)
    return "".join(f" AND {clause}" for clause in clauses), params


@dataclass(frozen=True, slots=True)
class CoveredPrompts:
    """The prompts a report covers: id → (week, campaign, ask id, version sent)."""

    groups: dict[int, tuple[str, str, str, int | None]]
    left_out: list[int]  # prompts with actions or deliveries that the filters exclude


def covered_prompts(db: Database, filters: Filters) -> CoveredPrompts:
    where, params = _prompt_filter(filters)
    groups = {
        prompt_id: (week, campaign, ask_id, version)
        for prompt_id, week, campaign, ask_id, version in db.execute(
            f"SELECT p.id, {WEEK}, p.campaign, p.ask_id, p.ask_version FROM prompts p"
            f" WHERE {where}",
            params,
        ).fetchall()
    }
    left_out = [
        row[0]
        for row in db.execute(f"SELECT p.id FROM prompts p WHERE NOT ({where})", params).fetchall()
    ]
    return CoveredPrompts(groups, left_out)


def prompt_condition(prompts: CoveredPrompts) -> tuple[str, list[Any]]:
    """A condition on `a.prompt_id` for the covered prompts, the shorter way round."""
    if len(prompts.left_out) <= len(prompts.groups):
        if not prompts.left_out:
            return "", []
        return " AND a.prompt_id NOT IN (SELECT value FROM json_each(?))", [
            json.dumps(prompts.left_out)
        ]
    return " AND a.prompt_id IN (SELECT value FROM json_each(?))", [
        json.dumps(sorted(prompts.groups))
    ]


def _distinct_done(
    db: Database, filters: Filters, prompts: CoveredPrompts, column: str
) -> dict[str, int]:
    """Distinct supporters who did an ask, per platform or per source (`column`, fixed)."""
    expression = f"COALESCE(a.source, '{NO_SOURCE}')" if column == "source" else "a.platform"
    row_where, row_params = row_filter("a", filters)
    prompt_where, prompt_params = prompt_condition(prompts)
    # The partial index on (column, supporter_key, ...) hands rows over grouped and
    # sorted, so the distinct count needs no temporary table.
    cursor = db.execute(
        f"""SELECT {expression}, count(DISTINCT a.supporter_key)
        FROM actions a INDEXED BY actions_done_by_{column}
        WHERE a.kind = 'done'{row_where}{prompt_where}
        GROUP BY a.{column}""",
        [*row_params, *prompt_params],
    )
    return {key: n for key, n in cursor.fetchall()}


def _distinct_done_across(
    db: Database, filters: Filters, prompt_ids: Iterable[int], groups: dict[int, Any]
) -> dict[Any, int]:
    """Distinct supporters per group, for groups that hold more than one prompt."""
    row_where, row_params = row_filter("a", filters)
    keys_by_group: dict[Any, set[str]] = defaultdict(set)
    for prompt_id, key in db.execute(
        f"""SELECT a.prompt_id, a.supporter_key FROM actions a
        WHERE a.kind = 'done' AND a.prompt_id IN (SELECT value FROM json_each(?)){row_where}""",
        [json.dumps(sorted(prompt_ids)), *row_params],
    ).fetchall():
        keys_by_group[groups[prompt_id]].add(key)
    return {group: len(keys) for group, keys in keys_by_group.items()}


def _add(into: dict[Any, list[int]], key: Any, values: tuple[int, int, int, int]) -> None:
    total = into.setdefault(key, [0, 0, 0, 0])
    for index, value in enumerate(values):
        total[index] += value


def _counts(sums: list[int], supporters: int) -> Counts:
    return Counts(sums[0], sums[1], sums[2], sums[3], supporters)


def participation(db: Database, filters: Filters | None = None) -> Participation:
    """Every count the reports show, for one set of filters."""
    filters = filters or Filters()
    titles = {
        (campaign, ask_id): title
        for campaign, ask_id, title in db.execute("SELECT campaign, id, title FROM asks").fetchall()
    }
    prompts = covered_prompts(db, filters)
    prompt_where, prompt_params = _prompt_filter(filters)
    row_where, row_params = row_filter("t", filters, none="")
    by_ask: dict[tuple[str, str, str, int | None], list[int]] = {}
    by_platform: dict[str, list[int]] = {}
    by_source: dict[str, list[int]] = {}
    prompts_in_group: dict[tuple[str, str, str, int | None], set[int]] = defaultdict(set)
    for prompt_id, platform, source, *values in db.execute(
        f"""SELECT t.prompt_id, t.platform, t.source, t.delivered, t.opened, t.done, t.skipped
        FROM participation_counts t JOIN prompts p ON p.id = t.prompt_id
        WHERE {prompt_where}{row_where}
          AND (t.delivered != 0 OR t.opened != 0 OR t.done != 0 OR t.skipped != 0)""",
        [*prompt_params, *row_params],
    ).fetchall():
        sums = (values[0], values[1], values[2], values[3])
        group = prompts.groups[prompt_id]
        _add(by_ask, group, sums)
        prompts_in_group[group].add(prompt_id)
        _add(by_platform, platform, sums)
        _add(by_source, source or NO_SOURCE, sums)
    # Within one prompt a supporter does an ask at most once, so its "done" is its
    # distinct supporters; only a week with two prompts of one ask needs counting.
    shared = {group for group, ids in prompts_in_group.items() if len(ids) > 1}
    across = (
        _distinct_done_across(
            db,
            filters,
            [prompt_id for group in shared for prompt_id in prompts_in_group[group]],
            prompts.groups,
        )
        if shared
        else {}
    )
    platform_supporters = _distinct_done(db, filters, prompts, "platform") if by_platform else {}
    source_supporters = _distinct_done(db, filters, prompts, "source") if by_source else {}
    ask_rows = [
        AskWeekRow(
            week,
            campaign,
            ask_id,
            titles.get((campaign, ask_id), ask_id),
            _counts(sums, across.get(key, 0) if key in shared else sums[2]),
            version,
        )
        for key, sums in by_ask.items()
        for week, campaign, ask_id, version in [key]
    ]
    ask_rows.sort(key=lambda row: (row.week, row.campaign, row.ask_id, row.ask_version or 0))
    total = [0, 0, 0, 0]
    for platform_sums in by_platform.values():
        for index, value in enumerate(platform_sums):
            total[index] += value
    return Participation(
        by_ask_week=ask_rows,
        by_platform=[
            GroupRow(key, _counts(sums, platform_supporters.get(key, 0)))
            for key, sums in sorted(by_platform.items())
        ],
        by_source=[
            GroupRow(key, _counts(sums, source_supporters.get(key, 0)))
            for key, sums in sorted(by_source.items())
        ],
        # A supporter's key belongs to one platform, so the platforms' distinct
        # supporters add up to the total's.
        total=_counts(total, sum(platform_supporters.values())) if by_platform else Counts(),
    )
