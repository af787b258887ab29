"""One listening socket for an aiohttp app, which a test can take down for a while.

Taking it down closes the socket (new connections are refused, as when a host is
down) and cuts every open connection without an answer (keep-alive HTTP connections
and websockets alike); bringing it up listens again on the same port, so the
addresses a client was given stay right.
"""

from __future__ import annotations

import asyncio

from aiohttp import web


class Listener:
    """An aiohttp app on 127.0.0.1, on a free port chosen at the first start."""

    def __init__(self, app: web.Application) -> None:
        self.runner = web.AppRunner(app, access_log=None)
        self.port = 0
        self._site: web.TCPSite | None = None

    @property
    def down(self) -> bool:
        return self._site is None

    async def start(self) -> None:
        await self.runner.setup()
        await self.up()

    async def up(self) -> None:
        """Listen (again, on the same port)."""
        if self._site is not None:
            return
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self._site = site
        self.port = self.runner.addresses[0][1]

    async def take_down(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._site is None:
            return
        site, self._site = self._site, None
        await site.stop()
        server = self.runner.server
        for handler in server.connections if server is not None else []:
            handler.force_close()
        # Let the peers see their connections end, as a reset over a network would
        # show them, before the test goes on.
        await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._site = None
        await self.runner.cleanup()
