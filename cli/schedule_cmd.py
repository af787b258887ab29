"""`campaignbot schedule`, `send`, `preview` and `status`: organisers at the terminal.

These write to the database; a running bot picks a due prompt up within a second,
and stops picking a stopped send's deliveries up by itself. Every action is
audited as `cli:<user>`.
"""

from __future__ import annotations

import getpass
import time
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from typer.core import TyperGroup

from campaigns.wording import counted
from cli import app, database, fail, out, settings
from cli.tables import terminal_table
from db.states import PromptState
from db.times import from_text

# The core and the store (sqlite-utils, the packs' pydantic models) are imported in
# the commands that use them: `schedule --help` and `send --help` need none of them.
if TYPE_CHECKING:
    from sqlite_utils import Database

    from campaigns.catalog import Catalog
    from settings import Settings

schedule_app = typer.Typer(help="Schedule, list and cancel prompts.", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")

PlatformOption = Annotated[
    str | None, typer.Option(help="Only supporters on this platform (telegram, discord).")
]
SourceOption = Annotated[str | None, typer.Option(help="Only supporters from this source code.")]
AskOption = Annotated[str | None, typer.Option("--ask", help="The ask's id (default: the next).")]


def actor() -> str:
    return f"cli:{getpass.getuser()}"


def open_with_packs(config: Settings, *, create: bool = False) -> tuple[Database, Catalog]:
    """The database and the campaigns it runs: changed pack files copied in first, as at
    the bot's start, so imported campaigns are known here too."""
    from campaigns.catalog import PackFolder

    folder = PackFolder.read(config.packs)
    db = database(config, create=create)
    with db.atomic():
        catalog = folder.catalog(db, config.default_campaign)
    return db, catalog


@schedule_app.command("list")
def list_prompts(
    every: Annotated[
        bool, typer.Option("--all", help="Include sent, missed and cancelled.")
    ] = False,
) -> None:
    """List scheduled prompts (and, with --all, past ones), newest first."""
    from db import prompts as prompts_db

    config = settings()
    db = database(config)
    states = () if every else (PromptState.SCHEDULED, PromptState.SENDING)
    columns = ("id", "when", "campaign/ask", "kind", "audience", "state")
    table = terminal_table("Prompts", columns, numeric=("id",), whole=("when",))
    for prompt in prompts_db.listed(db, states=states):
        local = from_text(prompt.scheduled_at).astimezone(ZoneInfo(prompt.timezone))
        audience = (
            ", ".join(filter(None, [prompt.platform, prompt.source])) or "all its subscribers"
        )
        table.add_row(
            str(prompt.id),
            f"{local:%Y-%m-%d %H:%M} {prompt.timezone}",
            f"{prompt.campaign}/{prompt.ask_id}",
            prompt.kind,
            audience,
            prompt.state,
        )
    out.print(table)


@schedule_app.command("add")
def add(
    campaign: Annotated[str, typer.Argument(help="The campaign's slug.")],
    at: Annotated[str, typer.Option("--at", help='Local time, "YYYY-MM-DD HH:MM".')],
    ask: AskOption = None,
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone of --at.")] = None,
    platform: PlatformOption = None,
    source: SourceOption = None,
) -> None:
    """Schedule a prompt: an ask for an audience at a time."""
    from campaigns import prompting

    config = settings()
    db, catalog = open_with_packs(config, create=True)
    request = prompting.Request(campaign, ask, platform, _source(source))
    try:
        with db.atomic():
            prompt = prompting.schedule(db, catalog, request, at, tz or config.timezone, actor())
    except prompting.ScheduleError as exc:
        fail(f"{exc.field}: {exc.message}")
    out.print(
        f"Scheduled prompt {prompt.id}: {prompt.campaign}/{prompt.ask_id} at "
        f"{prompt.scheduled_at} UTC ({at} {prompt.timezone}).",
        markup=False,
    )


@schedule_app.command("cancel")
def cancel(prompt: Annotated[int, typer.Argument(help="The prompt's id.")]) -> None:
    """Cancel a prompt that has not started."""
    from campaigns import prompting

    config = settings()
    db = database(config)
    with db.atomic():
        cancelled = prompting.cancel(db, prompt, actor())
    if not cancelled:
        fail(f"prompt {prompt} is not scheduled (see `campaignbot schedule list --all`)", code=1)
    out.print(f"Cancelled prompt {prompt}.")


class SendGroup(TyperGroup):
    """`send CAMPAIGN --now | --dry-run` as it always was, beside `send cancel PROMPT`:
    anything that is not a subcommand's name goes to the `ask` subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        if args and args[0] not in self.commands and args[0] != "--help":
            args = ["ask", *args]
        return super().parse_args(ctx, args)


send_app = typer.Typer(
    cls=SendGroup,
    help="Send an ask now (`send CAMPAIGN --now`), try it (`send CAMPAIGN --dry-run`), "
    "or stop a running send (`send cancel PROMPT`).",
    no_args_is_help=True,
)
app.add_typer(send_app, name="send")

PICK_UP_SECONDS = 3.0  # how long `send --now` waits to see a running bot start the send


@send_app.command("ask")
def send(
    campaign: Annotated[str, typer.Argument(help="The campaign's slug.")],
    now: Annotated[bool, typer.Option("--now", help="Send it now.")] = False,
    ask: AskOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List who would get what; send nothing.")
    ] = False,
    platform: PlatformOption = None,
    source: SourceOption = None,
) -> None:
    """Send an ask now (a running bot starts it within a second), or --dry-run it.

    `ask` may be left out: `campaignbot send CAMPAIGN --now`."""
    from campaigns import prompting

    if not now and not dry_run:
        fail("say --now to send, or --dry-run to see who would get what")
    config = settings()
    db, catalog = open_with_packs(config, create=True)
    request = prompting.Request(campaign, ask, platform, _source(source))
    try:
        with db.atomic():
            if dry_run:
                result = prompting.dry_run(
                    db, catalog, request, actor(), paid=config.telegram_paid_broadcast
                )
            else:
                prompt = prompting.send_now(db, catalog, request, actor())
    except prompting.ScheduleError as exc:
        fail(f"{exc.field}: {exc.message}")
    if not dry_run:
        out.print(f"Queued prompt {prompt.id}: {prompt.campaign}/{prompt.ask_id}.", markup=False)
        out.print(_picked_up(db, config, prompt.id), markup=False)
        return
    out.print(f"Dry run: {campaign}/{result.ask.id} ({result.ask.title}) would go to", markup=False)
    for name, count in sorted(result.per_platform.items()):
        out.print(f"  {name}: {counted(count, 'supporter')}", markup=False)
    out.print(f"  total: {result.total} (platforms without a running adapter are skipped)")
    if result.paid is not None:
        out.print(f"  cost: {result.paid.line()}", markup=False)
    if result.first:
        table = terminal_table(f"First {len(result.first)}", ("platform", "chat", "source"))
        for platform_name, address, from_source in result.first:
            table.add_row(platform_name, address, from_source or "")
        out.print(table)
    out.print("Nothing was sent.")


def _picked_up(db: Database, config: Settings, prompt_id: int) -> str:
    """Whether a running bot took the queued prompt up: say so, never promise it."""
    from cli.lock import running_pid
    from db import prompts as prompts_db

    pid = running_pid(config.db)
    if pid is None:
        return (
            "It is queued; no running bot has picked it up. `campaignbot run` sends it "
            "(within its grace window)."
        )
    deadline = time.monotonic() + PICK_UP_SECONDS
    while time.monotonic() < deadline:
        found = prompts_db.get(db, prompt_id)
        if found is None or found.state != PromptState.SCHEDULED:
            return (
                f"The running bot (process {pid}) has picked it up: "
                "`campaignbot status` shows progress."
            )
        time.sleep(0.1)
    return (
        f"It is queued; the running bot (process {pid}) has not picked it up yet. "
        "`campaignbot status` shows progress once it has."
    )


@send_app.command("cancel")
def send_cancel(prompt: Annotated[int, typer.Argument(help="The prompt's id.")]) -> None:
    """Stop a running send (what has not gone out is cancelled), or cancel a scheduled one."""
    from campaigns import prompting
    from campaigns.organising import stopped_text
    from db import prompts as prompts_db

    config = settings()
    db = database(config)
    with db.atomic():
        stopped = prompting.stop(db, prompt, actor())
    if stopped is None:
        found = prompts_db.get(db, prompt)
        state = f"it is {found.state}" if found else "there is no such prompt"
        fail(
            f"prompt {prompt} can't be stopped: {state} (see `campaignbot schedule list --all`)",
            code=1,
        )
    out.print(stopped_text(stopped), markup=False)


def _source(value: str | None) -> str | None:
    """A --source as deep links carry it (any case), stored as its code; bad: one line."""
    from campaigns.supporters import clean_source

    if value is None:
        return None
    code = clean_source(value)
    if code is None:
        fail("source: a source code is letters, digits, _ and - (as in /start links)")
    return code


@app.command()
def preview(
    campaign: Annotated[str, typer.Argument(help="The campaign's slug.")],
    ask: AskOption = None,
) -> None:
    """Show the ask as each platform will render it (Telegram HTML, Discord embed, console)."""
    from bots.discord.render import embed_preview
    from bots.telegram.render import html
    from campaigns import prompting
    from campaigns.compose import plain_card_text
    from campaigns.dialogue import Context

    config = settings()
    db, catalog = open_with_packs(config, create=True)
    ctx = Context.from_secret(catalog, config.button_secret())
    try:
        with db.atomic():
            found, message = prompting.preview(db, ctx, campaign, ask, actor())
    except prompting.ScheduleError as exc:
        fail(f"{exc.field}: {exc.message}")
    assert message.card is not None
    buttons = " | ".join(button.label for button in message.all_buttons())
    out.rule(f"{campaign}/{found.id}: console")
    out.print(plain_card_text(message.card), markup=False)
    out.print(f"[buttons] {buttons}", markup=False)
    out.rule("Telegram (HTML)")
    out.print(html(message), markup=False)
    out.print(f"[inline keyboard] {buttons}", markup=False)
    out.rule("Discord (embed)")
    out.print(embed_preview(message), markup=False)
    out.print(f"[components] {buttons}", markup=False)


@app.command()
def status(
    watch: Annotated[bool, typer.Option(help="Keep watching until sends finish.")] = True,
) -> None:
    """Show running sends: sent, gone, failed, unknown, cancelled, left, rate, ETA.

    In a terminal, a progress bar. The counts are the database's."""
    from campaigns.organising import describe
    from campaigns.progress import running_progress

    config = settings()
    db = database(config)
    running = running_progress(db)
    if not running:
        out.print("No send is running.")
        return
    if not out.is_terminal or not watch:
        for item in running:
            out.print(describe(item), markup=False)
        return
    # rich.progress takes longer to import than most commands take to run: only here
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=out) as bar:
        tasks = {}
        while running:
            for item in running:
                detail = (
                    f"gone {item.gone} failed {item.failed} unknown {item.unknown} "
                    f"cancelled {item.cancelled} {item.rate:.1f}/s"
                )
                done = item.total - item.left
                if item.prompt_id not in tasks:
                    tasks[item.prompt_id] = bar.add_task(
                        f"prompt {item.prompt_id} {item.campaign}/{item.ask_id}",
                        total=item.total,
                        detail=detail,
                    )
                bar.update(tasks[item.prompt_id], completed=done, total=item.total, detail=detail)
            time.sleep(1)
            running = running_progress(db)
