"""Tracked links: tokens that can't be forged, one "opened" per delivery, a plain 404
for anything else, and nothing personal in the link or in the response."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlite_utils import Database

from campaigns import links
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine
from campaigns.links import LinkTokens, link_maker
from db import catalog as catalog_db
from db import prompts as prompts_db
from db import supporters as supporters_db
from db.stats import participation
from db.times import now_text
from runner import open_core
from settings import Settings
from tests.messengers import RecordingMessenger
from tests.seeding import add_supporters
from tests.web_support import SECRET, asgi_client, make_settings, prepared_db
from web.app import create_app

URL = "https://www.writetothem.com/"


def sent_prompt(db: Database, *, kind: str = "weekly", parent: int | None = None) -> int:
    return prompts_db.create(
        db,
        campaign="one-step-ahead",
        ask_id="ai-images",
        kind=kind,
        scheduled_at=now_text(),
        timezone="Europe/London",
        created_by="test",
        state="sent",
        parent_id=parent,
    ).id


def deliver(db: Database, prompt_id: int, address: str, source: str | None = "leaflet") -> int:
    supporter = supporters_db.get(db, "telegram", address) or supporters_db.insert(
        db,
        platform="telegram",
        address=address,
        kind="private",
        status="active",
        source=source,
        consent_version="test",
    )
    cursor = db.execute(
        """INSERT INTO deliveries (prompt_id, supporter_id, supporter_key, platform, source,
            state, created_at, updated_at) VALUES (?, ?, ?, 'telegram', ?, 'sent', ?, ?)""",
        [prompt_id, supporter.id, supporter.key, supporter.source, now_text(), now_text()],
    )
    return int(cursor.lastrowid or 0)


@pytest.fixture
def tokens() -> LinkTokens:
    return LinkTokens(SECRET.encode())


def test_tokens_are_short_url_safe_and_hold_nothing_personal(tokens: LinkTokens) -> None:
    token = tokens.make(123456, "one-step-ahead", "ai-images")
    assert len(token) <= 25
    assert set(token) <= set(string.ascii_letters + string.digits + "-_.")
    assert "ai-images" not in token and "one-step" not in token
    assert tokens.delivery_id(token) == 123456
    assert tokens.check(token, 123456, "one-step-ahead", "ai-images")
    # the signature covers the delivery and the ask
    assert not tokens.check(token, 123457, "one-step-ahead", "ai-images")
    assert not tokens.check(token, 123456, "one-step-ahead", "pre-screening")
    # another secret makes other tokens
    assert LinkTokens(b"another-secret-of-enough-length").make(123456, "a", "b") != token


@pytest.mark.parametrize(
    "token",
    ["", "abc", "1.", ".AAAAAAAAAAAAAAAA", "1.AAAAAAAAAAAAAAA", "x" * 200, "1.A+AAAAAAAAAAAAAA"],
)
def test_malformed_tokens_name_no_delivery(tokens: LinkTokens, token: str) -> None:
    assert tokens.delivery_id(token) is None


def test_link_maker_needs_a_public_base_url(tmp_path: Path) -> None:
    assert (
        link_maker(make_settings(tmp_path).public_base_url, make_settings(tmp_path).button_secret())
        is None
    )
    settings = make_settings(tmp_path, public_base_url="https://act.example.org/")
    maker = link_maker(settings.public_base_url, settings.button_secret())
    assert maker is not None
    db = prepared_db(settings)
    ask = catalog_db.get_ask(db, "one-step-ahead", "ai-images")
    db.close()
    assert ask is not None
    link = maker(42, ask)
    assert link.startswith("https://act.example.org/l/")
    token = link.rsplit("/", 1)[1]
    assert LinkTokens(SECRET.encode()).check(token, 42, "one-step-ahead", "ai-images")


def test_an_open_counts_once_per_delivery(db: Database, tokens: LinkTokens) -> None:
    prompt = sent_prompt(db)
    first = deliver(db, prompt, "501")
    second = deliver(db, prompt, "502", source=None)
    for _ in range(3):
        opened = links.open_link(db, tokens, tokens.make(first, "one-step-ahead", "ai-images"))
        assert opened is not None and opened.url == URL
    links.open_link(db, tokens, tokens.make(second, "one-step-ahead", "ai-images"))
    total = participation(db).total
    assert total.opened == 2
    rows = db.execute("SELECT kind, via, platform, source FROM actions ORDER BY id").fetchall()
    assert rows == [("opened", "link", "telegram", "leaflet"), ("opened", "link", "telegram", None)]


def test_a_reminder_link_counts_for_the_prompt_it_reminds_of(
    db: Database, tokens: LinkTokens
) -> None:
    prompt = sent_prompt(db)
    reminder = sent_prompt(db, kind="reminder", parent=prompt)
    original = deliver(db, prompt, "601")
    again = deliver(db, reminder, "601")
    for delivery in (again, original):
        links.open_link(db, tokens, tokens.make(delivery, "one-step-ahead", "ai-images"))
    assert db.execute("SELECT prompt_id FROM actions").fetchall() == [(prompt,)]


def test_forged_tampered_and_unknown_tokens_record_nothing(
    db: Database, tokens: LinkTokens
) -> None:
    prompt = sent_prompt(db)
    delivery = deliver(db, prompt, "701")
    good = tokens.make(delivery, "one-step-ahead", "ai-images")
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    other_delivery = tokens.make(delivery + 1, "one-step-ahead", "ai-images")
    wrong_ask = tokens.make(delivery, "one-step-ahead", "pre-screening")
    forged = LinkTokens(b"not-our-secret-at-all-123456").make(
        delivery, "one-step-ahead", "ai-images"
    )
    padded = "0" + good
    for token in (tampered, other_delivery, wrong_ask, forged, padded):
        assert links.open_link(db, tokens, token) is None, token
    assert db.execute("SELECT count(*) FROM actions").fetchone()[0] == 0


def test_an_erased_supporter_keeps_past_opens_and_adds_none(
    db: Database, tokens: LinkTokens
) -> None:
    prompt = sent_prompt(db)
    delivery = deliver(db, prompt, "801")
    later = deliver(db, sent_prompt(db, kind="manual"), "801")
    links.open_link(db, tokens, tokens.make(delivery, "one-step-ahead", "ai-images"))
    supporter = supporters_db.get(db, "telegram", "801")
    assert supporter is not None
    supporters_db.delete(db, supporter.id)
    assert participation(db).total.opened == 1  # the past open stays in the totals
    opened = links.open_link(db, tokens, tokens.make(later, "one-step-ahead", "ai-images"))
    assert opened is not None and opened.url == URL and not opened.counted
    assert participation(db).total.opened == 1


@pytest.fixture
def tracked(tmp_path: Path) -> Iterator[tuple[Settings, Core]]:
    settings = make_settings(tmp_path, public_base_url="https://act.example.org")
    prepared_db(settings).close()
    core = open_core(settings)
    yield settings, core
    core.close()


@pytest.fixture
async def client(tracked: tuple[Settings, Core]) -> AsyncIterator[httpx.AsyncClient]:
    settings, core = tracked
    async with asgi_client(create_app(core, settings)) as http:
        yield http


async def test_the_redirect_over_http(
    tracked: tuple[Settings, Core], client: httpx.AsyncClient
) -> None:
    _, core = tracked

    def setup(db: Database) -> int:
        return deliver(db, sent_prompt(db), "901")

    delivery = await core.store.write(setup)
    token = LinkTokens(SECRET.encode()).make(delivery, "one-step-ahead", "ai-images")
    head = await client.head(f"/l/{token}")
    assert head.status_code == 302  # a link checker is answered, not counted
    for _ in range(2):
        response = await client.get(f"/l/{token}")
        assert response.status_code == 302
        assert response.headers["location"] == URL
        assert "set-cookie" not in response.headers
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert (await core.participation()).total.opened == 1
    for bad in (token[:-2] + "zz", "nonsense", "1.AAAAAAAAAAAAAAAA"):
        refused = await client.get(f"/l/{bad}")
        assert refused.status_code == 404
        assert refused.text == "Not found"
        assert "set-cookie" not in refused.headers
    assert (await core.participation()).total.opened == 1


async def test_the_engine_sends_tracked_links(tracked: tuple[Settings, Core]) -> None:
    settings, core = tracked
    messenger = RecordingMessenger("telegram")

    def setup(db: Database) -> int:
        add_supporters(db, 1, addresses=["1001"])
        return prompts_db.create(
            db,
            campaign="one-step-ahead",
            ask_id="ai-images",
            kind="manual",
            scheduled_at=now_text(),
            timezone="UTC",
            created_by="test",
        ).id

    prompt = await core.store.write(setup)
    engine = DeliveryEngine(
        core.store,
        core.ctx,
        {"telegram": messenger},
        link_for=link_maker(settings.public_base_url, settings.button_secret()),
    )
    await engine.send_prompt(prompt)
    [(_, message)] = messenger.sent
    link = message.all_buttons()[0].url
    assert link is not None and link.startswith("https://act.example.org/l/")
    token = link.rsplit("/", 1)[1]
    opened = await core.store.write(links.open_link, LinkTokens(SECRET.encode()), token)
    assert opened is not None and opened.counted
