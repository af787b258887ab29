"""Why the Discord adapter can't come online, as one line: the setting to check and
the fix, never the token and never a library traceback (`DiscordBot.online` raises
`StartupFailure` with these)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import discord
import yarl

REFUSED_LOGIN = (
    "DISCORD_BOT_TOKEN: Discord refused the token. Copy it again from the Developer "
    "Portal (your application, Bot, Reset Token)."
)
# discord.py's own logger for its connection loop.
LIBRARY_LOG = logging.getLogger("discord.client")


def unreachable(setting: str, url: str | None, exc: BaseException | None = None) -> str:
    """Can't get there: the address set (never its path or query, where a secret could
    hide) and its setting; or, with Discord's own address, the network."""
    why = f" ({exc.__class__.__name__})" if exc is not None else ""
    if not url:
        return f"Can't reach Discord{why}: check the network connection."
    parts = yarl.URL(url)
    where = f"{parts.scheme}://{parts.host}" + (f":{parts.port}" if parts.explicit_port else "")
    return f"{setting}: can't reach {where}{why}: check the network and {setting}."


def login_refused(exc: discord.HTTPException, api_url: str | None) -> str:
    """Logging in failed with another status (a 5xx, or a refused command list)."""
    check = ", and check DISCORD_API_URL." if api_url else "."
    return f"Discord answered {exc.status} when the bot logged in: try again later{check}"


def gateway_stopped(runner: asyncio.Task[None], gateway_url: str | None) -> str:
    """Why the gateway task ended before the bot was ready."""
    check = ", and check DISCORD_GATEWAY_URL." if gateway_url else "."
    try:
        runner.result()
    except discord.PrivilegedIntentsRequired:
        return (
            "Discord refused the bot's intents: it needs no privileged intent, so check "
            "DISCORD_GATEWAY_URL."
        )
    except discord.ConnectionClosed as exc:
        if exc.code == 4004:  # authentication failed
            return REFUSED_LOGIN
        return (
            f"Discord's gateway closed the connection ({exc.code}) while the bot was "
            f"starting: try again later{check}"
        )
    except (discord.GatewayNotFound, aiohttp.ClientError, OSError) as exc:
        return unreachable("DISCORD_GATEWAY_URL", gateway_url, exc)
    except Exception as exc:  # anything else: its kind, never its text
        return f"Discord's gateway failed while the bot was starting ({exc.__class__.__name__})."
    return "Discord's gateway stopped before the bot was ready."


class FirstConnectFilter(logging.Filter):
    """Drops discord.py's "Attempting a reconnect" traceback while the bot has never
    connected: `online` stops there with one line instead of retrying for ever."""

    def __init__(self, client: discord.Client) -> None:
        super().__init__()
        self.client = client

    def filter(self, record: logging.LogRecord) -> bool:
        retrying = str(record.msg).startswith("Attempting a reconnect")
        return not (retrying and self.client.ws is None)
