"""What the dashboard's Campaigns page shows and does, as plain data: every campaign
the store holds (where its copy came from, its pack file), its pack to download, and
a pack to import, through `campaigns.pack_io` as the CLI's commands go.

The page reads the store, not the running bot's catalog: an import is there at
once, and `waiting` says the bot has not picked it up yet (a running bot does within
seconds: `campaigns.reloading`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from campaigns import pack_io
from campaigns.packs import Pack, PackError
from db import catalog as catalog_db

MAX_NAME = 120  # of an imported file's name, as the page and the audit show it
PASTED = "the pasted pack"


@dataclass(frozen=True)
class StoredCampaign:
    slug: str
    title: str
    origin: str  # 'pack', 'import' or 'dashboard': what wrote the stored copy last
    pack_file: str  # its file in the packs folder ('' if none was ever copied in)
    asks: int
    retired: bool
    updated_at: str


@dataclass(frozen=True)
class CampaignsPage:
    campaigns: list[StoredCampaign]
    running: int  # the catalog version the bot runs
    stored: int  # the store's

    @property
    def waiting(self) -> bool:
        """The store has changes the bot has not picked up (yet)."""
        return self.stored > self.running


def campaigns_page(db: Database, running_version: int) -> CampaignsPage:
    """Every stored campaign, retired ones last; `running_version` is the catalog
    version the running bot read (`Catalog.version`)."""
    rows = catalog_db.campaigns(db, include_retired=True)
    found = [
        StoredCampaign(
            slug=row.slug,
            title=row.title,
            origin=row.origin.value,
            pack_file=row.pack_file,
            asks=len(catalog_db.asks(db, row.slug)),
            retired=row.retired,
            updated_at=row.updated_at,
        )
        for row in rows
    ]
    found.sort(key=lambda campaign: (campaign.retired, campaign.slug))
    return CampaignsPage(found, running_version, catalog_db.catalog_version(db))


def export(db: Database, slug: str) -> str | None:
    """The campaign as pack TOML; None if there is none. `PackError` if the stored copy
    no longer passes the pack rules."""
    return pack_io.export_pack(db, slug)


def file_name(value: object) -> str:
    """An uploaded file's name as the page and the audit may show it: the last part of
    the path a browser gave, no control characters, not too long."""
    text = str(value or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(char for char in text if unicodedata.category(char)[0] != "C").strip()
    return text[:MAX_NAME] or PASTED


def validated(text: str, name: str) -> Pack:
    """Pasted pack text, validated as a pack file is; `PackError` names `name`, each
    ask and field. Line ends as a browser sends them (CRLF) are a pack file's own."""
    if not text.strip():
        raise PackError(Path(name), ["is empty: paste a pack, or choose its file"])
    raw = text.replace("\r\n", "\n").encode("utf-8", "replace")
    return pack_io.read_pack(raw, name)
