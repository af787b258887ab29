"""`campaignbot chat` and `campaignbot run`: the bot itself."""

from __future__ import annotations

import asyncio
import sys

from bots.console import ConsoleChat
from campaigns.core import Core
from campaigns.settings import SettingsError
from cli import app, fail, settings
from cli.runner import run_bot


@app.command()
def chat() -> None:
    """Chat with the bot as a supporter, in this terminal (reads standard input)."""
    core = Core.open(settings())

    async def session() -> None:
        await ConsoleChat(core).run()

    try:
        asyncio.run(session())
    finally:
        core.close()


@app.command()
def run() -> None:
    """Run the scheduler and every chat adapter that has a token; with none, the console chat."""
    config = settings()
    try:
        asyncio.run(run_bot(config, interactive=sys.stdin.isatty()))
    except SettingsError as exc:
        fail(str(exc))
