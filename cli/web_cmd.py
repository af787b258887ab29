"""`campaignbot web`: the dashboard on its own, without the bots.

`campaignbot run` serves the same dashboard next to the bots; run this one
instead when the bots run elsewhere (test sends then need `campaignbot run`).
Like `run`, it follows campaign changes made elsewhere (an import from the CLI, a
pack file copied in by another command, another dashboard) within seconds: one
APScheduler job, the `catalog` job `run`'s scheduler has, keeps its catalog current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from cli import app, fail, settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from campaigns.reloading import CatalogFollower


def following(follower: CatalogFollower) -> AsyncIOScheduler:
    """A scheduler (not started) with one job: every couple of seconds, swap in the
    campaigns of the database if they changed (one small read when they didn't)."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from campaigns.reloading import FOLLOW_SECONDS

    async def follow() -> None:
        try:
            await follower.check()
        except Exception as exc:  # the store is busy or closing: the next look tries again
            log.warning("campaigns: can't look for changes now (%s)", type(exc).__name__)

    jobs = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})
    jobs.add_job(
        follow,
        IntervalTrigger(seconds=FOLLOW_SECONDS),
        id="catalog",
        name="pick up campaign changes",
    )
    return jobs


@app.command()
def web(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: the web_host setting).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: the web_port setting).")
    ] = None,
) -> None:
    """Serve the staff and organiser dashboard on its own until Ctrl+C."""
    # Imported here: the bot and the web stack would slow every other command's start.
    from campaigns.reloading import CatalogFollower
    from runner import open_core
    from web.app import create_app
    from web.server import listen, serve

    config = settings()
    host = host or config.web_host
    port = config.web_port if port is None else port
    try:
        sock = listen(host, port)
    except OSError as exc:
        fail(f"can't listen on {host}:{port}: {exc.strerror or exc}")
    core = open_core(config)

    async def main() -> None:
        jobs = following(CatalogFollower(core.store, core.ctx, config.default_campaign))
        jobs.start()  # on this loop
        dashboard = asyncio.create_task(serve(create_app(core, config), host, port, sock=sock))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, dashboard.cancel)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await dashboard
        finally:
            jobs.shutdown(wait=False)

    try:
        asyncio.run(main())
    finally:
        core.close()
