"""A strict fake Discord for tests: REST API v10 and the gateway, over real sockets.

The real discord.py ``Client`` connects to it unchanged. What it accepts comes from
Discord's own OpenAPI spec (``tests/specs/discord-openapi.json``) plus Discord's
documented limits; what Discord refuses, it refuses, with Discord's error bodies.

Pointing discord.py 2.7 at it
-----------------------------
discord.py has no per-client base URL; two class attributes decide where it goes,
and both are process-wide, so set them before ``login()`` and restore them after::

    import discord.gateway, discord.http, yarl
    # DISCORD_API_URL, e.g. http://127.0.0.1:PORT/api/v10
    discord.http.Route.BASE = fake.api_url
    # DISCORD_GATEWAY_URL, e.g. ws://127.0.0.1:PORT/gateway
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

* ``Route.BASE`` (default ``https://discord.com/api/v10``) prefixes every REST
  route, including the interaction callbacks and followup webhooks
  (``discord.webhook.async_`` builds its URLs with the same ``Route``).
  Do not call ``discord.http.set_api_version`` afterwards: it resets it.
* ``DiscordWebSocket.DEFAULT_GATEWAY`` (default ``wss://gateway.discord.gg/``) is
  where a plain ``Client`` opens the websocket; it never calls GET /gateway/bot.
  After READY it reconnects and RESUMEs at READY's ``resume_gateway_url``, which
  the fake sets to ``gateway_url``; after an INVALID_SESSION it goes back to
  ``DEFAULT_GATEWAY``. An ``AutoShardedClient`` asks GET /gateway/bot, whose
  ``url`` is also ``gateway_url``. discord.py appends ``?v=10&encoding=json&
  compress=zlib-stream`` (zstd-stream on Python ≥ 3.14 or with ``zstandard``
  installed, which the fake refuses; there is no Client option to turn transport
  compression off). zlib-stream is what our Python 3.11 venv requests.
* The client should use ``guild_ready_timeout`` (e.g. 0.1) so ``on_ready`` comes
  quickly; the default is 2 s after the last GUILD_CREATE.

``point_discord_py(fake)`` below does both assignments and undoes them.

Usage::

    async with FakeDiscord() as fake:
        fake.add_user(42, "sam")
        fake.add_guild(900, "Supporters", [901], members={42: MEMBER_DEFAULT})
        with point_discord_py(fake):
            ...start the bot with fake.token...
            record = await fake.run_slash_command("ping", user_id=42)
            response = await fake.wait_for_response(record)

Faults on demand: ``fail_next`` (the next calls to one route answer a 429 or any
error), ``outage`` / ``end_outage`` (every REST request answered a 5xx, or
connections refused, for a period), ``gateway_outage`` / ``end_gateway_outage``
(the gateway refusing connections, its open ones cut), ``drop_gateway`` and
``request_reconnect``. REST and the gateway listen on two ports (``port``,
``gateway_port``) so either can be down alone; ``listener`` says how.

What is enforced, and what is left out, is described in each module: ``rest``
(the order of checks), ``spec`` (routing and schema validation), ``limits``
(message, embed and component limits), ``ratelimit``, ``interactions``
(response windows, command checks), ``gateway`` (handshake, close codes) and
``scripting`` (what a user can do).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ApiError, FakeDiscordError, FieldError
from .gateway import GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT, PRIVILEGED_INTENTS
from .rest import Call
from .server import DEFAULT_APPLICATION_ID, FakeDiscord
from .state import ADMINISTRATOR, BOT_DEFAULT, MANAGE_MESSAGES, MEMBER_DEFAULT, InteractionRecord


@contextmanager
def point_discord_py(fake: FakeDiscord) -> Iterator[None]:
    """Send discord.py's REST and gateway traffic to ``fake`` for the duration."""
    import discord.gateway
    import discord.http
    import yarl

    old_base, old_gateway = (
        discord.http.Route.BASE,
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


__all__ = [
    "ADMINISTRATOR",
    "BOT_DEFAULT",
    "DEFAULT_APPLICATION_ID",
    "GUILD_MEMBERS",
    "GUILD_PRESENCES",
    "MANAGE_MESSAGES",
    "MEMBER_DEFAULT",
    "MESSAGE_CONTENT",
    "PRIVILEGED_INTENTS",
    "ApiError",
    "Call",
    "FakeDiscord",
    "FakeDiscordError",
    "FieldError",
    "InteractionRecord",
    "point_discord_py",
]
