"""Campaigns and asks written in the dashboard: every change all or nothing, checked
as a pack file is, and audited with who and what.

- A campaign is made and changed directly (a campaign has no versions; the audit
  says which fields changed). One made here runs once it has a published ask (a pack
  can't hold a campaign without asks).
- An ask is written as a draft (`db.versions`): saved as often as wanted, previewed,
  sent as a test to one's own chat, then published. With `require_approval` (a plain
  value from the settings) a second organiser, another dashboard account than the
  one that saved the text last, approves it first. A published version's text never
  changes: an edit is the next version, a draft, and the published one keeps going
  out until the draft is published. So what went out to supporters is frozen from
  the moment it could go out, and a prompt's counts stay with the version it sent
  (`campaigns.versions`). A draft is never sent to supporters: `prompting` refuses it.
- Publishing writes the campaign as a pack through `pack_io.write_pack`, the same
  mapping as a pack file or an import, and the export gives the published text.
- Each form carries the version it was opened on and a digest of it: a change made
  meanwhile (another organiser's save, approval or publish) makes it stale, refused in
  one line, and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError
from sqlite_utils import Database

from campaigns import ask_form, campaign_form, pack_io, placing
from campaigns.ask_form import AskFormError
from campaigns.campaign_form import CampaignFormError
from campaigns.catalog import Catalog
from campaigns.packs import Ask, Campaign, Pack, PackError
from campaigns.versions import as_row, describe, digest
from db import audit as audit_db
from db import catalog as catalog_db
from db import versions as versions_db
from db.catalog import AskRow, CampaignOrigin, CampaignRow
from db.versions import VersionRow, VersionState

DASHBOARD = CampaignOrigin.DASHBOARD
NEW_ASK = 0  # the version a form for a new ask was opened on


class EditError(ValueError):
    """A change refused, in one line an organiser can act on; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Stale(EditError):
    """The campaign or ask changed since the form was opened."""


# ---------------------------------------------------------------- reading


def campaign_of(row: CampaignRow) -> Campaign:
    """A stored campaign as a pack's; `EditError` if it no longer passes the rules."""
    try:
        return Campaign.model_validate(pack_io.pack_data(row, [])["campaign"])
    except ValidationError:
        raise EditError(
            f"campaign {row.slug!r} as stored no longer passes the pack rules: import a "
            "corrected pack to replace it"
        ) from None


def stored_campaign(db: Database, slug: str) -> tuple[CampaignRow, Campaign]:
    """A stored campaign, as its row and as a pack's campaign; `EditError` if none."""
    row = catalog_db.get_campaign(db, slug)
    if row is None:
        raise EditError(f"there is no campaign {slug!r}")
    return row, campaign_of(row)


def _editable(db: Database, slug: str) -> tuple[CampaignRow, Campaign]:
    row, campaign = stored_campaign(db, slug)
    if row.retired:
        raise EditError(
            f"campaign {slug!r} is retired (its pack file went): import its pack to bring "
            "it back before changing it"
        )
    return row, campaign


def campaign_digest(campaign: Campaign) -> str:
    """What a campaign form was opened on: its fields as the form shows them."""
    shown = json.dumps(campaign_form.values_of(campaign), sort_keys=True)
    return hashlib.sha256(shown.encode()).hexdigest()[:20]


def form_catalog(db: Database, slug: str) -> Catalog:
    """The campaign, for reading an ask's form into a draft."""
    _, campaign = stored_campaign(db, slug)
    return _catalog_of(campaign)


def _catalog_of(campaign: Campaign) -> Catalog:
    # `ask_form.read_draft` needs only the campaign, not its asks: a campaign being set
    # up may have none, which no validated pack can say.
    slug = campaign.slug
    return Catalog({slug: Pack.model_construct(campaign=campaign, asks=[])}, slug)


def content_values(campaign: str, content: str) -> dict[str, str]:
    """A version's content as the ask's form shows it (the pack's keys, dotted)."""
    return {ask_form.CAMPAIGN: campaign, **ask_form.content_fields(json.loads(content))}


def new_ask_values(slug: str) -> dict[str, str]:
    return {ask_form.CAMPAIGN: slug, **dict.fromkeys(ask_form.FIELDS, "")}


def _changed(campaign: str, before: str | None, after: str) -> list[str]:
    """The form's fields that differ between two contents."""
    old = content_values(campaign, before) if before else new_ask_values(campaign)
    new = content_values(campaign, after)
    return [name for name in ask_form.FIELDS if old[name] != new[name]]


# ---------------------------------------------------------------- campaigns


def _write(db: Database, campaign: Campaign, asks: list[Ask], actor: str) -> None:
    """Store the campaign with these asks, as a pack from the dashboard."""
    if asks:
        try:
            pack = Pack(campaign=campaign, asks=asks)
        except ValidationError as exc:
            raise EditError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    else:
        pack = Pack.model_construct(campaign=campaign, asks=[])  # a campaign being set up
    pack_io.write_pack(db, pack, DASHBOARD, by=actor)


def _published_asks(db: Database, slug: str) -> list[Ask]:
    if not catalog_db.asks(db, slug):
        return []
    try:
        pack = pack_io.pack_from_db(db, slug)
    except PackError as exc:
        raise EditError(f"{exc.args[0]} (import a corrected pack to replace it)") from None
    assert pack is not None
    return list(pack.asks)


def create_campaign(db: Database, values: Mapping[str, str], actor: str) -> Campaign:
    """A new campaign, with no asks yet (it runs once one is published)."""
    errors: dict[str, str] = {}
    campaign = None
    try:
        campaign = campaign_form.read_campaign(values)
    except CampaignFormError as exc:
        errors = exc.errors
    slug = values.get("slug", "").strip()
    if slug and "slug" not in errors and catalog_db.get_campaign(db, slug) is not None:
        errors["slug"] = "is another campaign's (a retired one's too): choose another"
    if errors or campaign is None:
        raise CampaignFormError(errors)
    _write(db, campaign, [], actor)
    audit_db.record(db, actor, "create-campaign", campaign.slug, title=campaign.title)
    return campaign


def edit_campaign(
    db: Database, slug: str, values: Mapping[str, str], seen: str, actor: str
) -> list[str]:
    """Change a campaign's fields; the fields changed (none: nothing written)."""
    _, before = _editable(db, slug)
    if seen != campaign_digest(before):
        raise Stale(
            f"campaign {slug} was changed by someone else since you opened it: open it "
            "again to see the change, then make yours"
        )
    after = campaign_form.read_campaign({**values, "slug": slug}, kept=before)
    changed = campaign_form.changed_fields(before, after)
    if changed:
        _write(db, after, _published_asks(db, slug), actor)
        audit_db.record(db, actor, "edit-campaign", slug, fields=changed)
    return changed


# ---------------------------------------------------------------- asks


@dataclass(frozen=True)
class Saved:
    draft: VersionRow | None  # the draft as saved; None: nothing changed
    changed: list[str]  # the form's fields that changed


def _stale(slug: str, ask_id: str, now: VersionRow | None) -> Stale:
    where = f"{slug}/{ask_id}"
    if now is None:
        return Stale(f"{where} has no draft now (published or discarded meanwhile): open it again")
    return Stale(
        f"{where} changed since you opened it: it is now {describe(now)}. Open it again "
        "to see the change, then make yours"
    )


def _seen_open(db: Database, slug: str, ask_id: str, version: int, seen: str) -> VersionRow:
    """The ask's open version, if it is the one the form was opened on."""
    opened = versions_db.open_version(db, slug, ask_id)
    if opened is None or opened.version != version or seen != digest(opened):
        raise _stale(slug, ask_id, opened)
    return opened


def save_draft(
    db: Database, slug: str, values: Mapping[str, str], version: int, seen: str, actor: str
) -> Saved:
    """Save the form as the ask's draft: its open version rewritten, or the next
    version made (over a published one, or for a new ask: `version` is `NEW_ASK`).

    The form holds the ask's text, its next step, its poll, its other wordings under
    test and its words in other languages; parts it doesn't hold (a field packs gain
    later) are kept from the version it was opened on.
    A poll that went out keeps its answers, in order (`ask_form.locked_answers_problem`).
    `AskFormError` names each wrong field; `Stale` says the ask changed since;
    nothing half-valid is saved.
    """
    _, campaign = _editable(db, slug)
    ask_id = values.get("id", "").strip()
    current = catalog_db.get_ask(db, slug, ask_id)
    published = versions_db.published(db, slug, ask_id)
    if current is None or current.retired:
        published = None
    opened = versions_db.open_version(db, slug, ask_id)
    shown = opened or published
    errors: dict[str, str] = {}
    if version == NEW_ASK:
        if shown is not None:
            errors["id"] = "is already an ask of this campaign: choose another, or edit that one"
    elif shown is None or shown.version != version or seen != digest(shown):
        raise _stale(slug, ask_id, shown)
    kept = ask_form.unshown(shown.content) if shown is not None else {}
    try:
        draft = ask_form.read_draft(
            _catalog_of(campaign), {**values, ask_form.CAMPAIGN: slug}, kept
        )
    except AskFormError as exc:
        raise AskFormError(exc.errors | errors) from None
    locked = catalog_db.locked_answers(db, slug, ask_id)
    errors |= ask_form.locked_answers_problem(locked, draft.ask.poll)
    if errors:
        raise AskFormError(errors)
    ask = draft.ask
    content = pack_io.ask_content(ask)
    changed = _changed(slug, shown.content if shown else None, content)
    if shown is not None and versions_db.same_content(shown.content, content):
        return Saved(None, [])
    if opened is not None:
        versions_db.rewrite_draft(db, opened, content, actor)
        saved = versions_db.get(db, slug, ask_id, opened.version)
    else:
        saved = versions_db.add_draft(db, slug, ask_id, content, actor)
    assert saved is not None
    audit_db.record(
        db,
        actor,
        "save-draft",
        f"{slug}/{ask_id}",
        version=saved.version,
        fields=changed,
        title=ask.title,
    )
    return Saved(saved, changed)


def _open_for_approval(
    db: Database, slug: str, ask_id: str, version: int, seen: str, require_approval: bool
) -> VersionRow:
    """The open version an approval step acts on, as the organiser saw it; refused
    where approval isn't asked for."""
    if not require_approval:
        raise EditError("approval is not asked for here: publish the draft")
    _editable(db, slug)
    return _seen_open(db, slug, ask_id, version, seen)


def request_approval(
    db: Database,
    slug: str,
    ask_id: str,
    version: int,
    seen: str,
    actor: str,
    *,
    require_approval: bool,
) -> VersionRow:
    """Mark a draft as waiting for a second organiser's approval."""
    opened = _open_for_approval(db, slug, ask_id, version, seen, require_approval)
    if opened.state is VersionState.AWAITING_APPROVAL:
        raise EditError(f"{slug}/{ask_id} {describe(opened)} is already awaiting approval")
    versions_db.await_approval(db, opened)
    audit_db.record(db, actor, "request-approval", f"{slug}/{ask_id}", version=opened.version)
    return _again(db, opened)


def approve(
    db: Database,
    slug: str,
    ask_id: str,
    version: int,
    seen: str,
    actor: str,
    *,
    require_approval: bool,
) -> VersionRow:
    """A second organiser approves a draft: anyone but the one who saved it last."""
    opened = _open_for_approval(db, slug, ask_id, version, seen, require_approval)
    if opened.created_by == actor:
        raise EditError(
            f"you saved {slug}/{ask_id} v{opened.version} last, so another organiser must "
            "approve it"
        )
    if opened.approved_by:
        raise EditError(f"{slug}/{ask_id} {describe(opened)} is approved already")
    versions_db.approve(db, opened, actor)
    audit_db.record(
        db, actor, "approve", f"{slug}/{ask_id}", version=opened.version, author=opened.created_by
    )
    return _again(db, opened)


def publish(
    db: Database,
    slug: str,
    ask_id: str,
    version: int,
    seen: str,
    actor: str,
    *,
    require_approval: bool,
) -> VersionRow:
    """Make a draft the version the bot sends (approved first, if that is required).

    The campaign is written as a pack with this ask in place (a new ask last, or, held
    by an import, where the pack put it: `campaigns.placing`), so the
    store, the running bot and an export all have its text; the version published
    before is superseded, and prompts that sent it keep it (`campaigns.versions`).
    """
    _, campaign = _editable(db, slug)
    opened = _seen_open(db, slug, ask_id, version, seen)
    if require_approval and not opened.approved_by:
        raise EditError(
            f"{slug}/{ask_id} {describe(opened)} needs a second organiser's approval "
            "before it is published"
        )
    try:
        ask = pack_io.ask_of(opened.content)
    except ValidationError:
        raise EditError(
            f"{slug}/{ask_id} v{opened.version} no longer passes the pack rules: save it again"
        ) from None
    locked = catalog_db.locked_answers(db, slug, ask_id)  # its poll went out since the save
    problems = ask_form.locked_answers_problem(locked, ask.poll)
    if problems:
        problem = next(iter(problems.values()))
        raise EditError(f"{slug}/{ask_id} v{opened.version}: its poll went out since: {problem}")
    asks = _published_asks(db, slug)
    before = versions_db.published(db, slug, ask_id)
    replaces = before.version if before is not None else None
    if any(found.id == ask_id for found in asks):
        asks = [ask if found.id == ask_id else found for found in asks]
    else:  # new (or back): last, or where the import that held it put it
        asks.insert(placing.place([found.id for found in asks], opened), ask)
    versions_db.mark_published(db, opened, actor)
    _write(db, campaign, asks, actor)
    audit_db.record(
        db,
        actor,
        "publish",
        f"{slug}/{ask_id}",
        version=opened.version,
        replaces=replaces,
        approved_by=opened.approved_by,
    )
    return _again(db, opened)


def discard(db: Database, slug: str, ask_id: str, version: int, seen: str, actor: str) -> None:
    """Throw a draft away (it was never sent); a published version stays as it is."""
    opened = _seen_open(db, slug, ask_id, version, seen)
    versions_db.discard(db, opened)
    title = opened.data.get("title")
    audit_db.record(
        db, actor, "discard-draft", f"{slug}/{ask_id}", version=opened.version, title=title
    )


def draft_row(db: Database, slug: str, ask_id: str, version: int, seen: str) -> AskRow:
    """A draft as the row a message is composed from, for a test send to oneself."""
    row, _ = stored_campaign(db, slug)
    opened = _seen_open(db, slug, ask_id, version, seen)
    try:
        ask = pack_io.ask_of(opened.content)
    except ValidationError:
        raise EditError(
            f"{slug}/{ask_id} v{opened.version} no longer passes the pack rules"
        ) from None
    return as_row(ask, slug, row.title, opened.version)


def _again(db: Database, row: VersionRow) -> VersionRow:
    found = versions_db.get(db, row.campaign, row.ask_id, row.version)
    assert found is not None
    return found
