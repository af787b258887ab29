"""A new ask an import held for approval keeps the pack's place with its held version
(`ask_versions.pack_order`, migration 0011), not in the import's audit entry: audit
entries go after `retention_months`, and an ask may wait longer than that.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlite_utils import Database

from campaigns import importing, pack_io
from campaigns.packs import BUNDLED_PACKS, Pack, load_pack
from campaigns.retention import delete_old_audit
from db import audit as audit_db
from db import catalog as catalog_db
from db import migrations
from db import versions as versions_db
from db.store import connect, open_database
from tests.test_import_approval import approve_and_publish

BUNDLED = "one-step-ahead"
EVERYTHING = "9999"  # a retention cutoff after every audit entry


def bundled() -> Pack:
    return load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")


def with_new(pack: Pack, ask_id: str, at: int) -> Pack:
    """The pack with a new ask at index `at`."""
    new = pack.asks[1].model_copy(update={"id": ask_id, "title": f"New: {ask_id}"})
    asks = list(pack.asks)
    asks.insert(at, new)
    return Pack(campaign=pack.campaign, asks=asks)


def running_order(db: Database) -> list[str]:
    return [row.id for row in catalog_db.asks(db, BUNDLED)]


def test_a_held_ask_keeps_the_packs_place_after_retention_deletes_the_audit(
    db: Database,
) -> None:
    ids = [ask.id for ask in bundled().asks]
    with db.atomic():
        importing.import_pack(
            db, with_new(bundled(), "n-second", 1), "web:olive", "p.toml", require_approval=True
        )
    with db.atomic():
        assert delete_old_audit(db, EVERYTHING) > 0  # the ask waited past retention
    assert db["audit"].count == 0
    approve_and_publish(db, BUNDLED, "n-second")
    assert running_order(db) == [ids[0], "n-second", *ids[1:]]


def test_the_latest_import_holding_an_ask_says_where_it_goes(db: Database) -> None:
    """An ask still waiting from one import that another holds again (the same text, with
    other changes) goes where the latest put it, as when the newest audit entry said."""
    ids = [ask.id for ask in bundled().asks]
    again = with_new(with_new(bundled(), "n-moved", 0), "n-other", len(ids) + 1)
    for pack in (with_new(bundled(), "n-moved", 1), again):
        with db.atomic():
            importing.import_pack(db, pack, "web:olive", "p.toml", require_approval=True)
    approve_and_publish(db, BUNDLED, "n-moved")
    assert running_order(db) == ["n-moved", *ids]


def test_0011_moves_a_held_asks_order_from_its_import_audit_entry(tmp_path: Path) -> None:
    """On a database of 0010, each open version an import held gets the order of the
    newest import entry that held it; one no import held (or whose entry is gone) none."""
    path = tmp_path / "old.db"
    old = connect(path)
    migrations.migrations.apply(old, stop_before="0011_held_ask_order")
    pack = bundled()
    ids = [ask.id for ask in pack.asks]
    order = [ids[0], "n-held", *ids[1:]]
    with old.atomic():
        campaign = {**pack_io.campaign_row(pack), "origin": "pack", "pack_file": "x.toml"}
        catalog_db.upsert_campaign(old, campaign, [pack_io.ask_row(a) for a in pack.asks])
        for ask_id, state in (("n-held", "awaiting_approval"), ("n-typed", "draft")):
            content = pack_io.ask_content(with_new(pack, ask_id, 1).asks[1])
            old.execute(
                "INSERT INTO ask_versions (campaign, ask_id, version, content, state,"
                " created_by, created_at) VALUES (?, ?, 1, ?, ?, 'web:olive', 't')",
                [BUNDLED, ask_id, content, state],
            )
        # an older import held it too, elsewhere; the newest entry is the one that counts
        audit_db.record(
            old, "web:olive", "import-pack", BUNDLED, awaiting_approval=["n-held"], order=["n-held"]
        )
        audit_db.record(
            old, "web:olive", "import-pack", BUNDLED, awaiting_approval=["n-held"], order=order
        )
        audit_db.record(old, "web:olive", "import-pack", "another", awaiting_approval=["n-typed"])
    old.close()
    db = open_database(path)
    held = versions_db.open_version(db, BUNDLED, "n-held")
    typed = versions_db.open_version(db, BUNDLED, "n-typed")
    assert held is not None and held.pack_order is not None
    assert json.loads(held.pack_order) == order
    assert typed is not None and typed.pack_order is None
    with db.atomic():
        delete_old_audit(db, EVERYTHING)
    approve_and_publish(db, BUNDLED, "n-held")
    approve_and_publish(db, BUNDLED, "n-typed")
    assert running_order(db) == [ids[0], "n-held", *ids[1:], "n-typed"]
    db.close()
