"""The gateway: a websocket speaking Discord's v10 protocol.

https://discord.com/developers/docs/events/gateway. The URL must carry ``v=10``
and ``encoding=json`` (ETF is not offered: close 4012 / 4002); ``compress=zlib-stream``
is honoured with one zlib context per connection, each payload ending in a
``Z_SYNC_FLUSH`` (what discord.py asks for on Python 3.11 without zstandard);
without ``compress`` payloads go as text frames. ``zstd-stream`` is refused.

HELLO (op 10) → the client's IDENTIFY (op 2, token checked: 4004; intents checked:
4013 for unknown bits, 4014 for privileged intents the app is not granted) →
READY (with guilds unavailable, ``session_id``, ``resume_gateway_url``,
``application``) → one GUILD_CREATE per guild. Heartbeats (op 1) get op 11.
RESUME (op 6) replays the missed dispatches and sends RESUMED; an unknown session
gets op 9 (not resumable). A payload before IDENTIFY closes with 4003, a second
IDENTIFY with 4005, an unknown opcode with 4001, undecodable JSON with 4002.
IDENTIFY's own ``compress`` flag (per-payload compression) and ``large_threshold``
are accepted and ignored; the server does not time out silent clients.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .errors import Json
from .state import World

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, VOICE_STATE_UPDATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

# Intents, https://discord.com/developers/docs/events/gateway#list-of-intents
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
KNOWN_INTENTS = sum(1 << bit for bit in (*range(17), 20, 21, 24, 25))

CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SHARD = 4010
CLOSE_INVALID_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014
_LOG_KEPT = 1000


class Connection:
    """One websocket; sends are serialised so the zlib stream stays in order."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self.session: Session | None = None
        self._compressor = zlib.compressobj() if zlib_stream else None
        self._lock = asyncio.Lock()

    async def send(self, payload: Json) -> None:
        raw = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return
            try:
                if self._compressor is None:
                    await self.ws.send_str(raw)
                else:
                    data = self._compressor.compress(raw.encode()) + self._compressor.flush(
                        zlib.Z_SYNC_FLUSH
                    )
                    await self.ws.send_bytes(data)
            except ConnectionError:
                pass

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code=code, message=reason.encode())


@dataclass
class Session:
    id: str
    intents: int
    shard: tuple[int, int]
    seq: int = 0
    log: list[Json] = field(default_factory=list)
    conn: Connection | None = None
    ready: bool = False

    def owns_guild(self, guild_id: int | None) -> bool:
        shard_id, count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % count) == shard_id


class Gateway:
    """Sessions, connections and dispatching for the fake."""

    def __init__(
        self,
        world: World,
        *,
        token: str,
        heartbeat_interval_ms: int,
        allowed_privileged_intents: int,
        url: Callable[[], str],
        changed: Callable[[], None],
    ) -> None:
        self.world = world
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allowed_privileged_intents = allowed_privileged_intents
        self._url = url
        self._changed = changed
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identifies: list[Json] = []  # IDENTIFY payloads, token redacted
        self.resumes = 0
        self.close_codes: list[int] = []  # codes the fake closed connections with
        self.presences: list[Json] = []
        self.queries: list[dict[str, str]] = []  # each connection's query (v, encoding, compress)

    # --- websocket handler -------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        query = request.query
        compress = query.get("compress")
        self.queries.append(dict(query))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = Connection(ws, zlib_stream=compress == "zlib-stream")
        self.connections.add(conn)
        try:
            if query.get("v") != "10":
                await self._close(conn, CLOSE_INVALID_VERSION, "Invalid API version.")
            elif query.get("encoding", "json") != "json":
                await self._close(conn, CLOSE_DECODE_ERROR, "Only encoding=json is offered.")
            elif compress not in (None, "zlib-stream"):
                await self._close(conn, CLOSE_DECODE_ERROR, "Only compress=zlib-stream is offered.")
            else:
                await conn.send(self._op(HELLO, {"heartbeat_interval": self.heartbeat_interval_ms}))
                await self._receive(conn)
        finally:
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                # A client closing with 1000/1001 ends its session; anything else may RESUME.
                if ws.close_code in (1000, 1001):
                    self.sessions.pop(session.id, None)
            self._changed()
        return ws

    async def _receive(self, conn: Connection) -> None:
        async for message in conn.ws:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            try:
                payload = json.loads(message.data)
                op = payload["op"]
            except (ValueError, TypeError, KeyError):
                await self._close(conn, CLOSE_DECODE_ERROR, "Decode error.")
                return
            await self._on_payload(conn, op, payload.get("d"))
            if conn.ws.closed:
                return

    async def _on_payload(self, conn: Connection, op: Any, data: Any) -> None:
        if op == HEARTBEAT:
            await conn.send(self._op(HEARTBEAT_ACK, None))
        elif op == IDENTIFY:
            await self._identify(conn, data if isinstance(data, dict) else {})
        elif op == RESUME:
            await self._resume(conn, data if isinstance(data, dict) else {})
        elif conn.session is None:
            await self._close(conn, CLOSE_NOT_AUTHENTICATED, "Not authenticated.")
        elif op == PRESENCE_UPDATE:
            self.presences.append(data)
        elif op == VOICE_STATE_UPDATE:
            pass
        elif op == REQUEST_GUILD_MEMBERS:
            await self._members_chunk(conn, data if isinstance(data, dict) else {})
        else:
            await self._close(conn, CLOSE_UNKNOWN_OPCODE, "Unknown opcode.")

    def _token_ok(self, token: object) -> bool:
        return isinstance(token, str) and token.removeprefix("Bot ") == self.token

    async def _identify(self, conn: Connection, data: Json) -> None:
        if conn.session is not None:
            await self._close(conn, CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return
        self.identifies.append({**data, "token": "<redacted>"})
        if not self._token_ok(data.get("token")):
            await self._close(conn, CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return
        properties = data.get("properties")
        if not isinstance(properties, dict) or not {"os", "browser", "device"} <= properties.keys():
            await self._close(conn, CLOSE_DECODE_ERROR, "Decode error.")
            return
        intents = data.get("intents")
        if (
            not isinstance(intents, int)
            or isinstance(intents, bool)
            or intents < 0
            or intents & ~KNOWN_INTENTS
        ):
            await self._close(conn, CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await self._close(conn, CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return
        shard = data.get("shard", [0, 1])
        if not (
            isinstance(shard, list) and len(shard) == 2 and all(isinstance(n, int) for n in shard)
        ) or not (0 <= shard[0] < shard[1]):
            await self._close(conn, CLOSE_INVALID_SHARD, "Invalid shard.")
            return
        session = Session(secrets.token_hex(16), intents, (shard[0], shard[1]), conn=conn)
        self.sessions[session.id] = session
        conn.session = session
        guilds = [g for g in self.world.guilds.values() if session.owns_guild(g.id)]
        await self._send_dispatch(session, "READY", self._ready(session, [g.id for g in guilds]))
        for guild in guilds:
            await self._send_dispatch(session, "GUILD_CREATE", self.world.guild(guild, full=True))
        session.ready = True
        self._changed()

    def _ready(self, session: Session, guild_ids: list[int]) -> Json:
        user = {
            **self.world.bot.payload(),
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
            "email": None,
        }
        return {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._url(),
            "shard": list(session.shard),
            "application": {"id": str(self.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "_trace": ["fake-discord-gateway"],
        }

    async def _resume(self, conn: Connection, data: Json) -> None:
        if conn.session is not None:
            await self._close(conn, CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return
        if not self._token_ok(data.get("token")):
            await self._close(conn, CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        if session is None:
            await conn.send(self._op(INVALID_SESSION, False))
            return
        if session.conn is not None and session.conn is not conn:
            await session.conn.close(4000, "Resumed elsewhere.")
        session.conn = conn
        conn.session = session
        since = data.get("seq") or 0
        for payload in session.log:
            if payload["s"] > since:
                await conn.send(payload)
        self.resumes += 1
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-discord-gateway"]})
        self._changed()

    async def _members_chunk(self, conn: Connection, data: Json) -> None:
        session = conn.session
        guild = self.world.guilds.get(int(data.get("guild_id") or 0))
        if session is None or guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        if not wanted and not session.intents & GUILD_MEMBERS:
            await self._close(conn, CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return
        ids = [u for u in [self.world.bot.id, *guild.members] if not wanted or u in wanted]
        chunk = {
            "guild_id": str(guild.id),
            "members": [self.world.member(guild, u) for u in ids],
            "chunk_index": 0,
            "chunk_count": 1,
            "nonce": data.get("nonce"),
        }
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    # --- sending -------------------------------------------------------------
    @staticmethod
    def _op(op: int, data: Any) -> Json:
        return {"op": op, "d": data, "s": None, "t": None}

    async def _send_dispatch(self, session: Session, event: str, data: Json) -> None:
        session.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.log.append(payload)
        del session.log[:-_LOG_KEPT]
        if session.conn is not None:
            await session.conn.send(payload)

    async def _close(self, conn: Connection, code: int, reason: str) -> None:
        self.close_codes.append(code)
        await conn.close(code, reason)

    def ready_sessions(self, guild_id: int | None = None) -> list[Session]:
        return [
            s
            for s in self.sessions.values()
            if s.ready and s.conn is not None and s.owns_guild(guild_id)
        ]

    async def dispatch(
        self,
        event: str,
        data: Json,
        *,
        guild_id: int | None = None,
        intent: int | None = None,
        redact_unless: int = 0,
        redact: Callable[[Json], Json] | None = None,
    ) -> int:
        """Send an event to every session that owns the guild and has the intent.

        Sessions lacking the ``redact_unless`` intent get ``redact(data)`` instead
        (MESSAGE_CONTENT). Disconnected sessions keep the event for a RESUME.
        """
        sent = 0
        for session in list(self.sessions.values()):
            if not session.owns_guild(guild_id) or (
                intent is not None and not session.intents & intent
            ):
                continue
            shown = data
            if redact is not None and not session.intents & redact_unless:
                shown = redact(data)
            await self._send_dispatch(session, event, shown)
            sent += 1
        return sent

    async def send_op(self, op: int, data: Any) -> None:
        for conn in list(self.connections):
            await conn.send(self._op(op, data))

    async def drop(self, code: int) -> None:
        for conn in list(self.connections):
            await self._close(conn, code, "Dropped by the test.")
