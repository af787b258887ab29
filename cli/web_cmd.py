"""`campaignbot web`: the dashboard on its own, without the bots.

`campaignbot run` serves the same dashboard next to the bots; run this one
instead when the bots run elsewhere (test sends then need `campaignbot run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated

import typer

from cli import app, fail, settings


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
        dashboard = asyncio.create_task(serve(create_app(core, config), host, port, sock=sock))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, dashboard.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await dashboard

    try:
        asyncio.run(main())
    finally:
        core.close()
