"""Signed-in sessions, kept on the server.

Signing in makes a random token; the browser keeps it inside the signed session
cookie and the database keeps only its hash with the account and two times
(`db.sessions`). Every dashboard request looks the token up, so a session ends
the moment its row goes: at sign-out, when the account is removed or its
password changes, and when it has been idle for `web_session_idle_minutes` or
alive for `web_session_hours`. "Last seen" is written at most once a minute, so
reading pages doesn't mean writing to the database.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TypeGuard

from sqlite_utils import Database

from db import sessions as sessions_db
from db.store import Store
from db.times import from_text, to_text, utcnow
from db.users import UserRow
from settings import Settings

TOUCH_EVERY = timedelta(minutes=1)
TOKEN_BYTES = 32
MAX_TOKEN = 64  # longer than any token we make: not worth a look-up


class Sessions:
    """Starts, checks and ends sessions through the store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.idle = timedelta(minutes=settings.web_session_idle_minutes)
        self.lifetime = timedelta(hours=settings.web_session_hours)

    async def start(self, user_id: int, *, replacing: object = None) -> str:
        """A new session for the account (ending the one it replaces); its token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        old = sessions_db.token_hash(replacing) if _plausible(replacing) else None
        await self.store.write(self._start, sessions_db.token_hash(token), user_id, old, utcnow())
        return token

    def _start(
        self, db: Database, token_hash: str, user_id: int, old: str | None, now: datetime
    ) -> None:
        if old is not None:
            sessions_db.end(db, old)
        self._purge(db, now)
        sessions_db.start(db, token_hash, user_id, to_text(now))

    async def user(self, token: object) -> UserRow | None:
        """The account whose live session this token is, if any."""
        if not _plausible(token):
            return None
        token_hash = sessions_db.token_hash(token)
        found = await self.store.read(sessions_db.find, token_hash)
        if found is None:
            return None
        now = utcnow()
        if self.expired(found, now):
            await self.store.write(self._end, token_hash, now)
            return None
        if now - from_text(found.last_seen_at) >= TOUCH_EVERY:
            await self.store.write(self._touch, token_hash, now)
        return found.user

    def expired(self, session: sessions_db.SessionRow, now: datetime) -> bool:
        return (
            now - from_text(session.last_seen_at) >= self.idle
            or now - from_text(session.created_at) >= self.lifetime
        )

    def _touch(self, db: Database, token_hash: str, now: datetime) -> None:
        sessions_db.touch(db, token_hash, to_text(now))
        self._purge(db, now)

    async def end(self, token: object) -> None:
        """End this session (sign-out). An unknown token changes nothing."""
        if _plausible(token):
            await self.store.write(self._end, sessions_db.token_hash(token), utcnow())

    def _end(self, db: Database, token_hash: str, now: datetime) -> None:
        sessions_db.end(db, token_hash)
        self._purge(db, now)

    def _purge(self, db: Database, now: datetime) -> None:
        sessions_db.purge(
            db, unused_since=to_text(now - self.idle), started_before=to_text(now - self.lifetime)
        )


def _plausible(token: object) -> TypeGuard[str]:
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN
