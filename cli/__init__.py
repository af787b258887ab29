"""The `campaignbot` command: run the bot, chat, check packs, count participation."""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler

from campaigns.packs import PackError
from campaigns.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="campaignbot",
    help="The supporter campaign bot: one ask a week on Telegram, Discord and the terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error on standard error and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings() -> Settings:
    """The settings, or a clear exit naming the bad one."""
    try:
        loaded = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    configure_logging(loaded.log_level)
    return loaded


def configure_logging(level: str) -> None:
    """Rich log lines in a terminal; plain, timestamped lines in a file or a pipe."""
    if err.is_terminal:
        handler: logging.Handler = RichHandler(console=err, show_path=False)
        layout = "%(message)s"
    else:
        handler = logging.StreamHandler(sys.stderr)
        layout = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=layout, handlers=[handler], force=True)
    # HTTP client libraries log request URLs, and Telegram's URLs hold the bot token.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except PackError as exc:
        err.print(str(exc), markup=False, highlight=False)
        sys.exit(2)


# Register the commands (each module adds its own to `app`).
from cli import campaigns_cmd, chat_cmd, schedule_cmd, stats_cmd, users_cmd, web_cmd  # noqa: E402, F401
