"""Campaigns as choices: supporters join one or more campaigns (a start link, /campaigns
buttons or typed names, Discord's /subscribe campaign:), each campaign's sends reach
its own subscribers only, and /ask shows the ask of each campaign joined.

Two campaigns throughout: the bundled pack and a second one made from it in a temp
folder. Every fixture is synthetic: made-up ids and names.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlite_utils import Database

from bots.console import ConsoleChat
from campaigns import dashboard, prompting, wording
from campaigns import subscriptions as choice
from campaigns.buttons import Verb
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.dialogue import Context
from campaigns.model import ChatKind, Message, Origin
from campaigns.packs import BUNDLED_PACKS
from db import invites as invites_db
from db import migrations
from db import prompts as prompts_db
from db import subscriptions as subscriptions_db
from db import supporters as supporters_db
from db.store import connect, open_database
from db.times import now_text
from tests.chat import action_of, count, press, say, text_of
from tests.cli_run import BIN, base_env
from tests.fakes.discord import MEMBER_DEFAULT, FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.messengers import RecordingMessenger
from tests.platforms import discord_online, first_response, telegram_online
from tests.seeding import pack_folder

MAIN, OTHER = "one-step-ahead", "safer-schools"
MAIN_TITLE, OTHER_TITLE = "One Step Ahead", "Safer Schools"
ALICE = Origin("console", "alice")
BOB = Origin("console", "bob")
CAROL = Origin("console", "carol")
GROUP = Origin("telegram", "-100700", ChatKind.GROUP, user="7001")
FAST = Tuning(workers=4, flush_every=0.01, backoff_base=0.01, backoff_cap=0.05)


def write_packs(folder: Path) -> Path:
    """The bundled pack and a second campaign made from it."""
    text = (BUNDLED_PACKS / f"{MAIN}.toml").read_text()
    other = (
        text.replace(f'slug = "{MAIN}"', f'slug = "{OTHER}"')
        .replace(f'title = "{MAIN_TITLE}"', f'title = "{OTHER_TITLE}"')
        .replace("Five changes the Government", "Changes schools and the Government")
    )
    assert other != text
    return pack_folder(folder, {MAIN: text, OTHER: other})


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """Overrides the bundled catalog: these tests run with two campaigns."""
    return Catalog.load(write_packs(tmp_path / "packs"))


def joined(db: Database, origin: Origin) -> list[str]:
    row = supporters_db.get(db, origin.platform, origin.chat)
    assert row is not None
    return sorted(sub.campaign for sub in subscriptions_db.of_supporter(db, row.id))


def card_campaigns(messages: list[Message]) -> list[str]:
    return [m.card.campaign for m in messages if m.card is not None]


# --- joining by start link --------------------------------------------------------


def test_start_with_a_campaign_joins_that_campaign_only(db: Database, ctx: Context) -> None:
    replies = say(db, ctx, ALICE, f"/start {OTHER}")
    assert replies[0].text.startswith(f"Welcome to {OTHER_TITLE}. You're subscribed.")
    assert "/campaigns" in replies[0].text  # there is a choice to make
    assert card_campaigns(replies) == [OTHER]
    assert joined(db, ALICE) == [OTHER]
    row = supporters_db.get(db, "console", "alice")
    assert row is not None and row.source is None


def test_campaign_and_source_in_one_link(db: Database, ctx: Context) -> None:
    replies = say(db, ctx, ALICE, f"/start {OTHER}-leaflet")
    assert card_campaigns(replies) == [OTHER]
    assert joined(db, ALICE) == [OTHER]
    row = supporters_db.get(db, "console", "alice")
    assert row is not None and row.source == "leaflet"


def test_a_source_alone_or_nothing_joins_the_default_campaign(db: Database, ctx: Context) -> None:
    assert card_campaigns(say(db, ctx, ALICE, "/start leaflet")) == [MAIN]
    assert joined(db, ALICE) == [MAIN]
    assert card_campaigns(say(db, ctx, BOB, "/start")) == [MAIN]
    assert joined(db, BOB) == [MAIN]


def test_a_subscriber_who_opens_another_campaigns_link_joins_it_too(
    db: Database, ctx: Context
) -> None:
    say(db, ctx, ALICE, "/start")
    replies = say(db, ctx, ALICE, f"/start {OTHER}")
    assert replies[0].text.startswith(f"You've joined {OTHER_TITLE}")
    assert card_campaigns(replies) == [OTHER]  # its ask, at once
    assert joined(db, ALICE) == [MAIN, OTHER]
    again = say(db, ctx, ALICE, f"/start {OTHER}")
    assert text_of(again).startswith("You're already subscribed")
    assert joined(db, ALICE) == [MAIN, OTHER]


def test_coming_back_after_stop_keeps_the_campaigns_chosen(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, f"/start {OTHER}")
    say(db, ctx, ALICE, "/stop")
    replies = say(db, ctx, ALICE, "/start")
    assert replies[0].text.startswith(f"Welcome to {OTHER_TITLE}.")
    assert card_campaigns(replies) == [OTHER]
    assert joined(db, ALICE) == [OTHER]  # the default was not added behind their back


def test_one_campaign_keeps_the_welcome_as_it_was() -> None:
    """With the bundled pack alone there is no choice to mention (the README's tour)."""
    catalog = Catalog.load(BUNDLED_PACKS)
    text = wording.welcome("T", "D", False, 24, choice=len(catalog.packs) > 1)
    assert "/campaigns" not in text and "your topic choices" in text


def test_an_invite_counts_only_for_a_brand_new_supporter(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    inviter = supporters_db.get(db, "console", "alice")
    assert inviter is not None
    code = invites_db.code_for(db, inviter.key)
    say(db, ctx, BOB, f"/start {OTHER}-i_{code}")
    assert joined(db, BOB) == [OTHER]
    say(db, ctx, ALICE, f"/start i_{code}")  # already subscribed: not a referral
    say(db, ctx, CAROL, "/start")
    say(db, ctx, CAROL, "/stop")
    say(db, ctx, CAROL, f"/start i_{code}")  # came back: not a new supporter
    rows = db.execute("SELECT campaign, platform FROM referrals").fetchall()
    assert rows == [(OTHER, "console")]


# --- /campaigns ---------------------------------------------------------------------


def test_campaign_buttons_toggle_and_refuse_leaving_the_last(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    [menu] = say(db, ctx, ALICE, "/campaigns")
    assert f"{MAIN_TITLE}: Five changes the Government" in menu.text
    assert f"{OTHER_TITLE}: Changes schools" in menu.text
    assert [b.label for b in menu.all_buttons()] == [f"✓ {MAIN_TITLE}", f"○ {OTHER_TITLE}"]
    for found in menu.all_buttons():
        assert found.id is not None and len(found.id.encode()) <= 64

    result = press(db, ctx, ALICE, action_of([menu], f"○ {OTHER_TITLE}"))
    assert result.counted and result.answer == wording.campaign_joined(OTHER_TITLE)
    assert result.edit is not None
    assert [b.label for b in result.edit.all_buttons()] == [f"✓ {MAIN_TITLE}", f"✓ {OTHER_TITLE}"]
    assert card_campaigns(list(result.replies)) == [OTHER]  # the campaign's ask, at once
    assert joined(db, ALICE) == [MAIN, OTHER]

    left = press(db, ctx, ALICE, action_of([result.edit], f"✓ {MAIN_TITLE}"))
    assert left.answer == wording.campaign_left(MAIN_TITLE)
    assert left.edit is not None and not left.replies
    assert joined(db, ALICE) == [OTHER]

    refused = press(db, ctx, ALICE, action_of([left.edit], f"✓ {OTHER_TITLE}"))
    assert refused.answer == wording.last_campaign(OTHER_TITLE) and "/stop" in refused.answer
    assert not refused.counted and refused.edit is None
    assert joined(db, ALICE) == [OTHER]


def test_a_forged_or_stale_campaign_button_changes_nothing(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    [menu] = say(db, ctx, ALICE, "/campaigns")
    genuine = action_of([menu], f"○ {OTHER_TITLE}")
    forged = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")
    assert press(db, ctx, ALICE, forged).answer == wording.BUTTON_STALE
    stale = ctx.ids.make(Verb.CAMPAIGN, choice.button_tag("a-campaign-long-gone"))
    assert press(db, ctx, ALICE, stale).answer == wording.CAMPAIGN_GONE
    # a campaign's button is nobody's in particular: pressed by someone not subscribed
    assert press(db, ctx, BOB, genuine).answer == wording.NOT_SUBSCRIBED
    assert joined(db, ALICE) == [MAIN]
    assert supporters_db.get(db, "console", "bob") is None


def test_typed_join_and_leave(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    joined_now = say(db, ctx, ALICE, f"/campaigns join {OTHER.upper()}")
    assert joined_now[0].text == wording.campaign_joined(OTHER_TITLE)
    assert card_campaigns(joined_now) == [OTHER]
    assert text_of(say(db, ctx, ALICE, f"/campaigns join {OTHER}")) == wording.campaign_already(
        OTHER_TITLE
    )
    assert text_of(say(db, ctx, ALICE, f"/campaigns leave {MAIN}")) == wording.campaign_left(
        MAIN_TITLE
    )
    assert text_of(say(db, ctx, ALICE, f"/campaigns leave {OTHER}")) == wording.last_campaign(
        OTHER_TITLE
    )
    unknown = text_of(say(db, ctx, ALICE, "/campaigns join nope"))
    assert unknown == wording.campaigns_unknown("nope", [MAIN, OTHER])
    assert text_of(say(db, ctx, ALICE, "/campaigns dance")) == wording.CAMPAIGNS_USAGE
    assert joined(db, ALICE) == [OTHER]
    assert text_of(say(db, ctx, BOB, "/campaigns")) == wording.NOT_SUBSCRIBED
    assert text_of(say(db, ctx, GROUP, "/campaigns")) == wording.GROUP_PRIVATE_ONLY


# --- /ask, /done ------------------------------------------------------------------


def test_ask_shows_one_message_per_campaign_and_done_answers_the_last(
    db: Database, ctx: Context
) -> None:
    say(db, ctx, ALICE, "/start")
    say(db, ctx, ALICE, f"/campaigns join {OTHER}")
    shown = say(db, ctx, ALICE, "/ask")
    assert card_campaigns(shown) == [MAIN, OTHER]  # the default first
    assert [m.card.campaign_title for m in shown if m.card] == [MAIN_TITLE, OTHER_TITLE]
    assert text_of(say(db, ctx, ALICE, "/done")) == wording.DONE_THANKS
    answered = db.execute(
        "SELECT p.campaign FROM actions a JOIN prompts p ON p.id = a.prompt_id"
    ).fetchall()
    assert answered == [(OTHER,)]


# --- sends reach their campaign's subscribers only ---------------------------------


async def test_a_weekly_run_reaches_its_own_subscribers_only(core: Core) -> None:
    for origin, link in ((ALICE, ""), (BOB, OTHER), (CAROL, OTHER)):
        await core.command(origin, "start", (link,) if link else ())
    await core.command(CAROL, "campaigns", ("join", MAIN))
    messenger = RecordingMessenger("console")
    engine = DeliveryEngine(core.store, core.ctx, {"console": messenger}, tuning=FAST)

    def weekly(db: Database, campaign: str) -> int:
        return prompts_db.create(
            db,
            campaign=campaign,
            ask_id="pre-screening",
            kind="weekly",
            scheduled_at=now_text(),
            timezone="Europe/London",
            created_by="schedule",
        ).id

    def planned(db: Database, campaign: str) -> int:
        request = prompting.Request(campaign, "pre-screening")
        return prompting.dry_run(db, core.ctx.catalog, request, "test").total

    assert await core.store.write(planned, OTHER) == 2  # the dry run agrees with the send
    await engine.send_prompt(await core.store.write(weekly, OTHER))
    assert sorted(messenger.addresses()) == ["bob", "carol"]
    assert {m.card.campaign for _, m in messenger.sent if m.card} == {OTHER}

    messenger.sent.clear()
    assert await core.store.write(planned, MAIN) == 2
    await engine.send_prompt(await core.store.write(weekly, MAIN))
    assert sorted(messenger.addresses()) == ["alice", "carol"]


async def test_the_organisers_send_now_names_the_campaigns_audience(core: Core) -> None:
    await core.command(ALICE, "start", (OTHER,))
    organiser = Origin("telegram", "900", ChatKind.PRIVATE, user="900", organiser=True)
    [question] = await core.command(organiser, "sendnow", (OTHER,))
    assert "its 1 subscriber " in question.text
    [question] = await core.command(organiser, "sendnow", (MAIN,))
    assert "its 0 subscribers " in question.text


# --- groups -------------------------------------------------------------------------


def test_a_group_joins_the_campaign_its_admin_names(db: Database, ctx: Context) -> None:
    assert text_of(say(db, ctx, GROUP, f"/subscribe_group {OTHER}")) == wording.GROUP_ONLY_ADMINS
    named = say(db, ctx, GROUP, f"/subscribe_group {OTHER}", admin=True)
    assert named[0].text == wording.group_joined(OTHER_TITLE)
    assert card_campaigns(named) == [OTHER]
    assert joined(db, GROUP) == [OTHER]
    plain = say(db, ctx, GROUP, "/subscribe_group", admin=True)  # keeps what it chose
    assert plain[0].text == wording.GROUP_SUBSCRIBED and joined(db, GROUP) == [OTHER]
    say(db, ctx, GROUP, f"/subscribe_group {MAIN}", admin=True)
    assert card_campaigns(say(db, ctx, GROUP, "/ask")) == [MAIN, OTHER]
    unknown = say(db, ctx, GROUP, "/subscribe_group nope", admin=True)
    assert text_of(unknown) == wording.campaigns_unknown("nope", [MAIN, OTHER])
    new_group = Origin("telegram", "-100701", ChatKind.GROUP, user="7001")
    say(db, ctx, new_group, "/subscribe_group", admin=True)
    assert joined(db, new_group) == [MAIN]


# --- /mydata and /forget ------------------------------------------------------------


def test_mydata_lists_the_campaigns_joined_and_forget_erases_them(
    db: Database, ctx: Context
) -> None:
    say(db, ctx, ALICE, f"/start {OTHER}")
    say(db, ctx, ALICE, f"/campaigns join {MAIN}")
    [reply] = say(db, ctx, ALICE, "/mydata")
    today = now_text()[:10]
    line = next(line for line in reply.text.splitlines() if line.startswith("Campaigns: "))
    for title in (MAIN_TITLE, OTHER_TITLE):
        assert f"{title} (since {today})" in line
    assert reply.attachment is not None
    exported = json.loads(reply.attachment.content)["campaigns"]
    assert sorted((c["campaign"], c["title"], c["joined_at"][:10]) for c in exported) == [
        (MAIN, MAIN_TITLE, today),
        (OTHER, OTHER_TITLE, today),
    ]
    say(db, ctx, ALICE, "/forget yes")
    assert count(db, "SELECT count(*) FROM subscriptions") == 0


# --- staff numbers ------------------------------------------------------------------


def test_subscribers_per_campaign_in_the_report_and_on_the_dashboard(
    db: Database, ctx: Context, catalog: Catalog
) -> None:
    say(db, ctx, ALICE, "/start")
    say(db, ctx, BOB, f"/start {OTHER}")
    say(db, ctx, BOB, "/pause")
    say(db, ctx, Origin("telegram", "4001"), f"/start {OTHER}")
    header, rows = choice.table(db)
    assert header == ["campaign", "platform", "active", "paused", "stopped", "gone"]
    assert rows == [
        [MAIN, "console", 1, 0, 0, 0],
        [MAIN, "all", 1, 0, 0, 0],
        [OTHER, "console", 0, 1, 0, 0],
        [OTHER, "telegram", 1, 0, 0, 0],
        [OTHER, "all", 1, 1, 0, 0],
    ]
    page = dashboard.overview(db, catalog, datetime.now(UTC))
    assert page.subscribers.rows == rows and page.subscribers.name == "campaigns"


def test_stats_prints_the_campaigns_table_and_writes_it_as_json_and_csv(
    tmp_path: Path,
) -> None:
    import subprocess

    packs = write_packs(tmp_path / "packs")
    env = base_env(tmp_path) | {"CAMPAIGNBOT_PACKS": str(packs), "COLUMNS": "80"}

    def run(*args: str, stdin: str = "") -> str:
        done = subprocess.run(  # noqa: S603
            [str(BIN), *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("chat", stdin=f"/start {OTHER}-leaflet\n/campaigns join {MAIN}\n")
    printed = run("stats")
    assert "Subscribers per campaign" in printed
    assert all(len(line) <= 80 for line in printed.splitlines())
    report = json.loads(run("stats", "--json"))
    assert {(r["campaign"], r["platform"], r["active"]) for r in report["campaigns"]} == {
        (MAIN, "console", 1),
        (MAIN, "all", 1),
        (OTHER, "console", 1),
        (OTHER, "all", 1),
    }
    table = list(csv.reader(io.StringIO(run("stats", "--csv", "--table", "campaigns"))))
    assert table[0] == ["campaign", "platform", "active", "paused", "stopped", "gone"]
    assert [MAIN, "all", "1", "0", "0", "0"] in table
    only = run("stats", "--csv", "--table", "campaigns", "--campaign", OTHER)
    assert MAIN not in only and OTHER in only


# --- migrating an existing database -------------------------------------------------


def test_migrating_keeps_every_supporter_on_every_campaign(tmp_path: Path) -> None:
    db = connect(tmp_path / "old.db")
    migrations.migrations.apply(db, stop_before="0006_journeys")
    for slug in (MAIN, OTHER):
        db.execute(
            "INSERT INTO campaigns VALUES (?, 't', 'd', 'tuesday', '18:30',"
            " 'Europe/London', 6, NULL, 'f', 'x', 'x')",
            [slug],
        )
    people = [("alice", "private", "active"), ("-100", "group", "active")]
    people += [("bob", "private", "stopped"), ("m-1", "private", "member")]
    for address, kind, status in people:
        db.execute(
            "INSERT INTO supporters (key, platform, address, kind, status, created_at,"
            " updated_at) VALUES (?, 'telegram', ?, ?, ?, '2026-01-01T00:00:00Z', 'x')",
            [f"key-{address}", address, kind, status],
        )
    db.close()
    db = open_database(tmp_path / "old.db")
    found = db.execute(
        "SELECT s.address, j.campaign, j.created_at FROM subscriptions j"
        " JOIN supporters s ON s.id = j.supporter_id ORDER BY 1, 2"
    ).fetchall()
    everyone = ["-100", "alice", "bob"]  # group members known only from a press are left out
    assert found == [
        (address, slug, "2026-01-01T00:00:00Z") for address in everyone for slug in (MAIN, OTHER)
    ]
    db.close()


# --- on Telegram, Discord and the console -------------------------------------------

SAM, DEE = 4501, 5501
GUILD, CHANNEL = 7500, 7501


@pytest.fixture
async def telegram(core: Core) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.private_chat(SAM, "Sam")
        fake.private_chat(900, "Olu")  # an organiser in the core fixture's list
        async with telegram_online(core, fake):
            yield fake
        assert not [call for call in fake.rejected if call.method != "getUpdates"]


def tg_buttons(message: dict[str, Any]) -> dict[str, str]:
    markup = message.get("reply_markup") or {}
    return {b["text"]: b.get("callback_data", "") for row in markup["inline_keyboard"] for b in row}


async def test_on_telegram_a_deep_link_and_the_campaign_buttons(
    telegram: FakeTelegram, core: Core
) -> None:
    fake = telegram
    fake.user_sends(SAM, SAM, f"/start {OTHER}-leaflet")
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 2)
    welcome, ask = fake.sent_to(SAM)[:2]
    assert welcome["text"].startswith(f"Welcome to {OTHER_TITLE}.")
    assert ask["text"].startswith(f"{OTHER_TITLE}: ")
    row = await core.store.read(supporters_db.get, "telegram", str(SAM))
    assert row is not None and row.source == "leaflet"

    fake.user_sends(SAM, SAM, "/campaigns")
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 3)
    menu = fake.sent_to(SAM)[2]
    assert list(tg_buttons(menu)) == [f"○ {MAIN_TITLE}", f"✓ {OTHER_TITLE}"]
    query = fake.user_presses(SAM, SAM, menu["message_id"], tg_buttons(menu)[f"○ {MAIN_TITLE}"])
    await fake.wait_for(lambda: query in fake.callback_answers)
    assert fake.callback_answers[query]["text"] == wording.campaign_joined(MAIN_TITLE)

    def edited() -> dict[str, Any]:
        return next(m for m in fake.sent_to(SAM) if m["message_id"] == menu["message_id"])

    await fake.wait_for(lambda: f"✓ {MAIN_TITLE}" in tg_buttons(edited()))
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 4)  # and the campaign's ask
    assert fake.sent_to(SAM)[3]["text"].startswith(f"{MAIN_TITLE}: ")
    assert await core.store.read(joined, Origin("telegram", str(SAM))) == [MAIN, OTHER]


@pytest.fixture
async def discord_fake(core: Core) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    fake.add_user(DEE, "dee")
    fake.add_guild(GUILD, "Supporters", [CHANNEL], members={DEE: MEMBER_DEFAULT})
    async with discord_online(core, fake):
        yield fake
    assert fake.rejected == []
    await fake.stop()


def dc_buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        c.get("label", ""): c.get("custom_id", "")
        for row in message.get("components", [])
        for c in row.get("components", [])
    }


async def test_on_discord_subscribe_offers_the_campaigns_and_the_buttons_toggle(
    discord_fake: FakeDiscord, core: Core
) -> None:
    fake = discord_fake
    subscribe = next(c for c in fake.global_commands if c["name"] == "subscribe")
    options = {o["name"]: o for o in subscribe["options"]}
    # suggested as the supporter types, from the live catalog (no fixed list to re-sync)
    assert options["campaign"]["autocomplete"] is True and not options["campaign"].get("choices")
    asked = await fake.autocomplete("subscribe", "campaign", "", user_id=DEE)
    suggested = (await fake.wait_for_response(asked))["data"]["choices"]
    assert [(c["name"], c["value"]) for c in suggested] == [
        (MAIN_TITLE, MAIN),
        (OTHER_TITLE, OTHER),
    ]
    assert "code" in options and "campaigns" in {c["name"] for c in fake.global_commands}

    options_given = [
        {"name": "campaign", "type": 3, "value": OTHER},
        {"name": "code", "type": 3, "value": "leaflet"},
    ]
    record = await fake.run_slash_command("subscribe", user_id=DEE, options=options_given)
    first = await first_response(fake, record)
    assert first["data"]["content"].startswith(f"Welcome to {OTHER_TITLE}.")
    origin = Origin("discord", str(DEE))
    assert await core.store.read(joined, origin) == [OTHER]
    row = await core.store.read(supporters_db.get, "discord", str(DEE))
    assert row is not None and row.source == "leaflet"

    record = await fake.run_slash_command("campaigns", user_id=DEE)
    menu = await first_response(fake, record)
    assert record.original_message_id is not None
    found = dc_buttons(menu["data"])
    assert list(found) == [f"○ {MAIN_TITLE}", f"✓ {OTHER_TITLE}"]
    pressed = await first_response(
        fake,
        await fake.press_button(record.original_message_id, found[f"○ {MAIN_TITLE}"], user_id=DEE),
    )
    assert pressed["type"] == 7  # the message itself is updated
    assert list(dc_buttons(pressed["data"])) == [f"✓ {MAIN_TITLE}", f"✓ {OTHER_TITLE}"]
    assert await core.store.read(joined, origin) == [MAIN, OTHER]

    # in a server /campaigns answers only its sender, and a press there is theirs
    in_server = await fake.run_slash_command(
        "campaigns", user_id=DEE, guild_id=GUILD, channel_id=CHANNEL
    )
    menu = await first_response(fake, in_server)
    assert in_server.ephemeral and in_server.original_message_id is not None
    leave = dc_buttons(menu["data"])[f"✓ {MAIN_TITLE}"]
    answer = await first_response(
        fake,
        await fake.press_button(in_server.original_message_id, leave, user_id=DEE, guild_id=GUILD),
    )
    assert answer["data"]["content"] == wording.campaign_left(MAIN_TITLE)
    assert await core.store.read(joined, origin) == [OTHER]


async def test_in_the_console_a_link_and_the_numbered_campaign_buttons(core: Core) -> None:
    screen = StringIO()
    chat = ConsoleChat(core, console=Console(file=screen, width=80), address="pat")
    await chat.handle_line(f"/start {OTHER}")
    assert f"Welcome to {OTHER_TITLE}." in screen.getvalue()
    await chat.handle_line("/campaigns")
    assert f"○ {MAIN_TITLE}" in screen.getvalue()
    await chat.handle_line("1")  # the first button: the default campaign
    assert wording.campaign_joined(MAIN_TITLE) in screen.getvalue()
    assert await core.store.read(joined, Origin("console", "pat")) == [MAIN, OTHER]
    screen.truncate(0)
    await chat.handle_line("/ask")
    shown = screen.getvalue()
    assert shown.index(f"{MAIN_TITLE}: ") < shown.index(f"{OTHER_TITLE}: ")
