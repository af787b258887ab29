"""What the tests start from: supporters, a manual prompt of the bundled pack, and pack
folders written to a temp folder."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from sqlite_utils import Database

from campaigns.packs import BUNDLED_PACKS
from db import prompts as prompts_db
from db import subscriptions as subscriptions_db
from db import supporters as supporters_db
from db.times import now_text


def add_supporters(
    db: Database,
    /,
    n: int,
    platform: str = "telegram",
    start: int = 0,
    *,
    addresses: list[str] | None = None,
    **fields: str,
) -> list[int]:
    """`n` private-chat supporters at `<platform>-<i>` (or at `addresses`), each on every
    campaign; their ids."""
    ids = []
    for address in addresses or [f"{platform}-{i}" for i in range(start, start + n)]:
        row = supporters_db.insert(
            db,
            platform=platform,
            address=address,
            kind="private",
            status=fields.get("status", "active"),
            source=fields.get("source"),
            consent_version="test",
        )
        ids.append(row.id)
    if fields.get("status") != "member":  # subscribed to every campaign, as 0006 did
        join_every_campaign(db, ids)
    return ids


def join_every_campaign(db: Database, /, supporter_ids: list[int]) -> None:
    """Subscribe these supporters to every campaign in the store."""
    for supporter_id in supporter_ids:
        for (slug,) in db.execute("SELECT slug FROM campaigns").fetchall():
            subscriptions_db.join(db, supporter_id, slug)


def manual_prompt(
    db: Database, /, ask: str = "ai-images", *, state: str = "scheduled", **fields: str | None
) -> int:
    """A prompt of the bundled campaign, due now (or already `state`)."""
    return prompts_db.create(
        db,
        campaign="one-step-ahead",
        ask_id=ask,
        kind="manual",
        scheduled_at=now_text(),
        timezone="Europe/London",
        created_by="test",
        platform=fields.get("platform"),
        source=fields.get("source"),
        state=state,
    ).id


def pack_folder(folder: Path, /, packs: Mapping[str, str]) -> Path:
    """`folder` (made if need be) with a file `<name>.toml` for each name and its text:
    a pack folder as an operator keeps one."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in packs.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return folder


def bundled_folder(folder: Path, /) -> Path:
    """`folder` (made if need be) with a copy of the bundled pack, one-step-ahead."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BUNDLED_PACKS / "one-step-ahead.toml", folder / "one-step-ahead.toml")
    return folder
