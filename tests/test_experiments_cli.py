"""`campaignbot experiments` (issue 16): the wording experiments the dashboard shows,
listed in the terminal, and a winner chosen there as the dashboard's button does,
through the real command line over a database where two experiments ran (the pack
and helpers of tests/test_variants.py; "I did it" pressed through the dialogue)."""

from __future__ import annotations

import getpass
import json
import subprocess
from pathlib import Path

import pytest
from sqlite_utils import Database

from campaigns import experiments
from campaigns.buttons import Verb
from campaigns.catalog import Catalog
from campaigns.delivery import prepare
from campaigns.dialogue import Context
from campaigns.model import Origin
from db import catalog as catalog_db
from db import versions as versions_db
from db.store import open_database
from settings import Settings
from tests.chat import press
from tests.cli_run import BIN, RunningBot, assert_one_clean_line, run
from tests.conftest import SECRET
from tests.seeding import add_supporters, pack_folder
from tests.test_cli_startup import HEAVY, probe
from tests.test_variants import ASK, ORIGINAL_TEXT, PACK, SHORT_TEXT, SLUG, THREE, send_prompt
from tests.web_support import cli_env, make_settings, prepared_db

CLI_ACTOR = f"cli:{getpass.getuser()}"


@pytest.fixture
def ran(tmp_path: Path) -> Settings:
    """Both asks sent to 40 supporters; everyone who got `short` pressed "I did it",
    nobody who got the original did; nobody did anything about the three-way ask."""
    packs = pack_folder(tmp_path / "packs", {SLUG: PACK})
    settings = make_settings(tmp_path, packs=packs, default_campaign=SLUG)
    ctx = Context.from_secret(Catalog.load(packs, SLUG), SECRET)
    db = prepared_db(settings)
    with db.atomic():
        add_supporters(db, 40)
    for ask_id in (ASK, THREE):
        prompt_id = send_prompt(db, ctx.catalog, ask_id)
        with db.atomic():
            prepare(db, prompt_id, ["telegram"])
            db.execute("UPDATE deliveries SET state = 'sent' WHERE prompt_id = ?", [prompt_id])
        if ask_id == ASK:
            got_short = db.execute(
                "SELECT s.address FROM deliveries d JOIN supporters s ON s.key = d.supporter_key"
                " WHERE d.prompt_id = ? AND d.variant = 'short'",
                [prompt_id],
            ).fetchall()
            for (address,) in got_short:
                done = ctx.ids.make(Verb.DONE, str(prompt_id))
                assert press(db, ctx, Origin("telegram", address), done).counted
    db.close()
    return settings


def cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [str(BIN), "experiments", *args],
        capture_output=True,
        text=True,
        env=cli_env(settings) | env,
        timeout=60,
        check=False,
    )


def read(settings: Settings, sql: str, *params: str) -> list[tuple[object, ...]]:
    db: Database = open_database(settings.db)
    try:
        return [tuple(row) for row in db.execute(sql, list(params)).fetchall()]
    finally:
        db.close()


def versions(settings: Settings) -> list[tuple[object, ...]]:
    return read(
        settings,
        "SELECT version, state FROM ask_versions WHERE campaign = ? AND ask_id = ? "
        "ORDER BY version",
        SLUG,
        ASK,
    )


def audited(settings: Settings) -> list[tuple[object, ...]]:
    return read(
        settings,
        "SELECT actor, action, target, detail FROM audit"
        " WHERE action IN ('choose-winner', 'publish') ORDER BY id",
    )


def found(settings: Settings) -> list[experiments.Experiment]:
    db = open_database(settings.db)
    try:
        return experiments.experiments(db)
    finally:
        db.close()


def test_list_shows_each_running_experiment_as_the_dashboard_does(ran: Settings) -> None:
    result = cli(ran, "list")
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    assert "Wording experiments" in shown
    for experiment in found(ran):
        assert experiment.running
        assert experiment.ask_title in shown
        # the verdict line, as the dashboard words it
        assert f"{SLUG}/{experiment.ask_id} v1: {experiment.verdict}." in shown
        for arm in experiment.arms:
            assert arm.rate is not None
            rate = f"{arm.rate:.1%} ({arm.low:.1%} to {arm.high:.1%})"
            cells = [arm.variant, str(arm.sent), str(arm.done), rate]
            rows = [[c.strip() for c in line.split("│")][1:] for line in shown.splitlines()]
            assert cells in rows, shown
    letter = next(e for e in found(ran) if e.ask_id == ASK)
    assert letter.verdict.startswith("Variant short did better")
    assert {a.variant: a.done for a in letter.arms}["original"] == 0
    assert "End one with: campaignbot experiments winner CAMPAIGN ASK VARIANT" in shown


def test_list_as_json(ran: Settings) -> None:
    result = cli(ran, "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    expected = {
        (e.ask_id, e.verdict, tuple((a.variant, a.sent, a.done) for a in e.arms))
        for e in found(ran)
    }
    assert {
        (
            e["ask_id"],
            e["verdict"],
            tuple((v["variant"], v["sent"], v["done"]) for v in e["variants"]),
        )
        for e in listed
    } == expected
    three = next(e for e in listed if e["ask_id"] == THREE)
    assert three["campaign"] == SLUG and three["version"] == 1 and three["running"] is True
    assert [v["variant"] for v in three["variants"]] == ["original", "b", "c"]
    assert all(v["done_rate"] == 0.0 and v["ci_low"] == 0.0 for v in three["variants"])
    assert 0 < three["variants"][0]["ci_high"] < 1


def catalog_version(settings: Settings) -> int:
    db = open_database(settings.db)
    try:
        return catalog_db.catalog_version(db)
    finally:
        db.close()


def test_the_winner_is_published_audited_and_the_experiment_ends(ran: Settings) -> None:
    seen = catalog_version(ran)
    result = cli(ran, "winner", SLUG, ASK, "short")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"Published {SLUG}/{ASK} v2: later sends use variant short only; "
        "a running bot picks it up within seconds."
    )
    assert versions(ran) == [(1, "superseded"), (2, "published")]
    assert catalog_version(ran) > seen  # what a running bot looks at to follow changes
    assert read(ran, "SELECT ask, extra FROM asks WHERE id = ?", ASK)[0][0] == SHORT_TEXT
    audit = audited(ran)
    assert [row[:3] for row in audit] == [
        (CLI_ACTOR, "choose-winner", f"{SLUG}/{ASK}"),
        (CLI_ACTOR, "publish", f"{SLUG}/{ASK}"),
    ]
    assert json.loads(str(audit[0][3])) == {"version": 2, "winner": "short"}
    # no longer running: listed only with --all, and said so
    listed = cli(ran, "list").stdout
    assert f"{SLUG}/{ASK}" not in listed and f"{SLUG}/{THREE} v1" in listed
    every = cli(ran, "list", "--all").stdout
    assert f"{SLUG}/{ASK} v1 (no longer sent): Variant short did better" in every


def draft_opened(settings: Settings) -> None:
    db = open_database(settings.db)
    published = versions_db.published(db, SLUG, ASK)
    assert published is not None
    with db.atomic():
        versions_db.add_draft(db, SLUG, ASK, published.content, "web:olive")
    db.close()


def winner_chosen(settings: Settings) -> None:
    assert cli(settings, "winner", SLUG, ASK, "original").returncode == 0


@pytest.mark.parametrize(
    ("args", "before", "says"),
    [
        (("nowhere", ASK, "short"), None, "'nowhere' is not a campaign the bot runs"),
        ((SLUG, "nothing", "short"), None, f"{SLUG}/nothing is not an ask the bot sends"),
        (
            (SLUG, ASK, "long"),
            None,
            f"{SLUG}/{ASK} has no wording 'long': choose one of original, short",
        ),
        (
            (SLUG, ASK, "short"),
            winner_chosen,
            f"{SLUG}/{ASK} has no variants: there is no experiment to end",
        ),
        (
            (SLUG, ASK, "short"),
            draft_opened,
            f"{SLUG}/{ASK} has a draft, v2",
        ),
    ],
    ids=["unknown campaign", "unknown ask", "unknown wording", "no experiment", "open draft"],
)
def test_refusals_are_one_line_and_change_nothing(
    ran: Settings, args: tuple[str, ...], before: object, says: str
) -> None:
    if callable(before):
        before(ran)
    kept = (versions(ran), audited(ran))
    result = cli(ran, "winner", *args)
    assert result.returncode == 1
    assert_one_clean_line(result.stderr, says)
    assert result.stdout == ""
    assert (versions(ran), audited(ran)) == kept


def test_with_approval_on_the_winner_waits_for_a_second_organiser(ran: Settings) -> None:
    result = cli(ran, "winner", SLUG, ASK, "short", CAMPAIGNBOT_REQUIRE_APPROVAL="true")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line == (
        f"{SLUG}/{ASK} v2, with variant short as the winner, waits for another organiser to "
        "approve and publish it on the ask's page in the dashboard (require_approval is on)."
    )
    assert versions(ran) == [(1, "published"), (2, "awaiting_approval")]
    assert read(ran, "SELECT ask FROM asks WHERE id = ?", ASK)[0][0] == ORIGINAL_TEXT
    assert [row[:3] for row in audited(ran)] == [(CLI_ACTOR, "choose-winner", f"{SLUG}/{ASK}")]
    # still running until it is published; choosing again waits for that
    assert f"{SLUG}/{ASK} v1: " in cli(ran, "list").stdout
    again = cli(ran, "winner", SLUG, ASK, "original", CAMPAIGNBOT_REQUIRE_APPROVAL="true")
    assert again.returncode == 1
    assert_one_clean_line(again.stderr, "has a draft, v2")


def test_an_empty_database_lists_nothing(tmp_path: Path) -> None:
    packs = pack_folder(tmp_path / "packs", {SLUG: PACK})
    settings = make_settings(tmp_path, packs=packs, default_campaign=SLUG)
    prepared_db(settings).close()
    result = cli(settings, "list")
    assert result.returncode == 0, result.stderr
    assert "no experiments running" in result.stdout
    assert json.loads(cli(settings, "list", "--json").stdout) == []


@pytest.mark.parametrize(
    "args", [["experiments", "list", "--help"], ["experiments", "winner", "--help"]]
)
def test_help_stays_light(args: list[str]) -> None:
    shown, modules = probe(*args)
    assert "Usage" in shown
    assert not {module for module in modules if module.split(".")[0] in HEAVY}


@pytest.mark.timeout(120)
async def test_a_winner_is_chosen_while_the_bot_runs(ran: Settings, tmp_path: Path) -> None:
    env = cli_env(ran) | {"CAMPAIGNBOT_WEB_PORT": "0", "CAMPAIGNBOT_DEFAULT_CAMPAIGN": SLUG}
    async with RunningBot(env, tmp_path / "bot.log") as bot:
        await bot.wait_for_output(f"weekly ask of {SLUG}: next at")
        seen = catalog_version(ran)
        code, output = await run(env, "experiments", "winner", SLUG, ASK, "short")
        assert code == 0, output
        assert "a running bot picks it up within seconds" in output
        # the bot's follow job sees the catalog move on (tests/test_catalog_reload.py)
        assert catalog_version(ran) > seen
        assert bot.running and "Traceback" not in bot.output()
        assert await bot.stop() == 0


def test_the_table_fits_80_columns(ran: Settings) -> None:
    shown = cli(ran, "list", COLUMNS="80").stdout
    table = shown.split(f"{SLUG}/{ASK} v1: ")[0]
    assert "Write to your MP" in table and "100.0%" in table
    assert not [line for line in table.splitlines() if len(line.rstrip()) > 80], shown


@pytest.mark.parametrize("args", [("list",), ("winner", SLUG, ASK, "short")])
def test_with_no_database_it_says_where_it_looked_and_makes_none(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    settings = make_settings(tmp_path / "elsewhere")
    result = cli(settings, *args)
    assert result.returncode == 2
    assert_one_clean_line(result.stderr, str(settings.db), "CAMPAIGNBOT_DB")
    assert not settings.db.exists()
