"""`campaignbot chat` and `campaignbot run`: the bot itself."""

from __future__ import annotations

import asyncio
import sys

from cli import app, error, fail, settings

# The bot and its dashboard (runner, bots, web), the settings and the database are
# imported inside the two commands that use them: at the top, they would make every
# other command start slowly.


@app.command()
def chat() -> None:
    """Chat with the bot as a supporter, in this terminal (reads standard input)."""
    from bots.console import ConsoleChat
    from runner import open_core

    core = open_core(settings())

    async def session() -> None:
        await ConsoleChat(core).run()

    try:
        asyncio.run(session())
    finally:
        core.close()


@app.command()
def run() -> None:
    """Run the scheduler and every chat adapter that has a token; with none, the console chat.

    One bot per database: a second `run` on the same database stops at once."""
    from cli.lock import BotRunning, hold
    from runner import NothingCanChat, run_bot
    from settings import SettingsError

    config = settings()
    try:
        with hold(config.db):
            asyncio.run(run_bot(config, interactive=sys.stdin.isatty()))
    except (SettingsError, BotRunning) as exc:
        fail(str(exc))
    except NothingCanChat as exc:
        for line in exc.lines[:-1]:
            error(line)
        fail(exc.lines[-1])
