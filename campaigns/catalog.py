"""The campaigns the bot runs, and how the packs folder feeds the store.

The database holds the campaigns; the running bot reads them from there
(`Catalog.from_db`), so a campaign imported or made in the dashboard runs like one
from a file. At start the packs folder is read and validated as ever (a broken pack
stops the start), and each pack file is copied in only when the file changed since
it was last copied (its SHA-256 is kept): an import or a dashboard edit outlives
restarts until someone changes the file itself (`PackFolder.catalog`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlite_utils import Database

from campaigns import pack_io
from campaigns.packs import Pack, PackError, load_pack
from db import audit as audit_db
from db import catalog as catalog_db
from db import housekeeping as housekeeping_db
from db import sources as sources_db
from db.catalog import CampaignOrigin

log = logging.getLogger(__name__)

DEFAULT_CAMPAIGN = "one-step-ahead"
SETTLE_SOURCES = "sources-declared"
FROM_FILE = "pack-file"  # who the audit says replaced an imported or edited copy
PACK = CampaignOrigin.PACK


@dataclass(frozen=True)
class PackFile:
    """The file a pack was read from: its name in the folder, and its SHA-256."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Catalog:
    """Every campaign, keyed by slug, and which one /ask talks about.

    `files` says which pack file each came from, when read from the folder;
    `version` is the store's `catalog_version` when read from the database (a running
    bot that sees a higher one knows its copy is stale); `held` says, by slug, why a
    changed pack file was not copied in at start (`copy_in`).
    """

    packs: dict[str, Pack]
    default: str
    files: dict[str, PackFile] = field(default_factory=dict)
    version: int = 0
    held: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path, default: str | None = None) -> Catalog:
        """The packs folder alone (`campaignbot campaigns check`, tests): any broken
        pack, an empty folder or an unknown default is a `PackError`."""
        folder = PackFolder.read(directory)
        if not folder.packs:
            raise PackError(directory, ["holds no campaign packs (*.toml)"])
        return cls(folder.packs, _default(folder.packs, default, directory), folder.files)

    @classmethod
    def from_db(cls, db: Database, default: str | None = None) -> Catalog:
        """Every campaign the store holds and does not retire, as the bot runs them."""
        version = catalog_db.catalog_version(db)
        packs = pack_io.packs_from_db(db)
        where = Path("the database")
        if not packs:
            raise PackError(where, ["holds no campaigns: put a pack in the packs folder"])
        return cls(packs, _default(packs, default, where), version=version)

    @property
    def topics(self) -> list[str]:
        """Every topic of every pack, in pack order."""
        seen: dict[str, None] = {}
        for slug in sorted(self.packs):
            for topic in self.packs[slug].topics:
                seen.setdefault(topic, None)
        return list(seen)

    def sync(self, db: Database) -> list[pack_io.Changes]:
        """Copy the packs into the store (see `copy_in`)."""
        return copy_in(db, self.packs, self.files)


def copy_in(
    db: Database,
    packs: dict[str, Pack],
    files: dict[str, PackFile],
    held: dict[str, str] | None = None,
) -> list[pack_io.Changes]:
    """Copy packs into the store: one read from a file only if the file changed since
    its last copy, one with no file always. What changed, per pack copied.

    A pack that would re-label poll answers that went out is not copied in: the bot
    must still start, so the stored campaign runs, one line says why, and `held`
    (if given) gets the reason by slug. Its file is not marked as copied, so every
    start says it again until the file is put right."""
    held = {} if held is None else held
    found = [
        changed
        for slug, pack in packs.items()
        if (changed := _copy_in(db, pack, files.get(slug), held)) is not None
    ]
    if housekeeping_db.done_at(db, SETTLE_SOURCES) is None:
        # Once, on the first start with declared sources: codes stored as typed
        # before then become 'other'.
        sources_db.settle_undeclared(db)
        housekeeping_db.mark(db, SETTLE_SOURCES)
    return found


def _default(packs: dict[str, Pack], default: str | None, where: Path) -> str:
    if default is None:
        return DEFAULT_CAMPAIGN if DEFAULT_CAMPAIGN in packs else sorted(packs)[0]
    if default not in packs:
        known = ", ".join(sorted(packs))
        raise PackError(
            where,
            [f"the default campaign {default!r} is not in any pack (campaigns: {known})"],
        )
    return default


def _copy_in(
    db: Database, pack: Pack, file: PackFile | None, held: dict[str, str]
) -> pack_io.Changes | None:
    """Store one pack from the folder, unless its file is the one last copied in (then
    the stored copy stands, imported or edited since or not). None: nothing written."""
    slug = pack.campaign.slug
    stored = catalog_db.get_campaign(db, slug)
    if stored is not None and file is not None and stored.pack_hash == file.sha256:
        return None
    changed = pack_io.changes(db, pack)
    if stored is not None and file is not None:
        never_copied = stored.pack_hash is None and stored.origin is not PACK
        if never_copied or not changed.any:
            # The file says what is stored already (only its comments changed, say), or
            # it was never copied in, for a campaign imported or made in the dashboard
            # first: the stored copy stands, and the file's own later changes replace it.
            catalog_db.set_pack_file(db, slug, file.name, file.sha256)
            if changed.any:
                log.warning(
                    "campaign %s: %s in the packs folder differs from the copy from the %s, "
                    "which stands until the file changes (%s)",
                    slug,
                    file.name,
                    stored.origin.value,
                    changed.what(),
                )
            return None
    if stored is not None and (problems := pack_io.locked_answers_problems(db, pack)):
        name = file.name if file else stored.pack_file or f"{slug}.toml"
        held[slug] = f"{name} not taken: {'; '.join(problems)}"
        log.error(
            "campaign %s: its pack file %s was not taken, so the copy stored before runs "
            "until the file is put right (%s)",
            slug,
            name,
            "; ".join(problems),
        )
        return None
    pack_io.write_pack(
        db,
        pack,
        PACK,
        pack_file=file.name if file else f"{slug}.toml",
        pack_hash=file.sha256 if file else None,
    )
    if stored is not None and stored.origin is not PACK and changed.any:
        # The file was edited after an import or a dashboard edit: the file wins, as
        # whoever edited it meant; the audit and the log say what was replaced.
        log.warning(
            "campaign %s: its pack file %s changed since it was last copied in, so it "
            "replaces the copy from the %s (%s)",
            slug,
            file.name if file else stored.pack_file,
            stored.origin.value,
            changed.what(),
        )
        audit_db.record(
            db,
            FROM_FILE,
            "pack-file-replaced-copy",
            slug,
            file=file.name if file else None,
            replaced=stored.origin.value,
            **changed.audit_detail(),
        )
    elif changed.any:
        log.info("campaign %s: copied in from its pack file (%s)", slug, changed.what())
    return changed


@dataclass(frozen=True)
class PackFolder:
    """The packs folder as read at start: each campaign's pack and the file it is in.

    An empty folder is allowed here: the campaigns may all be in the database.
    """

    directory: Path
    packs: dict[str, Pack]
    files: dict[str, PackFile]

    @classmethod
    def read(cls, directory: Path) -> PackFolder:
        """Read and validate every pack file; any broken one raises `PackError`."""
        if not directory.is_dir():
            raise PackError(directory, ["is not a folder of campaign packs"])
        packs: dict[str, Pack] = {}
        files: dict[str, PackFile] = {}
        for path in sorted(p for p in directory.glob("*.toml") if p.is_file()):
            # The digest before the pack: a file changed in between is copied in again
            # at the next start, never taken as copied when it was not.
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                digest = ""  # load_pack says why it can't be read
            pack = load_pack(path)
            slug = pack.campaign.slug
            if slug in packs:
                raise PackError(path, [f"campaign slug {slug!r} is already used by another pack"])
            packs[slug] = pack
            files[slug] = PackFile(path.name, digest)
        return cls(directory, packs, files)

    def catalog(self, db: Database, default: str | None = None) -> Catalog:
        """What the bot runs: the changed pack files copied in, then every campaign in
        the store. Run it in one transaction (a store job, or `db.atomic()`)."""
        held: dict[str, str] = {}
        copy_in(db, self.packs, self.files, held)
        self._without_files(db)
        return replace(Catalog.from_db(db, default), held=held)

    def _without_files(self, db: Database) -> None:
        """Campaigns from pack files that are no longer in the folder."""
        for stored in catalog_db.campaigns(db):
            if stored.slug in self.packs or stored.origin is not PACK:
                continue  # imported or made in the dashboard: no file to miss
            if stored.pack_hash is None:
                # Its file went before the store kept campaigns: it had left the bot
                # then, so it stays out.
                catalog_db.retire_campaign(db, stored.slug)
                log.info(
                    "campaign %s: its pack file left %s before this version; it stays retired",
                    stored.slug,
                    self.directory,
                )
                continue
            log.warning(
                "campaign %s: its pack file %s is no longer in %s; the bot keeps running it "
                "from the database (`campaignbot campaigns export %s` writes the pack out)",
                stored.slug,
                stored.pack_file,
                self.directory,
                stored.slug,
            )
