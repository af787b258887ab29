"""Four defects from the review of the campaign editor and imports (issue 15):

1. poll answers that went out are kept by every way a pack comes in (an import from
   the command line or the Campaigns page, a changed pack file at start), not only
   by the editor;
2. a new ask an import held for approval lands at the pack's place when published;
3. a retired ask's outcome poll and next step still reach those who did it;
4. Discord embed titles and field names are markdown-escaped, and the preview draws
   what the adapter sends.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape
from sqlite_utils import Database

import tests.test_journeys as journey_tests
import tests.test_packs_in_out as packs_tests
from bots.discord import render as discord_render
from bots.discord.bot import DiscordBot
from campaigns import ask_order, importing, pack_io, prompting, wording
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine
from campaigns.dialogue import Context
from campaigns.editing import EditError
from campaigns.model import AskCard, Statistic
from campaigns.packs import BUNDLED_PACKS, Pack, load_pack
from db import catalog as catalog_db
from db import deliveries as deliveries_db
from db import journeys as journeys_db
from db import supporters as supporters_db
from db.states import ChatKind, PromptKind
from db.store import Store, open_database
from db.times import utcnow
from runner import open_core
from scheduler import CampaignScheduler
from settings import Settings
from tests.cli_run import assert_one_clean_line
from tests.fakes.discord import FakeDiscord
from tests.test_import_approval import approve_and_publish
from tests.test_packs_in_out import bundled_folder, snapshot
from tests.web_support import csrf_of, make_settings, prepared_db, run_cli
from web import lookalikes

BUNDLED = "one-step-ahead"
POLLED = "ai-images"  # the bundled pack's first ask, which has a poll
ANSWERS = ["Yes", "Not yet", "No", "I didn't write in the end"]
KEPT = ", ".join(ANSWERS)

# the fixtures of the tests these extend
dashboard = packs_tests.dashboard
olive = packs_tests.olive
packs = journey_tests.packs
jcore = journey_tests.jcore


def bundled() -> Pack:
    return load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")


def with_poll(pack: Pack, answers: list[str] | None) -> Pack:
    """The pack with the polled ask's answers replaced (None: its poll taken away)."""
    asks = []
    for ask in pack.asks:
        if ask.id == POLLED:
            assert ask.poll is not None
            poll = None if answers is None else ask.poll.model_copy(update={"answers": answers})
            ask = ask.model_copy(update={"poll": poll})
        asks.append(ask)
    return Pack(campaign=pack.campaign, asks=asks)


def poll_went_out(db: Database, address: str = "4242") -> None:
    """The polled ask's poll reached one supporter: its answers are counted by position."""
    with db.atomic():
        prompt = journeys_db.ensure_step_prompt(
            db, campaign=BUNDLED, kind=PromptKind.POLL, ask_id=POLLED, timezone="Europe/London"
        )
        supporter = supporters_db.insert(
            db,
            platform="telegram",
            address=address,
            kind="private",
            status="active",
            source=None,
            consent_version=None,
        )
        deliveries_db.record_direct(db, prompt.id, supporter)


# ---------------------------------------------------------------- 1. answers that went out


def test_an_import_keeps_poll_answers_that_went_out(db: Database) -> None:
    poll_went_out(db)
    before = snapshot(db)
    swapped = with_poll(bundled(), ["Not yet", "Yes", "No", "I didn't write in the end"])
    for pack, problem in (
        (swapped, f"its answers {KEPT} stay first, in this order"),
        (with_poll(bundled(), None), f"it stays, with its answers {KEPT} first"),
        (with_poll(bundled(), ANSWERS[:3]), f"its answers {KEPT} stay first"),
    ):
        for approval in (False, True):
            with pytest.raises(EditError) as refused, db.atomic():
                importing.import_pack(db, pack, "web:olive", "pack.toml", require_approval=approval)
            line = refused.value.message
            assert f"{BUNDLED}/{POLLED}: its poll has gone out" in line, line
            assert problem in line and "\n" not in line, line
            assert snapshot(db) == before  # nothing changed
        with pytest.raises(pack_io.AnswersLocked), db.atomic():
            pack_io.import_pack(db, pack, "cli:olive", "pack.toml")
        assert snapshot(db) == before
    # answers added after those that went out: fine
    more = with_poll(bundled(), [*ANSWERS, "They said no"])
    with db.atomic():
        done = importing.import_pack(db, more, "web:olive", "pack.toml", require_approval=False)
    assert done.changes.changed == (POLLED,)
    row = catalog_db.get_ask(db, BUNDLED, POLLED)
    assert row is not None and row.poll_labels == [*ANSWERS, "They said no"]


def test_a_poll_that_never_went_out_may_change(db: Database) -> None:
    swapped = with_poll(bundled(), ["No", "Yes"])
    with db.atomic():
        done = pack_io.import_pack(db, swapped, "cli:olive", "pack.toml")
    assert done.changed == (POLLED,)


def test_the_command_line_import_refuses_in_one_line(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", packs=bundled_folder(tmp_path / "packs"))
    db = prepared_db(settings)
    poll_went_out(db)
    before = snapshot(db)
    db.close()
    text = pack_io.to_toml(with_poll(bundled(), list(reversed(ANSWERS))))
    path = tmp_path / "reordered.toml"
    path.write_text(text, encoding="utf-8")
    refused = run_cli(["campaigns", "import", str(path)], settings)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert_one_clean_line(
        refused.stderr, "reordered.toml", f"{BUNDLED}/{POLLED}", KEPT, "nothing was imported"
    )
    db = open_database(settings.db)
    assert snapshot(db) == before
    db.close()


async def test_the_campaigns_page_refuses_in_one_line(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard
    db = open_database(settings.db)
    poll_went_out(db)
    before = snapshot(db)
    page = await olive.get("/campaigns")
    text = pack_io.to_toml(with_poll(bundled(), list(reversed(ANSWERS))))
    posted = await olive.post(
        "/campaigns/import",
        files={"pack": ("reordered.toml", text.encode())},
        data={"csrftoken": csrf_of(page.text)},
    )
    assert posted.status_code == 409
    shown = " ".join(re.sub(r"<[^>]+>", " ", posted.text).split())
    assert "Nothing was imported" in shown
    assert f"{BUNDLED}/{POLLED}: its poll has gone out" in shown.replace("&#39;", "'")
    assert snapshot(db) == before
    db.close()


def test_a_changed_pack_file_that_reorders_them_is_not_taken_and_the_bot_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = bundled_folder(tmp_path / "packs")
    settings = make_settings(tmp_path / "data", packs=folder)
    db = prepared_db(settings)
    poll_went_out(db)
    db.close()
    path = folder / f"{BUNDLED}.toml"
    original = path.read_text(encoding="utf-8")
    assert f"answers = {json.dumps(ANSWERS)}" in original
    swapped = original.replace(
        'answers = ["Yes", "Not yet",', 'answers = ["Not yet", "Yes",', 1
    ).replace('title = "One Step Ahead"', 'title = "Retitled in the file"')
    path.write_text(swapped, encoding="utf-8")
    for _ in range(2):  # said again at each start, until the file is put right
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="campaigns.catalog"):
            core = open_core(settings)  # the bot starts
        running = core.ctx.catalog.packs[BUNDLED]
        core.close()
        assert running.campaign.title == "One Step Ahead"  # the stored campaign runs
        found = running.ask(POLLED)
        assert found is not None and found.poll is not None and found.poll.answers == ANSWERS
        lines = [r.getMessage() for r in caplog.records if BUNDLED in r.getMessage()]
        assert len(lines) == 1, lines
        assert f"{path.name} was not taken" in lines[0]
        assert f"{BUNDLED}/{POLLED}: its poll has gone out" in lines[0]
    shown = run_cli(["campaigns", "list"], settings)
    assert shown.returncode == 0, shown.stderr
    block = shown.stdout.split(f"\n{BUNDLED}")[1]
    assert f"{path.name} not taken:" in block and KEPT in block
    # put right (the answers kept, one added after them): taken at the next start
    path.write_text(
        original.replace(
            '"I didn\'t write in the end"]', '"I didn\'t write in the end", "Gone"]', 1
        ).replace('title = "One Step Ahead"', 'title = "Retitled in the file"'),
        encoding="utf-8",
    )
    core = open_core(settings)
    running = core.ctx.catalog.packs[BUNDLED]
    core.close()
    assert running.campaign.title == "Retitled in the file"
    found = running.ask(POLLED)
    assert found is not None and found.poll is not None
    assert found.poll.answers == [*ANSWERS, "Gone"]
    shown = run_cli(["campaigns", "list"], settings)
    assert "not taken" not in shown.stdout


# ---------------------------------------------------------------- 2. held asks' places


def new_ask(pack: Pack, ask_id: str) -> Any:
    return pack.asks[1].model_copy(update={"id": ask_id, "title": f"New: {ask_id}"})


def running_order(db: Database) -> list[str]:
    return [row.id for row in catalog_db.asks(db, BUNDLED)]


def test_asks_held_by_an_import_are_published_at_the_packs_place(db: Database) -> None:
    pack = bundled()
    first, middle, last = (
        new_ask(pack, "n-first"),
        new_ask(pack, "n-middle"),
        new_ask(pack, "n-last"),
    )
    ids = [ask.id for ask in pack.asks]
    ordered = [first, pack.asks[0], middle, *pack.asks[1:], last]
    with db.atomic():
        importing.import_pack(
            db,
            Pack(campaign=pack.campaign, asks=ordered),
            "web:olive",
            "p.toml",
            require_approval=True,
        )
    assert running_order(db) == ids
    # meanwhile an organiser sends the pack's last ask first
    with db.atomic():
        seen = ask_order.order_digest(db, BUNDLED)
        ask_order.move_ask(db, BUNDLED, ids[-1], "1", seen, "web:stan")
    moved = [ids[-1], *ids[:-1]]
    assert running_order(db) == moved
    # each lands where the pack put it, among the asks as they are now; none else moves
    approve_and_publish(db, BUNDLED, "n-middle")
    assert running_order(db) == [moved[0], ids[0], "n-middle", *ids[1:-1]]
    approve_and_publish(db, BUNDLED, "n-last")
    assert running_order(db) == [moved[0], ids[0], "n-middle", *ids[1:-1], "n-last"]
    approve_and_publish(db, BUNDLED, "n-first")
    assert running_order(db) == ["n-first", moved[0], ids[0], "n-middle", *ids[1:-1], "n-last"]


def test_the_pack_order_holds_whichever_is_published_first(db: Database) -> None:
    pack = bundled()
    a, b = new_ask(pack, "n-a"), new_ask(pack, "n-b")
    ids = [ask.id for ask in pack.asks]
    ordered = [pack.asks[0], a, b, *pack.asks[1:]]
    with db.atomic():
        importing.import_pack(
            db,
            Pack(campaign=pack.campaign, asks=ordered),
            "web:olive",
            "p.toml",
            require_approval=True,
        )
    approve_and_publish(db, BUNDLED, "n-b")
    approve_and_publish(db, BUNDLED, "n-a")
    assert running_order(db) == [ids[0], "n-a", "n-b", *ids[1:]]


# ---------------------------------------------------------------- 3. retired asks' journeys


async def test_a_retired_asks_poll_and_next_step_still_reach_those_who_did_it(
    jcore: Core,
) -> None:
    doer, other, late = 8801, 8802, 8803
    fake = FakeDiscord()
    await fake.start()
    for user in (doer, other, late):
        fake.add_user(user, f"u{user}")
    bot = DiscordBot(
        jcore,
        fake.token,
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        request_rate=None,
        guild_ready_timeout=0.05,
    )
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"discord": bot}, tuning=journey_tests.QUICK)
    jcore.attach(engine)
    scheduler = CampaignScheduler(jcore.store, jcore.ctx.catalog, engine)
    quiet = journey_tests.quiet

    def polls_to(user: int) -> list[dict[str, Any]]:
        return [m for m in fake.dms_to(user) if journey_tests.QUESTION in m.get("content", "")]

    def steps_to(user: int) -> list[dict[str, Any]]:
        return [m for m in fake.dms_to(user) if journey_tests.NEXT_TEXT in m.get("content", "")]

    await bot.online()
    try:
        await scheduler.reach_journeys()  # the poll exists from now
        for user in (doer, other, late):
            await fake.wait_for_response(await fake.run_slash_command("subscribe", user_id=user))
        await fake.wait_for(lambda: [m for m in fake.dms_to(late) if m.get("embeds")])
        await fake.wait_for_response(await fake.run_slash_command("done", user_id=doer))
        await quiet(jcore, engine)
        done_at = utcnow()
        assert len(steps_to(doer)) == 1

        def retire(db: Database) -> None:
            seen = ask_order.order_digest(db, "walk")
            ask_order.retire_ask(db, "walk", "letter", seen, "web:olive")

        await jcore.store.write(retire)
        assert [row.id for row in await jcore.store.read(catalog_db.asks, "walk")] == ["friend"]
        # pressed on last week's message after the ask was retired: its next step comes
        ask = next(m for m in fake.dms_to(late) if m.get("embeds"))
        done = next(
            c["custom_id"]
            for row in ask["components"]
            for c in row["components"]
            if c.get("label") == wording.DONE_LABEL
        )
        await fake.wait_for_response(await fake.press_button(int(ask["id"]), done, user_id=late))
        await fake.wait_for(lambda: steps_to(late), timeout=10)
        # the poll falls due after the ask was retired: it goes, to the one who did it
        await scheduler.reach_journeys(done_at + timedelta(days=5, minutes=1))
        await fake.wait_for(lambda: polls_to(doer), timeout=10)
        await quiet(jcore, engine)
        await scheduler.reach_journeys(done_at + timedelta(days=5, minutes=2))
        await quiet(jcore, engine)
        # to each who did it (the late one too: they did it, on last week's message)
        assert len(polls_to(doer)) == 1 and len(polls_to(late)) == 1
        assert polls_to(other) == []
        assert steps_to(other) == [] and len(steps_to(late)) == 1
        assert fake.rejected == []
    finally:
        await engine.stop()
        await bot.offline()
        await fake.stop()


# ---------------------------------------------------------------- 4. Discord escaping

MARKED_TITLE = "**Loud** _lean_ ~~gone~~ ||hid|| `code` [link](https://example.org/x)"
MARKED_FIGURE = "**1** in _3_ ~~x~~ ||y|| `z`"
MARKED_PACK = f"""
[campaign]
slug = "marks"
title = "Marks ||and|| **stars**"
description = "A made-up campaign whose words look like Discord markdown."

[campaign.schedule]
weekday = "monday"
time = "09:00"
timezone = "Europe/London"

[[asks]]
id = "marked"
title = {json.dumps(MARKED_TITLE)}
topic = "marks"
ask = "Do the **thing**."

[asks.statistic]
figure = {json.dumps(MARKED_FIGURE)}
sentence = "A made-up figure."
source = "A made-up source"
url = "https://example.org/source"

[asks.link]
label = "Do it"
url = "https://example.org/do"
"""


def shown_by_discord(text: str) -> str:
    """What Discord shows for escaped text in a title or field name: the escapes
    dropped (a title or field name draws no masked link)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


@pytest.fixture
async def marked(tmp_path: Path) -> AsyncIterator[Core]:
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / "marks.toml").write_text(MARKED_PACK, encoding="utf-8")
    catalog = Catalog.load(folder)
    store = Store(tmp_path / "marks.db")
    store.submit(catalog.sync).result()
    core = Core(store, Context.from_secret(catalog, b"marks-secret-not-for-production-0123456"))
    yield core
    core.close()


async def test_discord_titles_and_field_names_are_escaped_and_previewed_as_sent(
    marked: Core,
) -> None:
    reader = 9901
    fake = FakeDiscord()
    await fake.start()
    fake.add_user(reader, "reader")
    bot = DiscordBot(
        marked,
        fake.token,
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        request_rate=None,
        guild_ready_timeout=0.05,
    )
    _, message = await marked.store.write(prompting.preview, marked.ctx, "marks", "marked", "t")
    await bot.online()
    try:
        await bot.send(str(reader), ChatKind.PRIVATE, message)
    finally:
        await bot.offline()
        await fake.stop()
    (received,) = fake.dms_to(reader)
    assert fake.rejected == []
    (embed,) = received["embeds"]
    title = f"Marks ||and|| **stars**: {MARKED_TITLE}"
    # every markdown character is escaped, so Discord shows the text as written
    assert "\\*\\*Loud\\*\\*" in embed["title"] and "\\`code\\`" in embed["title"]
    assert "\\[link](https://example.org/x)" in embed["title"]
    assert shown_by_discord(embed["title"]) == title
    (field,) = embed["fields"]
    assert "\\*\\*1\\*\\*" in field["name"] and "\\|\\|y\\|\\|" in field["name"]
    assert shown_by_discord(field["name"]) == MARKED_FIGURE
    # the preview: the very JSON the adapter sent, drawn as Discord shows it
    look = lookalikes.discord(message)
    assert json.loads(look.sent)["embeds"] == received["embeds"]
    (drawn,) = look.embeds
    assert str(drawn.title) == str(escape(title))  # no link drawn in a title
    (drawn_field,) = drawn.fields
    assert str(drawn_field.name) == str(escape(MARKED_FIGURE))


def test_an_escaped_title_cut_to_discords_limit_leaves_no_half_escape() -> None:
    stat = Statistic("_" * 40, "A made-up figure.", "A source", "https://example.org/s", 2024)
    for title in ("*" * 80, "a" + "*" * 79):  # the cut falls after, then inside, an escape
        card = AskCard(
            campaign="marks",
            campaign_title="_" * 80,
            ask_id="marked",
            title=title,
            ask="Do it.",
            topic="marks",
            statistic=stat,
            link_label="Do it",
            link_url="https://example.org/do",
            prompt_id=1,
            reminder=True,
        )
        embed = discord_render.embed_for(card)
        assert embed.title is not None and len(embed.title) <= 256
        trailing = len(embed.title) - len(embed.title.rstrip("\\"))
        assert trailing % 2 == 0, embed.title[-6:]
        assert shown_by_discord(embed.title).startswith(f"Reminder: {'_' * 80}: ")
        (field,) = embed.fields
        assert field.name == "\\_" * 40
