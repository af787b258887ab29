"""``FakeDiscord``: the server tests start, script and inspect."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from .api import Api
from .errors import FakeDiscordError, Json
from .gateway import GUILDS, RECONNECT, Gateway, Session
from .listener import Listener
from .rest import Call, Rest
from .scripting import Users
from .spec import Spec
from .state import (
    BOT_DEFAULT,
    GUILD_TEXT,
    Channel,
    Guild,
    InteractionRecord,
    User,
    World,
)

T = TypeVar("T")
DEFAULT_APPLICATION_ID = 1_234_567_890_123_456_789


class FakeDiscord:
    """A strict local Discord: REST under /api/v10 and a v10 gateway websocket.

    ``token`` is the bot token the server accepts (REST ``Authorization: Bot
    <token>``, gateway IDENTIFY/RESUME). ``latency`` delays every REST answer.
    ``rate_limit_per_second`` turns on the global limit (Discord: 50);
    ``bucket_limit`` per ``bucket_window`` seconds is every route bucket's limit
    (reported in X-RateLimit-* headers, enforced with 429s).
    ``allowed_privileged_intents`` is what the application has been granted in
    the developer portal (none by default: IDENTIFY with GUILD_MEMBERS,
    GUILD_PRESENCES or MESSAGE_CONTENT is closed with 4014).

    REST and the gateway listen on ports of their own, so that either can be down
    while the other works: ``outage`` (REST answering 5xx, or refusing connections)
    and ``gateway_outage`` (the gateway refusing connections), each for a period
    or until ended; ``fail_next`` fails single calls to one route.
    """

    def __init__(
        self,
        token: str = "TEST.discord.token",  # noqa: S107 (a fake's test token)
        *,
        latency: float = 0.0,
        rate_limit_per_second: int | None = None,
        application_id: int = DEFAULT_APPLICATION_ID,
        bot_user_id: int | None = None,
        bot_name: str = "campaignbot",
        bucket_limit: int = 50,
        bucket_window: float = 1.0,
        heartbeat_interval_ms: int = 41_250,
        allowed_privileged_intents: int = 0,
    ) -> None:
        self.token = token
        self.world = World(
            application_id=application_id,
            bot_user_id=application_id if bot_user_id is None else bot_user_id,
            bot_name=bot_name,
        )
        self.spec = Spec.load()
        self._event = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()
        self.gateway = Gateway(
            self.world,
            token=token,
            heartbeat_interval_ms=heartbeat_interval_ms,
            allowed_privileged_intents=allowed_privileged_intents,
            url=lambda: self.gateway_url,
            changed=self._notify,
        )
        api = Api(
            self.world,
            self.gateway,
            self.spec,
            gateway_url=lambda: self.gateway_url,
            changed=self._notify,
        )
        self.rest = Rest(
            api,
            token=token,
            latency=latency,
            rate_limit_per_second=rate_limit_per_second,
            bucket_limit=bucket_limit,
            bucket_window=bucket_window,
            changed=self._notify,
        )
        self.users = Users(self.world, self.gateway, self._notify)
        rest_app = web.Application(client_max_size=32 * 1024 * 1024)
        rest_app.router.add_route("*", "/{tail:.*}", self.rest.handle)
        gateway_app = web.Application()
        gateway_app.router.add_get("/gateway", self.gateway.handle)
        self._rest_listener = Listener(rest_app)
        self._gateway_listener = Listener(gateway_app)
        self._outage_ends: dict[str, asyncio.Task[None]] = {}

    # --- lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        """Listen on 127.0.0.1: REST and the gateway, each on a free port."""
        await self._rest_listener.start()
        await self._gateway_listener.start()

    async def stop(self) -> None:
        """Close gateway connections (1001) and stop listening. Close your clients first."""
        await self.gateway.drop(1001)
        for task in [*self._tasks, *self._outage_ends.values()]:
            task.cancel()
        await self._gateway_listener.stop()
        await self._rest_listener.stop()

    @property
    def port(self) -> int:
        """REST's port."""
        return self._rest_listener.port

    @property
    def gateway_port(self) -> int:
        return self._gateway_listener.port

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """Set ``discord.http.Route.BASE`` to this."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Set ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(...)`` to this."""
        return f"ws://127.0.0.1:{self.gateway_port}/gateway"

    @property
    def latency(self) -> float:
        return self.rest.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.rest.latency = seconds

    # --- the world -----------------------------------------------------------
    def add_user(
        self, user_id: int, name: str = "sam", *, dms_open: bool = True, locale: str = "en-GB"
    ) -> Json:
        if user_id in self.world.users:
            raise ValueError(f"user {user_id} already exists")
        user = self.world.users[user_id] = User(user_id, name, dms_open=dms_open, locale=locale)
        return user.payload()

    def add_guild(
        self,
        guild_id: int,
        name: str,
        channels: list[int],
        *,
        members: dict[int, int] | None = None,
        bot_permissions: int = BOT_DEFAULT,
        owner_id: int | None = None,
    ) -> Json:
        """A guild the bot is in: text channels (the first is "general") and members.

        ``members`` maps user ids to their permission integer (default: view, send,
        read history, use application commands); unknown users are created. The
        guild goes out as GUILD_CREATE after READY, or at once to a connected bot.
        """
        world = self.world
        if guild_id in world.guilds or not channels:
            raise ValueError(f"guild {guild_id} exists already, or has no channels")
        member_permissions = dict(members or {})
        for user_id in member_permissions:
            if user_id not in world.users:
                world.users[user_id] = User(user_id, f"member-{user_id}")
        for position, channel_id in enumerate(channels):
            if channel_id in world.channels:
                raise ValueError(f"channel {channel_id} already exists")
            label = "general" if position == 0 else f"channel-{position}"
            world.channels[channel_id] = Channel(channel_id, GUILD_TEXT, guild_id, label, position)
        owner = owner_id if owner_id is not None else next(iter(member_permissions), world.owner.id)
        guild = Guild(guild_id, name, list(channels), member_permissions, bot_permissions, owner)
        world.guilds[guild_id] = guild
        if self.gateway.sessions:
            self._spawn(
                self.gateway.dispatch(
                    "GUILD_CREATE", world.guild(guild, full=True), guild_id=guild_id
                )
            )
        return world.guild(guild, full=True)

    def add_role(self, guild_id: int, name: str, *, members: tuple[int, ...] = ()) -> int:
        """A role that a guild's admins made (anyone may name a role anything), given to
        `members`; its id. A connected bot hears GUILD_ROLE_CREATE."""
        world = self.world
        guild = world.guilds[guild_id]
        role_id = world.snowflake()
        guild.named_roles[role_id] = name
        for user_id in members:
            if user_id not in guild.members:
                raise ValueError(f"user {user_id} is not a member of guild {guild_id}")
            guild.member_roles.setdefault(user_id, []).append(role_id)
        if self.gateway.sessions:
            payload = {"guild_id": str(guild_id), "role": world.named_role(guild, role_id)}
            self._spawn(
                self.gateway.dispatch(
                    "GUILD_ROLE_CREATE", payload, guild_id=guild_id, intent=GUILDS
                )
            )
        return role_id

    def close_dms(self, user_id: int) -> None:
        """The user no longer accepts DMs from the bot: sends get 403 50007."""
        self.world.users[user_id].dms_open = False

    def open_dms(self, user_id: int) -> None:
        self.world.users[user_id].dms_open = True

    def delete_user(self, user_id: int) -> None:
        """The account is gone: opening a DM is 404 10013, sending to an old DM 403 50007."""
        self.world.users[user_id].deleted = True

    def advance_clock(self, seconds: float) -> None:
        """Move the interaction clock on (3 s to respond, 15 min for followups)."""
        self.world.advance(seconds)

    # --- users act -------------------------------------------------------------
    async def run_slash_command(
        self,
        name: str,
        *,
        user_id: int,
        guild_id: int | None = None,
        channel_id: int | None = None,
        options: list[Json] | None = None,
        subcommand: str | None = None,
        forge: bool = False,
    ) -> InteractionRecord:
        """The user runs /name (in their DM with the bot unless a guild is given).

        ``options`` are ``{"name": ..., "value": ...}``; types come from the
        registered command. ``subcommand`` is ``"sub"`` or ``"group sub"``.
        ``forge=True`` sends it even where it isn't registered (another guild's
        command) and skips its permission check: what a crafted client could try.
        """
        return await self.users.run_slash_command(
            name,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            options=options,
            subcommand=subcommand,
            forge=forge,
        )

    async def autocomplete(
        self,
        name: str,
        option: str,
        typed: str,
        *,
        user_id: int,
        guild_id: int | None = None,
        channel_id: int | None = None,
        options: list[Json] | None = None,
        subcommand: str | None = None,
    ) -> InteractionRecord:
        """The user types ``typed`` into ``option`` of /name, which asks the bot for
        suggestions (``autocomplete``); ``options`` are those filled in already. The
        bot's answer (``wait_for_response``) is ``{"type": 8, "data": {"choices": ...}}``."""
        return await self.users.autocomplete(
            name,
            {"name": option, "value": typed},
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            options=options,
            subcommand=subcommand,
        )

    async def press_button(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int,
        guild_id: int | None = None,
        forge: bool = False,
    ) -> InteractionRecord:
        """The user presses a button that exists, is enabled and is visible to them."""
        return await self.users.use_component(
            message_id, custom_id, user_id=user_id, guild_id=guild_id, values=None, forge=forge
        )

    async def select(
        self,
        message_id: int,
        custom_id: str,
        values: list[str],
        *,
        user_id: int,
        guild_id: int | None = None,
        forge: bool = False,
    ) -> InteractionRecord:
        """The user picks ``values`` from a select menu on a message."""
        return await self.users.use_component(
            message_id, custom_id, user_id=user_id, guild_id=guild_id, values=values, forge=forge
        )

    async def send_user_message(
        self,
        user_id: int,
        content: str = "",
        *,
        channel_id: int | None = None,
        attachments: list[str] | None = None,
        stickers: list[str] | None = None,
        forward_of: int | None = None,
    ) -> Json:
        """The user posts a message: in their DM unless ``channel_id`` is a guild channel.

        ``stickers`` are sticker names; ``forward_of`` forwards a message the user can
        see (and nothing else, as on Discord). A DM reaches a bot with the
        DIRECT_MESSAGES intent, a guild message one with GUILD_MESSAGES; without the
        MESSAGE_CONTENT intent a guild message arrives with empty content, embeds and
        attachments (unless it mentions the bot), as on Discord.
        """
        return await self.users.send_message(
            user_id,
            content,
            channel_id=channel_id,
            attachments=attachments,
            stickers=stickers,
            forward_of=forward_of,
        )

    # --- waiting -------------------------------------------------------------
    def _notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy and return its value (TimeoutError otherwise)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"fake Discord: condition not met within {timeout}s")
            event = self._event
            # Also poll: a predicate may look at the client's side too.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))

    async def wait_for_response(self, record: InteractionRecord, timeout: float = 5.0) -> Json:  # noqa: ASYNC109
        """Wait for the bot's initial response to an interaction; return it."""
        await self.wait_for(lambda: record.acknowledged, timeout)
        return record.responses[0]

    async def wait_until_connected(self, timeout: float = 5.0) -> Session:  # noqa: ASYNC109
        """Wait until a bot has identified and been sent READY and its guilds."""
        sessions = await self.wait_for(lambda: self.gateway.ready_sessions(), timeout)
        return sessions[0]

    # --- what the bot did ------------------------------------------------------
    @property
    def requests(self) -> list[Call]:
        return self.rest.calls

    @property
    def rejected(self) -> list[Call]:
        """Refused calls (status ≥ 400); ``call.reason`` says why."""
        return [c for c in self.rest.calls if c.status >= 400]

    @property
    def rate_limited_count(self) -> int:
        """How many 429s were sent (global, bucket and injected)."""
        return self.rest.rate_limited

    @property
    def internal_errors(self) -> list[Exception]:
        """Exceptions raised inside the fake's handlers (answered with 503); should stay empty."""
        return self.rest.internal_errors

    def calls_to(self, method: str, route: str) -> list[Call]:
        return [c for c in self.rest.calls if c.method == method.upper() and c.route == route]

    def message(self, message_id: int) -> Json | None:
        stored = self.world.messages.get(message_id)
        return None if stored is None or stored.deleted else copy.deepcopy(stored.data)

    def messages_in(self, channel_id: int, *, include_ephemeral: bool = False) -> list[Json]:
        """The channel's messages now (after edits and deletes), oldest first."""
        channel = self.world.channels.get(channel_id)
        if channel is None:
            raise FakeDiscordError(f"no channel {channel_id}")
        found = [self.world.messages[m] for m in channel.message_ids]
        return [
            copy.deepcopy(s.data)
            for s in found
            if not s.deleted and (include_ephemeral or s.visible_to is None)
        ]

    def dm_channel_of(self, user_id: int) -> int | None:
        return self.world.dm_channels.get(user_id)

    def dms_to(self, user_id: int) -> list[Json]:
        """Messages in the user's DM channel with the bot (none if never opened)."""
        channel_id = self.world.dm_channels.get(user_id)
        return [] if channel_id is None else self.messages_in(channel_id)

    @property
    def interactions(self) -> list[InteractionRecord]:
        return list(self.world.interactions.values())

    @property
    def interaction_responses(self) -> dict[int, list[Json]]:
        """Per interaction id: the callback, followups, edits and deletes, in order."""
        return {i: r.responses for i, r in self.world.interactions.items()}

    @property
    def global_commands(self) -> list[Json]:
        return self.world.global_commands

    @property
    def guild_commands(self) -> dict[int, list[Json]]:
        return self.world.guild_commands

    @property
    def identifies(self) -> list[Json]:
        """IDENTIFY payloads received (token redacted)."""
        return self.gateway.identifies

    @property
    def intents(self) -> int | None:
        """The intents of the latest IDENTIFY."""
        return self.gateway.identifies[-1].get("intents") if self.gateway.identifies else None

    # --- faults --------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        route: str,
        *,
        status: int = 429,
        retry_after: float = 1.0,
        times: int = 1,
        code: int = 0,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls to ``method route`` (a spec path template) with an error.

        429 is a route-bucket rate limit with ``retry_after``; other statuses use
        ``code`` and ``message`` (default "500: Internal Server Error" and so on).
        """
        self.rest.fail_next(
            method,
            route,
            status=status,
            retry_after=retry_after,
            times=times,
            code=code,
            message=message,
        )

    async def outage(
        self, seconds: float | None = None, *, status: int = 500, refuse: bool = False
    ) -> None:
        """REST is down, for ``seconds`` or until ``end_outage``: every request, to any
        route (interaction callbacks and webhooks too), is answered ``status`` (a 5xx,
        Discord's error body, recorded in ``requests``), or with ``refuse=True``
        connections are refused and open ones cut. The gateway stays up."""
        if not 500 <= status <= 599:
            raise ValueError("an outage answers 5xx")
        await self.end_outage()
        if refuse:
            await self._rest_listener.take_down()
        else:
            self.rest.outage_status = status
        self._end_after("rest", seconds, self.end_outage)

    async def end_outage(self) -> None:
        """REST answers again."""
        self._cancel_end("rest")
        self.rest.outage_status = None
        await self._rest_listener.up()
        self._notify()

    async def gateway_outage(self, seconds: float | None = None) -> None:
        """The gateway is down, for ``seconds`` or until ``end_gateway_outage``: new
        connections are refused and open ones cut without a close frame (sessions are
        kept, so a client may RESUME afterwards). REST stays up."""
        await self.end_gateway_outage()
        await self._gateway_listener.take_down()
        self._end_after("gateway", seconds, self.end_gateway_outage)

    async def end_gateway_outage(self) -> None:
        """The gateway accepts connections again, on the same port."""
        self._cancel_end("gateway")
        await self._gateway_listener.up()
        self._notify()

    @property
    def outage_active(self) -> bool:
        return self.rest.outage_status is not None or self._rest_listener.down

    @property
    def gateway_down(self) -> bool:
        return self._gateway_listener.down

    def _end_after(
        self, kind: str, seconds: float | None, end: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        if seconds is None:
            return

        async def later() -> None:
            await asyncio.sleep(seconds)
            self._outage_ends.pop(kind, None)
            await end()

        self._outage_ends[kind] = asyncio.get_running_loop().create_task(later())

    def _cancel_end(self, kind: str) -> None:
        task = self._outage_ends.pop(kind, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: the client should reconnect and RESUME."""
        await self.gateway.send_op(RECONNECT, None)

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close every gateway connection from the server's side with ``code``."""
        await self.gateway.drop(code)
