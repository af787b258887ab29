"""What the core promises about people's data: typed sources are never kept, group members
are known only by a pseudonym, erasure is bound to its supporter and leaves nothing,
/mydata shows every delivery, buttons count only for what was delivered, one answer per
prompt, and the database file is private.

Every fixture is synthetic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import stat
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from campaigns import delivery, prompting, wording
from campaigns.buttons import ButtonIds, Verb
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.dialogue import Context
from campaigns.keys import tag
from campaigns.model import ChatKind, Origin
from db import supporters as supporters_db
from db.stats import participation
from db.store import Store, connect
from tests.chat import ALICE, BOB, GROUP, action_of, count, press, say, text_of
from tests.conftest import SECRET

TYPED = "jane-doe-07700900123"  # what a careless supporter might type after /start
ANSWERS = "SELECT count(*) FROM actions WHERE kind = ?"


def dump(db: Database) -> str:
    """Every value in every table, as text."""
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return "\n".join(str(db.execute(f"SELECT * FROM [{t}]").fetchall()) for t in tables)


def send(db: Database, catalog: Catalog, ask: str = "pre-screening") -> int:
    """A manual prompt, recorded as sent to every active supporter (as the engine would)."""
    prompt = prompting.send_now(db, catalog, prompting.Request("one-step-ahead", ask), "test")
    assert delivery.prepare(db, prompt.id, ["console", "telegram"]) is not None
    db.execute(
        "UPDATE deliveries SET state = 'sent', sent_at = created_at WHERE prompt_id = ?",
        [prompt.id],
    )
    return prompt.id


# --- sources ----------------------------------------------------------------------


def test_a_typed_source_is_never_stored_and_nothing_typed_survives_forget(
    db: Database, ctx: Context
) -> None:
    say(db, ctx, ALICE, f"/start {TYPED}")
    row = supporters_db.get(db, ALICE.platform, ALICE.chat)
    assert row is not None and row.source == "other"
    assert {r.key for r in participation(db).by_source} == {"other"}
    say(db, ctx, ALICE, "/forget yes")
    assert "jane" not in dump(db) and "07700900123" not in dump(db)


def test_a_declared_source_is_kept(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start Leaflet")  # declared in the bundled pack; case doesn't matter
    row = supporters_db.get(db, ALICE.platform, ALICE.chat)
    assert row is not None and row.source == "leaflet"
    say(db, ctx, BOB, "/start")
    bob = supporters_db.get(db, BOB.platform, BOB.chat)
    assert bob is not None and bob.source is None  # no code: nothing to count


def test_sources_typed_before_the_upgrade_become_other_everywhere(
    tmp_path: Path, catalog: Catalog
) -> None:
    from db import migrations

    db = connect(tmp_path / "old.db")
    every = [m.name for m in migrations.migrations._migrations]
    migrations.migrations.apply(db, stop_before="0004_privacy")
    db.execute(
        "INSERT INTO campaigns VALUES ('one-step-ahead', 't', 'd', 'tuesday', '18:30',"
        " 'Europe/London', 6, NULL, 'f', 'x', 'x')"
    )
    db.execute(
        "INSERT INTO asks (campaign, id, position, title, topic, ask, stat_figure,"
        " stat_sentence, stat_source, stat_url, stat_year, link_label, link_url, updated_at)"
        " VALUES ('one-step-ahead', 'ai-images', 1, 't', 'ai', 'a', '1', 's', 's',"
        " 'https://x.org/', 2024, 'l', 'https://x.org/', 'x')"
    )
    db.execute(
        "INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,"
        " created_by, created_at) VALUES ('one-step-ahead', 'ai-images', 'manual',"
        " '2026-01-01T00:00:00Z', 'UTC', 'sent', 't', 't')"
    )
    for n, source in enumerate((TYPED, "leaflet", None)):
        key = f"key{n}"
        db.execute(
            "INSERT INTO supporters (key, platform, address, kind, status, source, created_at,"
            " updated_at) VALUES (?, 'telegram', ?, 'private', 'active', ?, 'x', 'x')",
            [key, str(100 + n), source],
        )
        db.execute(
            "INSERT INTO deliveries (prompt_id, supporter_id, supporter_key, platform, source,"
            " state, created_at, updated_at) VALUES (1, ?, ?, 'telegram', ?, 'sent', 'x', 'x')",
            [n + 1, key, source],
        )
        db.execute(
            "INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via,"
            " created_at) VALUES (1, ?, 'done', 'telegram', ?, 'button', 'x')",
            [key, source],
        )
    db.close()
    db = connect(tmp_path / "old.db")
    migrations.apply(db)
    assert [m.name for m in migrations.migrations.applied(db)] == every
    with db.atomic():
        catalog.sync(db)
    assert "jane" not in dump(db)
    by_source = {r.key: (r.counts.delivered, r.counts.done) for r in participation(db).by_source}
    assert by_source == {"other": (1, 1), "leaflet": (1, 1), "(none)": (1, 1)}


# --- buttons and answers -----------------------------------------------------------


def test_a_press_counts_only_for_a_prompt_delivered_to_that_supporter(
    db: Database, ctx: Context, catalog: Catalog
) -> None:
    say(db, ctx, ALICE, "/start")
    say(db, ctx, ALICE, "/pause")  # Alice is paused: the next send passes her by
    prompt_id = send(db, catalog)
    assert count(db, "SELECT count(*) FROM deliveries WHERE prompt_id = ?", [prompt_id]) == 0
    # a validly signed button for a prompt she was never sent (forwarded, or made up)
    result = press(db, ctx, ALICE, ctx.ids.make(Verb.DONE, prompt_id))
    assert not result.counted and result.answer == wording.BUTTON_STALE
    assert count(db, "SELECT count(*) FROM actions WHERE prompt_id = ?", [prompt_id]) == 0


def test_a_stopped_supporters_press_is_refused_like_a_typed_done(
    db: Database, ctx: Context
) -> None:
    ask = say(db, ctx, ALICE, "/start")
    say(db, ctx, ALICE, "/stop")
    result = press(db, ctx, ALICE, action_of(ask, wording.DONE_LABEL))
    assert not result.counted and result.answer == wording.NOT_SUBSCRIBED
    assert text_of(say(db, ctx, ALICE, "/done")) == wording.NOT_SUBSCRIBED
    assert count(db, "SELECT count(*) FROM actions") == 0


def test_one_answer_per_supporter_and_prompt(db: Database, ctx: Context) -> None:
    ask = say(db, ctx, ALICE, "/start")
    skip, done = action_of(ask, wording.SKIP_LABEL), action_of(ask, wording.DONE_LABEL)
    assert press(db, ctx, ALICE, skip).counted
    assert press(db, ctx, ALICE, done).counted  # changes her answer
    assert (count(db, ANSWERS, ["done"]), count(db, ANSWERS, ["skipped"])) == (1, 0)
    assert press(db, ctx, ALICE, skip).counted  # and back
    assert (count(db, ANSWERS, ["done"]), count(db, ANSWERS, ["skipped"])) == (0, 1)
    total = participation(db).total
    assert total.done + total.skipped <= total.delivered == 1


def test_a_signed_button_with_a_huge_id_gets_a_polite_answer(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    for argument in ("9" * 19, "9" * 30, "1" + "0" * 31):
        result = press(db, ctx, ALICE, ctx.ids.make(Verb.DONE, argument))
        assert result.answer == wording.BUTTON_STALE
    assert count(db, "SELECT count(*) FROM actions") == 0


def test_button_ids_are_signed_with_a_key_derived_from_the_secret() -> None:
    made = ButtonIds(SECRET).make(Verb.DONE, 7)
    with_raw_secret = base64.urlsafe_b64encode(
        hmac.new(SECRET, b"done:7", hashlib.sha256).digest()
    ).decode()[:16]
    assert made.rsplit(":", 1)[1] != with_raw_secret


# --- erasure -----------------------------------------------------------------------


def test_yes_erase_is_bound_to_its_supporter_and_expires(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    say(db, ctx, BOB, "/start")
    alices_yes = action_of(say(db, ctx, ALICE, "/forget"), wording.FORGET_YES)
    # Bob presses Alice's button (a forwarded message, say): nobody is erased
    result = press(db, ctx, BOB, alices_yes)
    assert not result.counted and result.answer == wording.FORGET_EXPIRED
    assert count(db, "SELECT count(*) FROM supporters") == 2
    # a button made eleven minutes ago no longer erases
    alice = supporters_db.get(db, ALICE.platform, ALICE.chat)
    assert alice is not None
    stale = ctx.ids.make(Verb.FORGET, f"{int(time.time()) - 60:x}-{tag(alice.key)}")
    assert press(db, ctx, ALICE, stale).answer == wording.FORGET_EXPIRED
    assert supporters_db.get(db, ALICE.platform, ALICE.chat) is not None
    # her own fresh button does
    assert press(db, ctx, ALICE, alices_yes).counted
    assert supporters_db.get(db, ALICE.platform, ALICE.chat) is None
    assert supporters_db.get(db, BOB.platform, BOB.chat) is not None


async def test_erasure_leaves_nothing_in_the_database_files(core: Core, db_path: Path) -> None:
    origin = Origin("telegram", "7461230099")
    await core.command(origin, "start", ("leaflet",))
    await core.command(origin, "topics", ("ai",))
    await core.command(origin, "forget", ("yes",))
    raw = b"".join(
        path.read_bytes() for path in db_path.parent.iterdir() if path.name.startswith("campaign")
    )
    assert b"7461230099" not in raw


# --- /mydata ---------------------------------------------------------------------


def test_mydata_lists_every_delivery(db: Database, ctx: Context, catalog: Catalog) -> None:
    ask = say(db, ctx, ALICE, "/start")
    press(db, ctx, ALICE, action_of(ask, wording.DONE_LABEL))
    send(db, catalog, "pre-screening")
    reply = say(db, ctx, ALICE, "/mydata")[0]
    assert reply.attachment is not None
    import json

    data = json.loads(reply.attachment.content)
    sent = [(d["ask"], d["state"], d["your_answer"]) for d in data["deliveries"]]
    assert sent == [
        ("ai-images", "sent", "done"),
        ("ai-images", "pending", None),  # its next step, on its way since "I did it"
        ("pre-screening", "sent", None),
    ]
    titles = [row[0] for row in db.execute("SELECT title FROM asks ORDER BY position")]
    assert data["deliveries"][1]["title"] == f"next step after {titles[0]}"
    assert titles[0] in reply.text and "you did it" in reply.text
    assert "Messages we sent you: 3" in reply.text and "24 months" in reply.text


# --- group members ------------------------------------------------------------------


def test_group_members_are_recorded_under_a_pseudonym_only(db: Database, ctx: Context) -> None:
    posted = say(db, ctx, GROUP, "/subscribe_group", admin=True)
    member_id = "5550001234"
    member = Origin("telegram", GROUP.chat, ChatKind.GROUP, user=member_id)
    assert press(db, ctx, member, action_of(posted, wording.DONE_LABEL)).counted
    assert member_id not in dump(db)
    before = participation(db).total
    # in a private chat (where Telegram's chat id is the user's id) they see and erase it
    private = Origin("telegram", member_id)
    reply = say(db, ctx, private, "/mydata")[0]
    assert "Buttons you pressed in groups: 1" in reply.text
    assert reply.attachment is not None and b"presses_in_groups" in reply.attachment.content
    say(db, ctx, private, "/forget yes")
    assert text_of(say(db, ctx, private, "/mydata")) == wording.NOTHING_HELD
    assert count(db, "SELECT count(*) FROM supporters WHERE status = 'member'") == 0
    assert participation(db).total == before


def test_members_recorded_before_pseudonyms_get_one(db: Database, ctx: Context) -> None:
    from campaigns import supporters

    supporters_db.insert(
        db,
        platform="telegram",
        address="5550009999",
        kind="private",
        status="member",
        source=None,
        consent_version=None,
    )
    assert supporters.pseudonymise_members(db, ctx.pseudonyms) == 1
    assert "5550009999" not in dump(db)
    found = supporters.find_member(db, ctx.pseudonyms, "telegram", "5550009999")
    assert found is not None


# --- logs ---------------------------------------------------------------------------


async def test_nothing_typed_reaches_the_log(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    origin = Origin("telegram", "7001")
    await core.command(origin, "start")
    caplog.set_level(logging.DEBUG)
    replies = await core.command(origin, "pause", ("²",))
    assert [m.text for m in replies] == [wording.PAUSE_USAGE]
    assert "²" not in caplog.text


# --- the database file -------------------------------------------------------------


def test_the_database_file_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new-folder" / "campaignbot.db"
    store = Store(path)
    try:
        store.submit(lambda db: db.execute("CREATE TABLE t (x)")).result()
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
        assert store.submit(lambda db: db.execute("PRAGMA secure_delete").fetchone()[0]).result()
    finally:
        store.close()
    # an existing file that others could read is tightened
    path.chmod(0o644)
    connect(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
