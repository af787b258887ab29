"""Participation per version of an ask's text (issue 15): an edit after delivery makes
v2, and the counts of v1, the text supporters received, stay put, in `campaignbot
stats` (table, JSON, CSV) and on the dashboard's participation page."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from campaigns import pack_io, prompting
from campaigns.buttons import Verb
from campaigns.catalog import Catalog
from campaigns.dialogue import Context
from campaigns.model import Origin
from campaigns.packs import BUNDLED_PACKS, load_pack
from db.catalog import CampaignOrigin
from db.stats import participation
from tests.chat import press
from tests.conftest import SECRET
from tests.seeding import add_supporters
from tests.web_support import (
    PASSWORDS,
    add_users,
    make_settings,
    opened_core,
    prepared_db,
    run_cli,
    signed_in,
)
from web.app import create_app

BUNDLED, ASK = "one-step-ahead", "ai-images"
N = 6


async def test_an_edit_after_delivery_is_v2_and_v1s_counts_stay_put(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    db = prepared_db(settings)
    add_users(db)
    catalog = Catalog.load(BUNDLED_PACKS)
    ctx = Context.from_secret(catalog, SECRET)

    def send_and_answer(done: int) -> int:
        with db.atomic():
            prompt = prompting.send_now(db, catalog, prompting.Request(BUNDLED, ASK), "test")
            db.execute(
                "UPDATE prompts SET state = 'sent', ask_version = "
                "(SELECT version FROM asks WHERE campaign = ? AND id = ?) WHERE id = ?",
                [BUNDLED, ASK, prompt.id],
            )
        for address in addresses:
            with db.atomic():
                row = db.execute(
                    "SELECT id, key, source FROM supporters WHERE address = ?", [address]
                ).fetchone()
                db.execute(
                    "INSERT INTO deliveries (prompt_id, supporter_id, supporter_key, platform,"
                    " source, state, attempts, created_at, updated_at, sent_at)"
                    " VALUES (?, ?, ?, 'telegram', ?, 'sent', 1, '2026-12-01T10:00:00Z',"
                    " '2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z')",
                    [prompt.id, row[0], row[1], row[2]],
                )
        for address in addresses[:done]:
            result = press(
                db, ctx, Origin("telegram", address), ctx.ids.make(Verb.DONE, str(prompt.id))
            )
            assert result.counted
        return prompt.id

    addresses = [str(7100 + n) for n in range(N)]
    with db.atomic():
        add_supporters(db, N, addresses=addresses)
    send_and_answer(done=2)

    def version_rows() -> dict[int | None, tuple[int, int]]:
        return {
            row.ask_version: (row.counts.delivered, row.counts.done)
            for row in participation(db).by_ask_week
            if row.ask_id == ASK
        }

    before = version_rows()
    assert before == {1: (N, 2)}
    # the ask's text changes after delivery (an import of a pack that says otherwise)
    pack = load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")
    edited = [
        ask.model_copy(update={"title": "New words for AI images"}) if ask.id == ASK else ask
        for ask in pack.asks
    ]
    with db.atomic():
        pack_io.write_pack(db, pack.model_copy(update={"asks": edited}), CampaignOrigin.IMPORT)
    version = db.execute(
        "SELECT version FROM asks WHERE campaign = ? AND id = ?", [BUNDLED, ASK]
    ).fetchone()[0]
    assert version == 2
    assert version_rows() == before  # nothing moved by the edit itself
    send_and_answer(done=5)
    assert version_rows() == {1: (N, 2), 2: (N, 5)}
    db.close()

    # `campaignbot stats`: JSON, CSV and the table each say which version
    report = json.loads(run_cli(["stats", "--json"], settings).stdout)
    found = {
        r["version"]: (r["delivered"], r["done"])
        for r in report["by_ask_week"]
        if r["ask_id"] == ASK
    }
    assert found == {1: (N, 2), 2: (N, 5)}
    text = run_cli(["stats", "--csv", "--table", "asks"], settings).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["version"], r["delivered"], r["done"]) for r in rows if r["ask_id"] == ASK] == [
        ("1", str(N), "2"),
        ("2", str(N), "5"),
    ]
    printed = run_cli(["stats"], settings).stdout
    assert f"{BUNDLED}/{ASK} v1" in printed and f"{BUNDLED}/{ASK} v2" in printed

    # the dashboard's table and CSV are the same rows
    async def dashboard() -> tuple[str, str]:
        with opened_core(settings) as core:
            async with signed_in(create_app(core, settings), "stan", PASSWORDS["stan"]) as http:
                page = (await http.get("/participation")).text
                csv_text = (await http.get("/participation/asks.csv")).text
            return page, csv_text

    page, downloaded = await dashboard()
    assert downloaded == text
    assert ">Version</th>" in page or ">version</th>" in page
