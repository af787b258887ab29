"""Why the Discord adapter can't come online, as one line: the setting to check and
the fix, never the token and never a library traceback (`DiscordBot.online` raises
`StartupFailure` with these). Only definite refusals get here: what waiting might
mend is retried (`bots.discord.connection`)."""

from __future__ import annotations

import asyncio

import discord

REFUSED_LOGIN = (
    "DISCORD_BOT_TOKEN: Discord refused the token. Copy it again from the Developer "
    "Portal (your application, Bot, Reset Token)."
)


def login_refused(exc: discord.HTTPException, api_url: str | None) -> str:
    """Logging in was refused with another 4xx (a wrong address answers 404)."""
    if api_url:
        return (
            f"DISCORD_API_URL: Discord answered {exc.status} when the bot logged in: "
            "check DISCORD_API_URL (it ends in /api/v10)."
        )
    return f"DISCORD_BOT_TOKEN: Discord answered {exc.status} when the bot logged in."


def gateway_stopped(runner: asyncio.Task[None], gateway_url: str | None) -> str:
    """Why the gateway task ended: a refusal no retry can mend."""
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
        return f"Discord's gateway refused the bot ({exc.code}){check}"
    except asyncio.CancelledError:
        return "Discord's gateway connection was stopped."
    except Exception as exc:  # anything else: its kind, never its text
        return f"Discord's gateway failed ({exc.__class__.__name__}){check}"
    return "Discord's gateway connection ended."
