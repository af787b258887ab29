"""Coming online, and staying online, through Discord's bad days.

discord.py's `Client.connect` reconnects on its own once connected, but not in a way
a volunteer running the bot can live with: before its first connection it trips over
its own missing socket (2.7 raises `AttributeError` after the first failed try), each
retry is logged with a full traceback, and its backoff grows to about 17 minutes. So
`DiscordBot` runs its own loops here: logging in (GET /users/@me and the application)
and the gateway connection, retried with capped exponential backoff and jitter, one
warning line per failed try, never the token. Only a definite refusal stops them: a
refused token (401, gateway close 4004) or a gateway that refuses the bot's settings
(intents, shards, version: 4010 to 4014).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket, ReconnectWebSocket
from discord.utils import MISSING

from bots.discord.startup import REFUSED_LOGIN, login_refused
from campaigns.backoff import Backoff
from campaigns.messenger import StartupFailure

log = logging.getLogger(__name__)
LIBRARY_LOG = logging.getLogger("discord.client")  # discord.py's log of logging in

# Gateway close codes that no retry can mend: the token, the shards, the API version,
# the intents (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
DEFINITE_CLOSE_CODES = {4004, 4010, 4011, 4012, 4013, 4014}
# What a request or a connection can fail with that waiting might mend.
NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
CONNECT_TIMEOUT = 60.0  # seconds for the websocket, HELLO and IDENTIFY (discord.py's own)
# Unknown interaction: it expired (3 s) before the answer got through.
EXPIRED_INTERACTION = 10062


class Connecting(discord.Client):
    """A discord.py client the loops here bring and keep online (`DiscordBot`, which
    imports this module: named here so that this module needn't import it back).

    `gateway` is where it connects, rather than discord.py's process-wide default;
    `settled` is set by its READY and RESUMED handlers; `last_event` is when the gateway
    last sent anything (an event or a heartbeat's answer: `time.time()`)."""

    token: str
    api_url: str | None
    gateway: yarl.URL
    settled: bool
    last_event: float | None


# The API address discord.py's requests go to, while bots use it: how many use which
# address, and the one to put back when the last of them stops (`point_api_at`).
_API_USERS: Counter[str] = Counter()
_API_BEFORE: list[str] = []


def point_api_at(api_url: str | None) -> Callable[[], None]:
    """Send discord.py's REST requests to `api_url` (None: leave them be) until the
    returned function is called (calling it again does nothing).

    This is process-wide, and the one place that changes discord.py: discord.py 2.7
    builds every REST URL, its `HTTPClient`'s and those of the webhook adapter that
    answers interactions, from the class attribute `discord.http.Route.BASE`, and
    offers no per-client setting for it (`proxy` tunnels requests, it doesn't
    readdress them). So all the bots in a process share one API address: a bot
    asking for another one while a bot still uses the first is refused with
    `ValueError`, rather than silently moving the first bot's requests; the last one
    to stop puts the address from before back. (The gateway is per client: `gateway`.)
    """
    if api_url is None:
        return lambda: None
    base = api_url.rstrip("/")
    if _API_USERS and base not in _API_USERS:
        raise ValueError("another Discord bot in this process uses a different API address")
    if not _API_USERS:
        _API_BEFORE[:] = [discord.http.Route.BASE]
    _API_USERS[base] += 1
    discord.http.Route.BASE = base
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        _API_USERS[base] -= 1
        if _API_USERS[base] == 0:
            del _API_USERS[base]
            discord.http.Route.BASE = _API_BEFORE.pop()

    return release


def is_outage(exc: BaseException) -> bool:
    """Discord failing, out of reach, or too slow for an interaction: not a bug of ours,
    so one line in the log, no traceback."""
    if isinstance(exc, discord.NotFound) and exc.code == EXPIRED_INTERACTION:
        return True
    return isinstance(exc, (discord.DiscordServerError, *NETWORK_ERRORS))


def outage_line(exc: BaseException) -> str:
    if isinstance(exc, discord.NotFound):
        return "it expired first (Discord was slow or out of reach)"
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status}"
    return f"Discord is out of reach ({exc.__class__.__name__})"


def where(url: str | yarl.URL) -> str:
    """An address as logs show it: scheme, host and port (a path or query could hide
    a secret)."""
    parts = yarl.URL(url) if isinstance(url, str) else url
    return f"{parts.scheme}://{parts.host}" + (f":{parts.port}" if parts.explicit_port else "")


def seconds(delay: float) -> str:
    return f"{delay:.2g}s"


def _kind(exc: BaseException) -> str:
    return exc.__class__.__name__


class AgainFilter(logging.Filter):
    """Drops discord.py's "logging in" line for every try after the first: one line a
    failed try is ours."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "logging in using static token":
            return True
        again, self.seen = self.seen, True
        return not again


async def log_in(bot: Connecting, backoff: Backoff) -> None:
    """`Client.login` until it works: a refused token raises `StartupFailure`, and so
    does any other 4xx; network errors, timeouts, 429s and 5xx are retried."""
    quiet = AgainFilter()
    LIBRARY_LOG.addFilter(quiet)
    try:
        await _log_in(bot, backoff)
    finally:
        LIBRARY_LOG.removeFilter(quiet)


async def _log_in(bot: Connecting, backoff: Backoff) -> None:
    api = where(discord.http.Route.BASE)
    while True:
        try:
            await bot.login(bot.token)
            return
        except discord.LoginFailure:
            raise StartupFailure(REFUSED_LOGIN) from None
        except discord.HTTPException as exc:
            if exc.status < 500 and exc.status != 429:
                raise StartupFailure(login_refused(exc, bot.api_url)) from None
            trouble = f"the API at {api} answered {exc.status} when the bot logged in"
        except NETWORK_ERRORS as exc:
            trouble = f"can't reach the API at {api} ({_kind(exc)})"
        delay = backoff.next()
        log.warning("discord: %s; trying again in %s", trouble, seconds(delay))
        await forget_session(bot)
        await asyncio.sleep(delay)


async def forget_session(bot: Connecting) -> None:
    """Close the HTTP session a failed login opened; the next login opens a new one
    (discord.py opens one per login and would leave the old one unclosed)."""
    await bot.http.close()
    bot.http.connector = MISSING


async def stay_connected(bot: Connecting, backoff: Backoff) -> None:
    """The gateway connection for as long as the bot runs (discord.py's `connect` loop,
    with our retries): resume after a drop, identify anew when the session is gone.

    Ends by raising only for a definite refusal (`ConnectionClosed` with one of
    `DEFINITE_CLOSE_CODES`, `PrivilegedIntentsRequired` for 4014), or when the bot closes.
    """
    params: dict[str, Any] = {"initial": True, "shard_id": bot.shard_id, "gateway": bot.gateway}
    while not bot.is_closed():
        if bot.settled:
            params["initial"] = False  # discord.py spaces later IDENTIFYs 5 s apart
        bot.settled = False  # until READY or RESUMED on this connection
        gateway = params["gateway"]
        try:
            connecting = DiscordWebSocket.from_client(bot, **params)
            bot.ws = await asyncio.wait_for(connecting, timeout=CONNECT_TIMEOUT)
            while True:
                await bot.ws.poll_event()
                bot.last_event = time.time()
        except ReconnectWebSocket as exc:
            bot.dispatch("disconnect")
            if bot.ws is not None:  # None: closed before the first HELLO; identify again
                params.update(
                    sequence=bot.ws.sequence, resume=exc.resume, session=bot.ws.session_id
                )
                # Resume where READY said; identify anew at the bot's own gateway
                # (discord.py would go back to its process-wide default).
                params["gateway"] = bot.ws.gateway if exc.resume else bot.gateway
            if bot.settled:
                # A connection that was working: Discord asked for a reconnect, or it
                # dropped. Straight back, as discord.py does.
                log.info("discord: the gateway connection ended; reconnecting")
                continue
            trouble = f"the gateway at {where(gateway)} closed the connection before it was ready"
        except discord.ConnectionClosed as exc:
            bot.dispatch("disconnect")
            if bot.is_closed():
                return
            if exc.code == 4014:
                await bot.close()
                raise discord.PrivilegedIntentsRequired(exc.shard_id) from None
            if exc.code in DEFINITE_CLOSE_CODES:
                await bot.close()
                raise
            trouble = f"the gateway at {where(gateway)} closed the connection ({exc.code})"
        except (discord.GatewayNotFound, discord.HTTPException, *NETWORK_ERRORS) as exc:
            bot.dispatch("disconnect")
            if bot.is_closed():
                return
            trouble = f"can't reach the gateway at {where(gateway)} ({_kind(exc)})"
        delay = backoff.next()
        log.warning("discord: %s; trying again in %s", trouble, seconds(delay))
        await asyncio.sleep(delay)
        if bot.ws is not None and bot.ws.session_id is not None:
            # Connected before: always try to RESUME (the gateway invalidates the
            # session if it can't be resumed, and the bot identifies anew).
            params.update(
                sequence=bot.ws.sequence,
                gateway=bot.ws.gateway,
                resume=True,
                session=bot.ws.session_id,
            )
