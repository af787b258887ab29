"""When a request reached the fake, by the kernel's clock rather than the fake's own.

Telegram counts a message against its flood limits from when it reached Telegram's
servers, which do not fall behind because the bot's machine is busy. The fake runs on
the bot's machine: under load its event loop takes in a bunch, tens or hundreds of
milliseconds late, requests that reached its socket evenly (`bench.paid_trace`
measured the fake's handler starting 60 ms after aiohttp had written the request at
the median and 365 ms at the 99th percentile on a busy machine, while the bot's side
added 0.1 and 8 ms), and counting from there sees bursts the bot never sent.

So each connection is read with `recvmsg` and the kernel's receive time of the bytes
(`SO_TIMESTAMPNS`, Linux) is kept; the handler reads it as the request's arrival. A
connection is watched from when the server accepts it (`watch_connections`); where the
kernel or the event loop does not allow it, the clock is used.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import time
from typing import Any

# Linux's numbers (asm-generic/socket.h); Python's socket module does not name them.
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
_CMSG_SPACE = socket.CMSG_SPACE(16)
_STAMP = "_fake_arrival"  # the transport's attribute: kernel time of the last bytes read


def watch_connections(server: Any) -> None:
    """Watch every connection an aiohttp `web.Server` accepts, before its first read
    (its request handlers tell the server of a new connection first thing)."""
    made = server.connection_made

    def connection_made(handler: Any, transport: asyncio.BaseTransport) -> None:
        made(handler, transport)
        watch(transport)

    server.connection_made = connection_made


def watch(transport: asyncio.BaseTransport | None) -> None:
    """Keep the kernel's receive time of what this connection reads from now on."""
    if transport is None or not sys.platform.startswith("linux"):
        return
    if hasattr(transport, _STAMP) or not hasattr(transport, "_read_ready_cb"):
        return
    sock: Any = getattr(transport, "_sock", None)
    if not isinstance(sock, socket.socket):
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return
    setattr(transport, _STAMP, None)
    transport._read_ready_cb = _reader(transport, sock)


def arrived(transport: asyncio.BaseTransport | None) -> float | None:
    """When the last bytes this connection read reached the machine, as
    `time.monotonic()`; None if not known."""
    stamp: float | None = getattr(transport, _STAMP, None) if transport is not None else None
    if stamp is None:
        return None
    # The kernel's stamp is wall-clock time: moved onto the monotonic clock, never later
    # than now.
    now_mono, now_wall = time.monotonic(), time.time()
    return min(now_mono, stamp - (now_wall - now_mono))


def _reader(transport: Any, sock: socket.socket) -> Any:
    """asyncio's `_read_ready__data_received`, reading with recvmsg to get the stamp."""

    def read_ready() -> None:
        if transport._conn_lost:
            return
        try:
            data, ancillary, _, _ = sock.recvmsg(transport.max_size, _CMSG_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            transport._fatal_error(exc, "Fatal read error on socket transport")
            return
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanoseconds = struct.unpack("qq", payload[:16])
                setattr(transport, _STAMP, seconds + nanoseconds / 1e9)
        if not data:
            transport._read_ready__on_eof()
            return
        try:
            transport._protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            transport._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")

    return read_ready
