"""`campaignbot campaigns`: see and check campaign packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import app, database, err, out, settings

# The packs (pydantic models) are imported in the commands: `campaigns --help` needs
# none of them.

campaigns_app = typer.Typer(help="See and check campaign packs.", no_args_is_help=True)
app.add_typer(campaigns_app, name="campaigns")


@campaigns_app.command("list")
def list_campaigns() -> None:
    """Show the campaigns loaded from the packs folder: their asks, schedules, and when
    the weekly runs use the last ask."""
    from campaigns.catalog import Catalog
    from campaigns.prompting import SentAsks, sent_asks
    from campaigns.weekly import outlook
    from db.times import utcnow

    config = settings()
    catalog = Catalog.load(config.packs, config.default_campaign)
    # What has gone out is in the bot's database; without one (nothing run yet, or run
    # from another folder) nothing has, and none is made here.
    db = database(config) if config.db.exists() else None
    now = utcnow()
    # One block per campaign rather than a table: lists of ids read at any width.
    out.print(f"Campaign packs in {config.packs}", markup=False, highlight=False)
    if db is None:
        out.print(
            f"No database at {config.db.absolute()}: the dates assume no ask has gone out.",
            markup=False,
        )
    for slug, pack in sorted(catalog.packs.items()):
        schedule = pack.campaign.schedule
        default = " (the default)" if slug == catalog.default else ""
        sent = sent_asks(db, slug) if db is not None else SentAsks({})
        ahead = outlook(catalog, slug, now, sent)
        lines = [
            f"\n{slug}{default}: {pack.campaign.title}",
            f"  weekly: {schedule.weekday} {schedule.time:%H:%M} {schedule.timezone}",
            f"  asks: {', '.join(ask.id for ask in pack.asks)}",
            f"  topics: {', '.join(pack.topics)}",
            f"  {ahead.summary()}",
        ]
        if ahead.stopped:
            lines.append('  (add asks to the pack, or set after_last = "repeat")')
        for line in lines:
            out.print(line, markup=False, highlight=False)


@campaigns_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="A pack file, or a folder of packs.")],
) -> None:
    """Validate a pack (or a folder of packs) without touching the database."""
    from campaigns.packs import PackError, load_pack, load_packs
    from campaigns.wording import counted

    try:
        packs = load_packs(path) if path.is_dir() else {"": load_pack(path)}
    except PackError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None
    for pack in packs.values():
        out.print(
            f"ok: {pack.campaign.slug} ({pack.campaign.title}), {counted(len(pack.asks), 'ask')}, "
            f"topics: {', '.join(pack.topics)}",
            markup=False,
        )
