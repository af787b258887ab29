"""Self-tests for the fake Discord: the real discord.py against it, and raw refusals.

Every fixture is synthetic: made-up ids, names and tokens.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakes.discord import (
    MEMBER_DEFAULT,
    PRIVILEGED_INTENTS,
    FakeDiscord,
    FakeDiscordError,
    point_discord_py,
)

SAM, ALEX, GONE = 4201, 4202, 4203  # user ids
GUILD, GENERAL, OTHER = 9000, 9001, 9002  # guild and channel ids
EPHEMERAL = 64


# --- a small bot built on the real discord.py -----------------------------------
class PersistentView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="I did it", custom_id="test:button", style=discord.ButtonStyle.success)
    async def done(
        self, interaction: discord.Interaction, button: discord.ui.Button[PersistentView]
    ) -> None:
        await interaction.response.send_message("Thanks!", ephemeral=True)


class TopicView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.select(
        custom_id="test:select",
        options=[
            discord.SelectOption(label="Schools", value="schools"),
            discord.SelectOption(label="Online", value="online"),
        ],
    )
    async def pick(
        self, interaction: discord.Interaction, select: discord.ui.Select[TopicView]
    ) -> None:
        await interaction.response.edit_message(content=f"topics: {', '.join(select.values)}")


class CampaignTestBot(discord.Client):
    def __init__(self, intents: discord.Intents | None = None) -> None:
        super().__init__(intents=intents or discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.errors: list[Exception] = []
        self.seen: list[discord.Message] = []
        self.gate = asyncio.Event()
        tree = self.tree

        @tree.command(name="ping", description="Answer privately")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True, view=PersistentView())

        @tree.command(name="slow", description="Defer, then finish")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.edit_original_response(content="done")
            await interaction.followup.send("one more thing", ephemeral=True)

        @tree.command(name="late", description="Answer when the test says so")
        async def late(interaction: discord.Interaction) -> None:
            await self.gate.wait()
            try:
                await interaction.response.send_message("too late")
            except discord.HTTPException as error:
                self.errors.append(error)

        @tree.command(name="topic", description="Choose a topic")
        @app_commands.describe(name="The topic")
        async def topic(interaction: discord.Interaction, name: str, weeks: int = 1) -> None:
            await interaction.response.send_message(f"{name} for {weeks}", ephemeral=True)

    async def setup_hook(self) -> None:
        self.add_view(PersistentView())
        self.add_view(TopicView())
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_user(SAM, "sam")
        server.add_user(ALEX, "alex", dms_open=False)
        server.add_user(GONE, "gone")
        server.add_guild(GUILD, "Supporters", [GENERAL, OTHER], members={SAM: MEMBER_DEFAULT})
        yield server
        assert server.internal_errors == []


async def start_bot(server: FakeDiscord, bot: CampaignTestBot) -> asyncio.Task[None]:
    task = asyncio.create_task(bot.start(server.token))
    ready = asyncio.create_task(bot.wait_until_ready())
    await asyncio.wait([task, ready], timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()  # raise the start-up error
    assert bot.is_ready()
    return task


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[CampaignTestBot]:
    with point_discord_py(fake):
        client = CampaignTestBot()
        task = await start_bot(fake, client)
        yield client
        await client.close()
        await task


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    fake: FakeDiscord,
    method: str,
    path: str,
    *,
    body: Any = None,
    auth: str | None = "bot",
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One raw request; returns status, parsed body and headers."""
    sent = dict(headers or {})
    if auth == "bot":
        sent["Authorization"] = f"Bot {fake.token}"
    elif auth is not None:
        sent["Authorization"] = auth
    url = path if path.startswith("http") else fake.api_url + path
    async with http.request(method, url, json=body, data=data, headers=sent) as response:
        text = await response.text()
        parsed = json.loads(text) if text else None
        return response.status, parsed, dict(response.headers)


# --- the real discord.py ----------------------------------------------------------
async def test_discord_py_logs_in_connects_and_syncs(
    fake: FakeDiscord, bot: CampaignTestBot
) -> None:
    assert bot.user is not None and bot.user.id == fake.world.bot.id
    assert bot.application_id == fake.world.application_id
    guild = bot.get_guild(GUILD)
    assert guild is not None and {c.id for c in guild.text_channels} == {GENERAL, OTHER}
    assert fake.intents is not None and fake.intents & PRIVILEGED_INTENTS == 0
    assert {"os", "browser", "device"} <= fake.identifies[0]["properties"].keys()
    assert fake.gateway.queries == [{"v": "10", "encoding": "json", "compress": "zlib-stream"}]
    assert sorted(c["name"] for c in fake.global_commands) == ["late", "ping", "slow", "topic"]
    routes = [(c.method, c.route) for c in fake.requests]
    assert routes[:3] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
        ("PUT", "/applications/{application_id}/commands"),
    ]
    assert fake.rejected == [] and fake.rate_limited_count == 0


async def test_slash_command_answers_ephemerally(fake: FakeDiscord, bot: CampaignTestBot) -> None:
    record = await fake.run_slash_command("ping", user_id=SAM, guild_id=GUILD)
    assert record.payload["member"]["user"]["id"] == str(SAM) and record.payload["version"] == 1
    response = await fake.wait_for_response(record)
    assert response["type"] == 4 and response["data"]["flags"] & EPHEMERAL
    assert response["data"]["content"] == "pong"
    assert record.ephemeral and fake.messages_in(GENERAL) == []
    [shown] = fake.messages_in(GENERAL, include_ephemeral=True)
    assert shown["components"][0]["components"][0]["custom_id"] == "test:button"


async def test_persistent_button_on_a_posted_message(
    fake: FakeDiscord, bot: CampaignTestBot
) -> None:
    channel = bot.get_channel(GENERAL)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("This week: write to your MP.", view=PersistentView())
    record = await fake.press_button(sent.id, "test:button", user_id=SAM)
    assert record.payload["message"]["id"] == str(sent.id)
    assert record.data == {"custom_id": "test:button", "component_type": 2}
    response = await fake.wait_for_response(record)
    assert response["data"] == {"tts": False, "content": "Thanks!", "flags": EPHEMERAL}
    with pytest.raises(FakeDiscordError, match="no message"):
        await fake.press_button(123456, "test:button", user_id=SAM)
    forged = await fake.press_button(123456, "test:button", user_id=SAM, guild_id=GUILD, forge=True)
    assert forged.payload["message"]["id"] == "123456"  # the bot must refuse such presses itself


async def test_button_on_an_ephemeral_reply_only_for_its_user(
    fake: FakeDiscord, bot: CampaignTestBot
) -> None:
    record = await fake.run_slash_command("ping", user_id=SAM, guild_id=GUILD)
    await fake.wait_for_response(record)
    assert record.original_message_id is not None
    fake.world.guilds[GUILD].members[ALEX] = MEMBER_DEFAULT
    with pytest.raises(FakeDiscordError, match="someone else"):
        await fake.press_button(record.original_message_id, "test:button", user_id=ALEX)
    with pytest.raises(FakeDiscordError, match="no component"):
        await fake.press_button(record.original_message_id, "test:other", user_id=SAM)
    press = await fake.press_button(record.original_message_id, "test:button", user_id=SAM)
    assert (await fake.wait_for_response(press))["data"]["content"] == "Thanks!"


async def test_select_updates_the_message(fake: FakeDiscord, bot: CampaignTestBot) -> None:
    channel = bot.get_channel(GENERAL)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("Pick a topic", view=TopicView())
    with pytest.raises(FakeDiscordError, match="not all options"):
        await fake.select(sent.id, "test:select", ["weather"], user_id=SAM)
    record = await fake.select(sent.id, "test:select", ["online"], user_id=SAM)
    assert (await fake.wait_for_response(record))["type"] == 7
    assert fake.messages_in(GENERAL)[0]["content"] == "topics: online"


async def test_slash_command_in_a_dm_with_options(fake: FakeDiscord, bot: CampaignTestBot) -> None:
    record = await fake.run_slash_command(
        "topic", user_id=SAM, options=[{"name": "name", "value": "schools"}]
    )
    assert (
        record.payload["context"] == 1
        and "user" in record.payload
        and "member" not in record.payload
    )
    assert record.channel_id == fake.dm_channel_of(SAM)
    assert record.data["options"] == [{"name": "name", "type": 3, "value": "schools"}]
    assert (await fake.wait_for_response(record))["data"]["content"] == "schools for 1"
    with pytest.raises(FakeDiscordError, match="missing"):
        await fake.run_slash_command("topic", user_id=SAM, options=[{"name": "weeks", "value": 2}])
    with pytest.raises(FakeDiscordError, match="type"):
        await fake.run_slash_command("topic", user_id=SAM, options=[{"name": "name", "value": 5}])
    with pytest.raises(FakeDiscordError, match="not registered"):
        await fake.run_slash_command("nope", user_id=SAM)


async def test_defer_edit_original_and_followup(fake: FakeDiscord, bot: CampaignTestBot) -> None:
    record = await fake.run_slash_command("slow", user_id=SAM, guild_id=GUILD)
    await fake.wait_for(lambda: len(record.responses) == 3)
    kinds = [(r["kind"], r.get("type")) for r in record.responses]
    assert kinds == [("callback", 5), ("edit", None), ("followup", None)]
    original = fake.message(record.original_message_id or 0)
    assert original is not None and original["content"] == "done" and original["flags"] == 0
    assert [m["content"] for m in fake.messages_in(GENERAL)] == ["done"]
    followup = fake.message(record.responses[2]["message_id"])
    assert followup is not None and followup["flags"] & EPHEMERAL


async def test_late_and_repeated_responses_are_refused(
    fake: FakeDiscord, bot: CampaignTestBot, http: aiohttp.ClientSession
) -> None:
    record = await fake.run_slash_command("late", user_id=SAM, guild_id=GUILD)
    path = f"/interactions/{record.id}/{record.token}/callback"
    early = await call(
        http,
        fake,
        "POST",
        f"/webhooks/{fake.world.application_id}/{record.token}",
        body={"content": "x"},
    )
    assert early[:2] == (404, {"message": "Unknown Webhook", "code": 10015})
    fake.advance_clock(3.5)
    status, body, _ = await call(
        http, fake, "POST", path, body={"type": 4, "data": {"content": "hi"}}, auth=None
    )
    assert (status, body["code"]) == (404, 10062)
    bot.gate.set()
    await fake.wait_for(lambda: bot.errors)
    assert isinstance(bot.errors[0], discord.NotFound) and bot.errors[0].code == 10062

    done = await fake.run_slash_command("ping", user_id=SAM, guild_id=GUILD)
    await fake.wait_for_response(done)
    again = f"/interactions/{done.id}/{done.token}/callback"
    status, body, _ = await call(
        http, fake, "POST", again, body={"type": 4, "data": {"content": "x"}}, auth=None
    )
    assert (status, body["code"]) == (400, 40060)
    followup = f"/webhooks/{fake.world.application_id}/{done.token}?wait=true"
    status, body, _ = await call(
        http, fake, "POST", followup, body={"content": "still here"}, auth=None
    )
    assert status == 200 and body["content"] == "still here"
    fake.advance_clock(15 * 60 + 1)
    status, body, _ = await call(
        http, fake, "POST", followup, body={"content": "too late"}, auth=None
    )
    assert (status, body["code"]) == (401, 50027)


async def test_dm_to_closed_and_deleted_users(fake: FakeDiscord, bot: CampaignTestBot) -> None:
    alex = await bot.fetch_user(ALEX)
    with pytest.raises(discord.Forbidden) as closed:
        await alex.send("This week's ask")
    assert closed.value.code == 50007
    sam = await bot.fetch_user(SAM)
    await sam.send("This week's ask")
    assert [m["content"] for m in fake.dms_to(SAM)] == ["This week's ask"]
    gone = await bot.fetch_user(GONE)
    fake.delete_user(GONE)
    with pytest.raises(discord.NotFound) as unknown:
        await gone.send("hello?")
    assert unknown.value.code == 10013
    with pytest.raises(discord.NotFound):
        await bot.fetch_user(GONE)
    fake.delete_user(SAM)
    with pytest.raises(discord.Forbidden) as old_dm:
        await sam.send("again")
    assert old_dm.value.code == 50007


async def test_user_messages_and_content_intent(fake: FakeDiscord, bot: CampaignTestBot) -> None:
    await fake.send_user_message(SAM, "my postcode is secret", channel_id=GENERAL)
    dm = await fake.send_user_message(SAM, "hello bot", attachments=["photo.jpg"])
    await fake.wait_for(lambda: len(bot.seen) == 2)
    in_guild, in_dm = bot.seen
    assert in_guild.content == "" and in_dm.content == "hello bot"
    assert [a.filename for a in in_dm.attachments] == ["photo.jpg"]
    with pytest.raises(discord.Forbidden) as refused:
        await in_dm.delete()
    assert refused.value.code == 50003
    assert fake.message(int(dm["id"])) is not None


async def test_dms_reach_only_a_bot_with_direct_messages(fake: FakeDiscord) -> None:
    photo = await fake.send_user_message(SAM, "", channel_id=GENERAL, attachments=["p.jpg"])
    with pytest.raises(FakeDiscordError, match="not a member"):  # ALEX sees no such message
        await fake.send_user_message(ALEX, forward_of=int(photo["id"]))
    with pytest.raises(FakeDiscordError, match="can see"):  # no such message
        await fake.send_user_message(SAM, forward_of=1)
    with pytest.raises(FakeDiscordError, match="forwarded message only"):
        await fake.send_user_message(SAM, "and words", forward_of=int(photo["id"]))
    for dm_messages in (False, True):
        with point_discord_py(fake):
            client = CampaignTestBot(discord.Intents(guilds=True, dm_messages=dm_messages))
            task = await start_bot(fake, client)
            try:
                await fake.send_user_message(SAM, "hello bot", stickers=["wave"])
                await fake.send_user_message(SAM, forward_of=int(photo["id"]))
                # a round trip on the same connection: both DMs came before its answer
                await fake.wait_for_response(await fake.run_slash_command("ping", user_id=SAM))
            finally:
                await client.close()
                await task
        if not dm_messages:
            assert client.seen == []
            continue
        said, forwarded = client.seen  # no MESSAGE_CONTENT intent: DMs keep their content
        assert said.content == "hello bot" and [s.name for s in said.stickers] == ["wave"]
        assert forwarded.content == "" and forwarded.attachments == []
        assert forwarded.flags.forwarded and forwarded.reference is not None
        assert forwarded.reference.type is discord.MessageReferenceType.forward
        [snapshot] = forwarded.message_snapshots
        assert [a.filename for a in snapshot.attachments] == ["p.jpg"]


async def test_discord_py_retries_a_429_and_it_is_counted(
    fake: FakeDiscord, bot: CampaignTestBot
) -> None:
    fake.fail_next("POST", "/channels/{channel_id}/messages", retry_after=0.05)
    channel = bot.get_channel(GENERAL)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("sent after one retry")
    assert fake.rate_limited_count == 1
    statuses = [c.status for c in fake.calls_to("POST", "/channels/{channel_id}/messages")]
    assert statuses == [429, 200]
    assert [m["content"] for m in fake.messages_in(GENERAL)] == ["sent after one retry"]


async def test_global_rate_limit_is_honoured_by_discord_py() -> None:
    async with FakeDiscord(rate_limit_per_second=4) as server:
        server.add_user(SAM, "sam")
        server.add_guild(GUILD, "Supporters", [GENERAL], members={SAM: MEMBER_DEFAULT})
        with point_discord_py(server):
            client = CampaignTestBot()
            task = await start_bot(server, client)
            channel = client.get_channel(GENERAL)
            assert isinstance(channel, discord.TextChannel)
            await asyncio.gather(*(channel.send(f"ask {n}") for n in range(6)))
            await client.close()
            await task
        assert server.rate_limited_count >= 1
        assert sorted(m["content"] for m in server.messages_in(GENERAL)) == [
            f"ask {n}" for n in range(6)
        ]


async def test_route_bucket_headers_keep_discord_py_under_the_limit() -> None:
    async with FakeDiscord(bucket_limit=2, bucket_window=0.2) as server:
        server.add_guild(GUILD, "Supporters", [GENERAL])
        with point_discord_py(server):
            client = CampaignTestBot()
            task = await start_bot(server, client)
            channel = client.get_channel(GENERAL)
            assert isinstance(channel, discord.TextChannel)
            for n in range(5):
                await channel.send(f"ask {n}")
            await client.close()
            await task
        assert server.rate_limited_count == 0
        assert len(server.messages_in(GENERAL)) == 5


async def test_reconnect_resumes_the_session(fake: FakeDiscord, bot: CampaignTestBot) -> None:
    await fake.request_reconnect()
    await fake.wait_for(lambda: fake.gateway.resumes == 1)
    assert len(fake.identifies) == 1
    record = await fake.run_slash_command("ping", user_id=SAM, guild_id=GUILD)
    assert (await fake.wait_for_response(record))["data"]["content"] == "pong"


async def test_guild_added_later_and_guild_commands(
    fake: FakeDiscord, bot: CampaignTestBot
) -> None:
    fake.add_guild(9100, "Volunteers", [9101], members={SAM: MEMBER_DEFAULT})
    await fake.wait_for(lambda: bot.get_guild(9100))
    guild = discord.Object(id=9100)
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)
    assert sorted(c["name"] for c in fake.guild_commands[9100]) == ["late", "ping", "slow", "topic"]
    record = await fake.run_slash_command("ping", user_id=SAM, guild_id=9100)
    assert record.data["guild_id"] == "9100" and record.channel_id == 9101
    assert (await fake.wait_for_response(record))["data"]["content"] == "pong"


async def test_named_roles_and_forged_commands(fake: FakeDiscord, bot: CampaignTestBot) -> None:
    role = fake.add_role(GUILD, "Campaign organiser", members=(SAM,))
    await fake.wait_for(lambda: (g := bot.get_guild(GUILD)) is not None and g.get_role(role))
    guild = bot.get_guild(GUILD)
    assert guild is not None and (found := guild.get_role(role)) is not None
    assert found.name == "Campaign organiser" and found.permissions.value == 0
    record = await fake.run_slash_command("ping", user_id=SAM, guild_id=GUILD)
    assert str(role) in record.payload["member"]["roles"]
    await fake.wait_for_response(record)
    with pytest.raises(ValueError, match="not a member"):
        fake.add_role(GUILD, "Anything", members=(GONE,))

    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("shh", ephemeral=True)

    here = discord.Object(id=GUILD)
    bot.tree.add_command(
        discord.app_commands.Command(name="secret", description="guild only", callback=secret),
        guild=here,
    )
    await bot.tree.sync(guild=here)
    fake.add_guild(9300, "Elsewhere", [9301], members={ALEX: MEMBER_DEFAULT})
    await fake.wait_for(lambda: bot.get_guild(9300))
    with pytest.raises(FakeDiscordError, match="not registered here"):
        await fake.run_slash_command("secret", user_id=ALEX, guild_id=9300)
    forged = await fake.run_slash_command("secret", user_id=ALEX, guild_id=9300, forge=True)
    assert forged.guild_id == 9300 and forged.data["guild_id"] == str(GUILD)


# --- raw REST refusals -----------------------------------------------------------
async def test_authorization_is_required(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    unauthorized = {"message": "401: Unauthorized", "code": 0}
    for auth in (None, "Bot wrong.token", f"Bearer {fake.token}", fake.token):
        status, body, _ = await call(http, fake, "GET", "/users/@me", auth=auth)
        assert (status, body) == (401, unauthorized)
    assert (await call(http, fake, "GET", "/users/@me"))[0] == 200


async def test_unknown_routes_and_methods(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    not_found = {"message": "404: Not Found", "code": 0}
    for path in (
        "/users/@me/nonsense",
        "/campaigns",
        f"http://127.0.0.1:{fake.port}/api/v9/users/@me",
    ):
        assert (await call(http, fake, "GET", path))[:2] == (404, not_found)
    assert (await call(http, fake, "PUT", "/users/@me"))[:2] == (
        405,
        {"message": "405: Method Not Allowed", "code": 0},
    )
    status, body, _ = await call(http, fake, "GET", "/channels/general")
    assert (status, body["code"]) == (400, 50035)
    assert body["errors"]["channel_id"]["_errors"][0]["code"] == "NUMBER_TYPE_COERCE"
    assert (await call(http, fake, "GET", f"/guilds/{GUILD}/audit-logs"))[0] == 501


def _embed(**fields: Any) -> dict[str, Any]:
    return {"embeds": [fields]}


def _row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def _button(custom_id: str = "b", **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": "Go", "custom_id": custom_id, **extra}


_SELECT = {"type": 3, "custom_id": "s", "options": [{"label": "A", "value": "a"}]}

LIMIT_CASES: list[tuple[dict[str, Any], tuple[str, ...], str]] = [
    ({"content": "x" * 2001}, ("content",), "BASE_TYPE_MAX_LENGTH"),
    ({"content": 5}, ("content",), "STRING_TYPE_CONVERT"),
    ({"embeds": [{"title": "t"}] * 11}, ("embeds",), "BASE_TYPE_MAX_LENGTH"),
    (_embed(title="t" * 257), ("embeds", "0", "title"), "BASE_TYPE_MAX_LENGTH"),
    (_embed(description="d" * 4097), ("embeds", "0", "description"), "BASE_TYPE_MAX_LENGTH"),
    (
        _embed(fields=[{"name": "n", "value": "v"}] * 26),
        ("embeds", "0", "fields"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        _embed(fields=[{"name": "n" * 257, "value": "v"}]),
        ("embeds", "0", "fields", "0", "name"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        _embed(fields=[{"name": "n", "value": "v" * 1025}]),
        ("embeds", "0", "fields", "0", "value"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (_embed(fields=[{"name": "n"}]), ("embeds", "0", "fields", "0", "value"), "BASE_TYPE_REQUIRED"),
    (
        _embed(footer={"text": "f" * 2049}),
        ("embeds", "0", "footer", "text"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (_embed(author={"name": "a" * 257}), ("embeds", "0", "author", "name"), "BASE_TYPE_MAX_LENGTH"),
    (
        {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]},
        ("embeds",),
        "MAX_EMBED_SIZE_EXCEEDED",
    ),
    (
        {"components": [_row(_button(f"r{n}")) for n in range(6)]},
        ("components",),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"components": [_row(*[_button(f"b{n}") for n in range(6)])]},
        ("components", "0", "components"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"components": [_row(_SELECT, _button())]},
        ("components", "0", "components"),
        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
    ),
    (
        {"components": [_row(_button("x" * 101))]},
        ("components", "0", "components", "0", "custom_id"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"components": [_row(_button(""))]},
        ("components", "0", "components", "0", "custom_id"),
        "BASE_TYPE_MIN_LENGTH",
    ),
    (
        {"components": [_row(_button("a"), _button("a"))]},
        ("components", "0", "components", "1", "custom_id"),
        "COMPONENT_CUSTOM_ID_DUPLICATED",
    ),
    (
        {"components": [_row(_button(label="L" * 81))]},
        ("components", "0", "components", "0", "label"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"components": [_row({"type": 2, "style": 5, "label": "Act"})]},
        ("components", "0", "components", "0", "url"),
        "BASE_TYPE_REQUIRED",
    ),
    (
        {
            "components": [
                _row(
                    {
                        "type": 2,
                        "style": 5,
                        "label": "Act",
                        "url": "https://example.org",
                        "custom_id": "c",
                    }
                )
            ]
        },
        ("components", "0", "components", "0", "custom_id"),
        "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
    ),
    (
        {"components": [_row(_button(url="https://example.org"))]},
        ("components", "0", "components", "0", "url"),
        "BUTTON_COMPONENT_URL_NOT_ALLOWED",
    ),
    (
        {"components": [_row({"type": 2, "style": 1, "label": "Go"})]},
        ("components", "0", "components", "0", "custom_id"),
        "BASE_TYPE_REQUIRED",
    ),
    ({"components": [_button()]}, ("components", "0", "type"), "BASE_TYPE_CHOICES"),
]


def _errors_at(body: dict[str, Any], path: tuple[str, ...]) -> list[str]:
    node = body["errors"]
    for part in path:
        node = node[part]
    return [e["code"] for e in node["_errors"]]


@pytest.mark.parametrize(("payload", "path", "code"), LIMIT_CASES)
async def test_message_limits(
    fake: FakeDiscord,
    http: aiohttp.ClientSession,
    payload: dict[str, Any],
    path: tuple[str, ...],
    code: str,
) -> None:
    status, body, _ = await call(
        http, fake, "POST", f"/channels/{GENERAL}/messages", body={"content": "hi", **payload}
    )
    assert (status, body["code"], body["message"]) == (400, 50035, "Invalid Form Body")
    assert code in _errors_at(body, path)
    assert fake.messages_in(GENERAL) == [] and fake.rejected[-1].status == 400


async def test_messages_that_pass_and_empty_ones(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    empty = {"message": "Cannot send an empty message", "code": 50006}
    for payload in ({}, {"content": "   "}, {"content": "", "embeds": [], "components": []}):
        assert (await call(http, fake, "POST", f"/channels/{GENERAL}/messages", body=payload))[
            :2
        ] == (400, empty)
    rich = {
        "content": "x" * 2000,
        "unknown_field": True,  # the spec leaves additionalProperties open
        "embeds": [{"title": "t" * 256, "fields": [{"name": "n", "value": "v"}] * 25}],
        "components": [
            _row(
                *[_button(f"b{n}") for n in range(4)],
                {"type": 2, "style": 5, "label": "Act", "url": "https://example.org"},
            ),
            _row(_SELECT),
        ],
    }
    status, message, headers = await call(
        http, fake, "POST", f"/channels/{GENERAL}/messages", body=rich
    )
    assert status == 200 and message["content"] == "x" * 2000
    assert (
        headers["Content-Type"] == "application/json"
        and headers["X-RateLimit-Remaining"] == "46"  # refused calls count too
    )
    embed_only = await call(
        http, fake, "POST", f"/channels/{GENERAL}/messages", body={"embeds": [{"title": "t"}]}
    )
    assert embed_only[0] == 200
    status, body, _ = await call(
        http, fake, "POST", "/channels/123/messages", body={"content": "hi"}
    )
    assert (status, body) == (404, {"message": "Unknown Channel", "code": 10003})


async def test_edit_and_delete(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    _, sent, _ = await call(
        http, fake, "POST", f"/channels/{GENERAL}/messages", body={"content": "draft"}
    )
    path = f"/channels/{GENERAL}/messages/{sent['id']}"
    status, body, _ = await call(http, fake, "PATCH", path, body={"content": ""})
    assert (status, body["code"]) == (400, 50006)
    assert (await call(http, fake, "PATCH", path, body={"content": "final"}))[0] == 200
    [shown] = fake.messages_in(GENERAL)
    assert shown["content"] == "final" and shown["edited_timestamp"] is not None
    assert (await call(http, fake, "DELETE", path))[0] == 204
    assert fake.messages_in(GENERAL) == []
    assert (await call(http, fake, "GET", path))[1] == {"message": "Unknown Message", "code": 10008}


async def test_bodies_json_and_multipart(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    path = f"/channels/{GENERAL}/messages"
    bad_json = await call(
        http, fake, "POST", path, data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert bad_json[:2] == (
        400,
        {"message": "The request body contains invalid JSON.", "code": 50109},
    )
    wrong_type = await call(
        http, fake, "POST", path, data=b"content=hi", headers={"Content-Type": "text/plain"}
    )
    assert (wrong_type[0], wrong_type[1]["code"]) == (400, 50035)

    form = aiohttp.FormData(quote_fields=False)
    form.add_field(
        "payload_json", json.dumps({"attachments": [{"id": 0, "filename": "poster.txt"}]})
    )
    form.add_field(
        "files[0]", b"synthetic poster", filename="poster.txt", content_type="text/plain"
    )
    status, message, _ = await call(http, fake, "POST", path, data=form)
    assert status == 200 and message["attachments"][0]["filename"] == "poster.txt"

    too_many = aiohttp.FormData(quote_fields=False)
    too_many.add_field("payload_json", json.dumps({"content": "files"}))
    for n in range(11):
        too_many.add_field(f"files[{n}]", b"x", filename=f"f{n}.txt")
    status, body, _ = await call(http, fake, "POST", path, data=too_many)
    assert (status, body["code"]) == (400, 50035) and "files" in body["errors"]

    invalid = aiohttp.FormData(quote_fields=False)
    invalid.add_field("payload_json", json.dumps({"content": "x" * 2001}))
    invalid.add_field("files[0]", b"x", filename="f.txt")
    status, body, _ = await call(http, fake, "POST", path, data=invalid)
    assert (status, body["code"]) == (400, 50035) and "content" in body["errors"]


async def test_dm_channels(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    opened = await call(http, fake, "POST", "/users/@me/channels", body={"recipient_id": str(SAM)})
    again = await call(http, fake, "POST", "/users/@me/channels", body={"recipient_id": SAM})
    assert opened[0] == again[0] == 200 and opened[1]["id"] == again[1]["id"]
    assert fake.dm_channel_of(SAM) == int(opened[1]["id"]) and opened[1]["type"] == 1
    unknown = await call(http, fake, "POST", "/users/@me/channels", body={"recipient_id": "777"})
    assert unknown[:2] == (404, {"message": "Unknown User", "code": 10013})
    status, body, _ = await call(
        http, fake, "POST", "/users/@me/channels", body={"recipient_id": "sam"}
    )
    assert (status, body["code"]) == (400, 50035) and "recipient_id" in body["errors"]
    _, closed_dm, _ = await call(
        http, fake, "POST", "/users/@me/channels", body={"recipient_id": ALEX}
    )
    send = await call(
        http, fake, "POST", f"/channels/{closed_dm['id']}/messages", body={"content": "hi"}
    )
    assert send[:2] == (403, {"message": "Cannot send messages to this user", "code": 50007})


async def test_command_overwrites_are_checked(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    path = f"/applications/{fake.world.application_id}/commands"
    cases: list[tuple[list[dict[str, Any]], tuple[str, ...], str]] = [
        ([{"name": "Ping", "description": "d"}], ("0", "name"), "APPLICATION_COMMAND_INVALID_NAME"),
        ([{"name": "ping"}], ("0", "description"), "BASE_TYPE_REQUIRED"),
        (
            [{"name": "ping", "description": "d"}] * 2,
            ("1", "name"),
            "APPLICATION_COMMANDS_DUPLICATE_NAME",
        ),
        ([{"name": "x" * 33, "description": "d"}], ("0", "name"), "BASE_TYPE_MAX_LENGTH"),
        (
            [
                {
                    "name": "topic",
                    "description": "d",
                    "options": [
                        {"type": 3, "name": "a", "description": "d"},
                        {"type": 3, "name": "b", "description": "d", "required": True},
                    ],
                }
            ],
            ("0", "options", "1"),
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
        ),
    ]
    for commands, where, code in cases:
        status, body, _ = await call(http, fake, "PUT", path, body=commands)
        assert (status, body["code"]) == (400, 50035), commands
        assert code in _errors_at(body, where)
    status, stored, _ = await call(
        http, fake, "PUT", path, body=[{"name": "ping", "description": "d"}]
    )
    assert status == 200 and fake.global_commands == stored
    wrong_app = await call(http, fake, "PUT", "/applications/1/commands", body=[])
    assert wrong_app[0] == 403


async def test_interaction_callbacks_are_checked(
    fake: FakeDiscord, bot: CampaignTestBot, http: aiohttp.ClientSession
) -> None:
    record = await fake.run_slash_command("late", user_id=SAM, guild_id=GUILD)
    path = f"/interactions/{record.id}/{record.token}/callback"
    wrong_type = await call(
        http, fake, "POST", path, body={"type": 7, "data": {"content": "x"}}, auth=None
    )
    assert (wrong_type[0], wrong_type[1]["code"]) == (400, 50035) and "type" in wrong_type[1][
        "errors"
    ]
    too_long = await call(
        http, fake, "POST", path, body={"type": 4, "data": {"content": "x" * 2001}}, auth=None
    )
    assert _errors_at(too_long[1], ("data", "content")) == ["BASE_TYPE_MAX_LENGTH"]
    empty = await call(http, fake, "POST", path, body={"type": 4, "data": {}}, auth=None)
    assert (empty[0], empty[1]["code"]) == (400, 50006)
    unknown = await call(
        http, fake, "POST", f"/interactions/{record.id}/forged-token/callback", body={"type": 4}
    )
    assert unknown[:2] == (404, {"message": "Unknown interaction", "code": 10062})
    assert not record.acknowledged
    bot.gate.set()
    await fake.wait_for_response(record)


async def test_rate_limit_responses_raw(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord(rate_limit_per_second=2, bucket_limit=5, bucket_window=60) as server:
        results = [await call(http, server, "GET", "/users/@me") for _ in range(3)]
        assert [r[0] for r in results] == [200, 200, 429]
        _, body, headers = results[2]
        assert body["message"] == "You are being rate limited." and body["global"] is True
        assert body["code"] == 0 and 0 < body["retry_after"] <= 1
        assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
        expected = [
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ]
        expected += ["X-RateLimit-Reset-After", "X-RateLimit-Bucket", "Via"]
        assert all(name in headers for name in expected)
        ok_headers = results[0][2]
        assert ok_headers["X-RateLimit-Limit"] == "5" and ok_headers["X-RateLimit-Remaining"] == "4"
        assert server.rate_limited_count == 1
    async with FakeDiscord(bucket_limit=2, bucket_window=60) as server:
        bucket = [await call(http, server, "GET", "/users/@me") for _ in range(3)]
        assert [r[0] for r in bucket] == [200, 200, 429]
        assert bucket[2][1]["global"] is False and bucket[2][2]["X-RateLimit-Scope"] == "user"
        assert "X-RateLimit-Global" not in bucket[2][2]
        assert bucket[1][2]["X-RateLimit-Remaining"] == "0"


async def test_latency_delays_every_answer(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord(latency=0.2) as server:
        started = time.monotonic()
        assert (await call(http, server, "GET", "/users/@me"))[0] == 200
        assert time.monotonic() - started >= 0.2


# --- raw gateway ---------------------------------------------------------------
class RawGateway:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self.inflate = zlib.decompressobj() if zlib_stream else None

    async def receive(self) -> dict[str, Any]:
        message = await self.ws.receive(timeout=2)
        if message.type == aiohttp.WSMsgType.BINARY:
            assert self.inflate is not None
            payload: dict[str, Any] = json.loads(self.inflate.decompress(message.data))
            return payload
        assert message.type == aiohttp.WSMsgType.TEXT, message
        text: dict[str, Any] = json.loads(message.data)
        return text

    async def send(self, op: int, data: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": data}))

    async def closed_with(self) -> int | None:
        message = await self.ws.receive(timeout=2)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        return self.ws.close_code


def _identify(token: str, intents: int = 1 | 1 << 9 | 1 << 12) -> dict[str, Any]:
    properties = {"os": "linux", "browser": "test", "device": "test"}
    return {"token": token, "intents": intents, "properties": properties}


async def test_gateway_handshake_raw(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream")
    gateway = RawGateway(ws, zlib_stream=True)
    hello = await gateway.receive()
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
    await gateway.send(1, None)
    assert (await gateway.receive())["op"] == 11
    await gateway.send(2, _identify(fake.token))
    ready = await gateway.receive()
    assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
    data = ready["d"]
    assert data["v"] == 10 and data["user"]["id"] == str(fake.world.bot.id)
    assert data["guilds"] == [{"id": str(GUILD), "unavailable": True}]
    assert data["resume_gateway_url"] == fake.gateway_url and data["session_id"]
    assert data["application"] == {"id": str(fake.world.application_id), "flags": 0}
    created = await gateway.receive()
    assert (created["t"], created["s"], created["d"]["id"]) == ("GUILD_CREATE", 2, str(GUILD))
    assert {c["id"] for c in created["d"]["channels"]} == {str(GENERAL), str(OTHER)}
    await gateway.send(2, _identify(fake.token))
    assert await gateway.closed_with() == 4005
    await ws.close()

    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    resume = RawGateway(ws, zlib_stream=False)
    await resume.receive()
    await resume.send(6, {"token": fake.token, "session_id": "no-such-session", "seq": 3})
    assert (await resume.receive())["op"] == 9
    await ws.close()


@pytest.mark.parametrize(
    ("query", "payloads", "code"),
    [
        ("?v=10&encoding=json", [(2, _identify("wrong.token"))], 4004),
        ("?v=10&encoding=json", [(2, _identify("TEST.discord.token", 1 | 1 << 15))], 4014),
        ("?v=10&encoding=json", [(2, _identify("TEST.discord.token", 1 | 1 << 1))], 4014),
        ("?v=10&encoding=json", [(2, _identify("TEST.discord.token", 1 << 30))], 4013),
        ("?v=10&encoding=json", [(3, {"status": "online"})], 4003),
        ("?v=10&encoding=json", [(2, _identify("TEST.discord.token")), (42, None)], 4001),
        ("?v=9&encoding=json", [], 4012),
        ("?v=10&encoding=etf", [], 4002),
    ],
)
async def test_gateway_refusals(
    fake: FakeDiscord,
    http: aiohttp.ClientSession,
    query: str,
    payloads: list[tuple[int, Any]],
    code: int,
) -> None:
    ws = await http.ws_connect(fake.gateway_url + query)
    gateway = RawGateway(ws, zlib_stream=False)
    if payloads:
        assert (await gateway.receive())["op"] == 10
    for op, data in payloads:
        await gateway.send(op, data)
    while True:
        message = await ws.receive(timeout=2)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert ws.close_code == code


async def test_gateway_rejects_garbage(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    gateway = RawGateway(ws, zlib_stream=False)
    await gateway.receive()
    await ws.send_str("{not json")
    assert await gateway.closed_with() == 4002


async def test_discord_py_with_privileged_intents_is_refused(fake: FakeDiscord) -> None:
    with point_discord_py(fake):
        client = CampaignTestBot(intents=discord.Intents.all())
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(client.start(fake.token), 5)
        await client.close()


async def test_interactions_need_a_connected_bot(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    path = f"/applications/{fake.world.application_id}/commands"
    assert (await call(http, fake, "PUT", path, body=[{"name": "ping", "description": "d"}]))[
        0
    ] == 200
    with pytest.raises(FakeDiscordError, match="connected"):
        await fake.run_slash_command("ping", user_id=SAM, guild_id=GUILD)
    assert fake.interactions == []


# --- outages -------------------------------------------------------------------------


async def test_a_rest_outage_answers_every_route_its_5xx_until_it_ends(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    await fake.outage(status=502)
    assert fake.outage_active
    for method, path, auth in (
        ("GET", "/users/@me", "bot"),
        ("POST", "/users/@me/channels", "bot"),
        ("GET", "/users/@me", None),  # before the token is even looked at
        ("GET", "/no/such/route", "bot"),
    ):
        status, body, _ = await call(
            http, fake, method, path, body={"recipient_id": str(SAM)}, auth=auth
        )
        assert (status, body) == (502, {"message": "502: Bad Gateway", "code": 0})
    assert [c.route for c in fake.requests] == [
        "/users/@me",
        "/users/@me/channels",
        "/users/@me",
        None,
    ]
    assert fake.dm_channel_of(SAM) is None  # nothing happened
    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")  # the gateway is up
    assert (await RawGateway(ws, zlib_stream=False).receive())["op"] == 10
    await ws.close()
    await fake.end_outage()
    assert not fake.outage_active
    assert (await call(http, fake, "GET", "/users/@me"))[0] == 200
    with pytest.raises(ValueError, match="5xx"):
        await fake.outage(status=404)


async def test_an_outage_for_a_period_ends_by_itself(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    await fake.outage(0.2, status=503)
    assert (await call(http, fake, "GET", "/users/@me"))[0] == 503
    await fake.wait_for(lambda: not fake.outage_active, 5)
    assert (await call(http, fake, "GET", "/users/@me"))[0] == 200
    await fake.gateway_outage(0.2)
    assert fake.gateway_down
    await fake.wait_for(lambda: not fake.gateway_down, 5)
    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    await ws.close()


async def test_a_refusing_outage_refuses_connections_and_cuts_open_ones(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    assert (await call(http, fake, "GET", "/users/@me"))[0] == 200  # a kept-alive connection
    fake.latency = 0.5
    # a POST: aiohttp would try a GET again by itself on a new connection
    slow = asyncio.create_task(
        call(http, fake, "POST", "/users/@me/channels", body={"recipient_id": SAM})
    )
    await fake.wait_for(lambda: fake.rest.in_flight)
    await fake.outage(refuse=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):  # cut while it was out
        await slow
    fake.latency = 0.0
    with pytest.raises(aiohttp.ClientConnectorError):
        await call(http, fake, "GET", "/users/@me")
    await fake.end_outage()
    assert (await call(http, fake, "GET", "/users/@me"))[0] == 200  # the same address
    await fake.wait_for(lambda: any(c.status == 0 for c in fake.requests))  # the cut one


async def test_a_gateway_outage_refuses_connections_and_the_session_resumes_after(
    fake: FakeDiscord, bot: CampaignTestBot, http: aiohttp.ClientSession
) -> None:
    await fake.gateway_outage()
    assert fake.gateway.ready_sessions() == [] and len(fake.gateway.sessions) == 1
    with pytest.raises(aiohttp.ClientConnectorError):
        await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    assert (await call(http, fake, "GET", "/users/@me"))[0] == 200  # REST is up
    await fake.end_gateway_outage()
    # discord.py waits (its own backoff, a few seconds at most), then RESUMEs
    await fake.wait_for(lambda: fake.gateway.resumes == 1, 15)
    assert len(fake.identifies) == 1
    record = await fake.run_slash_command("ping", user_id=SAM, guild_id=GUILD)
    assert (await fake.wait_for_response(record))["data"]["content"] == "pong"


async def test_opening_a_dm_can_fail_on_demand(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    fake.fail_next("POST", "/users/@me/channels", status=503, times=2)
    for _ in range(2):
        status, body, _ = await call(
            http, fake, "POST", "/users/@me/channels", body={"recipient_id": str(SAM)}
        )
        assert (status, body) == (503, {"message": "503: Service Unavailable", "code": 0})
    assert fake.dm_channel_of(SAM) is None
    opened = await call(http, fake, "POST", "/users/@me/channels", body={"recipient_id": SAM})
    assert opened[0] == 200
