"""The Discord adapter: the real discord.py client against the strict fake Discord server.

Every fixture is synthetic: made-up ids and names.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlite_utils import Database

from bots.discord.bot import DiscordBot
from campaigns import wording
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.model import Button, ChatKind, Message
from db import supporters as supporters_db
from tests.chat import count
from tests.fakes.discord import (
    MEMBER_DEFAULT,
    PRIVILEGED_INTENTS,
    FakeDiscord,
    FakeDiscordError,
)
from tests.platforms import discord_bot, first_response

SAM, ALEX, CLOSED, DELETED, ORGANISER = 5101, 5102, 5103, 5104, 900
GUILD, CHANNEL = 7000, 7001
MANAGE_GUILD = 1 << 5
EPHEMERAL = 64


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    for user, name in (
        (SAM, "sam"),
        (ALEX, "alex"),
        (CLOSED, "casey"),
        (DELETED, "dee"),
        (ORGANISER, "olu"),
    ):
        server.add_user(user, name)
    server.add_guild(
        GUILD,
        "Supporters",
        [CHANNEL],
        members={
            SAM: MEMBER_DEFAULT,
            ALEX: MEMBER_DEFAULT,
            ORGANISER: MEMBER_DEFAULT | MANAGE_GUILD,
        },
    )
    yield server
    await server.stop()


async def start_bot(
    core: Core,
    fake: FakeDiscord,
    *,
    organiser_guild: int | None = GUILD,
    organiser_role: int | None = None,
) -> DiscordBot:
    bot = discord_bot(core, fake, organiser_guild=organiser_guild, organiser_role=organiser_role)
    await bot.online()
    return bot


@pytest.fixture
async def bot(core: Core, fake: FakeDiscord) -> AsyncIterator[DiscordBot]:
    started = await start_bot(core, fake)
    yield started
    await started.offline()


async def slash(fake: FakeDiscord, name: str, user: int = SAM, **kwargs: Any) -> dict[str, Any]:
    record = await fake.run_slash_command(name, user_id=user, **kwargs)
    return await first_response(fake, record)


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for row in message.get("components", []):
        for component in row.get("components", []):
            found[component.get("label", "")] = component
    return found


async def ask_message_of(fake: FakeDiscord, user: int, at_least: int = 1) -> dict[str, Any]:
    """The latest ask in the user's DMs (waiting for it: followups come after the reply)."""

    def asks() -> list[dict[str, Any]]:
        return [m for m in fake.dms_to(user) if m.get("embeds")]

    await fake.wait_for(lambda: len(asks()) >= at_least)
    return asks()[-1]


async def test_connects_without_privileged_intents_and_registers_commands(
    bot: DiscordBot, fake: FakeDiscord
) -> None:
    assert fake.intents is not None and not fake.intents & PRIVILEGED_INTENTS
    names = {command["name"] for command in fake.global_commands}
    assert {
        "subscribe",
        "unsubscribe",
        "pause",
        "resume",
        "topics",
        "ask",
        "done",
        "skip",
        "mydata",
        "forget",
        "help",
        "channel",
    } <= names
    # the organiser commands live in the charity's own server only
    assert "campaign" not in names
    assert {command["name"] for command in fake.guild_commands[GUILD]} == {"campaign"}
    assert fake.rejected == []


async def test_subscribe_in_a_dm_shows_the_ask_with_its_buttons(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    first = await slash(fake, "subscribe", options=[{"name": "code", "type": 3, "value": "social"}])
    assert "You're subscribed" in first["data"]["content"]
    ask = await ask_message_of(fake, SAM)
    embed = ask["embeds"][0]
    assert embed["title"].startswith("One Step Ahead: ")
    assert "20,254" in json.dumps(embed) and "Internet Watch Foundation" in json.dumps(embed)
    found = buttons(ask)
    assert list(found) == ["Write to your MP", "I did it", "Not this week"]
    assert found["Write to your MP"]["url"] == "https://www.writetothem.com/"
    assert found["I did it"]["custom_id"].startswith("cb1:done:")
    row = await core.store.read(supporters_db.get, "discord", str(SAM))
    assert row is not None and row.source == "social"
    assert fake.rejected == []


async def test_pressing_counts_once_and_a_forged_button_changes_nothing(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    await slash(fake, "subscribe")
    first_ask = await ask_message_of(fake, SAM)
    await slash(fake, "ask")
    second_ask = await ask_message_of(fake, SAM, at_least=2)
    done = buttons(first_ask)["I did it"]["custom_id"]
    assert buttons(second_ask)["I did it"]["custom_id"] == done  # the same ask, the same button
    first = await first_response(
        fake, await fake.press_button(int(first_ask["id"]), done, user_id=SAM)
    )
    assert first["type"] == 7  # the message itself is updated
    assert wording.DONE_THANKS in json.dumps(first["data"])
    assert list(buttons(first["data"])) == ["Write to your MP"]  # the link stays
    again = await first_response(
        fake, await fake.press_button(int(second_ask["id"]), done, user_id=SAM)
    )
    assert again["data"]["content"] == wording.DONE_ALREADY
    # Discord only sends presses of buttons a message really has, so a forged id has
    # to come on a message: one that carries a badly signed button.
    forged = done[:-3] + "AAA"
    await bot.send(
        str(SAM),
        ChatKind.PRIVATE,
        Message(text="x", buttons=((Button("I did it", id=forged),),)),
    )
    carrier = fake.dms_to(SAM)[-1]
    refused = await first_response(
        fake, await fake.press_button(int(carrier["id"]), forged, user_id=SAM)
    )
    assert refused["data"]["content"] == wording.BUTTON_STALE
    assert await core.store.read(count, "SELECT count(*) FROM actions") == 1


async def test_buttons_keep_working_after_a_restart(core: Core, fake: FakeDiscord) -> None:
    first = await start_bot(core, fake)
    await slash(fake, "subscribe")
    await first.offline()
    second = await start_bot(core, fake)
    try:
        ask = await ask_message_of(fake, SAM)
        pressed = await first_response(
            fake,
            await fake.press_button(
                int(ask["id"]), buttons(ask)["Not this week"]["custom_id"], user_id=SAM
            ),
        )
        assert wording.SKIP_NOTED in json.dumps(pressed["data"])
        assert (
            await core.store.read(count, "SELECT count(*) FROM actions WHERE kind = 'skipped'") == 1
        )
    finally:
        await second.offline()


async def test_commands_in_a_server_are_ephemeral(bot: DiscordBot, fake: FakeDiscord) -> None:
    record = await fake.run_slash_command("help", user_id=SAM, guild_id=GUILD, channel_id=CHANNEL)
    await first_response(fake, record)
    assert record.ephemeral


async def test_topics_select_menu(bot: DiscordBot, fake: FakeDiscord, core: Core) -> None:
    await slash(fake, "subscribe")
    record = await fake.run_slash_command("topics", user_id=SAM)
    menu = await first_response(fake, record)
    select = menu["data"]["components"][0]["components"][0]
    assert [option["value"] for option in select["options"]][:2] == ["ai", "pre-screening"]
    assert record.original_message_id is not None
    chosen = await fake.select(
        record.original_message_id, select["custom_id"], ["ai", "encryption"], user_id=SAM
    )
    reply = await first_response(fake, chosen)
    assert "ai, encryption" in reply["data"]["content"]
    row = await core.store.read(supporters_db.get, "discord", str(SAM))
    assert row is not None
    assert await core.store.read(supporters_db.topics, row.id) == ["ai", "encryption"]


async def test_mydata_sends_a_json_file_and_forget_erases_after_confirming(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    await slash(fake, "subscribe")
    record = await fake.run_slash_command("mydata", user_id=SAM)
    await first_response(fake, record)
    call = next(c for c in reversed(fake.requests) if c.files)
    assert call.files == ["campaignbot-mydata.json"]
    confirm = await slash(fake, "forget")
    confirm_message = fake.message(confirm["message_id"]) if confirm.get("message_id") else None
    assert confirm_message is not None
    yes = buttons(confirm_message)[wording.FORGET_YES]["custom_id"]
    erased = await first_response(
        fake, await fake.press_button(int(confirm_message["id"]), yes, user_id=SAM)
    )
    assert wording.FORGOTTEN in json.dumps(erased["data"])
    assert await core.store.read(supporters_db.get, "discord", str(SAM)) is None


async def test_server_channel_needs_manage_server_and_counts_each_member(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    channel_option = [{"name": "channel", "type": 7, "value": str(CHANNEL)}]
    record = await fake.run_slash_command(
        "channel",
        user_id=ORGANISER,
        guild_id=GUILD,
        channel_id=CHANNEL,
        options=channel_option,
    )
    await first_response(fake, record)
    await fake.wait_for(lambda: any(m.get("embeds") for m in fake.messages_in(CHANNEL)))
    post = next(m for m in fake.messages_in(CHANNEL) if m.get("embeds"))
    done = buttons(post)["I did it"]["custom_id"]
    for member in (SAM, ALEX):
        answer = await first_response(
            fake, await fake.press_button(int(post["id"]), done, user_id=member, guild_id=GUILD)
        )
        assert answer["data"]["content"] == wording.DONE_THANKS
        assert answer["data"]["flags"] & EPHEMERAL
    assert await core.store.read(count, "SELECT count(*) FROM actions WHERE kind = 'done'") == 2


async def test_a_member_without_manage_server_cannot_set_a_channel(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    options = [{"name": "channel", "type": 7, "value": str(CHANNEL)}]
    # Discord itself hides /channel from members without Manage Server...
    with pytest.raises(FakeDiscordError, match="lacks the permissions"):
        await fake.run_slash_command(
            "channel", user_id=SAM, guild_id=GUILD, channel_id=CHANNEL, options=options
        )
    # ...and a crafted interaction that gets through is refused by the bot
    record = await fake.run_slash_command(
        "channel", user_id=SAM, guild_id=GUILD, channel_id=CHANNEL, options=options, forge=True
    )
    answer = await first_response(fake, record)
    assert answer["data"]["content"] == wording.GROUP_ONLY_ADMINS and record.ephemeral
    assert await core.store.read(count, "SELECT count(*) FROM supporters") == 0


async def test_organiser_commands_are_refused_to_others(bot: DiscordBot, fake: FakeDiscord) -> None:
    record = await fake.run_slash_command(
        "campaign", subcommand="stats", user_id=SAM, guild_id=GUILD, channel_id=CHANNEL
    )
    answer = await first_response(fake, record)
    assert answer["data"]["content"] == "That command is not available."


async def test_a_broadcast_reaches_dms_and_marks_closed_and_deleted_users_gone(
    core: Core, fake: FakeDiscord
) -> None:
    bot = await start_bot(core, fake)
    engine = DeliveryEngine(core.store, core.ctx, {"discord": bot}, tuning=Tuning(workers=4))
    core.attach(engine)
    try:
        for user in (SAM, ALEX, CLOSED, DELETED):
            await slash(fake, "subscribe", user=user)
        fake.close_dms(CLOSED)
        fake.delete_user(DELETED)
        before = {user: len(fake.dms_to(user)) for user in (SAM, ALEX)}
        core.organisers = frozenset({f"discord:{ORGANISER}"})
        record = await fake.run_slash_command(
            "campaign",
            user_id=ORGANISER,
            guild_id=GUILD,
            channel_id=CHANNEL,
            subcommand="sendnow",
            options=[
                {"name": "campaign", "type": 3, "value": "one-step-ahead"},
                {"name": "ask", "type": 3, "value": "pre-screening"},
            ],
        )
        confirm = await first_response(fake, record)
        message = fake.message(confirm["message_id"])
        assert message is not None
        send = buttons(message)["Send it now"]["custom_id"]
        press = await fake.press_button(int(message["id"]), send, user_id=ORGANISER, guild_id=GUILD)
        await first_response(fake, press)
        for task in list(engine._running.values()):
            await task
        for user in (SAM, ALEX):
            assert len(fake.dms_to(user)) == before[user] + 1
            assert "Stop abuse imagery" in json.dumps(fake.dms_to(user)[-1])

        def statuses(db: Database) -> dict[str, str]:
            return dict(db.execute("SELECT address, status FROM supporters").fetchall())

        found = await core.store.read(statuses)
        assert found[str(CLOSED)] == "gone" and found[str(DELETED)] == "gone"
        assert found[str(SAM)] == "active"
        audit = await core.store.read(count, "SELECT count(*) FROM audit WHERE action = 'send-now'")
        assert audit == 1
    finally:
        await engine.stop()
        await bot.offline()


async def test_a_429_is_honoured(bot: DiscordBot, fake: FakeDiscord, core: Core) -> None:
    fake.fail_next("POST", "/channels/{channel_id}/messages", status=429, retry_after=0.3)
    await bot.send(str(SAM), ChatKind.PRIVATE, Message(text="hello"))
    assert fake.rate_limited_count == 1
    assert fake.dms_to(SAM)[-1]["content"] == "hello"


def test_bots_in_one_process_share_one_api_address_and_put_it_back() -> None:
    """discord.py reads the REST address from a class attribute: a second bot asking for
    another address is refused instead of silently moving the first bot's requests,
    and the last bot to stop puts the address from before back."""
    import discord

    from bots.discord.connection import point_api_at

    before = discord.http.Route.BASE
    first = point_api_at("http://127.0.0.1:1/api/v10")
    second = point_api_at("http://127.0.0.1:1/api/v10/")
    try:
        assert discord.http.Route.BASE == "http://127.0.0.1:1/api/v10"
        with pytest.raises(ValueError, match="different API address"):
            point_api_at("http://127.0.0.1:2/api/v10")
        first()
        first()  # a second release changes nothing
        assert discord.http.Route.BASE == "http://127.0.0.1:1/api/v10"
    finally:
        second()
    assert before == discord.http.Route.BASE
