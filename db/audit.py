"""The audit trail: what organisers did, when, and to what."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from db.rows import fetch_all
from db.times import now_text


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    target: str | None
    detail: str | None


def record(
    db: Database, actor: str, action: str, target: str | None = None, /, **detail: Any
) -> None:
    db.execute(
        "INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        [
            now_text(),
            actor,
            action,
            target,
            json.dumps(detail, sort_keys=True, default=str) if detail else None,
        ],
    )


def latest(db: Database, limit: int = 100) -> list[AuditRow]:
    cursor = db.execute(
        "SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?",
        [limit],
    )
    return fetch_all(AuditRow, cursor)
