"""Tables the pages show and download: one value, rendered as HTML and as CSV.

The report tables (per ask and week, platform, source) come straight from
`campaigns.reports`, so their CSV is byte for byte what `campaignbot stats --csv`
writes. Other tables use the same CSV rules (formula-looking text defused).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from campaigns import reports
from db.stats import Participation

LABELS = {
    "ask_id": "ask",
    "ask_title": "title",
    "delivered": "delivered",
    "opened": "link opened",
    "done": "done",
    "skipped": "skipped",
    "supporters": "supporters",
}


@dataclass(frozen=True)
class DataTable:
    """A table with a name (its CSV's), a caption, and which columns are numbers."""

    name: str
    caption: str
    header: list[str]
    rows: list[list[Any]]
    numeric: frozenset[str] = frozenset()
    report: reports.Table | None = None  # set for the tables `campaignbot stats` writes
    notes: dict[str, str] = field(default_factory=dict)
    wrap: frozenset[str] = frozenset({"ask_title", "detail", "measure"})

    def label(self, column: str) -> str:
        return LABELS.get(column, column.replace("_", " "))

    def is_numeric(self, column: str) -> bool:
        return column in self.numeric


def report_table(report: Participation, which: reports.Table, caption: str) -> DataTable:
    header, rows = reports.table(report, which)
    return DataTable(
        name=which.value,
        caption=caption,
        header=header,
        rows=rows,
        numeric=frozenset(reports.COUNT_COLUMNS),
        report=which,
    )


def csv_text(table: DataTable, report: Participation | None = None) -> str:
    """The table as CSV; a report table exactly as the CLI writes it."""
    if table.report is not None and report is not None:
        return reports.to_csv(report, table.report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.header)
    writer.writerows([reports.defuse(value) for value in row] for row in table.rows)
    return out.getvalue()


def chunks(text: str, size: int = 64 * 1024) -> Iterator[str]:
    """A CSV in pieces, for a streamed response."""
    for start in range(0, len(text), size):
        yield text[start : start + size]


def column(table: DataTable, name: str) -> Sequence[Any]:
    index = table.header.index(name)
    return [row[index] for row in table.rows]
