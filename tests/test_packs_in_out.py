"""Packs in and out of the database (issue 15, part 4): the database holds the
campaigns the bot runs; a campaign goes out as a pack file (`campaigns export`, the
dashboard's "Export pack") and comes in from one (`campaigns import`, "Import pack"),
validated as the packs folder is, all or nothing, audited. At start a pack file
replaces the stored copy only when the file itself changed since it was last copied
in, so an import outlives restarts; a campaign with no file runs from the database.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import tomllib
from collections.abc import AsyncIterator, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from pydantic import BaseModel
from sqlite_utils import Database

from campaigns import pack_io
from campaigns.catalog import Catalog, PackFolder
from campaigns.core import Core
from campaigns.packs import (
    BUNDLED_PACKS,
    Ask,
    AskLink,
    AskTranslation,
    AskVariant,
    Campaign,
    CampaignTranslation,
    NextStep,
    Pack,
    PackError,
    Poll,
    Schedule,
    StatisticSpec,
    WelcomeMessage,
    load_pack,
)
from db import audit as audit_db
from db import catalog as catalog_db
from db import migrations
from db import sources as sources_db
from db.catalog import CampaignOrigin
from db.store import connect, open_database
from runner import open_core
from settings import Settings
from tests.browser import CHROMIUM
from tests.cli_run import assert_one_clean_line
from tests.seeding import bundled_folder as bundled_folder  # tests/test_review_fixes.py
from tests.web_support import (
    PASSWORDS,
    SCRIPT,
    LiveServer,
    asgi_client,
    csrf_of,
    in_store,
    make_settings,
    opened_core,
    run_cli,
    signed_in,
    with_users,
)
from web.app import create_app

BUNDLED = "one-step-ahead"

# Every optional field a pack has, and text that TOML and chats find awkward: line
# breaks, quotes, backslashes, emoji, right-to-left script, a decomposed accent (stored
# composed), three quotes in a row, the older `[asks.action]` name for the link.
EVERY_FIELD = r'''
[campaign]
slug = "every-field"
title = "Every field: “quoted” and \\ back"
description = """
First line of the description.
Second line: émoji 🚸, שלום, cafe\u0301, "quotes", a \\ backslash and ""\" three."""
sources = ["leaflet", "web_2", "event-2026"]
after_last = "stop"

[[campaign.welcome]]
after_days = 1
text = "Welcome, plain."

[[campaign.welcome]]
after_days = 3
text = """
Two lines,
with a link below."""

[campaign.welcome.link]
label = "Read more"
url = "https://example.org/more?x=1&y=2#top"

[[campaign.welcome]]
after_days = 9
text = "The last welcome."

[campaign.schedule]
weekday = "Friday"
time = "07:05:30"
timezone = "America/Argentina/Buenos_Aires"
grace_hours = 2.5
reminder_days = 3

[[asks]]
id = "first"
title = "First ask"
topic = "letters"
ask = """
Write to your MP.

Tell them why, in your own words."""
reminder = "Still time this week."

[asks.statistic]
figure = "1 in 5"
sentence = "In 2023, one in five said so."
source = "A survey"
url = "https://example.org/survey"
year = 2024
period = "2023"

[asks.link]
label = "Write now"
url = "https://www.writetothem.com/"

[asks.next]
text = "Thank you! One more thing."
invite = true

[asks.next.link]
label = "Next step"
url = "https://example.org/next"

[asks.poll]
question = "Did they reply?"
answers = ["Yes", "No", "Not yet"]
after_days = 12

[[asks]]
id = "second"
title = "Only what an ask must have"
topic = "petitions"
ask = "Sign the petition."

[asks.statistic]
figure = "100,000"
sentence = "Signatures a petition needs for a debate."
source = "Parliament"
url = "https://petition.parliament.uk/"

[asks.action]
label = "Sign"
url = "https://petition.parliament.uk/"
'''

# A campaign with nothing optional at all.
BARE = """
[campaign]
slug = "bare"
title = "Bare"
description = "Nothing optional."

[campaign.schedule]
weekday = "monday"
time = "09:00"
timezone = "Europe/London"

[[asks]]
id = "only"
title = "The only ask"
topic = "things"
ask = "Do the thing."

[asks.statistic]
figure = "1"
sentence = "One thing."
source = "Us"
url = "https://example.org/"

[asks.link]
label = "Do it"
url = "https://example.org/do"
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def started(db: Database, folder: Path, default: str | None = None) -> Catalog:
    """What a start does: the folder read, changed files copied in, the catalog read."""
    with db.atomic():
        return PackFolder.read(folder).catalog(db, default)


def snapshot(db: Database) -> dict[str, list[Any]]:
    """Every row an import may touch."""
    tables = ("campaigns", "asks", "sources", "audit", "catalog_version")
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}


def imported(db: Database, text: str, name: str = "pack.toml", actor: str = "test") -> Any:
    pack = pack_io.read_pack(text.encode(), name)
    with db.atomic():
        return pack_io.import_pack(db, pack, actor, name)


def audits(db: Database, action: str) -> list[audit_db.AuditRow]:
    return [row for row in audit_db.latest(db, 500) if row.action == action]


# ------------------------------------------------------------------ round trips


def test_the_bundled_pack_round_trips(tmp_path: Path) -> None:
    pack = load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")
    db = open_database(":memory:")
    catalog = started(db, BUNDLED_PACKS)
    # load -> sync -> from the database: the same Pack
    assert catalog.packs == {BUNDLED: pack}
    assert catalog.version == catalog_db.catalog_version(db) > 1
    # -> export -> load: the same Pack again
    text = pack_io.export_pack(db, BUNDLED)
    assert text is not None
    assert load_pack(write(tmp_path, "out.toml", text)) == pack
    # export -> import (elsewhere) -> export: the same TOML, byte for byte
    elsewhere = open_database(":memory:")
    changes = imported(elsewhere, text, "out.toml")
    assert changes.new and changes.added == tuple(ask.id for ask in pack.asks)
    assert pack_io.export_pack(elsewhere, BUNDLED) == text
    # and into the same database: nothing to change, nothing written, nothing audited
    before = snapshot(db)
    again = imported(db, text, "out.toml")
    assert not again.any and "no changes" in again.summary()
    assert snapshot(db) == before


@pytest.mark.parametrize("text", [EVERY_FIELD, BARE], ids=["every-field", "bare"])
def test_a_pack_round_trips_with_or_without_its_optional_fields(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "packs"
    pack = load_pack(write(folder, "pack.toml", text))
    slug = pack.campaign.slug
    db = open_database(":memory:")
    assert started(db, folder).packs == {slug: pack}
    exported = pack_io.to_toml(pack)
    assert load_pack(write(tmp_path, "exported.toml", exported)) == pack
    elsewhere = open_database(":memory:")
    imported(elsewhere, exported)
    assert pack_io.export_pack(elsewhere, slug) == exported
    assert pack_io.pack_from_db(elsewhere, slug) == pack


@pytest.mark.parametrize(
    ("part", "fields"),
    [
        (Schedule, {"weekday", "time", "timezone", "grace_hours", "reminder_days"}),
        (StatisticSpec, {"figure", "sentence", "source", "url", "year", "period"}),
        (AskLink, {"label", "url"}),
        (WelcomeMessage, {"after_days", "text", "link"}),
        (NextStep, {"text", "link", "invite"}),
        (Poll, {"question", "answers", "after_days"}),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_every_field_of_a_packs_parts_has_its_column(
    part: type[BaseModel], fields: set[str]
) -> None:
    # A field added here would be lost on the way through the database: give it a
    # column (a new migration) and map it in campaigns/pack_io.py, then list it here.
    assert set(part.model_fields) == fields


def test_campaign_and_ask_fields_without_a_column_are_kept(tmp_path: Path) -> None:
    """Fields of a campaign or an ask with no column of their own travel in `extra`,
    so a field added to packs comes back out of the database without a migration."""
    assert set(Campaign.model_fields) >= pack_io.CAMPAIGN_COLUMNS
    assert set(Ask.model_fields) >= pack_io.ASK_COLUMNS
    pack = Pack.model_validate(tomllib.loads(EVERY_FIELD))
    campaign = {
        name: unlike_default(Campaign, name)
        for name in set(Campaign.model_fields) - pack_io.CAMPAIGN_COLUMNS
    }
    ask = {name: unlike_default(Ask, name) for name in set(Ask.model_fields) - pack_io.ASK_COLUMNS}
    pack = pack.model_copy(
        update={
            "campaign": pack.campaign.model_copy(update=campaign),
            "asks": [pack.asks[0].model_copy(update=ask), pack.asks[1]],
        }
    )
    db = open_database(":memory:")
    with db.atomic():
        pack_io.write_pack(db, pack, CampaignOrigin.IMPORT)
    assert pack_io.pack_from_db(db, pack.campaign.slug) == pack
    assert load_pack(write(tmp_path, "extra.toml", pack_io.to_toml(pack))) == pack
    # a field since removed from packs means nothing: it is left out, not an error
    db.execute("UPDATE campaigns SET extra = json_set(extra, '$.gone', 1)")
    db.execute("UPDATE asks SET extra = json_set(extra, '$.gone', 1)")
    assert pack_io.pack_from_db(db, pack.campaign.slug) == pack


def unlike_default(model: type[BaseModel], name: str) -> Any:
    field = model.model_fields[name]
    if field.annotation is bool:
        return not field.default
    if (model, name) == (Ask, "variants"):  # a wording experiment (campaigns.variants)
        return [AskVariant(name="short", ask="Write to your MP today.", title="Short")]
    if (model, name) == (Ask, "translations"):  # the ask in Welsh (campaigns.ask_languages)
        return {"cy": AskTranslation(title="Ysgrifennwch at eich AS", ask="Ysgrifennwch heddiw.")}
    if (model, name) == (Campaign, "translations"):  # the campaign in Welsh, its welcome too
        return {"cy": CampaignTranslation(title="Un Cam", welcome=["Un", "Dau", "Tri"])}
    pytest.fail(f"{model.__name__}.{name}: give this test a value for it other than its default")


def test_the_exported_toml_reads_as_a_pack_file_does() -> None:
    text = pack_io.to_toml(Pack.model_validate(tomllib.loads(EVERY_FIELD)))
    assert text.startswith("# A campaign pack")
    # text with line breaks stays on several lines, not one line of \n escapes
    assert '"""\nWrite to your MP.\n\nTell them why, in your own words."""' in text
    assert "\\n" not in text
    assert 'time = "07:05:30"' in text  # seconds kept when the pack had them
    assert 'weekday = "friday"' in text
    assert "[asks.link]" in text and "[asks.action]" not in text  # the current name
    assert "year" not in text.split("[[asks]]")[2]  # an absent field stays absent
    assert "café" in text  # composed, as the pack rules store it
    bundled = pack_io.to_toml(load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml"))
    assert 'time = "18:30"' in bundled


# ------------------------------------------------------------------ bad imports


BAD_URL = EVERY_FIELD.replace("https://example.org/survey", "http://example.org/survey")


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (BAD_URL.encode(), ["broken.toml", "ask 'first' (#1)", "field statistic.url"]),
        (EVERY_FIELD.replace('id = "second"', 'id = "first"').encode(), ["used twice"]),
        (EVERY_FIELD.replace("[campaign.schedule]", "[campaign.scedule]").encode(), ["scedule"]),
        (b"[campaign\nslug = 1", ["not valid TOML"]),
        ("title = 'é'".encode("latin-1"), ["not UTF-8"]),
        (b"x" * (pack_io.MAX_PACK_BYTES + 1), ["256 KB"]),
    ],
    ids=["bad-url", "ask-twice", "unknown-table", "not-toml", "not-utf8", "too-big"],
)
def test_a_broken_import_changes_nothing_and_says_where(raw: bytes, names: list[str]) -> None:
    db = open_database(":memory:")
    started(db, BUNDLED_PACKS)
    imported(db, EVERY_FIELD)
    before = snapshot(db)
    with pytest.raises(PackError) as caught:
        pack_io.read_pack(raw, "broken.toml")
    line = caught.value.args[0]
    assert line.startswith("broken.toml: ")
    for name in names:
        assert name in line
    assert "campaignbot-pack-" not in str(caught.value)  # never the temporary file's name
    assert snapshot(db) == before


def test_an_import_that_fails_half_way_leaves_nothing_behind() -> None:
    db = open_database(":memory:")
    started(db, BUNDLED_PACKS)
    before = snapshot(db)
    # The database refuses the last ask's row, after the campaign and four asks are in.
    db.execute(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON asks WHEN NEW.id = 'the-last'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    text = pack_io.export_pack(db, BUNDLED)
    assert text is not None
    changed = text.replace('title = "One Step Ahead"', 'title = "Changed"')
    pack = pack_io.read_pack(changed.encode(), "pack.toml")
    pack = pack.model_copy(
        update={"asks": [*pack.asks, pack.asks[0].model_copy(update={"id": "the-last"})]}
    )
    with pytest.raises(sqlite3.IntegrityError), db.atomic():
        pack_io.import_pack(db, pack, "test", "pack.toml")
    assert snapshot(db) == before


# ------------------------------------------------------------------ files and the store


def test_an_unchanged_file_keeps_an_import_and_a_changed_file_replaces_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = bundled_folder(tmp_path / "packs")
    settings = make_settings(tmp_path, packs=folder)
    open_core(settings).close()
    db = open_database(settings.db)
    text = pack_io.export_pack(db, BUNDLED)
    assert text is not None
    ours = text.replace('title = "One Step Ahead"', 'title = "Our own title"')
    ours = ours.replace('id = "ai-images"', 'id = "ai-pictures"')
    changes = imported(db, ours, "ours.toml", "cli:olive")
    assert changes.added == ("ai-pictures",) and changes.retired == ("ai-images",)
    assert changes.campaign == ("title",)
    [audit] = audits(db, "import-pack")
    assert (audit.actor, audit.target) == ("cli:olive", BUNDLED)
    detail = json.loads(audit.detail or "{}")
    assert detail["added"] == ["ai-pictures"] and detail["retired"] == ["ai-images"]
    assert detail["file"] == "ours.toml"

    # restarts, the file untouched (even written again, byte for byte): the import runs
    path = folder / f"{BUNDLED}.toml"
    path.write_bytes(path.read_bytes())
    for _ in range(2):
        core = open_core(settings)
        pack = core.ctx.catalog.packs[BUNDLED]
        core.close()
        assert pack.campaign.title == "Our own title"
        assert pack.asks[0].id == "ai-pictures"
    stored = catalog_db.get_campaign(db, BUNDLED)
    assert stored is not None and stored.origin == "import"
    retired = catalog_db.get_ask(db, BUNDLED, "ai-images")
    assert retired is not None and retired.retired  # kept for the prompts that name it

    # the file changed: it replaces the import, and says so
    path.write_text(path.read_text().replace('title = "One Step Ahead"', 'title = "File"'))
    with caplog.at_level(logging.WARNING, logger="campaigns.catalog"):
        core = open_core(settings)
    pack = core.ctx.catalog.packs[BUNDLED]
    core.close()
    assert pack == load_pack(path)
    assert "changed since it was last copied in, so it replaces the copy from the import" in (
        caplog.text
    )
    [replaced] = audits(db, "pack-file-replaced-copy")
    assert replaced.actor == "pack-file" and replaced.target == BUNDLED
    stored = catalog_db.get_campaign(db, BUNDLED)
    assert stored is not None and stored.origin == "pack"
    db.close()


def test_a_file_whose_pack_is_the_same_writes_nothing(tmp_path: Path) -> None:
    folder = bundled_folder(tmp_path / "packs")
    db = open_database(":memory:")
    first = started(db, folder)
    assert started(db, folder).version == first.version  # unchanged: not even read again
    path = folder / f"{BUNDLED}.toml"
    path.write_text(path.read_text() + "\n# a comment, and the same pack\n")
    before = snapshot(db)
    again = started(db, folder)
    assert again.version == first.version and again.packs == first.packs
    after = snapshot(db)
    assert after["asks"] == before["asks"] and after["audit"] == before["audit"]
    stored = catalog_db.get_campaign(db, BUNDLED)
    assert stored is not None and stored.pack_hash == PackFolder.read(folder).files[BUNDLED].sha256


def test_a_file_first_seen_after_an_import_waits_until_it_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = bundled_folder(tmp_path / "packs")
    db = open_database(tmp_path / "bot.db")
    started(db, folder)
    imported(db, EVERY_FIELD)
    # a file for the imported campaign turns up, saying something else
    other = EVERY_FIELD.replace('title = "First ask"', 'title = "From the file"')
    path = write(folder, "every-field.toml", other)
    with caplog.at_level(logging.WARNING, logger="campaigns.catalog"):
        catalog = started(db, folder)
    assert catalog.packs["every-field"].asks[0].title == "First ask"
    assert "every-field.toml in the packs folder differs from the copy from the import" in (
        caplog.text
    )
    assert started(db, folder).packs["every-field"].asks[0].title == "First ask"
    # once the file changes, it is the file that runs
    path.write_text(other.replace("From the file", "Changed in the file"))
    assert started(db, folder).packs["every-field"].asks[0].title == "Changed in the file"


def test_a_campaign_without_a_file_survives_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = bundled_folder(tmp_path / "packs")
    settings = make_settings(tmp_path, packs=folder)
    open_core(settings).close()
    db = open_database(settings.db)
    imported(db, EVERY_FIELD)
    every = load_pack(write(tmp_path, "every.toml", EVERY_FIELD))
    for _ in range(2):
        core = open_core(settings)
        catalog = core.ctx.catalog
        core.close()
        assert set(catalog.packs) == {BUNDLED, "every-field"}
        assert catalog.packs["every-field"] == every
        assert catalog.default == BUNDLED
        assert {"letters", "petitions"} <= set(catalog.topics)
    # the default campaign may be one with no file
    chosen = make_settings(tmp_path, packs=folder, default_campaign="every-field")
    core = open_core(chosen)
    assert core.ctx.catalog.default == "every-field"
    core.close()
    with pytest.raises(PackError, match="the default campaign 'nope' is not in any pack"):
        open_core(make_settings(tmp_path, packs=folder, default_campaign="nope"))

    # the bundled pack's file goes: the campaign stays, from the database, and the log says so
    (folder / f"{BUNDLED}.toml").unlink()
    with caplog.at_level(logging.WARNING, logger="campaigns.catalog"):
        core = open_core(settings)
    assert set(core.ctx.catalog.packs) == {BUNDLED, "every-field"}
    core.close()
    assert f"campaign {BUNDLED}: its pack file {BUNDLED}.toml is no longer in" in caplog.text
    assert f"`campaignbot campaigns export {BUNDLED}`" in caplog.text

    # a campaign whose file went before campaigns were kept here (no hash): it stays out
    db.execute("UPDATE campaigns SET pack_hash = NULL WHERE slug = ?", [BUNDLED])
    db.conn.commit()
    core = open_core(settings)
    assert set(core.ctx.catalog.packs) == {"every-field"}
    core.close()
    stored = catalog_db.get_campaign(db, BUNDLED)
    assert stored is not None and stored.retired
    # and its file coming back brings it back
    bundled_folder(folder)
    core = open_core(settings)
    assert set(core.ctx.catalog.packs) == {BUNDLED, "every-field"}
    core.close()
    db.close()


def test_importing_a_retired_campaign_brings_it_back() -> None:
    db = open_database(":memory:")
    started(db, BUNDLED_PACKS)
    imported(db, EVERY_FIELD)
    with db.atomic():
        assert catalog_db.retire_campaign(db, "every-field")
    assert set(Catalog.from_db(db).packs) == {BUNDLED}
    back = imported(db, EVERY_FIELD)
    assert back.revived and back.summary() == "every-field: the retired campaign runs again"
    assert set(Catalog.from_db(db).packs) == {BUNDLED, "every-field"}


def test_a_stored_copy_that_breaks_the_rules_is_named_by_ask_and_field() -> None:
    db = open_database(":memory:")
    started(db, BUNDLED_PACKS)
    # as if the rules had tightened since it was stored
    db.execute("UPDATE asks SET stat_url = 'http://www.iwf.org.uk/' WHERE id = 'pre-screening'")
    expected = (
        f"campaign '{BUNDLED}' in the database: ask 'pre-screening', field statistic.url: "
        "must be an https:// link"
    )
    for read in (
        lambda: pack_io.export_pack(db, BUNDLED),
        lambda: Catalog.from_db(db),
    ):
        with pytest.raises(PackError) as caught:
            read()
        assert caught.value.args[0] == expected
    # a corrected pack can still be imported over it
    fixed = imported(db, pack_io.to_toml(load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")))
    assert fixed.changed == ("pre-screening",)
    assert Catalog.from_db(db).packs[BUNDLED] == load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")


def test_a_database_from_before_keeps_what_ran_and_drops_what_had_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Upgrading: campaigns stored before 0007 had no period, no source list and no file
    hash. Those with a file are copied in again, whole; one whose file had already gone
    was not running, and stays out."""
    path = tmp_path / "old.db"
    old = connect(path)
    migrations.migrations.apply(old, stop_before="0007_campaigns_in_the_database")
    bundled = load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")
    gone = load_pack(write(tmp_path / "elsewhere", "bare.toml", BARE))
    with old.atomic():
        for pack in (bundled, gone):
            slug = pack.campaign.slug
            campaign = pack_io.campaign_row(pack)
            del campaign["sources"], campaign["extra"]
            now = "2026-01-01T00:00:00Z"
            old.table("campaigns").insert(
                {**campaign, "pack_file": f"{slug}.toml", "created_at": now, "updated_at": now}
            )
            for position, ask in enumerate(pack.asks, start=1):
                row = pack_io.ask_row(ask)
                del row["stat_period"], row["extra"]
                old.table("asks").insert(
                    {**row, "campaign": slug, "position": position, "updated_at": now}
                )
            sources_db.declare_for_pack(old, pack_io.declared_by(slug), pack.campaign.sources)
    old.close()
    migrated = open_database(path)
    stored = catalog_db.get_campaign(migrated, BUNDLED)
    assert stored is not None and stored.pack_hash is None and stored.origin == "pack"
    assert stored.source_codes == sorted(bundled.campaign.sources)
    settings = make_settings(tmp_path, packs=bundled_folder(tmp_path / "packs"), db=path)
    with caplog.at_level(logging.INFO, logger="campaigns.catalog"):
        core = open_core(settings)
    assert core.ctx.catalog.packs == {BUNDLED: bundled}  # periods and sources back
    core.close()
    assert "campaign bare: its pack file left" in caplog.text
    left = catalog_db.get_campaign(migrated, "bare")
    assert left is not None and left.retired
    assert pack_io.pack_from_db(migrated, "bare") == gone  # still there to export
    migrated.close()


def test_a_broken_pack_file_still_stops_the_start_before_the_database(tmp_path: Path) -> None:
    folder = bundled_folder(tmp_path / "packs")
    write(folder, "broken.toml", BAD_URL)
    settings = make_settings(tmp_path, packs=folder)
    with pytest.raises(PackError, match=r"broken\.toml"):
        open_core(settings)
    assert not settings.db.exists()


# ------------------------------------------------------------------ the command line


def test_export_and_import_through_the_command_line(tmp_path: Path) -> None:
    folder = bundled_folder(tmp_path / "packs")
    settings = make_settings(tmp_path / "data", packs=folder)
    source = write(tmp_path, "every-field.toml", EVERY_FIELD)

    first = run_cli(["campaigns", "import", str(source)], settings)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        "every-field: new campaign, 2 asks (first, second) added; a running bot picks it up"
    )
    assert "starting a new database" in first.stderr  # importing before the first run is fine

    shown = run_cli(["campaigns", "export", "every-field"], settings)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == pack_io.to_toml(load_pack(source))
    out = tmp_path / "out" / "every-field.toml"
    out.parent.mkdir()
    written = run_cli(["campaigns", "export", "every-field", "-o", str(out)], settings)
    assert written.returncode == 0 and f"wrote every-field to {out}" in written.stderr
    assert out.read_text() == shown.stdout and written.stdout == ""

    same = run_cli(["campaigns", "import", str(out)], settings)
    assert same.stdout.strip() == "every-field: no changes (the database already holds this pack)"
    text = out.read_text().replace('title = "Only what an ask must have"', 'title = "Renamed"')
    text = text.replace("First line of the description.", "Now the first line.")
    changed = run_cli(["campaigns", "import", str(write(tmp_path, "two.toml", text))], settings)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("every-field: 1 ask (second) changed; campaign description")

    # a broken pack: one line naming the file, the ask and the field; nothing changes
    broken = write(tmp_path, "broken.toml", BAD_URL)
    refused = run_cli(["campaigns", "import", str(broken)], settings)
    assert refused.returncode == 1
    assert_one_clean_line(refused.stderr, "broken.toml", "ask 'first'", "statistic.url")
    unknown = run_cli(["campaigns", "export", "nope"], settings)
    assert unknown.returncode == 2
    assert_one_clean_line(unknown.stderr, "no campaign 'nope'", "(campaigns: every-field)")
    assert run_cli(["campaigns", "export", "every-field"], settings).stdout == text.replace(
        "\r\n", "\n"
    )

    db = open_database(settings.db)
    actors = {row.actor for row in audits(db, "import-pack")}
    db.close()
    assert len(actors) == 1 and actors.pop().startswith("cli:")
    listed = run_cli(["campaigns", "list"], settings)
    assert listed.returncode == 0, listed.stderr
    block = listed.stdout.split("\nevery-field")[1]
    assert "no pack file in the folder: the database's copy runs" in block
    assert "no pack file" not in listed.stdout.split("\nevery-field")[0]
    # the organiser commands know an imported campaign too (they read the database's)
    dry = run_cli(["send", "every-field", "--now", "--dry-run"], settings)
    assert dry.returncode == 0, dry.stderr
    assert "every-field" in dry.stdout and "unknown campaign" not in dry.stdout + dry.stderr


# ------------------------------------------------------------------ the dashboard


def bundled_dashboard(tmp_path: Path, **more: Any) -> Iterator[tuple[Core, Settings]]:
    """A core, and its settings (`more` added), over a copy of the bundled pack's folder
    with the test accounts; closed when the generator is."""
    settings = make_settings(tmp_path, packs=bundled_folder(tmp_path / "packs"), **more)
    with opened_core(with_users(settings)) as core:
        yield core, settings


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[Core, Settings]]:
    yield from bundled_dashboard(tmp_path)


@pytest.fixture
async def olive(dashboard: tuple[Core, Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(create_app(*dashboard), "olive") as http:
        yield http


def stored(settings: Settings) -> dict[str, list[Any]]:
    return in_store(settings, snapshot)


async def test_the_campaigns_page_exports_each_pack(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard
    page = await olive.get("/campaigns")
    assert page.status_code == 200
    assert 'href="/campaigns"' in page.text and "Campaigns</a>" in page.text  # in the nav
    assert f'href="/campaigns/{BUNDLED}/pack.toml"' in page.text
    assert "its pack file" in page.text and f"<code>{BUNDLED}.toml</code>" in page.text
    download = await olive.get(f"/campaigns/{BUNDLED}/pack.toml")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/toml; charset=utf-8"
    assert download.headers["content-disposition"] == f'attachment; filename="{BUNDLED}.toml"'
    db = open_database(settings.db)
    assert download.text == pack_io.export_pack(db, BUNDLED)
    db.close()
    assert load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml") == pack_io.read_pack(
        download.content, "download.toml"
    )
    for slug in ("nope", "%ff%fe", "UPPER", "a" * 300):
        assert (await olive.get(f"/campaigns/{slug}/pack.toml")).status_code == 404


async def test_a_pack_imported_in_the_dashboard_is_stored_and_audited(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard
    page = await olive.get("/campaigns")
    assert 'id="waiting"' not in page.text
    posted = await olive.post(
        "/campaigns/import",
        files={"pack": ("C:\\Users\\olive\\every-field.toml", EVERY_FIELD.encode())},
        data={"csrftoken": csrf_of(page.text)},
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/campaigns"
    after = await olive.get("/campaigns")
    shown = unescape(after.text)
    assert (
        "Imported every-field.toml: every-field: new campaign, 2 asks (first, second) added."
        in shown
    )
    assert 'id="waiting"' in after.text  # the running bot has not taken it up yet
    assert "an import" in shown
    db = open_database(settings.db)
    assert pack_io.pack_from_db(db, "every-field") == load_pack(
        write(settings.db.parent, "every.toml", EVERY_FIELD)
    )
    [audit] = audits(db, "import-pack")
    assert (audit.actor, audit.target) == ("web:olive", "every-field")
    db.close()
    again = await olive.post(
        "/campaigns/import",
        files={"pack": ("again.toml", EVERY_FIELD.replace("\n", "\r\n").encode())},
        data={"csrftoken": csrf_of(after.text)},
        follow_redirects=True,
    )
    assert "Nothing to import from again.toml: every-field: no changes" in unescape(again.text)


async def test_a_broken_or_forged_import_changes_nothing(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard
    before = stored(settings)
    token = csrf_of((await olive.get("/campaigns")).text)
    hostile = BAD_URL.replace('title = "First ask"', f"title = '{SCRIPT}'")
    broken = await olive.post(
        "/campaigns/import",
        files={"pack": ("broken.toml", hostile.encode())},
        data={"csrftoken": token},
    )
    assert broken.status_code == 422
    assert "Nothing was imported. broken.toml has 1 problem" in broken.text
    assert "ask &#39;first&#39; (#1), field statistic.url: must be an https:// link" in broken.text
    assert SCRIPT not in broken.text
    # more of this in tests/test_pack_upload.py
    empty = await olive.post(
        "/campaigns/import", files={"pack": ("e.toml", b"  ")}, data={"csrftoken": token}
    )
    assert empty.status_code == 422 and "is empty: choose the pack file" in empty.text
    upload = {"pack": ("every.toml", EVERY_FIELD.encode())}
    no_token = await olive.post("/campaigns/import", files=upload)
    assert no_token.status_code == 403
    forged = await olive.post(
        "/campaigns/import", files=upload, data={"csrftoken": token[:-4] + "AAAA"}
    )
    assert forged.status_code == 403
    too_big = await olive.post(
        "/campaigns/import",
        files={"pack": ("big.toml", EVERY_FIELD.encode() + b"#" * 300_000)},
        data={"csrftoken": token},
    )
    assert too_big.status_code == 413
    text = await olive.post("/campaigns/import", data={"pack": EVERY_FIELD, "csrftoken": token})
    assert text.status_code == 400  # the pack comes as a file, never as a form's text
    assert stored(settings) == before


async def test_staff_get_no_campaigns_page(dashboard: tuple[Core, Settings]) -> None:
    core, settings = dashboard
    before = stored(settings)
    async with signed_in(create_app(core, settings), "stan") as stan:
        home = await stan.get("/")
        assert 'href="/campaigns"' not in home.text
        assert (await stan.get("/campaigns")).status_code == 403
        assert (await stan.get(f"/campaigns/{BUNDLED}/pack.toml")).status_code == 403
        refused = await stan.post(
            "/campaigns/import", data={"pack": EVERY_FIELD, "csrftoken": csrf_of(home.text)}
        )
        assert refused.status_code == 403
    async with asgi_client(create_app(core, settings)) as nobody:
        answer = await nobody.get("/campaigns")
        assert answer.status_code in (302, 303, 307) and "/sign-in" in answer.headers["location"]
    assert stored(settings) == before


def test_a_pack_file_chosen_in_the_browser_is_imported(tmp_path: Path) -> None:
    """The chosen file is uploaded (Debian's chromium; tests/test_pack_upload.py too)."""
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium (make chromium)"
    settings = with_users(make_settings(tmp_path, packs=bundled_folder(tmp_path / "packs")))
    source = write(tmp_path, "every-field.toml", EVERY_FIELD)
    broken = write(tmp_path, "broken.toml", BAD_URL)
    with LiveServer(settings) as server, sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_context(accept_downloads=True).new_page()
        page.set_default_timeout(10_000)
        page.goto(server.url + "/campaigns")
        page.get_by_label("Name").fill("olive")
        page.get_by_label("Password").fill(PASSWORDS["olive"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
        with page.expect_download() as download:
            page.get_by_role("link", name=f"Export the pack of {BUNDLED}").click()
        assert download.value.suggested_filename == f"{BUNDLED}.toml"
        exported = Path(download.value.path()).read_text(encoding="utf-8")
        assert load_pack(write(tmp_path, "got.toml", exported)) == load_pack(
            BUNDLED_PACKS / f"{BUNDLED}.toml"
        )
        page.get_by_label("Pack file").set_input_files(str(broken))
        page.get_by_role("button", name="Import pack").click()
        expect(page.locator("#import-problems")).to_contain_text("broken.toml has 1 problem")
        expect(page.locator("#import-problems")).to_contain_text("field statistic.url")
        page.get_by_label("Pack file").set_input_files(str(source))
        page.get_by_role("button", name="Import pack").click()
        expect(page.get_by_role("status").first).to_contain_text(
            "Imported every-field.toml: every-field: new campaign"
        )
        expect(page.get_by_role("row", name=re.compile("every-field"))).to_contain_text("an import")
        browser.close()
    db = open_database(settings.db)
    assert pack_io.export_pack(db, "every-field") == pack_io.to_toml(load_pack(source))
    db.close()
