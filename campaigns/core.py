"""The one object adapters talk to: the campaign core, async, over the store's writer.

Adapters pass in platform facts only: who did what and where (an `Origin`, which
also says whether the platform vouches for an organiser), a command's name and
arguments or a button id, and, for the commands that need it, a way to ask the
platform whether the person administers the group. They get back plain messages.
Which commands are the organisers', where they may be used, and which need a
group admin are decided here, the same on every platform.

A domain answer is a reply; anything unexpected is logged with its traceback and
the person gets a short apology, never the error.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from sqlite_utils import Database

from campaigns import dialogue, journeys, language_choice, organising, supporters, wording
from campaigns.buttons import PREFIX, ButtonIds, Verb
from campaigns.catalog import PackFolder
from campaigns.delivery import DeliveryEngine
from campaigns.dialogue import Context
from campaigns.invites import StartLinks
from campaigns.model import ChatKind, Message, Origin, PressResult
from campaigns.organising import OrganiserDesk
from db import stats as stats_db
from db import supporters as supporters_db
from db.store import StorageError, Store

log = logging.getLogger(__name__)


ERASE_PREFIX = f"{PREFIX}:{Verb.FORGET.value}:"

# Asks the platform whether the person administers the group (a request on Telegram):
# called only when a command needs the answer.
AdminCheck = Callable[[], Awaitable[bool]]


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
        self.desk = OrganiserDesk(store, ctx)
        # Button presses since start, per platform: plain numbers for the dashboard's /metrics.
        self.presses: Counter[str] = Counter()

    def attach(self, engine: DeliveryEngine) -> None:
        """Sends that organisers confirm in chat start on this engine at once (without
        one, they wait for the running bot's scheduler to pick them up)."""
        self.desk.engine = engine

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
        """Read the packs folder, open the store, copy in the pack files that changed,
        and get ready to answer with every campaign the store holds."""
        folder = PackFolder.read(packs)  # a broken pack stops us before the store opens
        store = Store(db)
        try:
            catalog = store.submit(folder.catalog, default_campaign).result()
        except BaseException:
            store.close()
            raise
        ctx = Context.from_secret(catalog, secret, retention_months)
        store.submit(supporters.pseudonymise_members, ctx.pseudonyms).result()
        return cls(store, ctx, organisers)

    def close(self) -> None:
        self.store.close()

    @property
    def ids(self) -> ButtonIds:
        return self.ctx.ids

    def is_organiser(self, platform: str, user: str | None) -> bool:
        """Is this id in the organiser list? (Adapters add their platform's rules.)"""
        return user is not None and f"{platform}:{user}" in self.organisers

    def set_start_links(self, platform: str, links: StartLinks) -> None:
        """How a start argument reaches the bot on this platform (a Telegram adapter knows
        its t.me link once getMe answered): the core makes invite links with it."""
        self.ctx.start_links[platform] = links

    async def command(
        self,
        origin: Origin,
        name: str,
        args: tuple[str, ...] = (),
        *,
        admin: bool | AdminCheck = False,
    ) -> list[Message]:
        """Answer a command (only its name and arguments reach us): an organiser's, a
        group's or a supporter's. `admin` says whether the person administers the
        group, or is how to find out; it is asked only when a command needs it."""
        if name in organising.NAMES:
            return await self._organiser_command(origin, name, args)
        if not isinstance(admin, bool):
            needed = origin.kind is ChatKind.GROUP and name in dialogue.ADMIN_COMMANDS
            admin = await admin() if needed else False
        try:
            # pinned: a catalog swapped in meanwhile (`campaigns.reloading`) waits for the
            # next answer, so this one reads one catalog throughout
            # in the supporter's language (`campaigns.language_choice`), /language too
            replies = await self.store.write(
                language_choice.handle_command, self.ctx.pinned(), origin, name, args, admin
            )
        except StorageError as exc:  # a full disk or a lock elsewhere: one line, no traceback
            log.error("command /%s on %s not answered: %s", name[:32], origin.platform, exc)
            return [Message(text=wording.SORRY)]
        except Exception as exc:
            log_failure(exc, "command /%s on %s failed", name[:32], origin.platform)
            return [Message(text=wording.SORRY)]
        if name == "forget" and args == ("yes",):
            await self.store.checkpoint()  # erased rows must not linger in the log
        if name.lower() == "done":
            await self._send_next_steps()
        return replies

    async def _organiser_command(
        self, origin: Origin, name: str, args: tuple[str, ...]
    ) -> list[Message]:
        """Only for an organiser, and only where no one else sees the answer: a private
        chat (on Discord, a slash command's reply only its sender sees)."""
        if not origin.organiser or origin.kind is not ChatKind.PRIVATE:
            return [Message(text=organising.NOT_AVAILABLE)]
        try:
            return await self.desk.command(origin.person, name, args)
        except StorageError as exc:
            log.error("organiser command /%s on %s not answered: %s", name, origin.platform, exc)
        except Exception as exc:
            log_failure(exc, "organiser command /%s on %s failed", name, origin.platform)
        return [Message(text=wording.SORRY)]

    async def press(self, origin: Origin, value: str) -> PressResult:
        """Answer a button press; forged or stale ids change nothing. A confirmation
        button (send, stop) is the organiser desk's, for an organiser only."""
        self.presses[origin.platform] += 1
        button = self.ids.read(value)
        to_desk = button is not None and button.verb in organising.VERBS
        if to_desk and not origin.organiser:
            return PressResult(answer=organising.NOT_AVAILABLE)
        try:
            if to_desk:
                assert button is not None
                return await self.desk.confirm(origin.person, button.verb, button.argument)
            result = await self.store.write(
                language_choice.handle_press, self.ctx.pinned(), origin, value
            )
        except StorageError as exc:
            log.error("button press on %s not recorded: %s", origin.platform, exc)
            return PressResult(answer=wording.SORRY)
        except Exception as exc:
            log_failure(exc, "button press on %s failed", origin.platform)
            return PressResult(answer=wording.SORRY)
        if result.counted and value.startswith(ERASE_PREFIX):
            await self.store.checkpoint()  # erased rows must not linger in the log
        if result.counted and button is not None and button.verb is Verb.DONE:
            await self._send_next_steps()
        return result

    async def _send_next_steps(self) -> None:
        """Someone said they did an ask, so its next step may wait for them: start the
        engine on it now, not at the scheduler's next look (within a minute). Without an
        engine here, the running bot's scheduler sends it."""
        engine = self.desk.engine
        if engine is None:
            return
        try:
            await journeys.start_waiting(self.store, engine)
        except Exception as exc:  # the scheduler's minute job tries again
            log_failure(exc, "starting a next step failed")

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
