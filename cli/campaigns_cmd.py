"""`campaignbot campaigns`: see, check, export and import campaign packs.

The database holds the campaigns the bot runs; pack files go in (`import`, and the
packs folder at start) and come out (`export`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import app, database, err, fail, out, settings

# The packs (pydantic models) are imported in the commands: `campaigns --help` needs
# none of them.

campaigns_app = typer.Typer(
    help="See, check, export and import campaign packs.", no_args_is_help=True
)
app.add_typer(campaigns_app, name="campaigns")


@campaigns_app.command("list")
def list_campaigns() -> None:
    """Show the campaigns the bot runs: asks, schedules, when the last ask is used.

    They are the database's, with the pack files that changed copied in, as at start;
    with no database yet, the packs folder's."""
    from campaigns.catalog import Catalog, PackFolder
    from campaigns.prompting import SentAsks, sent_asks
    from campaigns.weekly import outlook
    from db.times import utcnow

    config = settings()
    # What has gone out is in the bot's database; without one (nothing run yet, or run
    # from another folder) nothing has, and none is made here: the packs folder alone.
    db = database(config) if config.db.exists() else None
    folder = PackFolder.read(config.packs)
    if db is None:
        catalog = Catalog.load(config.packs, config.default_campaign)
    else:
        with db.atomic():
            catalog = folder.catalog(db, config.default_campaign)
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
        if slug not in folder.packs:
            lines.append("  no pack file in the folder: the database's copy runs")
        if slug in catalog.held:  # the file's change would re-label poll answers
            lines.append(f"  the database's copy runs; {catalog.held[slug]}")
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


@campaigns_app.command("export")
def export(
    slug: Annotated[str, typer.Argument(help="The campaign's slug, such as one-step-ahead.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the pack to this file (default: stdout)."),
    ] = None,
) -> None:
    """Write a campaign from the database out as a pack file (TOML).

    The campaign as the bot runs it, imports and dashboard edits included;
    `campaignbot campaigns import` reads the file back."""
    from campaigns import pack_io
    from campaigns.packs import PackError
    from db import catalog as catalog_db

    config = settings()
    db = database(config)
    try:
        text = pack_io.export_pack(db, slug)
    except PackError as exc:
        fail(f"{exc.args[0]} (import a corrected pack to replace it)", 1)
    if text is None:
        known = ", ".join(c.slug for c in catalog_db.campaigns(db, include_retired=True))
        fail(f"no campaign {slug!r} in the database (campaigns: {known or 'none'})")
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"can't write {output}: {exc.strerror or exc}", 1)
    err.print(f"wrote {slug} to {output}", markup=False, highlight=False)


@campaigns_app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="The pack file (TOML) to bring in.")],
) -> None:
    """Bring a pack file into the database as its campaign's current copy.

    Validated as the packs folder is, all or nothing, and audited. A running bot
    picks it up within seconds; the campaign's file in the packs folder, if it has
    one, replaces it only once that file changes. The file is the operator's own, so
    its asks are published at once, even with require_approval on (the dashboard's
    import holds them for a second organiser's approval)."""
    from campaigns import pack_io
    from campaigns.packs import PackError, load_pack
    from campaigns.wording import counted
    from cli.schedule_cmd import actor

    config = settings()
    try:
        pack = load_pack(path)
    except PackError as exc:
        fail(exc.args[0], 1)  # the one-line form: the file, each ask and field
    db = database(config, create=True)
    try:
        with db.atomic():
            changes = pack_io.import_pack(db, pack, actor(), path.name)
    except pack_io.AnswersLocked as exc:
        fail(f"{path.name}: nothing was imported: {exc.message}", 1)
    line = changes.summary()
    if changes.any:
        line += "; a running bot picks it up within seconds"
    out.print(line, markup=False, highlight=False, soft_wrap=True)
    if config.require_approval and (changes.added or changes.changed):
        published = changes.added + changes.changed
        err.print(
            f"require_approval is on, but this import published {counted(len(published), 'ask')}"
            f" ({', '.join(published)}) without a second organiser's approval: the command "
            "line is the operator's own way in (the dashboard's import waits for approval)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
