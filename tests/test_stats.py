"""Participation counts against numbers worked out by hand, and erasure that keeps them."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from campaigns import reports
from campaigns.dialogue import Context
from campaigns.model import Origin
from campaigns.reports import Table
from db import prompts as prompts_db
from db import supporters as supporters_db
from db.stats import Counts, Filters, participation
from db.times import now_text
from tests.chat import count, say, text_of

A = Origin("telegram", "person-a")
B = Origin("telegram", "102")
C = Origin("discord", "103")
D = Origin("console", "104")


def seed(db: Database, ctx: Context) -> None:
    """Two weeks of prompts, a cancelled one and a reminder, with hand-picked outcomes."""
    for origin, source in ((A, "leaflet"), (B, None), (C, "leaflet"), (D, "readme")):
        supporters_db.insert(
            db,
            platform=origin.platform,
            address=origin.chat,
            kind="private",
            status="active",
            source=source,
            consent_version="test",
        )
    keys = {o: supporters_db.get(db, o.platform, o.chat) for o in (A, B, C, D)}

    def prompt(
        ask: str, at: str, state: str = "sent", kind: str = "weekly", parent: int | None = None
    ) -> int:
        return prompts_db.create(
            db,
            campaign="one-step-ahead",
            ask_id=ask,
            kind=kind,
            scheduled_at=at,
            timezone="Europe/London",
            created_by="test",
            state=state,
            parent_id=parent,
        ).id

    p1 = prompt("ai-images", "2026-11-03T18:30:00Z")
    p2 = prompt("pre-screening", "2026-11-10T18:30:00Z")
    p3 = prompt("age-verification", "2026-11-17T18:30:00Z", state="cancelled")
    p4 = prompt("ai-images", "2026-11-06T18:30:00Z", kind="reminder", parent=p1)

    def deliver(prompt_id: int, origin: Origin, state: str) -> None:
        row = keys[origin]
        assert row is not None
        db.execute(
            "INSERT INTO deliveries (prompt_id, supporter_id, supporter_key, platform, source,"
            " state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [prompt_id, row.id, row.key, row.platform, row.source, state, now_text(), now_text()],
        )

    def act(prompt_id: int, origin: Origin, kind: str) -> None:
        row = keys[origin]
        assert row is not None
        db.execute(
            "INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via,"
            " created_at) VALUES (?, ?, ?, ?, ?, 'button', ?)",
            [prompt_id, row.key, kind, row.platform, row.source, now_text()],
        )

    for origin, state in ((A, "sent"), (B, "sent"), (C, "sent"), (D, "gone")):
        deliver(p1, origin, state)
    for origin, state in ((A, "sent"), (C, "failed"), (D, "sent")):
        deliver(p2, origin, state)
    deliver(p3, A, "sent")  # cancelled prompt: never counted
    deliver(p4, B, "sent")  # reminder: not a second delivery
    for origin, kind in ((A, "done"), (A, "opened"), (C, "done"), (B, "done")):
        act(p1, origin, kind)
    act(p2, A, "done")
    act(p2, D, "skipped")


def rows(db: Database, filters: Filters | None = None) -> dict[str, Counts]:
    report = participation(db, filters)
    result = {f"ask:{r.week}:{r.ask_id}": r.counts for r in report.by_ask_week}
    result |= {f"platform:{r.key}": r.counts for r in report.by_platform}
    result |= {f"source:{r.key}": r.counts for r in report.by_source}
    result["total"] = report.total
    return result


EXPECTED = {
    "ask:2026-11-02:ai-images": Counts(delivered=3, opened=1, done=3, skipped=0, supporters=3),
    "ask:2026-11-09:pre-screening": Counts(delivered=2, opened=0, done=1, skipped=1, supporters=1),
    "platform:console": Counts(delivered=1, opened=0, done=0, skipped=1, supporters=0),
    "platform:discord": Counts(delivered=1, opened=0, done=1, skipped=0, supporters=1),
    "platform:telegram": Counts(delivered=3, opened=1, done=3, skipped=0, supporters=2),
    "source:(none)": Counts(delivered=1, opened=0, done=1, skipped=0, supporters=1),
    "source:leaflet": Counts(delivered=3, opened=1, done=3, skipped=0, supporters=2),
    "source:readme": Counts(delivered=1, opened=0, done=0, skipped=1, supporters=0),
    "total": Counts(delivered=5, opened=1, done=4, skipped=1, supporters=3),
}


def test_counts_match_the_hand_computed_numbers(db: Database, ctx: Context) -> None:
    seed(db, ctx)
    assert rows(db) == EXPECTED


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            Filters(platform="telegram"),
            {
                "ask:2026-11-02:ai-images": Counts(2, 1, 2, 0, 2),
                "ask:2026-11-09:pre-screening": Counts(1, 0, 1, 0, 1),
                "total": Counts(3, 1, 3, 0, 2),
            },
        ),
        (
            Filters(since="2026-11-09T00:00:00Z"),
            {"ask:2026-11-09:pre-screening": Counts(2, 0, 1, 1, 1), "total": Counts(2, 0, 1, 1, 1)},
        ),
        (
            Filters(source="(none)", until="2026-11-09T00:00:00Z"),
            {"ask:2026-11-02:ai-images": Counts(1, 0, 1, 0, 1), "total": Counts(1, 0, 1, 0, 1)},
        ),
    ],
)
def test_filters(db: Database, ctx: Context, filters: Filters, expected: dict[str, Counts]) -> None:
    seed(db, ctx)
    found = {k: v for k, v in rows(db, filters).items() if k.startswith(("ask:", "total"))}
    assert found == expected


def test_csv_and_json_carry_the_same_numbers(db: Database, ctx: Context) -> None:
    seed(db, ctx)
    report = participation(db)
    csv_text = reports.to_csv(report, Table.PLATFORMS)
    assert csv_text.splitlines() == [
        "platform,delivered,opened,done,skipped,supporters",
        "console,1,0,0,1,0",
        "discord,1,0,1,0,1",
        "telegram,3,1,3,0,2",
    ]
    assert '"done": 4' in reports.to_json(report)


def test_csv_defuses_spreadsheet_formulas(db: Database, ctx: Context) -> None:
    seed(db, ctx)
    db.execute("UPDATE asks SET title = '=HYPERLINK(\"x\")' WHERE id = 'ai-images'")
    assert "'=HYPERLINK" in reports.to_csv(participation(db), Table.ASKS)


def test_erasure_keeps_the_counts_and_nothing_that_identifies(db: Database, ctx: Context) -> None:
    seed(db, ctx)
    before = rows(db)
    replies = say(db, ctx, A, "/forget")
    assert "can't be undone" in text_of(replies)
    assert supporters_db.get(db, "telegram", "person-a") is not None  # not yet: it asks first
    say(db, ctx, A, "/forget yes")
    assert supporters_db.get(db, "telegram", "person-a") is None
    assert rows(db) == before
    # nothing left points at the address
    for table in ("supporters", "deliveries", "actions", "audit"):
        assert "person-a" not in str(db.execute(f"SELECT * FROM {table}").fetchall())
    assert count(db, "SELECT count(*) FROM deliveries WHERE supporter_id IS NULL") == 3


def test_erasure_by_button_and_counts_after_rejoining(db: Database, ctx: Context) -> None:
    from tests.chat import action_of, press

    first = say(db, ctx, D, "/start")
    press(db, ctx, D, action_of(first, "I did it"))
    confirm = say(db, ctx, D, "/forget")
    kept = press(db, ctx, D, action_of(confirm, "No, keep it"))
    assert kept.edit is not None and "Nothing was erased" in kept.edit.text
    confirm = say(db, ctx, D, "/forget")
    erased = press(db, ctx, D, action_of(confirm, "Yes, erase my data"))
    assert erased.edit is not None and "erased your data" in erased.edit.text
    assert participation(db).total.done == 1
    again = say(db, ctx, D, "/start")  # a new supporter now, with a new pseudonym
    press(db, ctx, D, action_of(again, "I did it"))
    assert participation(db).total == Counts(delivered=2, opened=0, done=2, skipped=0, supporters=2)
