"""Wording experiments (issue 16, part 2): an ask in two or three wordings, each
supporter getting one, fixed and recorded; the done rate per wording with its 95 %
interval and a plain verdict, in `campaignbot stats` and on the dashboard; the winner
chosen by an organiser through the editor's rules; /mydata and /forget.

Sends go through the real adapters and delivery engine to the fake Telegram and the
fake Discord. The statistics are checked against published values: Newcombe (1998),
"Two-sided confidence intervals for the single proportion", Table I (Wilson score
intervals), and Agresti, "Categorical Data Analysis" (the Physicians' Health Study,
aspirin and heart attacks: X² = 25.01, which the two-proportion z-test squares to).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import AsyncIterator, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from campaigns import experiments, links, pack_io, prompting, variants, wording
from campaigns.buttons import Verb
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning, prepare
from campaigns.dialogue import Context
from campaigns.editing import EditError
from campaigns.experiments import Arm, verdict
from campaigns.model import Origin
from campaigns.packs import ORIGINAL, PackError, load_pack
from campaigns.retention import erase_departed
from campaigns.significance import normal_cdf, p_text, two_proportions, wilson
from db import prompts as prompts_db
from db import supporters as supporters_db
from db import variants as variants_db
from db.states import PromptKind, PromptState
from db.store import Store
from db.times import now_text
from settings import Settings
from tests.chat import press, say
from tests.conftest import SECRET
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.messengers import RecordingMessenger
from tests.platforms import discord_bot, telegram_bot
from tests.seeding import add_supporters, join_every_campaign, pack_folder
from tests.web_support import (
    PASSWORDS,
    csrf_of,
    make_settings,
    opened_core,
    run_cli,
    signed_in,
    with_users,
)
from web.app import create_app

SLUG, ASK, THREE = "words", "letter", "three"
ORIGINAL_TEXT = "Write to your MP about AI abuse images."
SHORT_TEXT = "Two minutes: email your MP today."
SHORT_TITLE = "Two minutes for children"
QUICK = Tuning(workers=4, backoff_base=0.05, backoff_cap=0.2, flush_every=0.01)

PACK = f'''
[campaign]
slug = "{SLUG}"
title = "Words"
description = "A campaign that tries its words."

[campaign.schedule]
weekday = "tuesday"
time = "18:30"
timezone = "Europe/London"
reminder_days = 2

[[asks]]
id = "{ASK}"
title = "Write to your MP"
ask = "{ORIGINAL_TEXT}"
topic = "law"
reminder = "There is still time to write."

[asks.statistic]
figure = "1 in 4"
sentence = "One in four reports involved AI images."
source = "A source"
url = "https://example.org/source"

[asks.link]
label = "Write now"
url = "https://example.org/write"

[[asks.variants]]
name = "short"
title = "{SHORT_TITLE}"
ask = "{SHORT_TEXT}"

[[asks]]
id = "{THREE}"
title = "Tell a friend"
ask = "Tell a friend about the campaign."
topic = "law"

[asks.statistic]
figure = "3"
sentence = "Three friends make a group."
source = "A source"
url = "https://example.org/source"

[asks.link]
label = "Share"
url = "https://example.org/share"

[[asks.variants]]
name = "b"
ask = "Bring one friend along this week."

[[asks.variants]]
name = "c"
ask = "Who would you tell first? Tell them today."
'''


def texts_of(ask_id: str) -> dict[str, str]:
    return {ORIGINAL_TEXT: "original", SHORT_TEXT: "short"} if ask_id == ASK else {}


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    return pack_folder(tmp_path / "packs", {SLUG: PACK})


@pytest.fixture
def settings(tmp_path: Path, packs: Path) -> Settings:
    return with_users(make_settings(tmp_path, packs=packs, default_campaign=SLUG))


@pytest.fixture
def vcore(settings: Settings) -> Iterator[Core]:
    with opened_core(settings) as core:
        yield core


@pytest.fixture
def vdb(tmp_path: Path, packs: Path) -> Iterator[tuple[Database, Context]]:
    """The pack in a store, opened synchronously (for tests that need no adapter)."""
    catalog = Catalog.load(packs, SLUG)
    store = Store(tmp_path / "sync.db")
    store.submit(catalog.sync).result()
    store.close()
    from db.store import open_database

    db = open_database(tmp_path / "sync.db")
    yield db, Context.from_secret(catalog, SECRET)
    db.close()


def send_prompt(db: Database, catalog: Catalog, ask_id: str = ASK) -> int:
    with db.atomic():
        prompt = prompting.send_now(db, catalog, prompting.Request(SLUG, ask_id), "test")
    return prompt.id


def chosen(db: Database, prompt_id: int) -> dict[str, str | None]:
    """supporter key → the variant their delivery of the prompt carries."""
    rows = db.execute(
        "SELECT supporter_key, variant FROM deliveries WHERE prompt_id = ?", [prompt_id]
    ).fetchall()
    return {key: variant for key, variant in rows}


# ---------------------------------------------------------------- the statistics


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [  # Newcombe (1998), Table I, method 3 (Wilson score, no continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0),
    ],
)
def test_wilson_intervals_match_newcombe(
    successes: int, trials: int, low: float, high: float
) -> None:
    found_low, found_high = wilson(successes, trials)
    assert found_low == pytest.approx(low, abs=5e-5)
    assert found_high == pytest.approx(high, abs=5e-5)


def test_the_two_proportion_test_matches_textbook_values() -> None:
    # Physicians' Health Study: 189 heart attacks in 11,034 on placebo, 104 in 11,037 on
    # aspirin; Pearson's X² = 25.01 (Agresti), and z² = X² for this test.
    test = two_proportions(189, 11034, 104, 11037)
    assert test.z**2 == pytest.approx(25.01, abs=0.005)
    assert test.p < 1e-6 and test.significant()
    # the normal distribution's landmarks: |z| = 1.96 is p = 0.05, 2.576 is p = 0.01
    assert normal_cdf(1.959964) == pytest.approx(0.975, abs=1e-6)
    assert 2 * (1 - normal_cdf(2.575829)) == pytest.approx(0.01, abs=1e-6)
    # 45 of 100 against 30 of 100: pooled 0.375, z = 0.15 / sqrt(0.375 · 0.625 · 0.02)
    test = two_proportions(45, 100, 30, 100)
    assert test.z == pytest.approx(0.15 / math.sqrt(0.375 * 0.625 * 0.02))
    assert test.p == pytest.approx(0.02846, abs=5e-5)
    assert two_proportions(30, 100, 45, 100).z == pytest.approx(-test.z)
    # nothing to tell apart: no sends, or every answer the same
    assert two_proportions(0, 0, 5, 10).p == 1.0
    assert two_proportions(0, 10, 0, 12).p == 1.0 and two_proportions(7, 7, 9, 9).p == 1.0


def test_the_verdict_says_it_plainly() -> None:
    def arm(name: str, done: int, sent: int) -> Arm:
        return Arm(name, sent, done, *wilson(done, sent))

    assert verdict([arm("original", 30, 100), arm("short", 34, 100)]) == (
        "not significant at 95 % (p = 0.54)"
    )
    assert verdict([arm("original", 30, 100), arm("short", 45, 100)]) == (
        "Variant short did better (p = 0.028)"
    )
    assert verdict([arm("original", 120, 400), arm("b", 80, 400)]) == (
        "The original did better (p = 0.0011)"
    )
    assert verdict([arm("original", 3, 10)]) == "not enough sends to compare yet"
    # three wordings: the leader against each other one, each at 97.5 %
    three = verdict([arm("original", 30, 100), arm("b", 45, 100), arm("c", 40, 100)])
    assert three == ("not significant at 95 % (p = 0.028, each comparison at 97.5 %)")
    three = verdict([arm("original", 20, 100), arm("b", 45, 100), arm("c", 40, 100)])
    assert three.startswith("Variant b did better than the original (p < 0.001")
    assert three.endswith("against variant c: not significant at 95 %")
    assert p_text(0.0004) == "p < 0.001" and p_text(0.43) == "p = 0.43"


# ---------------------------------------------------------------- the pack


def test_the_pack_rules_for_variants(tmp_path: Path) -> None:
    assert variants.ORIGINAL == ORIGINAL  # one name, spelt in two modules
    cases = {
        'name = "short"': ('name = "original"', "can't be called 'original'"),
        f'ask = "{SHORT_TEXT}"': (f'ask = "{ORIGINAL_TEXT}"', "says the same as the ask"),
        'name = "b"': ('name = "B!"', "field variants.0.name"),
    }
    for found, (replacement, problem) in cases.items():
        path = tmp_path / "pack.toml"
        path.write_text(PACK.replace(found, replacement, 1))
        with pytest.raises(PackError) as caught:
            load_pack(path)
        assert problem in str(caught.value), str(caught.value)
        assert "ask " in str(caught.value)  # names the ask
    extra = '\n[[asks.variants]]\nname = "d"\nask = "A fourth wording."\n'
    path.write_text(PACK + extra)
    with pytest.raises(PackError, match="variants"):
        load_pack(path)


def test_variants_round_trip_through_the_store_and_export(tmp_path: Path, packs: Path) -> None:
    pack = load_pack(packs / f"{SLUG}.toml")
    assert [v.name for v in pack.asks[1].variants] == ["b", "c"]
    from db.catalog import CampaignOrigin
    from db.store import open_database

    db = open_database(":memory:")
    with db.atomic():
        pack_io.write_pack(db, pack, CampaignOrigin.IMPORT)
    stored = db.execute("SELECT extra FROM asks WHERE id = ?", [ASK]).fetchone()[0]
    assert json.loads(stored)["variants"][0]["name"] == "short"  # in `extra`, no column
    assert pack_io.pack_from_db(db, SLUG) == pack
    text = pack_io.to_toml(pack)
    assert SHORT_TEXT in text and "Who would you tell first?" in text
    (tmp_path / "again.toml").write_text(text)
    assert load_pack(tmp_path / "again.toml") == pack
    # an ask with no variants says nothing of them, in the export and in its versions
    plain = pack.model_copy(update={"asks": [pack.asks[0].model_copy(update={"variants": []})]})
    assert "variants" not in pack_io.to_toml(plain)
    assert "variants" not in json.loads(pack_io.ask_content(plain.asks[0]))
    db.close()


# ---------------------------------------------------------------- who gets which


def test_each_supporter_gets_one_wording_fixed_across_a_retry(
    vdb: tuple[Database, Context],
) -> None:
    db, ctx = vdb
    with db.atomic():
        add_supporters(db, 400)
        groups = [
            supporters_db.insert(
                db,
                platform="telegram",
                address=f"-{n}",
                kind="group",
                status="active",
                source=None,
                consent_version="test",
            ).id
            for n in range(1, 6)
        ]
        join_every_campaign(db, groups)
    prompt_id = send_prompt(db, ctx.catalog)
    with db.atomic():
        prepare(db, prompt_id, ["telegram"])
    first = chosen(db, prompt_id)
    private = {k: v for k, v in first.items() if v is not None}
    assert len(private) == 400  # every private chat is in the experiment
    counts = {name: list(private.values()).count(name) for name in ("original", "short")}
    assert 150 < counts["original"] < 250 and sum(counts.values()) == 400  # about even
    # a retry (the prompt prepared again after a crash) changes nobody's wording, and
    # working it out again gives the same
    with db.atomic():
        db.execute("UPDATE deliveries SET variant = NULL WHERE prompt_id = ?", [prompt_id])
        db.execute("UPDATE prompts SET state = 'sending' WHERE id = ?", [prompt_id])
        prepare(db, prompt_id, ["telegram"])
    assert chosen(db, prompt_id) == first
    key = variants_db.key(db)
    for supporter_key, name in private.items():
        assert variants.pick(key, prompt_id, supporter_key, ["original", "short"]) == name
    # three wordings for the other ask, all used
    other = send_prompt(db, ctx.catalog, THREE)
    with db.atomic():
        prepare(db, other, ["telegram"])
    assert set(chosen(db, other).values()) == {"original", "b", "c", None}


def test_a_press_redraws_and_ask_shows_the_wording_the_supporter_got(
    vdb: tuple[Database, Context],
) -> None:
    db, ctx = vdb
    people = [Origin("telegram", str(5200 + n)) for n in range(12)]
    for person in people:
        say(db, ctx, person, "/start")
    prompt_id = send_prompt(db, ctx.catalog)
    with db.atomic():
        prepare(db, prompt_id, ["telegram"])
        db.execute("UPDATE deliveries SET state = 'sent' WHERE prompt_id = ?", [prompt_id])
    got = chosen(db, prompt_id)
    assert {"original", "short"} <= set(got.values())  # both wordings among the twelve
    texts = {"original": ORIGINAL_TEXT, "short": SHORT_TEXT}
    for person in people:
        [(key,)] = db.execute("SELECT key FROM supporters WHERE address = ?", [person.chat])
        [shown] = [m for m in say(db, ctx, person, "/ask") if m.card]
        assert shown.card is not None and shown.card.ask == texts[str(got[key])]
        result = press(db, ctx, person, ctx.ids.make(Verb.DONE, str(prompt_id)))
        assert result.edit is not None and result.edit.card is not None
        assert result.edit.card.ask == texts[str(got[key])]


async def test_a_reminder_carries_the_wording_its_supporter_got(
    vcore: Core,
) -> None:
    messenger = RecordingMessenger("telegram")
    engine = DeliveryEngine(vcore.store, vcore.ctx, {"telegram": messenger}, tuning=QUICK)
    await vcore.store.write(lambda db: add_supporters(db, 30))
    prompt_id = await vcore.store.write(send_prompt, vcore.ctx.catalog)
    await engine.send_prompt(prompt_id)
    got = await vcore.store.read(chosen, prompt_id)
    by_address = dict(
        await vcore.store.read(
            lambda db: db.execute(
                "SELECT s.address, d.variant FROM deliveries d JOIN supporters s"
                " ON s.id = d.supporter_id WHERE d.prompt_id = ?",
                [prompt_id],
            ).fetchall()
        )
    )
    for address, message in messenger.sent:
        assert message.card is not None
        expected = SHORT_TEXT if by_address[address] == "short" else ORIGINAL_TEXT
        assert message.card.ask == expected
        assert message.card.title == (SHORT_TITLE if expected == SHORT_TEXT else "Write to your MP")

    def remind(db: Database) -> int:
        return prompts_db.create(
            db,
            campaign=SLUG,
            ask_id=ASK,
            kind=PromptKind.REMINDER,
            scheduled_at=now_text(),
            timezone="Europe/London",
            created_by="test",
            parent_id=prompt_id,
        ).id

    reminder = await vcore.store.write(remind)
    messenger.sent.clear()
    await engine.send_prompt(reminder)
    again = await vcore.store.read(chosen, reminder)
    assert again == got  # the same wording each, and none picked afresh
    for address, message in messenger.sent:
        assert message.card is not None and message.card.reminder
        expected = SHORT_TEXT if by_address[address] == "short" else ORIGINAL_TEXT
        assert message.card.ask == expected
    assert len(messenger.sent) == 30
    # the reminder's sends are not counted again: 30 sent in the experiment, not 60
    (found,) = [e for e in await vcore.store.read(experiments.experiments) if e.ask_id == ASK]
    assert sum(arm.sent for arm in found.arms) == 30
    state = await vcore.store.read(prompts_db.get, reminder)
    assert state is not None and state.state == PromptState.SENT


# ---------------------------------------------------------------- both platforms


TG_USERS = list(range(9101, 9113))
DC_USERS = list(range(9201, 9213))


def tg_done(message: dict[str, Any]) -> str:
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    return str(next(b["callback_data"] for b in buttons if b["text"] == wording.DONE_LABEL))


def dc_done(message: dict[str, Any]) -> str:
    return str(
        next(
            c["custom_id"]
            for row in message["components"]
            for c in row["components"]
            if c.get("label") == wording.DONE_LABEL
        )
    )


@pytest.fixture
async def platforms(vcore: Core) -> AsyncIterator[tuple[FakeTelegram, FakeDiscord, DeliveryEngine]]:
    async with FakeTelegram() as telegram:
        for user in TG_USERS:
            telegram.private_chat(user)
        discord = FakeDiscord()
        await discord.start()
        for user in DC_USERS:
            discord.add_user(user, f"user{user}")
        tg = telegram_bot(vcore, telegram, limits=False)
        dc = discord_bot(vcore, discord)
        engine = DeliveryEngine(
            vcore.store, vcore.ctx, {"telegram": tg, "discord": dc}, tuning=QUICK
        )
        await tg.online()
        await dc.online()
        try:
            yield telegram, discord, engine
            assert not [c for c in telegram.rejected if c.method != "getUpdates"]
            assert discord.rejected == []
        finally:
            await engine.stop()
            await dc.offline()
            await tg.offline()
            await discord.stop()


async def test_over_telegram_and_discord_each_sees_one_wording_and_the_counts_are_right(
    vcore: Core,
    settings: Settings,
    platforms: tuple[FakeTelegram, FakeDiscord, DeliveryEngine],
) -> None:
    telegram, discord, engine = platforms

    def add(db: Database) -> None:
        add_supporters(db, 0, addresses=[str(u) for u in TG_USERS])
        add_supporters(db, 0, "discord", addresses=[str(u) for u in DC_USERS])

    await vcore.store.write(add)
    prompt_id = await vcore.store.write(send_prompt, vcore.ctx.catalog)
    await engine.send_prompt(prompt_id)

    rows = await vcore.store.read(
        lambda db: db.execute(
            "SELECT s.platform, s.address, d.variant, d.state FROM deliveries d"
            " JOIN supporters s ON s.id = d.supporter_id WHERE d.prompt_id = ?",
            [prompt_id],
        ).fetchall()
    )
    got = {(platform, int(address)): variant for platform, address, variant, _ in rows}
    assert {state for *_, state in rows} == {"sent"}
    assert set(got.values()) == {"original", "short"}  # 24 supporters: both in use
    texts = {"original": ORIGINAL_TEXT, "short": SHORT_TEXT}
    tg_messages = {}
    for user in TG_USERS:
        (message,) = telegram.sent_to(user)  # exactly one message each
        mine, other = (
            texts[got["telegram", user]],
            texts["short" if got["telegram", user] == "original" else "original"],
        )
        assert mine in message["text"] and other not in message["text"]
        tg_messages[user] = message
    dc_messages = {}
    for user in DC_USERS:
        (message,) = discord.dms_to(user)
        shown = json.dumps(message, ensure_ascii=False)
        mine = texts[got["discord", user]]
        other = texts["short" if got["discord", user] == "original" else "original"]
        assert mine in shown and other not in shown
        dc_messages[user] = message

    # four say "I did it" on Telegram, three on Discord
    queries = [
        telegram.user_presses(
            user, user, tg_messages[user]["message_id"], tg_done(tg_messages[user])
        )
        for user in TG_USERS[:4]
    ]
    await telegram.wait_for(lambda: all(q in telegram.callback_answers for q in queries))
    for user in DC_USERS[:3]:
        record = await discord.press_button(
            int(dc_messages[user]["id"]), dc_done(dc_messages[user]), user_id=user
        )
        await discord.wait_for_response(record)

    pressed = [("telegram", u) for u in TG_USERS[:4]] + [("discord", u) for u in DC_USERS[:3]]
    (found,) = [e for e in await vcore.store.read(experiments.experiments) if e.ask_id == ASK]
    arms = {arm.variant: (arm.sent, arm.done) for arm in found.arms}
    expected = {
        name: (
            sum(1 for v in got.values() if v == name),
            sum(1 for who in pressed if got[who] == name),
        )
        for name in ("original", "short")
    }
    assert arms == expected
    # who pressed is fixed, but who got which wording is random: the verdict is the
    # test's on these counts, whatever it says
    assert found.version == 1 and found.verdict == verdict(found.arms)

    # the same numbers in `campaignbot stats`: JSON, CSV and the table
    report = json.loads(run_cli(["stats", "--json"], settings).stdout)
    in_json = {
        row["variant"]: (row["sent"], row["done"])
        for row in report["variants"]
        if row["ask_id"] == ASK
    }
    assert in_json == expected
    table = run_cli(["stats", "--csv", "--table", "variants"], settings).stdout
    rows_csv = list(csv.DictReader(io.StringIO(table)))
    assert {r["variant"]: (int(r["sent"]), int(r["done"])) for r in rows_csv} == expected
    printed = run_cli(["stats"], settings).stdout
    assert "Wording experiments" in printed and f"{found.verdict}." in printed

    # and on the dashboard, whose CSV is the CLI's
    app = create_app(vcore, settings)
    async with signed_in(app, "stan", PASSWORDS["stan"]) as http:
        html = unescape((await http.get("/participation")).text)
        assert "Wording experiments" in html and f"{found.verdict}." in html
        for name, (sent, done) in expected.items():
            row = re.search(rf'<tr data-variant="{name}">(.*?)</tr>', html, re.S)
            assert row is not None
            cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
            assert cells[:2] == [str(sent), str(done)]
        assert "Send only" not in html  # staff can't choose a winner
        assert (await http.get("/participation/variants.csv")).text == table


async def test_an_organiser_chooses_the_winner_and_later_sends_use_only_it(
    vcore: Core, settings: Settings
) -> None:
    messenger = RecordingMessenger("telegram")
    engine = DeliveryEngine(vcore.store, vcore.ctx, {"telegram": messenger}, tuning=QUICK)
    await vcore.store.write(lambda db: add_supporters(db, 20))
    first = await vcore.store.write(send_prompt, vcore.ctx.catalog)
    await engine.send_prompt(first)
    app = create_app(vcore, settings)
    async with signed_in(app, "stan", PASSWORDS["stan"]) as http:
        token = csrf_of((await http.get("/participation")).text)
        form = {"campaign": SLUG, "ask": ASK, "variant": "short", "csrftoken": token}
        assert (await http.post("/participation/winner", data=form)).status_code == 403
    async with signed_in(app, "olive", PASSWORDS["olive"]) as http:
        page = (await http.get("/participation")).text
        assert "Send only “short” from now on" in unescape(page)
        form["csrftoken"] = csrf_of(page)
        # a name the ask doesn't have is refused in one line, and nothing changes
        posted = await http.post("/participation/winner", data=form | {"variant": "long"})
        assert posted.status_code == 303
        shown = unescape((await http.get("/participation")).text)
        assert f"{SLUG}/{ASK} has no wording 'long': choose one of original, short" in shown
        posted = await http.post("/participation/winner", data=form)
        assert posted.status_code == 303
        shown = unescape((await http.get("/participation")).text)
        assert f"Published {SLUG}/{ASK} v2: later sends use variant short only." in shown
        assert "Send only “short”" not in shown  # the experiment has ended
        assert "This version is no longer sent." in shown
        # and once more: there is no experiment left to end
        await http.post("/participation/winner", data=form)
        shown = unescape((await http.get("/participation")).text)
        assert f"{SLUG}/{ASK} has no variants: there is no experiment to end" in shown

    audit = await vcore.store.read(
        lambda db: db.execute(
            "SELECT actor, action, target, detail FROM audit WHERE action IN"
            " ('choose-winner', 'publish') ORDER BY id"
        ).fetchall()
    )
    assert [(a, b, c) for a, b, c, _ in audit] == [
        ("web:olive", "choose-winner", f"{SLUG}/{ASK}"),
        ("web:olive", "publish", f"{SLUG}/{ASK}"),
    ]
    assert json.loads(audit[0][3]) == {"version": 2, "winner": "short"}
    # the next send: the winner's words to everyone, no experiment recorded
    messenger.sent.clear()
    second = await vcore.store.write(send_prompt, vcore.ctx.catalog)
    await engine.send_prompt(second)
    assert len(messenger.sent) == 20
    assert {(m.card.title, m.card.ask) for _, m in messenger.sent if m.card} == {
        (SHORT_TITLE, SHORT_TEXT)
    }
    assert set((await vcore.store.read(chosen, second)).values()) == {None}
    # the winner's words are the ask's own now: an export says so, with no variants
    exported = await vcore.store.read(pack_io.pack_from_db, SLUG)
    assert exported is not None
    letter = exported.ask(ASK)
    assert letter is not None and (letter.ask, letter.variants) == (SHORT_TEXT, [])
    # the first send's experiment stays with v1, its counts as they were
    found = [e for e in await vcore.store.read(experiments.experiments) if e.ask_id == ASK]
    assert [(e.version, sum(a.sent for a in e.arms), e.running) for e in found] == [(1, 20, False)]


async def test_with_approval_the_winner_waits_for_a_second_organiser(
    tmp_path: Path, packs: Path
) -> None:
    settings = with_users(
        make_settings(tmp_path, packs=packs, default_campaign=SLUG, require_approval=True)
    )
    with opened_core(settings) as core:
        line = await core.store.write(
            experiments.choose_winner, SLUG, ASK, "short", "web:olive", require_approval=True
        )
        assert "waits for another organiser to approve and publish it" in line
        row = await core.store.read(
            lambda db: db.execute(
                "SELECT version, state FROM ask_versions WHERE campaign = ? AND ask_id = ?"
                " ORDER BY version",
                [SLUG, ASK],
            ).fetchall()
        )
        assert [tuple(r) for r in row] == [(1, "published"), (2, "awaiting_approval")]
        sent_now = await core.store.read(
            lambda db: db.execute("SELECT ask FROM asks WHERE id = ?", [ASK]).fetchone()[0]
        )
        assert sent_now == ORIGINAL_TEXT  # nothing changes until it is published
        with pytest.raises(EditError, match="has a draft, v2"):
            await core.store.write(
                experiments.choose_winner, SLUG, ASK, "original", "web:olive", require_approval=True
            )


# ---------------------------------------------------------------- privacy

SAM = Origin("telegram", "5101")


def sent_to_sam_and_nine(db: Database, ctx: Context) -> tuple[int, str]:
    """The experiment's ask sent to Sam (who started) and nine more, each with a wording:
    the prompt, and Sam's supporter key."""
    say(db, ctx, SAM, "/start")
    with db.atomic():
        add_supporters(db, 9)
    prompt_id = send_prompt(db, ctx.catalog)
    with db.atomic():
        prepare(db, prompt_id, ["telegram"])
        db.execute("UPDATE deliveries SET state = 'sent' WHERE prompt_id = ?", [prompt_id])
    key = db.execute("SELECT key FROM supporters WHERE address = '5101'").fetchone()[0]
    return prompt_id, str(key)


def test_mydata_shows_the_wording_and_forget_erases_it_leaving_the_counts(
    vdb: tuple[Database, Context],
) -> None:
    db, ctx = vdb
    prompt_id, key = sent_to_sam_and_nine(db, ctx)
    mine = chosen(db, prompt_id)[key]
    assert mine in ("original", "short")
    reply = say(db, ctx, SAM, "/mydata")[0]
    assert reply.attachment is not None
    data = json.loads(reply.attachment.content)
    assert [d["variant"] for d in data["deliveries"] if d["prompt"] == prompt_id] == [mine]
    # "I did it" counts for the wording, and stays counted after /forget
    assert press(db, ctx, SAM, ctx.ids.make(Verb.DONE, str(prompt_id))).counted
    after = {a.variant: a.done for a in experiments.experiments(db)[0].arms}
    assert after[mine] == 1 and sum(after.values()) == 1
    say(db, ctx, SAM, "/forget yes")
    assert key not in {k for k, v in chosen(db, prompt_id).items() if v is not None}
    assert (
        db.execute(
            "SELECT count(*) FROM deliveries WHERE supporter_key = ? AND variant IS NOT NULL", [key]
        ).fetchone()[0]
        == 0
    )
    kept = {a.variant: (a.sent, a.done) for a in experiments.experiments(db)[0].arms}
    assert kept[mine][1] == 1 and sum(sent for sent, _ in kept.values()) == 10


def test_retention_erasing_someone_who_left_erases_their_wording_too(
    vdb: tuple[Database, Context],
) -> None:
    db, ctx = vdb
    _, key = sent_to_sam_and_nine(db, ctx)
    say(db, ctx, SAM, "/stop")
    with db.atomic():
        erased, _ = erase_departed(db, "9999-12-31T00:00:00Z")
    assert erased == 1
    left = "SELECT count(*) FROM deliveries WHERE supporter_key = ? AND variant IS NOT NULL"
    assert db.execute(left, [key]).fetchone()[0] == 0
    sent = sum(arm.sent for arm in experiments.experiments(db)[0].arms)
    assert sent == 10  # the counts stay


async def test_tracked_links_go_out_with_each_wording_and_opens_count_for_it(
    vcore: Core,
) -> None:
    base = "https://bot.example.org"
    messenger = RecordingMessenger("telegram")
    engine = DeliveryEngine(
        vcore.store,
        vcore.ctx,
        {"telegram": messenger},
        tuning=QUICK,
        link_for=links.link_maker(base, SECRET),
    )
    await vcore.store.write(lambda db: add_supporters(db, 16))
    prompt_id = await vcore.store.write(send_prompt, vcore.ctx.catalog)
    await engine.send_prompt(prompt_id)
    by_address = dict(
        await vcore.store.read(
            lambda db: db.execute(
                "SELECT s.address, d.variant FROM deliveries d JOIN supporters s"
                " ON s.id = d.supporter_id WHERE d.prompt_id = ?",
                [prompt_id],
            ).fetchall()
        )
    )
    urls = set()
    for address, message in messenger.sent:
        assert message.card is not None
        expected = SHORT_TEXT if by_address[address] == "short" else ORIGINAL_TEXT
        assert message.card.ask == expected
        url = message.all_buttons()[0].url
        assert url is not None and url.startswith(f"{base}/l/")
        urls.add(url)
    assert len(urls) == 16  # each delivery its own link, whichever wording
    tokens = links.LinkTokens(SECRET)
    opened = [url.rsplit("/", 1)[1] for url in sorted(urls)[:5]]
    for token in opened:
        found = await vcore.store.write(links.open_link, tokens, token)
        assert found is not None and found.url == "https://example.org/write"
    counts = await vcore.store.read(variants_db.counts)
    assert sum(row.opened for row in counts) == 5
    assert sum(row.delivered for row in counts) == 16


async def test_a_send_resumed_later_sends_the_wording_recorded_when_it_began(
    vcore: Core,
) -> None:
    """A send begun before a crash (its deliveries made, their wordings recorded) and
    resumed by a new engine sends what each delivery recorded, never a fresh pick."""
    await vcore.store.write(lambda db: add_supporters(db, 12))
    prompt_id = await vcore.store.write(send_prompt, vcore.ctx.catalog)
    await vcore.store.write(prepare, prompt_id, ["telegram"])  # then the process stopped
    await vcore.store.write(
        lambda db: db.execute(
            "UPDATE deliveries SET variant = 'short' WHERE prompt_id = ?", [prompt_id]
        )
    )
    messenger = RecordingMessenger("telegram")
    engine = DeliveryEngine(vcore.store, vcore.ctx, {"telegram": messenger}, tuning=QUICK)
    await engine.send_prompt(prompt_id)
    assert len(messenger.sent) == 12
    assert {m.card.ask for _, m in messenger.sent if m.card} == {SHORT_TEXT}
    (found,) = [e for e in await vcore.store.read(experiments.experiments) if e.ask_id == ASK]
    assert [(arm.variant, arm.sent) for arm in found.arms] == [("short", 12)]


WELSH_TEXT = "Ysgrifennwch at eich AS am ddelweddau AI."


def test_a_supporter_whose_language_has_a_translation_gets_it_and_is_not_in_the_experiment(
    tmp_path: Path,
) -> None:
    welsh = f'\n[asks.translations.cy]\nask = "{WELSH_TEXT}"\n'
    marker = '\n[[asks.variants]]\nname = "short"'
    folder = pack_folder(tmp_path / "welsh", {SLUG: PACK.replace(marker, welsh + marker, 1)})
    catalog = Catalog.load(folder, SLUG)
    store = Store(tmp_path / "welsh.db")
    store.submit(catalog.sync).result()
    store.close()
    from db.store import open_database

    db = open_database(tmp_path / "welsh.db")
    with db.atomic():
        add_supporters(db, 40)
        db.execute("UPDATE supporters SET language = 'cy' WHERE id % 2 = 0")
        db.execute("UPDATE supporters SET language = 'en' WHERE id % 4 = 1")
    prompt_id = send_prompt(db, catalog)
    with db.atomic():
        prepare(db, prompt_id, ["telegram"])
    rows = db.execute(
        "SELECT s.language, d.variant FROM deliveries d JOIN supporters s"
        " ON s.id = d.supporter_id WHERE d.prompt_id = ?",
        [prompt_id],
    ).fetchall()
    assert {variant for language, variant in rows if language == "cy"} == {None}
    assert None not in {variant for language, variant in rows if language != "cy"}
    assert len(rows) == 40
    db.close()
