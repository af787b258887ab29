"""Participation counts as tables: the same rows for the terminal, JSON, CSV and the dashboard.

The report's types and its query are named here too, so the dashboard and the
command line read participation from the core and never from the store.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from db.stats import NO_SOURCE as NO_SOURCE
from db.stats import Counts as Counts
from db.stats import Filters as Filters
from db.stats import Participation as Participation
from db.stats import participation as participation

COUNT_COLUMNS = ("delivered", "opened", "done", "skipped", "supporters")


class Table(StrEnum):
    """The report tables."""

    ASKS = "asks"  # per ask, week and version of the ask's text
    PLATFORMS = "platforms"
    SOURCES = "sources"
    POLLS = "polls"  # outcome polls: per ask and answer (campaigns/polls.py writes it)
    # people who joined through invite links, per week, campaign and platform (never who;
    # campaigns/invites.py writes it)
    REFERRALS = "referrals"
    # next steps, welcome messages and polls sent, per step (campaigns/journeys.py writes it)
    JOURNEYS = "journeys"
    # subscribers per campaign and platform, by status (campaigns/subscriptions.py writes it)
    CAMPAIGNS = "campaigns"
    # wording experiments: per ask, version and variant, the done rate with its 95 %
    # interval and the test's verdict (campaigns/experiments.py writes it)
    VARIANTS = "variants"


def _counts(counts: Counts) -> list[int]:
    return [getattr(counts, column) for column in COUNT_COLUMNS]


def table(report: Participation, which: Table) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of one report table."""
    if which is Table.ASKS:
        # `version`: which text of the ask the counts are for (None before versions)
        header = ["week", "campaign", "ask_id", "ask_title", "version", *COUNT_COLUMNS]
        rows = [
            [
                row.week,
                row.campaign,
                row.ask_id,
                row.ask_title,
                row.ask_version,
                *_counts(row.counts),
            ]
            for row in report.by_ask_week
        ]
        return header, rows
    if which not in (Table.PLATFORMS, Table.SOURCES):
        raise ValueError(f"{which.value!r} is not a participation table")
    groups = report.by_platform if which is Table.PLATFORMS else report.by_source
    key = "platform" if which is Table.PLATFORMS else "source"
    return [key, *COUNT_COLUMNS], [[row.key, *_counts(row.counts)] for row in groups]


def defuse(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(report: Participation, which: Table) -> str:
    header, rows = table(report, which)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([defuse(value) for value in row] for row in rows)
    return out.getvalue()


def to_json(report: Participation, more: dict[str, Any] | None = None) -> str:
    """Every participation table as JSON, and after them `more`: other tables' records
    by name (such as the polls')."""

    def records(which: Table) -> list[dict[str, Any]]:
        header, rows = table(report, which)
        return [dict(zip(header, row, strict=True)) for row in rows]

    data = {
        "by_ask_week": records(Table.ASKS),
        "by_platform": records(Table.PLATFORMS),
        "by_source": records(Table.SOURCES),
        "total": asdict(report.total),
        **(more or {}),
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class DataTable:
    """A table a page shows and downloads: a name (its CSV's), a caption, which
    columns are numbers, and notes that say what a column counts."""

    name: str
    caption: str
    header: list[str]
    rows: list[list[Any]]
    numeric: frozenset[str] = frozenset()
    report: Table | None = None  # set for the tables `campaignbot stats` writes
    notes: dict[str, str] = field(default_factory=dict)

    def is_numeric(self, column: str) -> bool:
        return column in self.numeric


def report_table(report: Participation, which: Table, caption: str) -> DataTable:
    """One of the report's own tables, with the rows `campaignbot stats` prints."""
    header, rows = table(report, which)
    if which is Table.ASKS:  # a prompt that recorded no version shows none, not "None"
        at = header.index("version")
        rows = [[*row[:at], "" if row[at] is None else row[at], *row[at + 1 :]] for row in rows]
    return DataTable(
        name=which.value,
        caption=caption,
        header=header,
        rows=rows,
        numeric=frozenset(COUNT_COLUMNS),
        report=which,
    )
