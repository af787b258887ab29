"""The `campaignbot` command: run the bot, chat, check packs, count participation."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from cli.commands import LazyGroup
from cli.logs import configure_logging, redact

# The settings (pydantic), the database (sqlite-utils) and each command's module are
# imported when a command needs them: `campaignbot --help` needs none of them.
if TYPE_CHECKING:
    from sqlite_utils import Database

    from settings import Settings

app = typer.Typer(
    cls=LazyGroup,
    name="campaignbot",
    help="The supporter campaign bot: one ask a week on Telegram, Discord and the terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _show_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        out.print(f"campaignbot {version('campaignbot')}", markup=False)
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """The supporter campaign bot: one ask a week on Telegram, Discord and the terminal."""


def error(message: str) -> None:
    """Print one clear error line on standard error, secrets masked."""
    line = Text("error: ", style="bold red") + Text(redact(message))
    err.print(line, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error on standard error (secrets masked) and exit non-zero."""
    error(message)
    raise typer.Exit(code)


def settings() -> Settings:
    """The settings, or a clear exit naming the bad one."""
    from settings import SettingsError, load_settings

    try:
        loaded = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    configure_logging(
        loaded.log_level,
        loaded.secret_values(),
        console=err,
        json_lines=loaded.log_format == "json",
    )
    return loaded


def database(config: Settings, *, create: bool = False) -> Database:
    """The bot's database. A command that only reads refuses when there is none (run
    from the wrong folder, the default `data/campaignbot.db` is somewhere else); one
    that writes may make it, and says where."""
    from db.store import open_database

    path = config.db.absolute()
    if not path.exists():
        if not create:
            fail(
                f"no database at {path}: run this where the bot runs, or set CAMPAIGNBOT_DB "
                "(db in campaignbot.toml) to its database"
            )
        err.print(
            f"note: starting a new database at {path} (CAMPAIGNBOT_DB sets another)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return open_database(path)


def _secrets_in_environment() -> list[str]:
    """Secrets to mask before the settings are read (a failure may come first)."""
    names = ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "CAMPAIGNBOT_SECRET_KEY")
    return [os.environ[name] for name in names if os.environ.get(name)]


def main() -> None:
    """Entry point of the console script: a failure at start is one line, never a traceback."""
    configure_logging("INFO", _secrets_in_environment(), console=err)
    try:
        app()
    except Exception as exc:
        _explain(exc)
        raise


def _explain(exc: Exception) -> None:
    """Exit with one line for a failure people can fix: a pack, a setting, the database.
    (Their classes are imported on the way out: at start they would slow every command.)"""
    from campaigns.messenger import StartupFailure
    from campaigns.packs import PackError
    from db.store import DatabaseUnavailable
    from settings import SettingsError

    if isinstance(exc, PackError):
        err.print(str(exc), markup=False, highlight=False)
        sys.exit(2)
    if isinstance(exc, SettingsError | StartupFailure):
        _one_line(str(exc))
    if isinstance(exc, DatabaseUnavailable):
        _one_line(
            f"db (CAMPAIGNBOT_DB): can't open {exc.path}: {exc.reason}. Check the path, and "
            "that this user may write to the file and its folder."
        )


def _one_line(message: str) -> NoReturn:
    try:
        fail(message)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
