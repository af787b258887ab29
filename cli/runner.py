"""Everything `campaignbot run` starts, on one event loop: the adapters that have a
token (or the console chat), the delivery engine and the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from bots.console import ConsoleChat
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Messenger
from campaigns.links import link_maker
from campaigns.organising import OrganiserDesk
from campaigns.settings import Settings, SettingsError
from scheduler import CampaignScheduler
from web.app import create_app
from web.server import listen, serve

log = logging.getLogger(__name__)


def tune_garbage_collector() -> None:
    """Keep the collector's pauses out of reply times.

    After start-up the process holds a few hundred thousand long-lived objects
    (the libraries, the packs); each full collection walks them all, stalling the
    loop for up to ~100 ms. Freezing them leaves them out, and a larger first
    threshold makes collections rarer (measured in bench/telegram.py: a press's
    p99 went from ~110 ms to under 10 ms).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def run_bot(settings: Settings, *, interactive: bool) -> None:
    """Run until SIGINT or SIGTERM (or until the console chat ends)."""
    # The dashboard's port is taken first, so a busy port stops the bot at start.
    try:
        sock = listen(settings.web_host, settings.web_port)
    except OSError as exc:
        raise SettingsError(
            f"web_port (CAMPAIGNBOT_WEB_PORT): can't listen on "
            f"{settings.web_host}:{settings.web_port}: {exc.strerror or exc}"
        ) from None
    core = Core.open(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    desk = OrganiserDesk(core)
    messengers: dict[str, Messenger] = {}
    adapters: list[Any] = []
    if settings.telegram_bot_token is not None:
        from bots.telegram.bot import TelegramBot

        telegram = TelegramBot(
            core,
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_url,
            desk=desk,
            max_rate=settings.telegram_max_rate,
        )
        messengers[telegram.platform] = telegram
        adapters.append(telegram)
    if settings.discord_bot_token is not None:
        from bots.discord.bot import DiscordBot

        discord_bot = DiscordBot(
            core,
            settings.discord_bot_token.get_secret_value(),
            desk=desk,
            organiser_guild=settings.discord_organiser_guild,
            organiser_role=settings.discord_organiser_role,
            api_url=settings.discord_api_url,
            gateway_url=settings.discord_gateway_url,
        )
        messengers[discord_bot.platform] = discord_bot
        adapters.append(discord_bot)
    console: ConsoleChat | None = None
    if not adapters and interactive:
        console = ConsoleChat(core)
        messengers[console.platform] = console
    elif not adapters:
        log.info("no chat adapter has a token and no terminal is attached: scheduler only")
    engine = DeliveryEngine(core.store, core.ctx, messengers, link_for=link_maker(settings))
    desk.engine = engine
    scheduler = CampaignScheduler(
        core.store, core.ctx.catalog, engine, retention_months=settings.retention_months
    )
    tasks: list[asyncio.Task[None]] = []
    started: list[Any] = []
    try:
        for adapter in adapters:
            try:
                await adapter.online()
            except BaseException:
                # let it close whatever it opened before failing
                with contextlib.suppress(Exception):
                    await adapter.offline()
                raise
            started.append(adapter)
        await scheduler.start()
        tune_garbage_collector()
        dashboard = create_app(core, settings, messengers=messengers)
        tasks.append(
            asyncio.create_task(serve(dashboard, settings.web_host, settings.web_port, sock=sock))
        )
        if console is not None:
            tasks.append(asyncio.create_task(_until_done(console.run(), stop)))
        await stop.wait()
    finally:
        log.info("stopping")
        scheduler.shutdown()
        await engine.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sock.close()
        for adapter in reversed(started):
            await adapter.offline()
        core.close()


async def _until_done(chat: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    try:
        await chat
    finally:
        stop.set()
