"""The public impact counter (/impact, /impact.json, /impact.svg) and the count a weekly
ask carries when its pack asks for it.

The counter is the real app over a real store, seeded with prompts, deliveries and
"done" actions; the weekly line goes through the real engine and Telegram adapter to
the fake Bot API. Every supporter is a numbered stand-in.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlite_utils import Database

from bots.discord.bot import DiscordBot
from bots.telegram.bot import TelegramBot
from campaigns.catalog import Catalog, PackFolder
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.dialogue import Context
from campaigns.pack_io import to_toml
from campaigns.packs import BUNDLED_PACKS
from db import actions as actions_db
from db import prompts as prompts_db
from db.store import Store
from db.times import to_text, utcnow
from settings import Settings
from tests.conftest import SECRET
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.platforms import discord_bot, telegram_bot
from tests.seeding import add_supporters, pack_folder
from tests.web_support import asgi_client, make_settings, opened_core, prepared_db, with_users
from web.app import create_app
from web.impact import NOT_LISTED, ImpactBoard
from web.security import FRAMEABLE

CAMPAIGN = "one-step-ahead"
QUIET = "quiet-campaign"  # a second campaign, with nothing sent unless a test sends it
ROUTES = ("/impact", "/impact.json", "/impact.svg")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # the counters' "now" where it is fixed


# ---------------------------------------------------------------- seeding


def sent_prompt(
    db: Database,
    supporters: list[int],
    when: datetime,
    *,
    campaign: str = CAMPAIGN,
    ask: str = "ai-images",
    kind: str = "weekly",
) -> int:
    """A prompt that went out at `when`, delivered ('sent') to these supporters."""
    prompt = prompts_db.create(
        db,
        campaign=campaign,
        ask_id=ask,
        kind=kind,
        scheduled_at=to_text(when),
        timezone="Europe/London",
        created_by="test",
        state="sent",
    )
    db.execute(
        """INSERT INTO deliveries (prompt_id, supporter_id, supporter_key, platform, source,
            state, attempts, created_at, updated_at, sent_at)
        SELECT ?, id, key, platform, source, 'sent', 1, ?, ?, ? FROM supporters
        WHERE id IN (SELECT value FROM json_each(?))""",
        [prompt.id, *[to_text(when)] * 3, json.dumps(supporters)],
    )
    return prompt.id


def did(db: Database, prompt_id: int, supporters: list[int], at: datetime) -> None:
    """These supporters pressed "I did it" on the prompt, at `at`."""
    for key, platform in db.execute(
        "SELECT key, platform FROM supporters WHERE id IN (SELECT value FROM json_each(?))",
        [json.dumps(supporters)],
    ).fetchall():
        assert actions_db.record(
            db,
            prompt_id=prompt_id,
            supporter_key=key,
            kind="done",
            platform=platform,
            source=None,
            via="button",
        )
    db.execute(
        "UPDATE actions SET created_at = ? WHERE prompt_id = ? AND kind = 'done'"
        " AND supporter_key IN (SELECT key FROM supporters"
        " WHERE id IN (SELECT value FROM json_each(?)))",
        [to_text(at), prompt_id, json.dumps(supporters)],
    )


def write(settings: Settings, fn: Any) -> Any:
    """Run `fn(db)` in one transaction on the settings' database (its campaigns copied
    in), as seeding."""
    db = prepared_db(settings)
    try:
        with db.atomic():
            return fn(db)
    finally:
        db.close()


# ---------------------------------------------------------------- the app


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    """The bundled pack and a second, quiet campaign."""
    text = (BUNDLED_PACKS / f"{CAMPAIGN}.toml").read_text()
    quiet = text.replace(f'slug = "{CAMPAIGN}"', f'slug = "{QUIET}"')
    quiet = quiet.replace('title = "One Step Ahead"', 'title = "Quiet <Campaign> & Co"')
    quiet = re.sub(r"(?m)^sources = .*$", "sources = []", quiet)
    return pack_folder(tmp_path / "packs", {CAMPAIGN: text, QUIET: quiet})


@pytest.fixture
def settings(tmp_path: Path, packs: Path) -> Settings:
    return make_settings(tmp_path, packs=packs)


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    with opened_core(with_users(settings)) as core:
        yield core


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(core: Core, settings: Settings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(core, settings)
    board: ImpactBoard = app.state.impact
    board.clock = clock
    async with asgi_client(app) as client:
        yield client


def board_of(client: httpx.AsyncClient) -> ImpactBoard:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    board: ImpactBoard = transport.app.state.impact  # type: ignore[attr-defined]
    return board


async def counted(client: httpx.AsyncClient, query: str = "") -> dict[str, Any]:
    response = await client.get("/impact.json" + query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def recount(client: httpx.AsyncClient, clock: Clock) -> None:
    """A minute on, and a request that starts the next count; back once it is taken."""
    clock.now += 60
    assert (await client.get("/impact.json")).status_code == 200
    await board_of(client).settled()


def figures(body: dict[str, Any], slug: str = CAMPAIGN) -> tuple[Any, Any, Any]:
    found = [c for c in body["campaigns"] if c["campaign"] == slug]
    assert len(found) == 1, body
    return found[0]["acted_this_week"], found[0]["acted_in_all"], found[0]["asks_sent"]


# ---------------------------------------------------------------- what it shows


async def test_each_campaign_shows_who_acted_this_week_and_in_all_and_asks_sent(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    now = utcnow()

    def seed(db: Database) -> None:
        people = add_supporters(db, 60)
        old = sent_prompt(db, people[:40], now - timedelta(days=20))
        did(db, old, people[:30], now - timedelta(days=19))  # before the last 7 days
        recent = sent_prompt(db, people, now - timedelta(days=2), ask="mandatory-reporting")
        did(db, recent, people[20:45], now - timedelta(days=1))
        # the same people on the quiet campaign count once in the total
        quiet = sent_prompt(db, people[:12], now - timedelta(days=3), campaign=QUIET)
        did(db, quiet, people[:12], now - timedelta(days=2))
        # a reminder's deliveries and journey steps are not asks sent
        sent_prompt(db, people, now - timedelta(days=1), kind="reminder")

    write(settings, seed)
    body = await counted(client)
    # this week: people 20..44 (25); in all: 0..44 (45); sent: 40 + 60
    assert figures(body) == (25, 45, 100)
    assert figures(body, QUIET) == (12, 12, 12)
    # together: each person once (people 0..11 acted on both campaigns)
    assert body["all_campaigns"] == {"acted_this_week": 37, "acted_in_all": 45, "asks_sent": 112}
    assert body["fewer_than"] == 10 and body["null_means"] == "fewer than 10"
    week = body["this_week"]
    assert (datetime.fromisoformat(week["to"]) - datetime.fromisoformat(week["from"])).days == 7

    page = (await client.get("/impact")).text
    for text in ("One Step Ahead", "Quiet &lt;Campaign&gt; &amp; Co", "All our campaigns"):
        assert text in page
    assert "“This week” is the last 7 days" in page
    assert re.search(r"<dd>45</dd>.*<dd>100</dd>", page, re.S)
    one = (await client.get(f"/impact?campaign={QUIET}")).text
    assert "Quiet &lt;Campaign&gt; &amp; Co" in one and "One Step Ahead" not in one

    badge = await client.get("/impact.svg")
    assert badge.headers["content-type"] == "image/svg+xml"
    assert ">45</text>" in badge.text and "supporters acted" in badge.text
    assert "<script" not in badge.text and "style=" not in badge.text
    quiet_badge = (await client.get(f"/impact.svg?campaign={QUIET}")).text
    assert ">12 acted</text>" in quiet_badge and "Quiet &lt;Campaign&gt; &amp; Co" in quiet_badge

    narrowed = await counted(client, f"?campaign={CAMPAIGN}")
    assert [c["campaign"] for c in narrowed["campaigns"]] == [CAMPAIGN]
    assert "all_campaigns" not in narrowed


async def test_a_campaign_with_no_ask_sent_is_left_out_title_and_all(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    def seed(db: Database) -> None:
        people = add_supporters(db, 15)
        did(db, sent_prompt(db, people, utcnow() - timedelta(days=1)), people, utcnow())

    write(settings, seed)
    body = await counted(client)
    assert [c["campaign"] for c in body["campaigns"]] == [CAMPAIGN]
    page = (await client.get("/impact")).text
    assert "Quiet" not in page and "All our campaigns" not in page  # one campaign: no total
    for route in ROUTES:
        response = await client.get(f"{route}?campaign={QUIET}")
        assert response.status_code == 404 and response.text == NOT_LISTED


async def test_before_any_ask_the_card_says_so(client: httpx.AsyncClient) -> None:
    body = await counted(client)
    assert body["campaigns"] == []
    assert body["all_campaigns"] == {
        "acted_this_week": None,
        "acted_in_all": None,
        "asks_sent": None,
    }
    assert "No asks have gone out yet." in (await client.get("/impact")).text


# ---------------------------------------------------------------- fewer than 10


async def snapshot(client: httpx.AsyncClient) -> list[tuple[int, dict[str, str], bytes]]:
    """Every public answer (each route, for all campaigns and for one) in full."""
    found = []
    for route in ROUTES:
        for query in ("", f"?campaign={CAMPAIGN}"):
            response = await client.get(route + query)
            assert response.status_code == 200
            found.append((response.status_code, dict(response.headers), response.content))
    return found


async def test_counts_under_10_never_show_in_the_page_json_badge_or_headers(
    settings: Settings, client: httpx.AsyncClient, clock: Clock
) -> None:
    board_of(client).now = lambda: NOW  # the count's own time stays put

    def seed(db: Database) -> list[int]:
        people = add_supporters(db, 9)
        prompt = sent_prompt(db, people[:7], NOW - timedelta(days=2))
        did(db, prompt, people[:3], NOW - timedelta(days=1))
        return people

    people = write(settings, seed)
    before = await snapshot(client)
    body = await counted(client)
    assert figures(body) == (None, None, None)
    assert body["all_campaigns"] == {
        "acted_this_week": None,
        "acted_in_all": None,
        "asks_sent": None,
    }
    page = (await client.get("/impact")).text
    assert page.count("fewer than 10") >= 3 and not re.search(r"<dd[^>]*>\d", page)
    badge = (await client.get("/impact.svg")).text
    assert ">fewer than 10</text>" in badge

    # Different small counts (5 acted, 9 sent): not one byte of any answer changes,
    # headers (ETag, length) included, so nothing there carries the number.
    def more(db: Database) -> None:
        prompt = sent_prompt(db, people[7:], NOW - timedelta(days=1), ask="mandatory-reporting")
        did(db, prompt, people[7:], NOW - timedelta(hours=2))

    write(settings, more)
    await recount(client, clock)
    assert await snapshot(client) == before

    # At 10 a count shows as itself.
    def tenth(db: Database) -> None:
        person = add_supporters(db, 1, start=100)
        did(
            db,
            sent_prompt(db, person, NOW - timedelta(hours=3), ask="age-verification"),
            person,
            NOW,
        )

    write(settings, tenth)
    await recount(client, clock)
    assert figures(await counted(client)) == (None, None, 10)
    assert "<dd>10</dd>" in (await client.get("/impact")).text


# ---------------------------------------------------------------- once a minute, from memory


async def test_a_burst_reaches_the_database_once_a_minute(
    settings: Settings,
    core: Core,
    client: httpx.AsyncClient,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def seed(db: Database) -> list[int]:
        people = add_supporters(db, 40)
        did(db, sent_prompt(db, people, utcnow() - timedelta(days=1)), people[:20], utcnow())
        return people

    people = write(settings, seed)
    reads = 0
    real_read = core.store.read

    async def counting_read(fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await real_read(fn, *args, **kwargs)

    monkeypatch.setattr(core.store, "read", counting_read)

    async def burst(n: int = 500) -> set[Any]:
        paths = [ROUTES[i % 3] + ("?campaign=" + CAMPAIGN if i % 2 else "") for i in range(n)]
        answers = await asyncio.gather(*(client.get(path) for path in paths))
        assert {a.status_code for a in answers} == {200}
        return {figures(a.json())[1] for a in answers if a.url.path == "/impact.json"}

    assert await burst() == {20}  # all at once, before any count: they wait for one
    assert reads == 1

    def more(db: Database) -> None:
        did(db, sent_prompt(db, people, utcnow(), ask="mandatory-reporting"), people[20:], utcnow())

    write(settings, more)
    clock.now += 59
    assert await burst() == {20}  # within the minute: the count in memory
    assert reads == 1
    clock.now += 1
    # A minute on, a burst starts one new count and is answered from the last meanwhile;
    # the new one shows as soon as it is taken.
    assert await burst() <= {20, 40}
    await board_of(client).settled()
    assert reads == 2
    assert await burst() == {40}
    assert reads == 2
    clock.now += 60  # a whole burst finds the count old: one new count between them
    assert await burst() == {40}
    await board_of(client).settled()
    assert reads == 3


async def test_a_failed_count_is_a_503_and_tried_again_only_after_the_minute(
    core: Core, client: httpx.AsyncClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries = 0

    async def broken_read(fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal tries
        tries += 1
        raise RuntimeError("the store is closed")

    real_read = core.store.read
    monkeypatch.setattr(core.store, "read", broken_read)
    answers = await asyncio.gather(*(client.get("/impact.json") for _ in range(50)))
    assert {a.status_code for a in answers} == {503} and tries == 1
    assert answers[0].text == "The counter isn't available just now. Try again in a minute."
    assert answers[0].headers["retry-after"] == "60"
    monkeypatch.setattr(core.store, "read", real_read)
    assert (await client.get("/impact.json")).status_code == 503  # not before the minute
    assert tries == 1
    clock.now += 60  # with no count to answer from, the request waits for the new one
    assert (await client.get("/impact.json")).status_code == 200


# ---------------------------------------------------------------- headers


async def test_the_counter_may_be_framed_and_read_from_any_site_and_nothing_else_may(
    client: httpx.AsyncClient,
) -> None:
    assert {"/impact", "/impact.json", "/impact.svg"} == FRAMEABLE
    for route in ROUTES:
        response = await client.get(route)
        headers = response.headers
        assert response.status_code == 200
        assert "x-frame-options" not in headers
        policy = headers["content-security-policy"]
        assert "frame-ancestors *" in policy and "script-src" not in policy
        assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy
        assert headers["cache-control"] == "public, max-age=60"
        assert headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in headers
        cors = headers.get("access-control-allow-origin")
        assert cors == ("*" if route != "/impact" else None)
        etag = headers["etag"]
        again = await client.get(route, headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        head = await client.head(route)
        assert head.status_code == 200 and head.content == b""
    page = (await client.get("/impact")).text
    assert "<script" not in page and "style=" not in page and "<style" not in page
    css = re.search(r'<link rel="stylesheet" href="(/static/impact\.css\?v=\w+)">', page)
    assert css and (await client.get(css.group(1))).status_code == 200
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from elsewhere

    for path in ("/healthz", "/sign-in", "/", "/static/impact.css", "/impact/"):
        headers = (await client.get(path)).headers
        assert headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "access-control-allow-origin" not in headers, path


async def test_no_sign_in_for_the_counter_while_the_dashboard_still_needs_one(
    client: httpx.AsyncClient,
) -> None:
    for route in ROUTES:
        assert (await client.get(route)).status_code == 200
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"].startswith("/sign-in")
    assert (await client.get("/participation.json")).status_code == 401
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        refused = await client.request(method, "/impact.json")
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
        assert "set-cookie" not in refused.headers


HOSTILE = [
    "campaign=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "campaign=%ff%fe",
    "campaign=%00",
    "campaign=..%2F..%2Fetc%2Fpasswd",
    "campaign=" + "x" * 5000,
    "campaign=ONE-STEP-AHEAD",
    "campaign=one-step-ahead%20",
    "campaign=one-step-ahead&campaign=%27%20OR%201%3D1%20--",
    "campaign[]=one-step-ahead",
    "%ff=%ff&&&==",
    "campaign",
    "callback=steal",
    "format=xml&campaign=",
]


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_query_strings_get_a_plain_404_or_are_ignored(
    settings: Settings, client: httpx.AsyncClient, query: str
) -> None:
    write(settings, lambda db: sent_prompt(db, add_supporters(db, 3), utcnow()))
    plain = {route: (await client.get(route)).content for route in ROUTES}
    for route in ROUTES:
        response = await client.get(f"{route}?{query}")
        assert response.status_code in (200, 404), (route, query)
        if response.status_code == 404:
            assert response.text == NOT_LISTED  # repeats nothing of the request
            assert "access-control-allow-origin" not in response.headers
        else:  # an unknown parameter, or an empty campaign: the whole counter
            assert response.content == plain[route]


# ---------------------------------------------------------------- the weekly message

FIRST = 31_000


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def counting_core(tmp_path: Path, show_count: bool) -> Core:
    """A core whose bundled campaign does (or doesn't) show last week's count, read the
    way `run` reads it: the pack file copied into the database, the catalog read back
    out of it (so `show_count` must survive the store)."""
    pack = Catalog.load(BUNDLED_PACKS).packs[CAMPAIGN]
    shown = pack.model_copy(
        update={"campaign": pack.campaign.model_copy(update={"show_count": show_count})}
    )
    folder = pack_folder(tmp_path / "packs", {CAMPAIGN: to_toml(shown)})
    store = Store(tmp_path / "weekly.db")
    catalog = store.submit(PackFolder.read(folder).catalog).result()
    assert catalog.packs[CAMPAIGN].campaign.show_count is show_count
    from campaigns.buttons import ButtonIds
    from campaigns.keys import Pseudonyms

    ctx = Context(catalog=catalog, ids=ButtonIds(SECRET), pseudonyms=Pseudonyms(SECRET))
    return Core(store, ctx)


async def weekly_text(
    tmp_path: Path,
    fake: FakeTelegram | FakeDiscord,
    *,
    show_count: bool,
    did_last_week: int,
    days_ago: int = 7,
    kind: str = "weekly",
) -> str:
    """Last week's ask went to 15 supporters and `did_last_week` did it; this week's
    (`kind`) goes out now through the engine and the adapter of the `fake`'s platform:
    the text that reached a supporter (on Discord, the embed's description)."""
    core = counting_core(tmp_path, show_count)
    now = utcnow()
    people = [FIRST + i for i in range(15)]
    platform = "telegram" if isinstance(fake, FakeTelegram) else "discord"
    for person in people:
        if isinstance(fake, FakeTelegram):
            fake.private_chat(person)
        else:
            fake.add_user(person, f"supporter-{person}")

    def seed(db: Database) -> int:
        ids = add_supporters(db, 15, platform, addresses=[str(p) for p in people])
        last = sent_prompt(db, ids, now - timedelta(days=days_ago), ask="mandatory-reporting")
        did(db, last, ids[:did_last_week], now - timedelta(days=days_ago - 1))
        parent = {"parent_id": last} if kind == "reminder" else {}
        return prompts_db.create(
            db,
            campaign=CAMPAIGN,
            ask_id="ai-images",
            kind=kind,
            scheduled_at=to_text(now),
            timezone="Europe/London",
            created_by="test",
            **parent,  # type: ignore[arg-type]
        ).id

    try:
        prompt_id = await core.store.write(seed)
        bot: TelegramBot | DiscordBot
        if isinstance(fake, FakeTelegram):
            bot = telegram_bot(core, fake, max_rate=200)
        else:
            bot = discord_bot(core, fake)
        await bot.online()
        try:
            engine = DeliveryEngine(core.store, core.ctx, {platform: bot}, tuning=Tuning(workers=4))
            await engine.send_prompt(prompt_id)
        finally:
            await bot.offline()
    finally:
        core.close()
    if isinstance(fake, FakeTelegram):
        texts = {str(fake.sent_to(p)[-1]["text"]) for p in people if fake.sent_to(p)}
    else:
        embeds = [[m for m in fake.dms_to(p) if m.get("embeds")] for p in people]
        assert all(len(got) == 1 for got in embeds)
        texts = {str(got[0]["embeds"][0]["description"]) for got in embeds}
    assert len(texts) == 1  # the same words for everyone, read once for the prompt
    return texts.pop()


LINE = "supporters did last week\u2019s ask."


async def test_a_weekly_ask_says_how_many_did_last_weeks_when_the_pack_asks(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    text = await weekly_text(tmp_path, fake, show_count=True, did_last_week=12)
    assert text.endswith("12 " + LINE)
    assert "I did it" not in text  # the buttons are buttons; the line is under the card


@pytest.mark.parametrize(
    "case",
    [
        {"show_count": True, "did_last_week": 9},  # fewer than 10: it says nothing
        {"show_count": False, "did_last_week": 12},  # the pack doesn't ask for it
        {"show_count": True, "did_last_week": 12, "days_ago": 14},  # no ask last week
        {"show_count": True, "did_last_week": 12, "kind": "reminder"},  # a reminder
    ],
    ids=["nine", "not-asked", "a-fortnight-ago", "reminder"],
)
async def test_no_count_line_otherwise(
    tmp_path: Path, fake: FakeTelegram, case: dict[str, Any]
) -> None:
    text = await weekly_text(tmp_path, fake, **case)
    assert LINE not in text and not re.search(r"\b(9|12)\b supporters", text)


@pytest.mark.parametrize("did_last_week", [12, 9], ids=["twelve", "nine"])
async def test_on_discord_the_count_is_under_the_ask_in_its_card(
    tmp_path: Path, did_last_week: int
) -> None:
    discord_fake = FakeDiscord()
    await discord_fake.start()
    try:
        text = await weekly_text(
            tmp_path, discord_fake, show_count=True, did_last_week=did_last_week
        )
        assert discord_fake.rejected == []
    finally:
        await discord_fake.stop()
    if did_last_week >= 10:
        assert text.endswith(f"{did_last_week} " + LINE)
    else:
        assert LINE not in text and "9 supporters" not in text


# ---------------------------------------------------------------- framed by another site


EMBED = """<!doctype html><html><head><title>A charity's page</title></head><body>
<iframe id="card" src="{base}/impact" width="600" height="400"></iframe>
<iframe id="dashboard" src="{base}/sign-in" width="600" height="200"></iframe>
<img id="badge" src="{base}/impact.svg" alt="badge">
<pre id="json"></pre>
<script>
fetch("{base}/impact.json").then(r => r.json())
  .then(j => {{ document.getElementById("json").textContent = JSON.stringify(j); }})
  .catch(e => {{ document.getElementById("json").textContent = "refused: " + e; }});
</script></body></html>"""


def test_another_site_can_frame_the_card_show_the_badge_and_read_the_json(
    settings: Settings,
) -> None:
    """In Chromium: a page on another origin frames /impact (its stylesheet applies),
    shows the badge and reads the JSON; the dashboard's own pages refuse its frame."""
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM
    from tests.web_support import LiveServer

    def seed(db: Database) -> None:
        people = add_supporters(db, 30)
        did(db, sent_prompt(db, people, utcnow() - timedelta(days=1)), people[:25], utcnow())

    write(settings, seed)
    with LiveServer(settings) as server:
        page_html = EMBED.format(base=server.url).encode()

        class Embedder(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page_html)

            def log_message(self, *args: Any) -> None:
                pass

        other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Embedder)
        threading.Thread(target=other.serve_forever, daemon=True).start()
        refusals: list[str] = []
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    page = browser.new_page()
                    page.on("console", lambda message: refusals.append(message.text))
                    page.goto(f"http://127.0.0.1:{other.server_address[1]}/")
                    card = page.frame_locator("#card")
                    heading = card.locator("h1")
                    heading.wait_for()
                    assert heading.inner_text() == "Supporters taking action"
                    assert card.locator("dd").first.inner_text() == "25"
                    size = heading.evaluate("h => getComputedStyle(h).fontSize")
                    assert size == "21.6px"  # 1.35rem: impact.css applies in the frame
                    page.wait_for_function("document.getElementById('badge').naturalWidth > 0")
                    page.wait_for_function("document.getElementById('json').textContent")
                    read = json.loads(page.locator("#json").inner_text())
                    assert read["campaigns"][0]["acted_in_all"] == 25
                    dashboard = page.frame(url=f"{server.url}/sign-in")
                    assert dashboard is None or "Sign in" not in dashboard.content()
                finally:
                    browser.close()
        finally:
            other.shutdown()
    assert any("frame-ancestors" in text for text in refusals)  # the sign-in frame only
    assert not any("impact" in text for text in refusals), refusals
