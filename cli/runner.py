"""Everything `campaignbot run` starts, on one event loop: the scheduler and the adapters."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from bots.console import ConsoleChat
from campaigns.core import Core
from campaigns.settings import Settings
from scheduler import CampaignScheduler

log = logging.getLogger(__name__)


async def run_bot(settings: Settings, *, interactive: bool) -> None:
    """Run until the console chat ends, or until SIGINT or SIGTERM."""
    core = Core.open(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def weekly(slug: str) -> None:
        log.info("weekly ask of %s is due", slug)

    scheduler = CampaignScheduler(core.ctx.catalog, weekly)
    scheduler.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        if interactive:
            tasks.append(asyncio.create_task(_until_done(ConsoleChat(core).run(), stop)))
        else:
            log.info("no chat adapter has a token and no terminal is attached: scheduler only")
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        scheduler.shutdown()
        core.close()


async def _until_done(chat: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    try:
        await chat
    finally:
        stop.set()
