"""An organiser's pack import from the dashboard, with `require_approval` kept.

With the setting on, the charity signs off every public claim: a second organiser
approves an ask before the bot may send it (`campaigns.editing`). An import is
one more way an organiser writes asks, so it gets the same rule. Each ask the pack
adds or changes goes in as a version awaiting approval, saved by the importer (so
anyone but the importer approves it, and then publishes it in the editor); until
then the version published before keeps going out, and a new ask is not sent at
all; once published, a new one goes where the pack put it (the pack's order is kept
with each version held, `campaigns.placing`). Asks the pack leaves as they are stay as
they are. The campaign's own fields (title, schedule, sources...) are written at once,
as the dashboard's campaign form writes them; asks the pack no longer has are retired,
as a plain import retires them. A brand-new campaign comes in with no published ask,
so the bot sends nothing from it until one is approved and published.

With the setting off this is `pack_io.import_pack`: the pack is published as it
is. Pack files (the packs folder, `campaignbot campaigns import`) are the
operator's own files and always publish directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError
from sqlite_utils import Database

from campaigns import ask_form, pack_io
from campaigns.editing import EditError, content_values
from campaigns.packs import Ask, Pack
from campaigns.versions import describe
from campaigns.wording import counted
from db import audit as audit_db
from db import catalog as catalog_db
from db import versions as versions_db
from db.catalog import CampaignOrigin
from db.versions import VersionRow, VersionState


@dataclass(frozen=True)
class Imported:
    """What an import changed, and which of its asks wait for approval."""

    changes: pack_io.Changes
    awaiting: tuple[str, ...] = ()  # ask ids put in as versions awaiting approval

    @property
    def any(self) -> bool:
        return self.changes.any

    def summary(self) -> str:
        """One line: the campaign, what changed, and what waits for approval."""
        line = self.changes.summary()
        if self.awaiting:
            line += (
                f"; {waiting_line(self.awaiting)} (open each in the editor to approve and "
                "publish it)"
            )
        return line


def waiting_line(awaiting: tuple[str, ...]) -> str:
    """ "3 asks (a, b, c) wait for a second organiser's approval"."""
    verb = "waits" if len(awaiting) == 1 else "wait"
    return (
        f"{counted(len(awaiting), 'ask')} ({', '.join(awaiting)}) {verb} for a second "
        "organiser's approval"
    )


def import_pack(
    db: Database, pack: Pack, actor: str, name: str, *, require_approval: bool
) -> Imported:
    """Bring an organiser's pack (validated already) into the store, holding back each
    new or changed ask for approval when `require_approval` is on. Run it in one
    transaction: it is all or nothing. `EditError` (nothing written) when an ask the
    pack changes has a draft someone else saved, which the import would overwrite, or
    when it would re-label poll answers that went out (`pack_io.check_locked_answers`;
    refused here too rather than at the publish, so the organiser hears it at once).
    """
    try:
        pack_io.check_locked_answers(db, pack)
    except pack_io.AnswersLocked as exc:
        raise EditError(exc.message) from None
    if not require_approval:
        return Imported(pack_io.import_pack(db, pack, actor, name))
    slug = pack.campaign.slug
    found = pack_io.changes(db, pack)
    held = [ask for ask in pack.asks if ask.id in found.added or ask.id in found.changed]
    pending = [ask for ask in held if _needs_version(db, slug, ask, actor)]
    if not (
        pending or found.new or found.retired or found.campaign or found.reordered or found.revived
    ):
        return Imported(pack_io.Changes(slug, False, (), (), (), (), False))
    kept = _published_kept(db, pack, {ask.id for ask in held})
    if kept:
        published = Pack(campaign=pack.campaign, asks=kept)
    else:  # nothing published yet: the campaign waits, as one made in the dashboard does
        published = Pack.model_construct(campaign=pack.campaign, asks=[])
    pack_io.write_pack(db, published, CampaignOrigin.IMPORT, by=actor)
    for ask in pending:
        _hold(db, slug, ask, actor, name)
    awaiting = tuple(ask.id for ask in held)
    order = [ask.id for ask in pack.asks]
    versions_db.keep_pack_order(db, slug, list(awaiting), order)  # its place (`placing`)
    audit_db.record(
        db,
        actor,
        "import-pack",
        slug,
        file=name,
        awaiting_approval=list(awaiting),
        order=order,  # for the record only: the versions keep it (audit entries go)
        **found.audit_detail(),
    )
    return Imported(found, awaiting)


def _needs_version(db: Database, slug: str, ask: Ask, actor: str) -> bool:
    """Does the ask need a version written (or marked) to await approval?

    Not when its open version already holds this text awaiting approval. A draft with
    other text that someone else saved is theirs: the import is refused rather than
    overwrite it (the editor keeps one open version per ask).
    """
    opened = versions_db.open_version(db, slug, ask.id)
    if opened is None:
        return True
    if versions_db.same_content(opened.content, pack_io.ask_content(ask)):
        return opened.state is VersionState.DRAFT
    if opened.created_by != actor:
        raise EditError(
            f"{slug}/{ask.id} has {describe(opened)}, which this import would overwrite: "
            "publish or discard it in the editor, then import again"
        )
    return True


def _published_kept(db: Database, pack: Pack, held: set[str]) -> list[Ask]:
    """The asks the bot sends after the import, in the pack's order: the pack's own
    where it leaves an ask as it is, the version published before where it changes
    one (until the new one is approved); a new ask is not among them yet."""
    slug = pack.campaign.slug
    kept: list[Ask] = []
    for ask in pack.asks:
        if ask.id not in held:
            kept.append(ask)
            continue
        before = versions_db.published(db, slug, ask.id)
        if before is None or not _current(db, slug, ask.id):
            continue  # new, or back from retired: sent only once approved
        try:
            kept.append(pack_io.ask_of(before.content))
        except ValidationError:
            continue  # its stored copy breaks today's rules: not sent until approved
    return kept


def _current(db: Database, slug: str, ask_id: str) -> bool:
    row = catalog_db.get_ask(db, slug, ask_id)
    return row is not None and not row.retired


def _hold(db: Database, slug: str, ask: Ask, actor: str, name: str) -> None:
    """Put the ask's text in as a version awaiting approval, saved by `actor`, and
    audit it as the editor audits a save and an approval request."""
    content = pack_io.ask_content(ask)
    opened = versions_db.open_version(db, slug, ask.id)
    before = opened or versions_db.published(db, slug, ask.id)
    target = f"{slug}/{ask.id}"
    if opened is not None and versions_db.same_content(opened.content, content):
        row = opened  # a draft with this very text: it only needs marking
    else:
        if opened is None:
            row = versions_db.add_draft(db, slug, ask.id, content, actor)
        else:
            versions_db.rewrite_draft(db, opened, content, actor)
            row = _again(db, opened)
        audit_db.record(
            db,
            actor,
            "save-draft",
            target,
            version=row.version,
            fields=_fields(slug, before.content if before else None, content),
            title=ask.title,
            file=name,
        )
    versions_db.await_approval(db, row)
    audit_db.record(db, actor, "request-approval", target, version=row.version, file=name)


def _fields(slug: str, before: str | None, after: str) -> list[str]:
    """What changed, by the editor's field names (a next step or poll by its part)."""
    if before is None:
        return list(ask_form.FIELDS)
    old, new = content_values(slug, before), content_values(slug, after)
    names = [name for name in ask_form.FIELDS if old[name] != new[name]]
    old_data, new_data = json.loads(before), json.loads(after)
    names += [part for part in ("next", "poll") if old_data.get(part) != new_data.get(part)]
    return names


def _again(db: Database, row: VersionRow) -> VersionRow:
    found = versions_db.get(db, row.campaign, row.ask_id, row.version)
    assert found is not None
    return found
