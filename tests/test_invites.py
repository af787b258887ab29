"""Personal invite links: /invite on Telegram, Discord and the console, a friend who joins
through one counting once for the inviter, the count in /invite and /mydata, /forget
taking the code away, the staff's counts (never who) in `campaignbot stats` and on the
dashboard, and the `i_` prefix kept from source codes.

Every fixture is synthetic: made-up ids, names and words.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlite_utils import Database

from bots.console import ConsoleChat
from bots.discord.bot import DiscordBot
from bots.telegram.bot import TelegramBot
from campaigns import invites, wording
from campaigns.buttons import ButtonIds
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.dialogue import Context
from campaigns.invites import StartLinks
from campaigns.keys import Pseudonyms
from campaigns.model import Origin
from campaigns.packs import BUNDLED_PACKS, PackError, load_packs
from db import invites as invites_db
from db import supporters as supporters_db
from db.store import open_database
from settings import Settings
from tests.chat import GROUP, action_of, count, press, say, text_of
from tests.conftest import SECRET
from tests.fakes.discord import MEMBER_DEFAULT, FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.platforms import discord_online, telegram_online
from tests.seeding import pack_folder
from tests.web_support import add_users, make_settings, opened_core, prepared_db, run_cli, signed_in
from web.app import create_app

DEFAULT, OTHER = "one-step-ahead", "safer-apps"
INVITER = Origin("console", "inviter")
FRIEND = Origin("console", "friend")
CODE = re.compile(r"i_([a-z0-9]{10})\b")
TYPED = "i_jane-doe-07700900123"  # what a careless supporter might type as a code


def code_in(text: str) -> str:
    """The invite code (without its prefix) in a reply."""
    found = CODE.search(text.replace("\\_", "_"))  # Discord escapes the underscore
    assert found, text
    return found.group(1)


def two_packs(folder: Path) -> Path:
    """The bundled pack, and a copy of it as a second campaign."""
    text = (BUNDLED_PACKS / f"{DEFAULT}.toml").read_text()
    other = text.replace(f'slug = "{DEFAULT}"', f'slug = "{OTHER}"', 1).replace(
        'title = "One Step Ahead"', 'title = "Safer Apps"', 1
    )
    return pack_folder(folder, {DEFAULT: text, OTHER: other})


def joined_through(db: Database, origin: Origin) -> int:
    found = supporters_db.get(db, origin.platform, origin.chat)
    assert found is not None
    return invites_db.joined_through(db, found.key)


# --- codes ------------------------------------------------------------------------------


def test_codes_are_random_not_made_from_the_supporter(db: Database, ctx: Context) -> None:
    say(db, ctx, INVITER, "/start")
    say(db, ctx, FRIEND, "/start")
    inviter = supporters_db.get(db, "console", "inviter")
    friend = supporters_db.get(db, "console", "friend")
    assert inviter is not None and friend is not None
    with db.atomic():
        first = invites_db.code_for(db, inviter.key)
        again = invites_db.code_for(db, inviter.key)
        other = invites_db.code_for(db, friend.key)
    assert first == again  # one code per supporter, made on first use
    assert first != other
    for value in (str(inviter.id), inviter.key, inviter.address):
        assert value not in first and first not in value
    # drawn afresh, not worked out: the same supporter gets another code next time
    with db.atomic():
        invites_db.remove_code(db, inviter.key)
        redrawn = invites_db.code_for(db, inviter.key)
    assert redrawn != first
    assert len({invites_db.new_code() for _ in range(1000)}) == 1000


def test_invite_on_the_console_says_what_to_type(db: Database, ctx: Context) -> None:
    say(db, ctx, INVITER, "/start")
    [reply] = say(db, ctx, INVITER, "/invite")
    code = code_in(reply.text)
    assert f"/start i_{code}" in reply.text  # no adapter registered: the core's own words
    assert "One Step Ahead" in reply.text
    assert wording.joined_through(0) in reply.text  # "0 people joined through you"
    [again] = say(db, ctx, INVITER, "/invite")
    assert code_in(again.text) == code
    assert count(db, "SELECT count(*) FROM invites") == 1


def test_invite_needs_a_subscription_and_a_private_chat(db: Database, ctx: Context) -> None:
    assert text_of(say(db, ctx, INVITER, "/invite")) == wording.NOT_SUBSCRIBED
    say(db, ctx, GROUP, "/subscribe_group", admin=True)
    assert text_of(say(db, ctx, GROUP, "/invite")) == wording.GROUP_PRIVATE_ONLY
    assert count(db, "SELECT count(*) FROM invites") == 0


def test_a_friend_who_joins_counts_once_in_invite_and_mydata(db: Database, ctx: Context) -> None:
    say(db, ctx, INVITER, "/start")
    code = code_in(text_of(say(db, ctx, INVITER, "/invite")))
    welcome = text_of(say(db, ctx, FRIEND, f"/start i_{code}"))
    assert "You're subscribed" in welcome
    assert joined_through(db, INVITER) == 1
    assert wording.joined_through(1) in text_of(say(db, ctx, INVITER, "/invite"))
    # coming back (after /stop, or /start again) is not joining again
    say(db, ctx, FRIEND, "/start i_" + code)
    say(db, ctx, FRIEND, "/stop")
    say(db, ctx, FRIEND, "/start i_" + code)
    assert joined_through(db, INVITER) == 1
    [mydata] = say(db, ctx, INVITER, "/mydata")
    assert wording.invite_fact(f"i_{code}", 1)[1] in mydata.text
    assert mydata.attachment is not None
    exported = json.loads(mydata.attachment.content)
    assert exported["invite"]["code"] == f"i_{code}"
    assert exported["invite"]["people_joined_through_it"] == 1
    # the friend's own /mydata says nothing of who brought them, nor the inviter's
    [theirs] = say(db, ctx, FRIEND, "/mydata")
    assert theirs.attachment is not None and code not in theirs.attachment.content.decode()
    assert "invite" not in json.loads(theirs.attachment.content)


def test_bad_own_and_unknown_codes_count_nothing_and_still_subscribe(
    db: Database, ctx: Context
) -> None:
    say(db, ctx, INVITER, "/start")
    code = code_in(text_of(say(db, ctx, INVITER, "/invite")))
    for n, argument in enumerate(
        [
            "i_",
            "i_short",
            f"i_{code}x",
            "i_" + "0" * 10,
            "i_abcdefghjk",
            f"i_{code.upper()}!",
            TYPED,
        ]
    ):
        stranger = Origin("console", f"stranger-{n}")
        assert "You're subscribed" in text_of(say(db, ctx, stranger, f"/start {argument}"))
    assert joined_through(db, INVITER) == 0
    assert count(db, "SELECT count(*) FROM supporters WHERE address LIKE 'stranger-%'") == 7
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:  # what was typed after i_ is kept nowhere
        assert "07700900123" not in str(db.execute(f"SELECT * FROM [{table}]").fetchall())
    # someone can't bring themselves: not with their own link, nor through the core's call
    say(db, ctx, INVITER, f"/start i_{code}")
    inviter = supporters_db.get(db, "console", "inviter")
    assert inviter is not None
    with db.atomic():
        assert not invites.record_referral(db, code, inviter, DEFAULT)
    assert joined_through(db, INVITER) == 0


def test_forget_removes_the_code_and_the_old_link_counts_nobody(db: Database, ctx: Context) -> None:
    say(db, ctx, INVITER, "/start")
    code = code_in(text_of(say(db, ctx, INVITER, "/invite")))
    say(db, ctx, FRIEND, f"/start i_{code}")
    assert "invite link" in wording.FORGET_CONFIRM
    say(db, ctx, INVITER, "/forget yes")
    assert count(db, "SELECT count(*) FROM invites") == 0
    # the friend it brought stays in the totals, under a key no supporter row has
    assert count(db, "SELECT count(*) FROM referrals") == 1
    linked = "SELECT count(*) FROM referrals WHERE inviter_key IN (SELECT key FROM supporters)"
    assert count(db, linked) == 0
    late = Origin("console", "late-friend")
    assert "You're subscribed" in text_of(say(db, ctx, late, f"/start i_{code}"))
    assert count(db, "SELECT count(*) FROM referrals") == 1
    # coming back is starting afresh: a new code, nobody joined through it yet
    say(db, ctx, INVITER, "/start")
    [fresh] = say(db, ctx, INVITER, "/invite")
    assert code_in(fresh.text) != code and wording.joined_through(0) in fresh.text


def test_forget_by_button_removes_the_code_too(db: Database, ctx: Context) -> None:
    say(db, ctx, INVITER, "/start")
    say(db, ctx, INVITER, "/invite")
    question = say(db, ctx, INVITER, "/forget")
    press(db, ctx, INVITER, action_of(question, wording.FORGET_YES))
    assert count(db, "SELECT count(*) FROM invites") == 0


# --- a campaign of one's own ------------------------------------------------------------


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Database, Context]]:
    catalog = Catalog.load(two_packs(tmp_path / "packs"))
    database = open_database(":memory:")
    with database.atomic():
        catalog.sync(database)
    yield database, Context(catalog, ButtonIds(SECRET), Pseudonyms(SECRET))
    database.close()


def test_invite_to_a_campaign_one_joined(two: tuple[Database, Context]) -> None:
    db, ctx = two
    say(db, ctx, INVITER, "/start")
    refused = text_of(say(db, ctx, INVITER, f"/invite {OTHER}"))
    assert refused == wording.invite_usage([DEFAULT])
    assert text_of(say(db, ctx, INVITER, "/invite nowhere")) == wording.invite_usage([DEFAULT])
    say(db, ctx, INVITER, f"/start {OTHER}")  # joins the second campaign too
    [reply] = say(db, ctx, INVITER, f"/invite {OTHER.upper()}")
    code = code_in(reply.text)
    assert f"/start {OTHER}-i_{code}" in reply.text and "Safer Apps" in reply.text
    # the default campaign's link carries no campaign: a plain start joins it
    assert f"/start i_{code}" in text_of(say(db, ctx, INVITER, "/invite"))
    say(db, ctx, FRIEND, f"/start {OTHER}-i_{code}")
    rows = db.execute("SELECT campaign, platform FROM referrals").fetchall()
    assert rows == [(OTHER, "console")]
    friend = supporters_db.get(db, "console", "friend")
    assert friend is not None
    joined = db.execute(
        "SELECT campaign FROM subscriptions WHERE supporter_id = ?", [friend.id]
    ).fetchall()
    assert joined == [(OTHER,)]


def test_the_invite_words_for_a_next_step(db: Database, ctx: Context) -> None:
    say(db, ctx, INVITER, "/start")
    inviter = supporters_db.get(db, "console", "inviter")
    assert inviter is not None
    links = {"telegram": StartLinks(url="https://t.me/x_bot?start={argument}")}
    with db.atomic():
        line = invites.invite_link(db, links, inviter)
        text = invites.invite_text(db, links, inviter, "One Step Ahead")
        code = invites_db.code_for(db, inviter.key)
    assert line == f"/start i_{code}"  # a console supporter: no telegram link for them
    assert line in text and wording.joined_through(0) in text


# --- the console, Telegram and Discord, end to end --------------------------------------


async def test_console_invite_and_a_friend_joining(core: Core) -> None:
    screens = {name: io.StringIO() for name in ("ines", "fred")}
    chats = {
        name: ConsoleChat(core, console=Console(file=screen, width=100), address=name)
        for name, screen in screens.items()
    }
    await chats["ines"].handle_line("/start")
    await chats["ines"].handle_line("/invite")
    shown = " ".join(screens["ines"].getvalue().split())
    code = code_in(shown)
    assert f"/start i_{code}" in shown
    await chats["fred"].handle_line(f"/start i_{code}")
    await chats["ines"].handle_line("/invite")
    assert wording.joined_through(1) in " ".join(screens["ines"].getvalue().split())


SAM, ALEX = 4301, 4302


@pytest.fixture
async def telegram(core: Core) -> AsyncIterator[tuple[FakeTelegram, TelegramBot]]:
    async with FakeTelegram() as fake:
        fake.private_chat(SAM, "Sam")
        fake.private_chat(ALEX, "Alex")
        async with telegram_online(core, fake) as bot:
            yield fake, bot


async def test_telegram_invite_is_a_deep_link_that_counts_a_friend(
    telegram: tuple[FakeTelegram, TelegramBot], core: Core
) -> None:
    fake, bot = telegram
    username = bot.app.bot.username
    assert username == "campaign_test_bot"  # the fake's, from getMe
    fake.user_sends(SAM, SAM, "/start")
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 2)
    fake.user_sends(SAM, SAM, "/invite")
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 3)
    reply = fake.sent_to(SAM)[-1]["text"]
    code = code_in(reply)
    link = f"https://t.me/{username}?start=i_{code}"
    assert link in reply
    # the friend opens the link: Telegram sends "/start i_<code>" from their chat
    fake.user_sends(ALEX, ALEX, f"/start i_{code}")
    await fake.wait_for(lambda: len(fake.sent_to(ALEX)) >= 2)
    assert "You're subscribed" in fake.sent_to(ALEX)[0]["text"]
    fake.user_sends(SAM, SAM, "/invite")
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 4)
    assert wording.joined_through(1) in fake.sent_to(SAM)[-1]["text"]
    fake.user_sends(SAM, SAM, "/mydata")
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 5)
    assert wording.joined_through(1) in fake.sent_to(SAM)[-1]["caption"]
    assert await core.store.read(count, "SELECT count(*) FROM referrals") == 1


async def test_telegram_menu_lists_invite(telegram: tuple[FakeTelegram, TelegramBot]) -> None:
    fake, _ = telegram
    menus = [[command["command"] for command in menu] for menu in fake.commands.values()]
    assert menus and all("invite" in menu for menu in menus if "forget" in menu)


DANA, EVAN, GUILD = 5301, 5302, 7300
SUBSCRIBE_CODE = "code"  # /subscribe's option for a start link's argument


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    server.add_user(DANA, "dana")
    server.add_user(EVAN, "evan")
    server.add_guild(GUILD, "Supporters", [GUILD + 1], members={DANA: MEMBER_DEFAULT})
    yield server
    await server.stop()


@pytest.fixture
async def discord(core: Core, discord_fake: FakeDiscord) -> AsyncIterator[DiscordBot]:
    async with discord_online(core, discord_fake) as bot:
        yield bot


async def slash(fake: FakeDiscord, name: str, user: int, **options: str) -> str:
    record = await fake.run_slash_command(
        name, user_id=user, options=[{"name": k, "value": v} for k, v in options.items()]
    )
    await fake.wait_for_response(record)
    await fake.wait_for(lambda: record.acknowledged)
    return "\n".join(str(r["data"].get("content") or "") for r in record.responses)


async def test_discord_invite_gives_the_code_and_the_install_link(
    discord: DiscordBot, discord_fake: FakeDiscord, core: Core
) -> None:
    assert "invite" in {command["name"] for command in discord_fake.global_commands}
    await slash(discord_fake, "subscribe", DANA)
    reply = await slash(discord_fake, "invite", DANA)
    code = code_in(reply)
    assert f"/subscribe code:i\\_{code}" in reply  # markdown-escaped, shown as typed
    install = f"https://discord.com/oauth2/authorize?client_id={discord.application_id}"
    assert install in reply and discord.application_id == discord_fake.world.application_id
    # the friend types what they were given
    await slash(discord_fake, "subscribe", EVAN, **{SUBSCRIBE_CODE: f"i_{code}"})
    assert await core.store.read(count, "SELECT count(*) FROM referrals") == 1
    assert wording.joined_through(1) in await slash(discord_fake, "invite", DANA)
    # the campaign option offers the campaigns by name; the main one needs no campaign
    named = await slash(discord_fake, "invite", DANA, campaign=DEFAULT)
    assert code_in(named) == code and "One Step Ahead" in named


# --- the staff's counts: per campaign and platform, never who ---------------------------


def seed_referrals(settings: Settings) -> list[str]:
    """Two inviters; three friends join (two on Telegram, one on Discord). Returns what
    would identify anyone: codes, keys and addresses."""
    db = prepared_db(settings)
    catalog = Catalog.load(settings.packs)
    ctx = Context(catalog, ButtonIds(SECRET), Pseudonyms(SECRET))
    first, second = Origin("telegram", "81001"), Origin("discord", "81002")
    say(db, ctx, first, "/start")
    say(db, ctx, second, "/start")
    a = code_in(text_of(say(db, ctx, first, "/invite")))
    b = code_in(text_of(say(db, ctx, second, "/invite")))
    say(db, ctx, Origin("telegram", "81003"), f"/start i_{a}")
    say(db, ctx, Origin("telegram", "81004"), f"/start i_{a}")
    say(db, ctx, Origin("discord", "81005"), f"/start i_{b}")
    keys = [row[0] for row in db.execute("SELECT key FROM supporters").fetchall()]
    db.close()
    return [a, b, *keys, "81001", "81002", "81003", "81004", "81005"]


@pytest.fixture
def referred(tmp_path: Path) -> tuple[Settings, list[str]]:
    settings = make_settings(tmp_path)
    return settings, seed_referrals(settings)


def test_stats_count_referrals_per_campaign_and_platform(
    referred: tuple[Settings, list[str]],
) -> None:
    settings, identifying = referred
    shown = run_cli(["stats", "--json"], settings)
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["referrals"]
    assert {(r["campaign"], r["platform"], r["joined"]) for r in rows} == {
        (DEFAULT, "telegram", 2),
        (DEFAULT, "discord", 1),
    }
    assert set(rows[0]) == {"week", "campaign", "platform", "joined"}
    table = run_cli(["stats", "--csv", "--table", "referrals"], settings)
    assert table.returncode == 0, table.stderr
    read = list(csv.reader(io.StringIO(table.stdout)))
    assert read[0] == ["week", "campaign", "platform", "joined"]
    assert sorted(row[2:] for row in read[1:]) == [["discord", "1"], ["telegram", "2"]]
    terminal = run_cli(["stats"], settings)
    assert "Joined through invite links" in terminal.stdout
    only = run_cli(["stats", "--json", "--platform", "discord"], settings)
    assert [r["joined"] for r in json.loads(only.stdout)["referrals"]] == [1]
    # whoever joins through an invite brings no source of their own
    leaflet = run_cli(["stats", "--json", "--source", "leaflet"], settings)
    assert json.loads(leaflet.stdout)["referrals"] == []
    for output in (shown.stdout, table.stdout, terminal.stdout):
        for value in identifying:
            assert value not in output


async def test_the_dashboard_shows_referrals_per_campaign(
    referred: tuple[Settings, list[str]],
) -> None:
    settings, identifying = referred
    db = open_database(settings.db)
    add_users(db)
    db.close()
    with opened_core(settings) as core:
        async with signed_in(create_app(core, settings), "stan") as http:
            page = await http.get("/")
            assert page.status_code == 200
            assert "Joined through invite links" in page.text
            download = await http.get("/overview/referrals.csv")
            assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows == [
        ["campaign", "platform", "this_week", "total"],
        [DEFAULT, "discord", "1", "1"],
        [DEFAULT, "telegram", "2", "2"],
    ]
    for value in identifying:
        assert value not in page.text and value not in download.text


# --- the prefix is the invites' ---------------------------------------------------------


def test_packs_cant_declare_an_invite_source(tmp_path: Path) -> None:
    text = (BUNDLED_PACKS / f"{DEFAULT}.toml").read_text()
    for code in ("i_leaflet", "invite"):
        folder = tmp_path / code
        folder.mkdir()
        (folder / "pack.toml").write_text(
            text.replace('sources = ["readme"', f'sources = ["{code}", "readme"', 1)
        )
        with pytest.raises(PackError, match="kept for invite links"):
            load_packs(folder)


def test_sources_add_refuses_an_invite_code(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    prepared_db(settings).close()
    for code in ("i_flyer", "invite"):
        refused = run_cli(["sources", "add", code], settings)
        assert refused.returncode != 0
        assert "kept for invite links" in refused.stderr + refused.stdout
        assert "Traceback" not in refused.stderr
    assert run_cli(["sources", "add", "flyer_i"], settings).returncode == 0
