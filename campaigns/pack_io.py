"""Packs in and out of the database.

The database is where the running bot reads its campaigns from; a pack file is the
portable, reviewable form, so a campaign can live in git and move between
installations. Here: a stored campaign as the same validated `Pack` a file gives
(`pack_from_db`), a `Pack` as TOML (`to_toml`, which `load_pack` reads back to an
equal `Pack`), pack text validated exactly as a pack file is (`read_pack`), and a
pack written into the store (`write_pack`; `import_pack` for an organiser's import:
all or nothing in the caller's transaction, audited, saying what changed).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ValidationError
from sqlite_utils import Database

from campaigns.packs import Ask, Campaign, Pack, PackError, load_pack
from db import audit as audit_db
from db import catalog as catalog_db
from db import sources as sources_db
from db import versions as versions_db
from db.catalog import AskRow, CampaignOrigin, CampaignRow

MAX_PACK_BYTES = 256 * 1024  # a pack of 200 long asks is about half this
HEADER = (
    "# A campaign pack, written out of campaignbot's database.\n"
    "# Check it with `campaignbot campaigns check FILE`; "
    "bring it in with `campaignbot campaigns import FILE`.\n\n"
)
# The pack fields with columns of their own. Any other field of a campaign or an ask is
# kept in its `extra` column (JSON), so a field added to packs is stored, and comes
# back out, without a migration; a field of a part below (the schedule, a statistic)
# needs its column, and tests/test_packs_in_out.py says so when one is added.
CAMPAIGN_COLUMNS = frozenset(
    {"slug", "title", "description", "schedule", "sources", "after_last", "welcome"}
)
ASK_COLUMNS = frozenset(
    {"id", "title", "ask", "topic", "statistic", "link", "reminder", "next", "poll"}
)
# Which part of a pack each stored campaign column holds, to say what an import changed.
_CAMPAIGN_FIELDS = {
    "title": "title",
    "description": "description",
    "weekday": "schedule",
    "time": "schedule",
    "timezone": "schedule",
    "grace_hours": "schedule",
    "reminder_days": "schedule",
    "sources": "sources",
    "after_last": "after_last",
    "welcome": "welcome",
}
_JSON_COLUMNS = frozenset({"welcome", "sources", "poll_answers", "extra"})


def declared_by(slug: str) -> str:
    """Who the `sources` table says declared a campaign's codes."""
    return f"pack:{slug}"


# ------------------------------------------------------------------ Pack -> rows


def campaign_row(pack: Pack) -> dict[str, Any]:
    """The stored columns of a pack's campaign (all but where it came from)."""
    return campaign_columns(pack.campaign)


def campaign_columns(campaign: Campaign) -> dict[str, Any]:
    """The stored columns of a campaign (a pack's, or one made in the dashboard)."""
    schedule = campaign.schedule
    moment = schedule.time
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "description": campaign.description,
        "weekday": schedule.weekday,
        # Seconds only when the pack gave them, so stored times read as packs write them.
        "time": moment.isoformat("minutes" if not moment.second + moment.microsecond else "auto"),
        "timezone": schedule.timezone,
        "grace_hours": schedule.grace_hours,
        "reminder_days": schedule.reminder_days,
        "after_last": campaign.after_last.value,
        "welcome": json.dumps(
            [
                {
                    "after_days": message.after_days,
                    "text": message.text,
                    "link_label": message.link.label if message.link else None,
                    "link_url": message.link.url if message.link else None,
                }
                for message in campaign.welcome
            ],
            ensure_ascii=False,
        ),
        "sources": json.dumps(campaign.sources, ensure_ascii=False),
        "extra": _extra(campaign, CAMPAIGN_COLUMNS),
    }


def ask_row(ask: Ask) -> dict[str, Any]:
    """The stored columns of one ask (all but its campaign and position)."""
    step, poll = ask.next, ask.poll
    return {
        "id": ask.id,
        "title": ask.title,
        "topic": ask.topic,
        "ask": ask.ask,
        "stat_figure": ask.statistic.figure,
        "stat_sentence": ask.statistic.sentence,
        "stat_source": ask.statistic.source,
        "stat_url": ask.statistic.url,
        "stat_year": ask.statistic.year or 0,  # 0: undated (the column is NOT NULL)
        "stat_period": ask.statistic.period,
        "link_label": ask.link.label,
        "link_url": ask.link.url,
        "reminder": ask.reminder,
        "next_text": step.text if step else None,
        "next_link_label": step.link.label if step and step.link else None,
        "next_link_url": step.link.url if step and step.link else None,
        "next_invite": int(bool(step and step.invite)),
        "poll_question": poll.question if poll else None,
        "poll_answers": json.dumps(poll.answers, ensure_ascii=False) if poll else None,
        "poll_after_days": poll.after_days if poll else None,
        "extra": _extra(ask, ASK_COLUMNS),
    }


def ask_content(ask: Ask) -> str:
    """An ask as a version's stored content (`ask_versions.content`): every field of
    the pack's ask, as JSON. A field with no column is left out at its default, as
    the `extra` column leaves it out: a field added to packs (`variants`) must not
    make every stored ask's content differ, and so a new version of each."""
    data = ask.model_dump(mode="json", include=set(ASK_COLUMNS))
    data |= json.loads(_extra(ask, ASK_COLUMNS))
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def ask_of(content: str) -> Ask:
    """A version's stored content as the pack's ask again; `ValidationError` if it no
    longer passes the pack rules."""
    return Ask.model_validate(json.loads(content))


def _extra(model: BaseModel, columns: frozenset[str]) -> str:
    """The fields with no column, as JSON (those left at their default left out, as a
    pack file leaves them out)."""
    others = set(type(model).model_fields) - columns
    found = model.model_dump(mode="json", include=others, exclude_defaults=True)
    return json.dumps(found, ensure_ascii=False, sort_keys=True)


# ------------------------------------------------------------------ rows -> Pack


def _known(extra: str, model: type[BaseModel]) -> dict[str, Any]:
    """Stored extra fields the pack rules still have (one since removed means nothing)."""
    return {k: v for k, v in json.loads(extra).items() if k in model.model_fields}


def _link(label: str | None, url: str | None) -> dict[str, str] | None:
    return {"label": label, "url": url} if label is not None and url is not None else None


def _ask_data(row: AskRow) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "title": row.title,
        "ask": row.ask,
        "topic": row.topic,
        "statistic": {
            "figure": row.stat_figure,
            "sentence": row.stat_sentence,
            "source": row.stat_source,
            "url": row.stat_url,
            "year": row.stat_year or None,
            "period": row.stat_period,
        },
        "link": {"label": row.link_label, "url": row.link_url},
        "reminder": row.reminder,
        "next": None,
        "poll": None,
        **_known(row.extra, Ask),
    }
    if row.next_text is not None:
        data["next"] = {
            "text": row.next_text,
            "link": _link(row.next_link_label, row.next_link_url),
            "invite": bool(row.next_invite),
        }
    if row.poll_question is not None:
        data["poll"] = {
            "question": row.poll_question,
            "answers": row.poll_labels,
            "after_days": row.poll_after_days,
        }
    return data


def pack_data(campaign: CampaignRow, asks: list[AskRow]) -> dict[str, Any]:
    """A stored campaign and its current asks as the data of a pack, not yet validated."""
    return {
        "campaign": {
            "slug": campaign.slug,
            "title": campaign.title,
            "description": campaign.description,
            "schedule": {
                "weekday": campaign.weekday,
                "time": campaign.time,
                "timezone": campaign.timezone,
                "grace_hours": campaign.grace_hours,
                "reminder_days": campaign.reminder_days,
            },
            "sources": campaign.source_codes,
            "after_last": campaign.after_last.value,
            "welcome": [
                {
                    "after_days": message["after_days"],
                    "text": message["text"],
                    "link": _link(message.get("link_label"), message.get("link_url")),
                }
                for message in campaign.welcome_messages
            ],
            **_known(campaign.extra, Campaign),
        },
        "asks": [_ask_data(row) for row in asks],
    }


def stored_at(slug: str) -> Path:
    """What a `PackError` about a stored campaign names instead of a file."""
    return Path(f"campaign {slug!r} in the database")


def pack_from_db(db: Database, slug: str) -> Pack | None:
    """A stored campaign (retired or not) and its current asks, in order, as the same
    validated `Pack` its pack file gives; None if there is no such campaign.

    Raises `PackError` if the stored copy no longer passes the pack rules (rules
    tightened since it was stored), naming the ask and the field.
    """
    campaign = catalog_db.get_campaign(db, slug)
    if campaign is None:
        return None
    asks = catalog_db.asks(db, slug)
    if not asks:  # made in the dashboard, none published yet: no pack can hold it
        raise PackError(stored_at(slug), ["has no published ask yet, and a pack needs one"])
    data = pack_data(campaign, asks)
    try:
        return Pack.model_validate(data)
    except ValidationError as exc:
        raise PackError(stored_at(slug), _problems(exc, asks)) from None


def packs_from_db(db: Database) -> dict[str, Pack]:
    """Every campaign the bot runs (not retired), keyed by slug. A campaign made in the
    dashboard runs once it has a published ask: until then no pack could hold it."""
    found: dict[str, Pack] = {}
    for campaign in catalog_db.campaigns(db):
        if not catalog_db.asks(db, campaign.slug):
            continue
        pack = pack_from_db(db, campaign.slug)
        assert pack is not None  # read in the same transaction
        found[campaign.slug] = pack
    return found


def _problems(exc: ValidationError, asks: list[AskRow]) -> list[str]:
    """Pydantic's errors about stored data, each naming the ask and the field."""
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        where = "campaign"
        if loc[:1] == ["asks"] and len(loc) > 1 and isinstance(loc[1], int):
            where = f"ask {asks[loc[1]].id!r}" if loc[1] < len(asks) else "asks"
            loc = loc[2:]
        elif loc[:1] == ["campaign"]:
            loc = loc[1:]
        else:
            where = "pack"
        field = ".".join(str(part) for part in loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}, field {field}: {message}" if field else f"{where}: {message}")
    return problems


# ------------------------------------------------------------------ TOML


def to_toml(pack: Pack) -> str:
    """A pack as TOML that `load_pack` reads back to an equal `Pack`.

    Fields in the pack's own order, optional ones left out when empty, text with line
    breaks as multi-line strings, and the weekly time as packs write it ("18:30").
    Comments in the file the pack came from are not kept: the database never had them.
    """
    data = pack.model_dump(mode="json", exclude_none=True)
    moment = pack.campaign.schedule.time
    if not moment.second + moment.microsecond:
        data["campaign"]["schedule"]["time"] = f"{moment:%H:%M}"
    for ask in data["asks"]:  # no wording experiment or translation: it says nothing of one
        for optional in ("variants", "translations"):
            if not ask.get(optional):
                ask.pop(optional, None)
    if not data["campaign"].get("translations"):  # nor of the campaign in other languages
        data["campaign"].pop("translations", None)
    return HEADER + tomli_w.dumps(data, multiline_strings=True)


def read_pack(raw: bytes, name: str) -> Pack:
    """Pack text from elsewhere (an upload), validated exactly as a pack file is: by
    `load_pack` itself, from a private temporary folder. A `PackError` names `name`."""
    if len(raw) > MAX_PACK_BYTES:
        raise PackError(
            Path(name), [f"is {len(raw) // 1024} KB; a pack may be {MAX_PACK_BYTES // 1024} KB"]
        )
    with tempfile.TemporaryDirectory(prefix="campaignbot-pack-") as folder:
        path = Path(folder) / "pack.toml"
        path.write_bytes(raw)
        try:
            return load_pack(path)
        except PackError as exc:
            raise PackError(Path(name), exc.problems) from None


# ------------------------------------------------------------------ into the store


class AnswersLocked(ValueError):
    """A pack would reorder, drop or take away poll answers that went out; one line
    naming the campaign, each ask and the answers that must stay. Nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def locked_answers_problems(db: Database, pack: Pack) -> list[str]:
    """What `pack` would re-label: a poll answer is stored by its position, and the
    buttons already in chats carry positions, so once an ask's poll went out
    (`db.catalog.locked_answers`) its answers stay first, in order, and the poll stays;
    more answers may follow. The editor holds the same rule (`ask_form`)."""
    slug = pack.campaign.slug
    problems = []
    for ask in pack.asks:
        before = catalog_db.locked_answers(db, slug, ask.id)
        if not before or (ask.poll is not None and ask.poll.answers[: len(before)] == before):
            continue
        kept = ", ".join(before)
        where = f"{slug}/{ask.id}: its poll has gone out, so"
        if ask.poll is None:
            problems.append(f"{where} it stays, with its answers {kept} first, in this order")
        else:
            problems.append(
                f"{where} its answers {kept} stay first, in this order (answers are counted "
                "by position; add new ones after them)"
            )
    return problems


def check_locked_answers(db: Database, pack: Pack) -> None:
    """`AnswersLocked` if `pack` would re-label poll answers that went out."""
    problems = locked_answers_problems(db, pack)
    if problems:
        raise AnswersLocked("; ".join(problems))


@dataclass(frozen=True)
class Changes:
    """What writing a pack changed in the store."""

    slug: str
    new: bool  # the campaign was not stored before
    added: tuple[str, ...]  # ask ids now current that were not (new, or back from retired)
    changed: tuple[str, ...]  # current before and after, with different text or settings
    retired: tuple[str, ...]  # current before, not in the pack
    campaign: tuple[str, ...]  # the campaign's own fields that changed (title, schedule...)
    reordered: bool  # the asks kept are in another order
    revived: bool = False  # the campaign was retired, and runs again

    @property
    def any(self) -> bool:
        return bool(
            self.new
            or self.added
            or self.changed
            or self.retired
            or self.campaign
            or self.reordered
            or self.revived
        )

    def summary(self) -> str:
        """One line: the campaign, and what changed by ask id."""
        return f"{self.slug}: {self.what()}"

    def what(self) -> str:
        """What changed, by ask id."""
        if self.new:
            return f"new campaign, {_ids(len(self.added), self.added)} added"
        if not self.any:
            return "no changes (the database already holds this pack)"
        parts = [
            f"{_ids(len(found), found)} {verb}"
            for verb, found in (
                ("added", self.added),
                ("changed", self.changed),
                ("retired", self.retired),
            )
            if found
        ]
        if self.reordered:
            parts.append("asks reordered")
        if self.campaign:
            parts.append(f"campaign {', '.join(self.campaign)} changed")
        if self.revived:
            parts.append("the retired campaign runs again")
        return "; ".join(parts)

    def audit_detail(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "added": list(self.added),
            "changed": list(self.changed),
            "retired": list(self.retired),
            "campaign": list(self.campaign),
            "reordered": self.reordered,
            "revived": self.revived,
        }


def _ids(count: int, ids: tuple[str, ...]) -> str:
    return f"{count} ask{'' if count == 1 else 's'} ({', '.join(ids)})"


def _same(column: str, stored: Any, wanted: Any) -> bool:
    if column in _JSON_COLUMNS and isinstance(stored, str) and isinstance(wanted, str):
        return bool(json.loads(stored) == json.loads(wanted))
    return bool(stored == wanted)


def changes(db: Database, pack: Pack) -> Changes:
    """What writing `pack` would change, compared row by row with the store (so a
    stored copy that no longer validates can still be replaced)."""
    slug = pack.campaign.slug
    stored = catalog_db.get_campaign(db, slug)
    wanted_asks = [ask_row(ask) for ask in pack.asks]
    if stored is None:
        ids = tuple(row["id"] for row in wanted_asks)
        return Changes(slug, True, ids, (), (), (), False)
    current = {row.id: row for row in catalog_db.asks(db, slug)}
    wanted_ids = [row["id"] for row in wanted_asks]
    added = tuple(i for i in wanted_ids if i not in current)
    changed = tuple(
        row["id"]
        for row in wanted_asks
        if row["id"] in current
        and not all(_same(k, getattr(current[row["id"]], k), v) for k, v in row.items())
    )
    retired = tuple(i for i in current if i not in wanted_ids)
    kept_before = [i for i in current if i in wanted_ids]
    kept_after = [i for i in wanted_ids if i in current]
    fields = campaign_row(pack)
    before, after = json.loads(stored.extra), json.loads(fields["extra"])
    campaign = tuple(
        dict.fromkeys(
            [
                *(
                    part
                    for column, part in _CAMPAIGN_FIELDS.items()
                    if not _same(column, getattr(stored, column), fields[column])
                ),
                *sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)),
            ]
        )
    )
    return Changes(
        slug,
        False,
        added,
        changed,
        retired,
        campaign,
        kept_before != kept_after,
        revived=stored.retired,  # a retired campaign written again runs again
    )


def write_pack(
    db: Database,
    pack: Pack,
    origin: CampaignOrigin,
    *,
    pack_file: str | None = None,
    pack_hash: str | None = None,
    by: str | None = None,
) -> None:
    """Store a pack as its campaign's current copy: asks not in it are retired, its
    source codes are declared. From a pack file, `pack_file` and `pack_hash` name the
    file; otherwise the stored ones stay. An ask whose text changed gets a new published
    version (`db.versions.settle`), published by `by` (else by the origin's name)."""
    campaign: dict[str, Any] = {**campaign_row(pack), "origin": origin.value}
    if pack_file is not None:
        campaign |= {"pack_file": pack_file, "pack_hash": pack_hash}
    else:
        campaign["pack_file"] = ""  # only for a new campaign: an existing one keeps its own
    catalog_db.upsert_campaign(db, campaign, [ask_row(ask) for ask in pack.asks])
    sources_db.declare_for_pack(db, declared_by(pack.campaign.slug), pack.campaign.sources)
    contents = {ask.id: ask_content(ask) for ask in pack.asks}
    versions_db.settle(db, pack.campaign.slug, contents, by or origin.value)


def import_pack(db: Database, pack: Pack, actor: str, name: str) -> Changes:
    """Bring an organiser's pack (validated already) into the store as its campaign's
    current copy, and audit it; nothing is written if nothing would change. Run it in
    one transaction (a store job, or `db.atomic()`): it is all or nothing.

    The campaign's pack file, if it has one, is left alone: the next start copies the
    file in only if the file itself changes. `AnswersLocked` (nothing written) if it
    would re-label poll answers that went out.
    """
    found = changes(db, pack)
    if not found.any:
        return found
    check_locked_answers(db, pack)
    write_pack(db, pack, CampaignOrigin.IMPORT, by=actor)
    audit_db.record(db, actor, "import-pack", pack.campaign.slug, file=name, **found.audit_detail())
    return found


def export_pack(db: Database, slug: str) -> str | None:
    """A stored campaign as pack TOML; None if there is no such campaign."""
    pack = pack_from_db(db, slug)
    return None if pack is None else to_toml(pack)
