"""The one object adapters talk to: the campaign core, async, over the store's writer.

Adapters pass in who did what (an `Origin`, a command name, a button id) and get
back plain messages. A domain answer is a reply; anything unexpected is logged
with its traceback and the supporter gets a short apology, never the error.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from pathlib import Path

from sqlite_utils import Database

from campaigns import dialogue, supporters, wording
from campaigns.buttons import PREFIX, ButtonIds, Verb
from campaigns.catalog import Catalog
from campaigns.dialogue import Context
from campaigns.model import Message, Origin, PressResult
from db import stats as stats_db
from db import supporters as supporters_db
from db.store import StorageError, Store

log = logging.getLogger(__name__)


ERASE_PREFIX = f"{PREFIX}:{Verb.FORGET.value}:"


def log_failure(exc: BaseException, message: str, *args: object) -> None:
    """Log a failure with its traceback but not the exception's message, which may
    quote what a supporter typed (`int("²")` says "invalid literal ... '²'")."""
    frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    log.error(message + ": %s\n%s", *args, type(exc).__name__, frames)


class Core:
    """The campaign core as adapters see it."""

    def __init__(self, store: Store, ctx: Context, organisers: Iterable[str] = ()) -> None:
        self.store = store
        self.ctx = ctx
        self.organisers = frozenset(organisers)

    @classmethod
    def open(
        cls,
        db: Path,
        packs: Path,
        secret: bytes,
        *,
        default_campaign: str | None = None,
        retention_months: int = dialogue.DEFAULT_RETENTION_MONTHS,
        organisers: Iterable[str] = (),
    ) -> Core:
        """Open the store, load and copy the packs, and get ready to answer."""
        catalog = Catalog.load(packs, default_campaign)
        store = Store(db)
        ctx = Context.from_secret(catalog, secret, retention_months)
        store.submit(catalog.sync).result()
        store.submit(supporters.pseudonymise_members, ctx.pseudonyms).result()
        return cls(store, ctx, organisers)

    def close(self) -> None:
        self.store.close()

    @property
    def ids(self) -> ButtonIds:
        return self.ctx.ids

    def is_organiser(self, platform: str, user: str | None) -> bool:
        return user is not None and f"{platform}:{user}" in self.organisers

    async def command(
        self, origin: Origin, name: str, args: tuple[str, ...] = (), *, admin: bool = False
    ) -> list[Message]:
        """Answer a supporter command (only its name and arguments reach us)."""
        try:
            replies = await self.store.write(
                dialogue.handle_command, self.ctx, origin, name, args, admin
            )
        except StorageError as exc:  # a full disk or a lock elsewhere: one line, no traceback
            log.error("command /%s on %s not answered: %s", name[:32], origin.platform, exc)
            return [Message(text=wording.SORRY)]
        except Exception as exc:
            log_failure(exc, "command /%s on %s failed", name[:32], origin.platform)
            return [Message(text=wording.SORRY)]
        if name == "forget" and args == ("yes",):
            await self.store.checkpoint()  # erased rows must not linger in the log
        return replies

    async def press(self, origin: Origin, value: str) -> PressResult:
        """Answer a button press; forged or stale ids change nothing."""
        try:
            result = await self.store.write(dialogue.handle_press, self.ctx, origin, value)
        except StorageError as exc:
            log.error("button press on %s not recorded: %s", origin.platform, exc)
            return PressResult(answer=wording.SORRY)
        except Exception as exc:
            log_failure(exc, "button press on %s failed", origin.platform)
            return PressResult(answer=wording.SORRY)
        if result.counted and value.startswith(ERASE_PREFIX):
            await self.store.checkpoint()  # erased rows must not linger in the log
        return result

    async def gone(self, platform: str, address: str) -> bool:
        """The platform says this chat can't be reached any more: send it nothing."""
        return await self.store.write(supporters.mark_gone, platform, address)

    async def moved(self, platform: str, old: str, new: str) -> bool:
        """A chat changed its address (a group that became a supergroup)."""
        return await self.store.write(supporters_db.move_address, platform, old, new)

    async def topics_of(self, origin: Origin) -> tuple[list[str], list[str]] | None:
        """Every topic and the supporter's choice (empty: all); None if not subscribed."""

        def read(db: Database) -> tuple[list[str], list[str]] | None:
            found = supporters.find(db, origin)
            if not supporters.is_subscribed(found):
                return None
            assert found is not None
            return self.ctx.catalog.topics, supporters_db.topics(db, found.id)

        return await self.store.read(read)

    async def participation(
        self, filters: stats_db.Filters | None = None
    ) -> stats_db.Participation:
        return await self.store.read(stats_db.participation, filters)
