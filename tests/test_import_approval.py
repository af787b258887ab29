"""Imports keep `require_approval`: with the setting on, a dashboard import puts each
ask it adds or changes in as a version awaiting a second organiser's approval, and
publishes nothing of it until then; the command line (the operator's own file)
publishes at once and says it bypassed approval."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
from sqlite_utils import Database

from campaigns import editing, importing, pack_io
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.editing import EditError
from campaigns.packs import BUNDLED_PACKS, Pack, load_pack
from campaigns.versions import digest
from db import audit as audit_db
from db import catalog as catalog_db
from db import versions as versions_db
from settings import Settings
from tests import test_packs_in_out as packs_tests
from tests.seeding import bundled_folder
from tests.test_packs_in_out import EVERY_FIELD, snapshot, write
from tests.web_support import cli_env, csrf_of, in_store, make_settings, prepared_db

BUNDLED, CHANGED, UNCHANGED = "one-step-ahead", "ai-images", "pre-screening"
NEW_ASK = "new-ask"
SAM = "web:sam"  # a second organiser
TAIL = "mandatory-reporting"  # the bundled pack's last ask, which the import retires


def bundled() -> Pack:
    return load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")


def changed_pack() -> Pack:
    """The bundled pack with one ask reworded, one added and its last one gone."""
    pack = bundled()
    asks = [
        ask.model_copy(update={"title": "Reworded by the import"}) if ask.id == CHANGED else ask
        for ask in pack.asks
        if ask.id != TAIL
    ]
    added = pack.asks[0].model_copy(update={"id": NEW_ASK, "title": "Brought in new"})
    return Pack(campaign=pack.campaign, asks=[*asks, added])


def imported(db: Database, pack: Pack, actor: str = "web:olive") -> importing.Imported:
    with db.atomic():
        return importing.import_pack(db, pack, actor, "pack.toml", require_approval=True)


def audits(db: Database, action: str) -> list[audit_db.AuditRow]:
    return [row for row in audit_db.latest(db, 500) if row.action == action]


def approve_and_publish(db: Database, slug: str, ask_id: str, by: str = SAM) -> None:
    with db.atomic():
        opened = versions_db.open_version(db, slug, ask_id)
        assert opened is not None
        approved = editing.approve(
            db, slug, ask_id, opened.version, digest(opened), by, require_approval=True
        )
        editing.publish(
            db, slug, ask_id, approved.version, digest(approved), by, require_approval=True
        )


def test_an_import_holds_each_new_or_changed_ask_for_a_second_organiser(db: Database) -> None:
    before = {ask.id: ask for ask in bundled().asks}
    done = imported(db, changed_pack())
    assert done.awaiting == (CHANGED, NEW_ASK)
    assert done.summary() == (
        f"{BUNDLED}: 1 ask ({NEW_ASK}) added; 1 ask ({CHANGED}) changed; 1 ask ({TAIL}) "
        f"retired; 2 asks ({CHANGED}, {NEW_ASK}) wait for a second organiser's approval "
        "(open each in the editor to approve and publish it)"
    )
    # the bot still sends the version published before; the new ask not at all
    running = pack_io.pack_from_db(db, BUNDLED)
    assert running is not None
    assert [ask.id for ask in running.asks] == [a for a in before if a != TAIL]
    assert running.ask(CHANGED) == before[CHANGED]
    assert running.ask(UNCHANGED) == before[UNCHANGED]
    row = catalog_db.get_ask(db, BUNDLED, CHANGED)
    assert row is not None and (row.version, row.title) == (1, before[CHANGED].title)
    assert catalog_db.get_ask(db, BUNDLED, NEW_ASK) is None
    for ask_id, number in ((CHANGED, 2), (NEW_ASK, 1)):
        held = versions_db.open_version(db, BUNDLED, ask_id)
        assert held is not None and held.version == number
        assert (held.state, held.created_by, held.approved_by) == (
            "awaiting_approval",
            "web:olive",
            None,
        )
    # unchanged asks keep their one version
    assert [v.version for v in versions_db.of_ask(db, BUNDLED, UNCHANGED)] == [1]
    # audited as the editor audits a save and a request for approval, and as an import
    [audit] = audits(db, "import-pack")
    assert audit.actor == "web:olive" and audit.detail is not None
    assert json.loads(audit.detail)["awaiting_approval"] == [CHANGED, NEW_ASK]
    saves = {row.target: json.loads(row.detail or "") for row in audits(db, "save-draft")}
    assert saves[f"{BUNDLED}/{CHANGED}"] == {
        "version": 2,
        "fields": ["title"],
        "title": "Reworded by the import",
        "file": "pack.toml",
    }
    assert {row.target for row in audits(db, "request-approval")} == {
        f"{BUNDLED}/{CHANGED}",
        f"{BUNDLED}/{NEW_ASK}",
    }


def test_the_importer_cannot_approve_and_another_organiser_publishes(db: Database) -> None:
    imported(db, changed_pack())
    with db.atomic():
        held = versions_db.open_version(db, BUNDLED, CHANGED)
        assert held is not None
        with pytest.raises(EditError, match="another organiser must approve it"):
            editing.approve(
                db, BUNDLED, CHANGED, held.version, digest(held), "web:olive", require_approval=True
            )
        with pytest.raises(EditError, match="needs a second organiser's approval"):
            editing.publish(
                db, BUNDLED, CHANGED, held.version, digest(held), "web:olive", require_approval=True
            )
    approve_and_publish(db, BUNDLED, CHANGED)
    approve_and_publish(db, BUNDLED, NEW_ASK)
    row = catalog_db.get_ask(db, BUNDLED, CHANGED)
    assert row is not None and (row.version, row.title) == (2, "Reworded by the import")
    running = pack_io.pack_from_db(db, BUNDLED)
    assert running is not None and running.ask(NEW_ASK) is not None
    # published, the import has nothing left to do
    with db.atomic():
        assert not importing.import_pack(
            db, changed_pack(), "web:olive", "pack.toml", require_approval=True
        ).any


def test_a_new_campaign_imported_sends_nothing_until_an_ask_is_approved(
    db: Database, tmp_path: Path
) -> None:
    pack = load_pack(write(tmp_path, "every.toml", EVERY_FIELD))
    done = imported(db, pack)
    assert done.changes.new and done.awaiting == ("first", "second")
    stored = catalog_db.get_campaign(db, "every-field")
    assert stored is not None and stored.title == pack.campaign.title
    assert catalog_db.asks(db, "every-field") == []
    assert "every-field" not in pack_io.packs_from_db(db)  # the bot runs none of it
    assert "every-field" not in Catalog.from_db(db).packs
    approve_and_publish(db, "every-field", "second")
    running = pack_io.packs_from_db(db)["every-field"]
    assert [ask.id for ask in running.asks] == ["second"]
    assert running.ask("second") == pack.ask("second")


def test_the_same_import_again_changes_nothing(db: Database) -> None:
    imported(db, changed_pack())
    before = snapshot(db), db.execute("SELECT * FROM ask_versions ORDER BY 1, 2, 3").fetchall()
    again = imported(db, changed_pack())
    assert not again.any and not again.awaiting
    after = snapshot(db), db.execute("SELECT * FROM ask_versions ORDER BY 1, 2, 3").fetchall()
    assert after == before
    # another organiser importing the same text leaves the held versions as they are
    assert not imported(db, changed_pack(), actor=SAM).any


def test_an_import_never_overwrites_another_organisers_draft(db: Database) -> None:
    with db.atomic():
        v1 = versions_db.published(db, BUNDLED, CHANGED)
        assert v1 is not None
        values = editing.content_values(BUNDLED, v1.content) | {"title": "Sam's draft"}
        editing.save_draft(db, BUNDLED, values, 1, digest(v1), SAM)
    before = snapshot(db), db.execute("SELECT * FROM ask_versions ORDER BY 1, 2, 3").fetchall()
    with pytest.raises(EditError) as refused:
        imported(db, changed_pack())
    assert refused.value.message == (
        f"{BUNDLED}/{CHANGED} has v2 (draft, saved by {SAM}), which this import would "
        "overwrite: publish or discard it in the editor, then import again"
    )
    after = snapshot(db), db.execute("SELECT * FROM ask_versions ORDER BY 1, 2, 3").fetchall()
    assert after == before
    # the importer's own draft is theirs to replace, as a save in the editor does
    with db.atomic():
        draft = versions_db.open_version(db, BUNDLED, CHANGED)
        assert draft is not None
        editing.discard(db, BUNDLED, CHANGED, draft.version, digest(draft), SAM)
        values = editing.content_values(BUNDLED, v1.content) | {"title": "Olive's draft"}
        editing.save_draft(db, BUNDLED, values, 1, digest(v1), "web:olive")
    assert imported(db, changed_pack()).awaiting == (CHANGED, NEW_ASK)
    held = versions_db.open_version(db, BUNDLED, CHANGED)
    assert held is not None and held.data["title"] == "Reworded by the import"
    assert held.state == "awaiting_approval"


def test_with_approval_off_an_import_publishes_as_before(db: Database) -> None:
    with db.atomic():
        done = importing.import_pack(
            db, changed_pack(), "web:olive", "pack.toml", require_approval=False
        )
    assert done.awaiting == () and done.changes.changed == (CHANGED,)
    row = catalog_db.get_ask(db, BUNDLED, CHANGED)
    assert row is not None and (row.version, row.title) == (2, "Reworded by the import")
    assert versions_db.open_version(db, BUNDLED, CHANGED) is None


# ---------------------------------------------------------------- the dashboard


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[Core, Settings]]:
    yield from packs_tests.bundled_dashboard(tmp_path, require_approval=True)


olive = packs_tests.olive  # signed in to this module's dashboard


async def test_a_dashboard_import_with_approval_on_publishes_nothing_it_brings(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    """Fails on the code before: the import published the reworded ask at once."""
    _, settings = dashboard
    page = await olive.get("/campaigns")
    assert 'id="import-approval"' in page.text
    posted = await olive.post(
        "/campaigns/import",
        files={"pack": ("bundled.toml", pack_io.to_toml(changed_pack()).encode())},
        data={"csrftoken": csrf_of(page.text)},
        follow_redirects=True,
    )
    assert posted.status_code == 200
    assert f"2 asks ({CHANGED}, {NEW_ASK}) wait for a second organiser's approval" in unescape(
        posted.text
    )
    row = in_store(settings, lambda db: catalog_db.get_ask(db, BUNDLED, CHANGED))
    assert row is not None and row.title == bundled().ask(CHANGED).title  # type: ignore[union-attr]
    assert in_store(settings, lambda db: catalog_db.get_ask(db, BUNDLED, NEW_ASK)) is None
    held = in_store(settings, lambda db: versions_db.open_version(db, BUNDLED, CHANGED))
    assert held is not None and (held.state, held.created_by) == ("awaiting_approval", "web:olive")


async def test_a_dashboard_import_over_another_organisers_draft_is_refused_in_one_line(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard

    def sams_draft(db: Database) -> None:
        with db.atomic():
            v1 = versions_db.published(db, BUNDLED, CHANGED)
            assert v1 is not None
            values = editing.content_values(BUNDLED, v1.content) | {"title": "Sam's draft"}
            editing.save_draft(db, BUNDLED, values, 1, digest(v1), SAM)

    in_store(settings, sams_draft)
    before = in_store(settings, snapshot)
    token = csrf_of((await olive.get("/campaigns")).text)
    refused = await olive.post(
        "/campaigns/import",
        files={"pack": ("bundled.toml", pack_io.to_toml(changed_pack()).encode())},
        data={"csrftoken": token},
    )
    assert refused.status_code == 409
    assert f"Nothing was imported: {BUNDLED}/{CHANGED} has v2 (draft, saved by {SAM})" in unescape(
        refused.text
    )
    assert in_store(settings, snapshot) == before


# ---------------------------------------------------------------- the command line


def test_the_command_line_publishes_and_says_it_bypassed_approval(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, packs=bundled_folder(tmp_path / "packs"))
    prepared_db(settings).close()
    source = write(tmp_path, "changed.toml", pack_io.to_toml(changed_pack()))
    env = cli_env(settings) | {"CAMPAIGNBOT_REQUIRE_APPROVAL": "true"}
    command = [str(Path(sys.executable).parent / "campaignbot"), "campaigns", "import"]
    done = subprocess.run(  # noqa: S603
        [*command, str(source)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"{BUNDLED}: 1 ask ({NEW_ASK}) added; 1 ask ({CHANGED}) changed" in done.stdout
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"require_approval is on, but this import published 2 asks ({NEW_ASK}, {CHANGED}) "
        "without a second organiser's approval: the command line is the operator's own way "
        "in (the dashboard's import waits for approval)"
    )
    row = in_store(settings, lambda db: catalog_db.get_ask(db, BUNDLED, CHANGED))
    assert row is not None and row.title == "Reworded by the import"
    # with the setting off, no such line
    again = subprocess.run(  # noqa: S603
        [*command, str(write(tmp_path, "bundled.toml", pack_io.to_toml(bundled())))],
        capture_output=True,
        text=True,
        env=cli_env(settings),
        check=False,
    )
    assert again.returncode == 0 and again.stderr == ""
