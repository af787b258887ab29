"""The running bot follows the campaigns in the database, within seconds, no restart.

Organisers change campaigns while the bot runs (`campaignbot campaigns import`, the
dashboard's Campaigns page and editor), and every write that changes what the bot
would notice moves `catalog_version` on (triggers: `db/migrations.py`, 0007).
`CatalogFollower.check` reads that one number; when it is ahead of the running
catalog's, it reads every campaign again (`Catalog.from_db`, in one read transaction)
and swaps the result into the bot's `Context`, the one place the core, the organiser
desk, the delivery engine and the dashboard read the catalog from. The scheduler
calls it every couple of seconds and then moves its weekly jobs
(`scheduler.CampaignScheduler.follow_catalog`); Discord's campaign options read the
catalog as someone types (autocomplete), so they need nothing.

Writes are validated, so a stored catalog that breaks the pack rules should not
happen. If one does, the bot keeps the catalog it runs, says so in one line, and
tries again at the next change.
"""

from __future__ import annotations

import logging
import sqlite3

from sqlite_utils import Database

from campaigns.catalog import Catalog
from campaigns.dialogue import Context
from campaigns.packs import PackError
from db import catalog as catalog_db
from db.dashboard import snapshot
from db.store import Store

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 2.0  # how often the running bot looks (one small read each time)


def read_catalog(db: Database, default: str | None) -> Catalog:
    """Every running campaign and the version they are at, as of one moment."""
    with snapshot(db):
        return Catalog.from_db(db, default)


def _reason(exc: Exception) -> str:
    """Why a stored catalog can't be run, in one line: a `PackError` names the campaign,
    the ask and the field; anything else is its kind and the first line of its words."""
    if isinstance(exc, PackError):
        return " ".join(str(exc.args[0]).split())
    words = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {words}" if words else type(exc).__name__


class CatalogFollower:
    """Keeps `ctx.catalog` at the store's version. `default` is the configured default
    campaign (None: the usual choice, made again from the campaigns there are)."""

    def __init__(self, store: Store, ctx: Context, default: str | None = None) -> None:
        self.store = store
        self.ctx = ctx
        self.default = default
        self.refused: int | None = None  # a stored version that can't be run, while it stands
        self._unread: int | None = None  # a version the store failed to give, said once

    async def check(self) -> Catalog:
        """The catalog to run now: the running one, or the store's if that is newer
        (swapped in first). One small read when nothing changed."""
        stored = await self.store.read(catalog_db.catalog_version)
        running = self.ctx.catalog
        if stored <= running.version or stored == self.refused:
            return running
        try:
            catalog = await self.store.read(read_catalog, self.default)
        except sqlite3.Error as exc:  # the store is busy or closing: the next look tries again
            if self._unread != stored:
                self._unread = stored
                log.warning("campaigns: can't read version %d yet (%s); trying again", stored, exc)
            return self.ctx.catalog
        except Exception as exc:
            self.refused = stored
            log.error(
                "campaigns: version %d in the database can't be run (%s); the bot keeps "
                "running version %d and tries again at the next change",
                stored,
                _reason(exc),
                running.version,
            )
            return self.ctx.catalog
        self.refused = self._unread = None
        if catalog.version > self.ctx.catalog.version:  # not overtaken while it was read
            self.ctx.swap_catalog(catalog)
            log.info(
                "campaigns: now running version %d from the database (%s)",
                catalog.version,
                ", ".join(sorted(catalog.packs)),
            )
        return self.ctx.catalog
