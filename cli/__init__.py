"""The `campaignbot` command: run the bot, chat, check packs, count participation."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from sqlite_utils import Database

from campaigns.messenger import StartupFailure
from campaigns.packs import PackError
from cli.logs import configure_logging, redact
from db.store import DatabaseUnavailable, open_database
from settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="campaignbot",
    help="The supporter campaign bot: one ask a week on Telegram, Discord and the terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _show_version(wanted: bool) -> None:
    if wanted:
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
    except PackError as exc:
        err.print(str(exc), markup=False, highlight=False)
        sys.exit(2)
    except (SettingsError, StartupFailure) as exc:
        _one_line(str(exc))
    except DatabaseUnavailable as exc:
        _one_line(
            f"db (CAMPAIGNBOT_DB): can't open {exc.path}: {exc.reason}. Check the path, and "
            "that this user may write to the file and its folder."
        )


def _one_line(message: str) -> NoReturn:
    try:
        fail(message)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)


# Register the commands (each module adds its own to `app`).
from cli import (  # noqa: E402, F401
    backup_cmd,
    campaigns_cmd,
    chat_cmd,
    schedule_cmd,
    sources_cmd,
    stats_cmd,
    users_cmd,
    web_cmd,
)
