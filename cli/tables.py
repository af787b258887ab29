"""Tables for the terminal that stay readable in 80 columns.

Rich's default table spends three characters a column on borders and cuts text
with an ellipsis; at 80 columns the stats table's ask titles were squashed to
nothing. These tables rule off the header only, fold long text onto more lines
instead of cutting it, and never wrap a number.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich import box
from rich.table import Table


def terminal_table(
    title: str,
    columns: Sequence[str],
    *,
    numeric: Collection[str] = (),
    whole: Collection[str] = (),
) -> Table:
    """A table with these column headers: `numeric` ones right-aligned, and they and
    the `whole` ones (dates, ids) never wrapped; other text folds onto more lines."""
    table = Table(
        title=title, title_justify="left", box=box.MINIMAL, pad_edge=False, padding=(0, 1)
    )
    for name in columns:
        if name in numeric:
            table.add_column(name, justify="right", no_wrap=True)
        elif name in whole:
            table.add_column(name, no_wrap=True)
        else:
            table.add_column(name, overflow="fold", min_width=min(len(name), 10))
    return table
