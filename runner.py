"""Everything `campaignbot run` starts, on one event loop: the adapters that have a
token (or the console chat), the delivery engine, the scheduler and the dashboard.

Each adapter comes online in a task of its own: while one retries its platform (the
adapter retries network errors, 5xx and timeouts itself, for as long as it takes),
the scheduler, the dashboard and the other adapter serve. The engine keeps a
platform's deliveries pending until its adapter is online. Only a definite refusal
(a refused token) stops an adapter, and `run` stops only when no adapter is left
that could chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute

from bots.console import ConsoleChat
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine
from campaigns.erasures import Ledger, LedgerError, LedgerMismatch, replay_database
from campaigns.links import link_maker
from campaigns.messenger import Adapter, Messenger, StartupFailure
from campaigns.reloading import CatalogFollower
from db.backup import latest_backup
from db.catalog import AskRow
from db.store import MEMORY
from scheduler import CampaignScheduler
from settings import Settings, SettingsError
from web.app import create_app
from web.server import listen, serve

log = logging.getLogger(__name__)


class NothingCanChat(Exception):
    """Every configured chat adapter was refused: `lines` says why, one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


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


def open_core(settings: Settings) -> Core:
    """The campaign core, from the settings (it takes plain values). First the erasures
    a database put back by hand doesn't hold are made again; from then on every
    erasure is written to the erasure ledger before it commits (`campaigns.erasures`)."""
    secret = settings.button_secret()
    ledger = keep_erasures(settings.db, secret)
    core = Core.open(
        settings.db,
        settings.packs,
        secret,
        default_campaign=settings.default_campaign,
        retention_months=settings.retention_months,
        organisers=settings.organisers,
    )
    if ledger is not None:
        try:
            core.store.submit(ledger.watch).result()
        except BaseException:
            core.close()
            raise
    return core


def keep_erasures(db: Path, secret: bytes) -> Ledger | None:
    """The database's erasure ledger, after replaying what the database doesn't hold
    (a backup copied back by hand); None for a database in memory."""
    if str(db) == MEMORY:
        return None
    ledger = Ledger.beside(db.absolute(), secret)
    try:
        replayed = replay_database(db, ledger)
    except (LedgerMismatch, LedgerError) as exc:
        raise SettingsError(f"secret_key (CAMPAIGNBOT_SECRET_KEY): {exc}") from None
    if replayed is not None and replayed.entries:
        log.warning(
            "erasure ledger: this database lacked %d of its erasures (a backup put back, "
            "or a crash before a commit); %d supporters erased again",
            replayed.entries,
            replayed.erased,
        )
    return ledger


def tracked_links(settings: Settings) -> Callable[[int, AskRow], str] | None:
    """The engine's link maker: tracked links when the dashboard has a public address."""
    return link_maker(settings.public_base_url, settings.button_secret())


def chat_adapters(settings: Settings, core: Core) -> list[Adapter]:
    """An adapter for each platform that has a token."""
    adapters: list[Adapter] = []
    if settings.telegram_webhook_url and settings.telegram_bot_token is None:
        log.warning(
            "telegram_webhook_url is set but TELEGRAM_BOT_TOKEN is not: no Telegram adapter, "
            "nothing is served at the webhook address"
        )
    if settings.telegram_bot_token is not None:
        from bots.telegram.bot import TelegramBot
        from bots.telegram.webhook import Webhook

        url = settings.telegram_webhook_url
        adapters.append(
            TelegramBot(
                core,
                settings.telegram_bot_token.get_secret_value(),
                base_url=settings.telegram_api_url,
                max_rate=settings.telegram_max_rate,
                paid_broadcast=settings.telegram_paid_broadcast,
                paid_rate=settings.telegram_paid_rate,
                webhook=Webhook.derived(url, settings.button_secret()) if url else None,
            )
        )
    if settings.discord_bot_token is not None:
        from bots.discord.bot import DiscordBot

        adapters.append(
            DiscordBot(
                core,
                settings.discord_bot_token.get_secret_value(),
                organiser_guild=settings.discord_organiser_guild,
                organiser_role=settings.discord_organiser_role,
                api_url=settings.discord_api_url,
                gateway_url=settings.discord_gateway_url,
            )
        )
    return adapters


def adapter_routes(settings: Settings, adapters: list[Adapter]) -> list[BaseRoute]:
    """What the adapters serve on the dashboard's port: Telegram's webhook, when set."""
    if settings.telegram_webhook_url is None:
        return []
    from bots.telegram.bot import TelegramBot

    return [r for adapter in adapters if isinstance(adapter, TelegramBot) for r in adapter.routes()]


def last_backup(settings: Settings) -> Callable[[], datetime | None] | None:
    """For /metrics: when the latest backup in `backup_dir` was taken (None if there is
    none yet); no such question when no backup folder is set."""
    folder = settings.backup_dir
    if folder is None:
        return None

    def taken() -> datetime | None:
        found = latest_backup(folder)
        return found[1] if found else None

    return taken


class Adapters:
    """The chat adapters coming online, each on its own, and going offline together."""

    def __init__(
        self, adapters: list[Adapter], engine: DeliveryEngine, stop: asyncio.Event
    ) -> None:
        self.adapters = adapters
        self.engine = engine
        self.stop = stop
        self.refused: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._to_close: list[Adapter] = []

    def start(self) -> None:
        """Start each adapter's way online; nothing waits for it."""
        for adapter in self.adapters:
            self.engine.set_online(adapter.platform, False)
            self._to_close.append(adapter)
            self._tasks.append(
                asyncio.create_task(self._online(adapter), name=f"online-{adapter.platform}")
            )

    async def _online(self, adapter: Adapter) -> None:
        try:
            await adapter.online()
        except StartupFailure as exc:
            await self._refused(adapter, str(exc))
            return
        except Exception:
            log.exception("%s: could not come online", adapter.platform)
            await self._refused(adapter, f"{adapter.platform}: could not come online (see above)")
            return
        self.engine.set_online(adapter.platform, True)

    async def _refused(self, adapter: Adapter, line: str) -> None:
        log.error("%s", line)
        self.refused.append(line)
        self._to_close.remove(adapter)
        with contextlib.suppress(Exception):
            await adapter.offline()
        if len(self.refused) == len(self.adapters):
            self.stop.set()  # nothing can chat

    @property
    def all_refused(self) -> bool:
        return bool(self.adapters) and len(self.refused) == len(self.adapters)

    async def close(self) -> None:
        """Stop those still retrying, then take every adapter not refused offline."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for adapter in reversed(self._to_close):
            try:
                await adapter.offline()
            except Exception:
                log.exception("%s: going offline failed", adapter.platform)


async def run_bot(settings: Settings, *, interactive: bool) -> None:
    """Run until SIGINT or SIGTERM (or until the console chat ends).

    Raises `NothingCanChat` if every chat adapter was refused."""
    # The dashboard's port is taken first, so a busy port stops the bot at start.
    try:
        sock = listen(settings.web_host, settings.web_port)
    except OSError as exc:
        raise SettingsError(
            f"web_port (CAMPAIGNBOT_WEB_PORT): can't listen on "
            f"{settings.web_host}:{settings.web_port}: {exc.strerror or exc}"
        ) from None
    core = open_core(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    adapters = chat_adapters(settings, core)
    messengers: dict[str, Messenger] = {adapter.platform: adapter for adapter in adapters}
    console: ConsoleChat | None = None
    if not adapters and interactive:
        console = ConsoleChat(core)
        messengers[console.platform] = console
    elif not adapters:
        log.info("no chat adapter has a token and no terminal is attached: scheduler only")
    engine = DeliveryEngine(core.store, core.ctx, messengers, link_for=tracked_links(settings))
    core.attach(engine)
    scheduler = CampaignScheduler(
        core.store,
        core.ctx.catalog,
        engine,
        retention_months=settings.retention_months,
        backup_dir=settings.backup_dir,
        backup_keep=settings.backup_keep,
        # campaigns imported or edited while the bot runs are picked up within seconds
        follower=CatalogFollower(core.store, core.ctx, settings.default_campaign),
    )
    chats = Adapters(adapters, engine, stop)
    tasks: list[asyncio.Task[None]] = []
    try:
        chats.start()
        await scheduler.start()
        tune_garbage_collector()
        dashboard = create_app(
            core,
            settings,
            messengers=messengers,
            routes=adapter_routes(settings, adapters),
            scheduler=scheduler.scheduler,
            engine=engine,
            last_backup=last_backup(settings),
        )
        served = asyncio.Event()
        tasks.append(
            asyncio.create_task(
                serve(dashboard, settings.web_host, settings.web_port, sock=sock, ready=served)
            )
        )
        if console is not None:
            # After the start-up lines, so none lands after the chat's first prompt.
            tasks.append(asyncio.create_task(_until_done(_after(served, console.run()), stop)))
        await stop.wait()
    finally:
        log.info("stopping")
        scheduler.shutdown()
        await engine.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sock.close()
        await chats.close()
        core.close()
    if chats.all_refused:
        raise NothingCanChat(chats.refused)


async def _after(event: asyncio.Event, chat: Coroutine[Any, Any, None]) -> None:
    await event.wait()
    await chat


async def _until_done(chat: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    try:
        await chat
    finally:
        stop.set()
