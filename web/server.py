"""Serving the dashboard with uvicorn inside an event loop someone else runs.

`campaignbot run` serves it on the bots' loop, next to the scheduler; the
process that owns the loop owns the signals too, so this server installs no
signal handlers. It runs until cancelled, then closes its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = asyncio.Event()  # set once listening (uvicorn has only a flag)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the host process handles SIGINT and SIGTERM

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port). Raises OSError if it's taken.

    Made with the TCP protocol named, so asyncio turns Nagle's algorithm off on each
    connection (it checks the protocol); else a response written in two parts waits
    for the client's delayed ACK, some 40 ms.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve `app` on host:port (or on `sock`) until this coroutine is cancelled.
    `ready` is set once the server has started and said so in the log (the console
    chat waits for it, so no start-up line lands after its first prompt)."""
    sock = sock or listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    _drop_trace_lines()
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,  # keep the host's logging set-up
        access_log=False,  # addresses and link tokens stay out of the log
        server_header=False,
        # The app believes X-Forwarded-For itself, from `trusted_proxies` only (web.app).
        proxy_headers=False,
        timeout_graceful_shutdown=3,
        timeout_keep_alive=30,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="dashboard")
    try:
        up = asyncio.ensure_future(server.up.wait())
        await asyncio.wait({up, task}, return_when=asyncio.FIRST_COMPLETED)
        up.cancel()
        log.info("dashboard at http://%s:%s/", _show(bound_host), bound_port)
        if ready is not None:
            ready.set()
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        raise
    finally:
        sock.close()


class _NoTrace(logging.Filter):
    """Drops uvicorn's TRACE lines: they carry each request's path, and a path may
    hold a link token. (Access lines are off: `access_log=False`.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.DEBUG


def _drop_trace_lines() -> None:
    for name in ("uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoTrace) for f in logger.filters):
            logger.addFilter(_NoTrace())


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host
