"""Tables as the pages show and download them: HTML labels and CSV text.

The tables themselves (`DataTable`) come from the core. The report tables (per
ask and week, platform, source) are written by `campaigns.reports`, so their CSV
is byte for byte what `campaignbot stats --csv` writes; other tables follow the
same CSV rules (formula-looking text defused).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from campaigns import reports
from campaigns.reports import DataTable, Participation

LABELS = {
    "ask_id": "ask",
    "ask_title": "title",
    "delivered": "delivered",
    "opened": "link opened",
    "done": "done",
    "skipped": "skipped",
    "supporters": "supporters",
}
WRAPPED = frozenset({"ask_title", "detail", "measure"})  # long text: wraps in its cell


def label(column: str) -> str:
    """A column's heading on a page (the CSV keeps the column's own name)."""
    return LABELS.get(column, column.replace("_", " "))


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
