"""The command line's table of contents, and the group that imports a command's module
only when that command is used.

The command modules import what their commands need (the database, the packs'
pydantic models, the dashboard); importing them all made `campaignbot --help` take
seconds. So the top-level group lists its commands from `COMMANDS` (each command's
module and its line in the listing) and imports a module the first time one of its
commands is looked up: to run it, to show its own help, or to complete its arguments.
This is click's "lazily loading subcommands" pattern on typer's group;
tests/test_cli_startup.py keeps the table and the commands the same.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer.main
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # typer vendors its own click; these are its types
    from typer._click import Command, HelpFormatter
    from typer._click.shell_completion import CompletionItem


@dataclass(frozen=True)
class Listed:
    """Where a command is registered, and what `campaignbot --help` says of it: the
    first paragraph of its help, as typer's listing shows it."""

    module: str
    line: str


# In the order typer lists them: the commands, then the groups, each in the order
# their modules register them.
COMMANDS: dict[str, Listed] = {
    "backup": Listed(
        "cli.backup_cmd",
        "Back up the database and its secret, checked, named by UTC time.",
    ),
    "restore": Listed(
        "cli.restore_cmd",
        "Put a backup back in place of the database; erasures made since are made again.",
    ),
    "chat": Listed(
        "cli.chat_cmd",
        "Chat with the bot as a supporter, in this terminal (reads standard input).",
    ),
    "run": Listed(
        "cli.chat_cmd",
        "Run the scheduler and every chat adapter that has a token; with none, the console chat.",
    ),
    "preview": Listed(
        "cli.schedule_cmd",
        "Show the ask as each platform will render it (Telegram HTML, Discord embed, console).",
    ),
    "status": Listed(
        "cli.schedule_cmd",
        "Show running sends: sent, gone, failed, unknown, cancelled, left, rate, ETA.",
    ),
    "stats": Listed(
        "cli.stats_cmd", "Participation counts: per ask and week, per platform, per source."
    ),
    "web": Listed(
        "cli.web_cmd", "Serve the staff and organiser dashboard on its own until Ctrl+C."
    ),
    "campaigns": Listed("cli.campaigns_cmd", "See, check, export and import campaign packs."),
    "schedule": Listed("cli.schedule_cmd", "Schedule, list and cancel prompts."),
    "send": Listed(
        "cli.schedule_cmd",
        "Send an ask now (`send CAMPAIGN --now`), try it (`send CAMPAIGN --dry-run`), "
        "or stop a running send (`send cancel PROMPT`).",
    ),
    "sources": Listed(
        "cli.sources_cmd", "Declare, list and remove source codes (how supporters found us)."
    ),
    "users": Listed(
        "cli.users_cmd",
        "Dashboard accounts: add, list, remove, set a password or a linked chat.",
    ),
    "experiments": Listed(
        "cli.experiments_cmd", "See running wording experiments and choose their winners."
    ),
}


class LazyGroup(TyperGroup):
    """typer's group, each command built from its module the first time it is looked up.

    Listing the commands (help, completing a command's name) takes their lines from
    `COMMANDS` and imports nothing; `commands`, every command built, imports them all
    (typer does so to suggest a name for a mistyped one, tests to check every command).
    """

    def __init__(self, **attrs: Any) -> None:
        self._listing = False
        super().__init__(**attrs)
        _flags_off(self, "help", "install_completion", "show_completion")

    @property
    def commands(self) -> MutableMapping[str, Command]:
        for name in COMMANDS:
            self._command(name)
        return self._built

    @commands.setter
    def commands(self, built: MutableMapping[str, Command]) -> None:
        self._built = built  # what typer built: the commands of the modules imported so far

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in self._built if name not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Command | None:
        if self._listing and cmd_name in COMMANDS and cmd_name not in self._built:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].line)
        return self._command(cmd_name)

    def format_help(self, ctx: Any, formatter: HelpFormatter) -> None:
        with self._listed():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> list[CompletionItem]:
        with self._listed():
            return super().shell_complete(ctx, incomplete)

    @contextlib.contextmanager
    def _listed(self) -> Iterator[None]:
        """While listing, a command not imported yet is its name and line only."""
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def _command(self, name: str) -> Command | None:
        if name not in self._built and name in COMMANDS:
            importlib.import_module(COMMANDS[name].module)  # it registers its commands
            from cli import app

            # typer builds the commands registered so far, as it builds the whole group
            registered = typer.main.get_group(app)
            assert isinstance(registered, LazyGroup)
            for built_name, command in registered._built.items():
                if built_name not in self._built:
                    if isinstance(command, TyperGroup):
                        _flags_off(command, "help")
                    self._built[built_name] = command
        return self._built.get(name)


def _flags_off(group: TyperGroup, *flags: str) -> None:
    """Give typer's own flags of a group (`--help`; the completion ones) False, not None,
    when they are not given. typer checks a None with a pydantic TypeAdapter each time
    a command runs (pydantic's import with it: a third of a second, every command's
    `--help` too); a bool it takes as it is. (click's `default_map`: a flag given on the
    command line wins, and the commands under the group look their own names up in it.)"""
    defaults = group.context_settings.setdefault("default_map", {})
    for flag in flags:
        defaults.setdefault(flag, False)
