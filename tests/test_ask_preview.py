"""The live preview of an ask (issue 15, part 2): Telegram, Discord and the console side
by side, drawn by the adapters' own renderers, so each preview is what the real
adapter sends: the dashboard's test send through the real Telegram adapter, and the
real Discord adapter and console chat, are held to it. Also: forms checked as packs
are (each error by field name, nothing saved), hostile text shown as text, who may
use it, and the page in Debian's chromium updating as an organiser types.

The browser tests come last: sync Playwright holds this thread's event loop from the
first of them to the end of the module.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright
from rich.console import Console

from bots.console import ConsoleChat
from bots.telegram.bot import TelegramBot
from campaigns import prompting
from campaigns.core import Core
from campaigns.model import ChatKind
from campaigns.packs import MAX_ASK_CHARS
from settings import Settings
from tests.browser import ARGS, CHROMIUM, WATCH_CSP
from tests.chat import count
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.platforms import discord_bot, telegram_online
from tests.web_support import (
    PASSWORDS,
    LiveServer,
    asgi_client,
    csrf_of,
    in_store,
    make_settings,
    opened_core,
    sign_in,
    signed_in,
    with_users,
)
from web.lookalikes import CONSOLE_WIDTH

CAMPAIGN, ASK = "one-step-ahead", "ai-images"
PAGE = f"/asks/{CAMPAIGN}/{ASK}/preview"
OLIVE_CHAT = 4242  # olive's linked Telegram chat
SAM = 5301  # a Discord user
SCRIPT = "<script>alert(1)</script>"
BOLD = '<b onclick="alert(2)">bold?</b>'
IMG = '"><img src=x onerror=alert(3)>'
FRAGMENT = {"X-Preview": "fragment"}
TELEGRAM_ENTITIES = {"bold", "italic", "text_link", "underline", "strikethrough", "code", "pre"}


# ---------------------------------------------------------------- reading pages


@dataclass
class Node:
    """An element of a page, enough of a DOM to read the previews back."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
                if (tag is None or child.tag == tag) and all(
                    child.attrs.get(k) == v for k, v in wanted.items()
                ):
                    found.append(child)
                found += child.all(tag, **attrs)
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class _Tree(HTMLParser):
    VOID = frozenset({"input", "br", "img", "meta", "link", "hr", "rect"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def tree(html: str) -> Node:
    parser = _Tree()
    parser.feed(html)
    parser.close()
    return parser.root


def look(html: str, platform: str) -> Node:
    return tree(html).one("figure", data_look=platform)


def keys(node: Node) -> list[list[tuple[str, str | None]]]:
    """The buttons under a Telegram preview, row by row: (label, link)."""
    return [
        [(key.text, key.attrs.get("href")) for key in row.children if isinstance(key, Node)]
        for row in node.all("div", **{"class": "tg-row"})
    ]


def errors_of(fragment: str) -> dict[str, str]:
    """The fields a preview fragment says are wrong, and why."""
    result = tree(fragment).one("div", **{"class": "preview-result"})
    errors: dict[str, str] = json.loads(result.attrs["data-errors"])
    return errors


def utf16(text: str, offset: int, length: int) -> str:
    data = text.encode("utf-16-le")
    return data[2 * offset : 2 * (offset + length)].decode("utf-16-le")


def shown_markdown(text: str) -> str:
    """What Discord shows for our adapter's markdown: escapes dropped, links as labels."""
    text = re.sub(r"(?<!\\)\[((?:\\.|[^\\\]])+)\]\((https://[^\s)]+)\)", r"\1", text)
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return with_users(make_settings(tmp_path), olive=f"telegram:{OLIVE_CHAT}")


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.private_chat(OLIVE_CHAT, "Olive")
        yield fake
        assert not [call for call in fake.rejected if call.method != "getUpdates"]


@pytest.fixture
async def app_core(settings: Settings) -> AsyncIterator[Core]:
    with opened_core(settings) as core:
        yield core


@pytest.fixture
async def telegram_bot(app_core: Core, telegram: FakeTelegram) -> AsyncIterator[TelegramBot]:
    async with telegram_online(app_core, telegram) as bot:
        yield bot


@pytest.fixture
async def organiser(
    app_core: Core, settings: Settings, telegram_bot: TelegramBot
) -> AsyncIterator[httpx.AsyncClient]:
    from web.app import create_app

    app = create_app(app_core, settings, messengers={"telegram": telegram_bot})
    async with signed_in(app, "olive") as http:
        yield http


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    server.add_user(SAM, "sam")
    yield server
    await server.stop()
    assert server.internal_errors == []


async def a_page(http: httpx.AsyncClient, path: str = PAGE) -> tuple[str, str]:
    """A preview page and its CSRF token."""
    page = await http.get(path)
    assert page.status_code == 200, page.text
    return page.text, csrf_of(page.text)


def the_form(html: str) -> dict[str, str]:
    """The values the preview page's form would post."""
    form = tree(html).one("form", **{"class": "ask-form"})
    values = {
        node.attrs["name"]: node.attrs.get("value", "")
        for node in form.all("input")
        if node.attrs.get("type") != "radio"
    }
    values |= {node.attrs["name"]: node.text for node in form.all("textarea")}
    values["show"] = "ask"
    return values


def audited(core_settings: Settings) -> int:
    return in_store(core_settings, lambda db: count(db, "SELECT count(*) FROM audit"))


# ---------------------------------------------------------------- what is sent


async def test_the_telegram_preview_is_what_the_test_send_delivers(
    organiser: httpx.AsyncClient, telegram: FakeTelegram
) -> None:
    html, token = await a_page(organiser)
    shown = look(html, "telegram")
    # the page's test send: the stored ask, through the real adapter, to olive's chat
    test_send = tree(html).one("form", action="/prompts/new")
    fields = {node.attrs["name"]: node.attrs["value"] for node in test_send.all("input")}
    assert fields["intent"] == "test" and fields["ask"] == ASK
    answer = await organiser.post("/prompts/new", data=fields | {"csrftoken": token})
    assert answer.status_code == 200 and "Sent a test of" in answer.text
    (call,) = [c for c in telegram.calls("sendMessage") if c.status == 200]
    # the HTML the adapter sent is the HTML the preview shows it sends...
    assert call.params["text"] == shown.one("pre", data_sent="telegram").text
    assert call.params["parse_mode"] == "HTML"
    # ...and the preview draws it as Telegram reads it: the same text, the same styling
    (received,) = telegram.sent_to(OLIVE_CHAT)
    bubble = shown.one(None, data_part="text")
    assert bubble.text == received["text"]
    entities = sorted(
        (e["type"], utf16(received["text"], e["offset"], e["length"]), e.get("url"))
        for e in received.get("entities", [])
        if e["type"] in TELEGRAM_ENTITIES
    )
    names = {"b": "bold", "i": "italic", "a": "text_link"}
    drawn = sorted(
        (names[node.tag], node.text, node.attrs.get("href"))
        for node in bubble.all()
        if node.tag in names
    )
    assert drawn == entities and ("bold", "20,254", None) in drawn
    # the keyboard: the same labels, and the link goes where the button does
    sent_keys = [
        [(b["text"], b.get("url")) for b in row]
        for row in received["reply_markup"]["inline_keyboard"]
    ]
    assert keys(shown) == sent_keys
    assert sent_keys[1] == [("I did it", None), ("Not this week", None)]


async def test_the_discord_and_console_previews_are_what_those_adapters_send(
    organiser: httpx.AsyncClient, app_core: Core, discord: FakeDiscord
) -> None:
    html, _ = await a_page(organiser)
    # the message the schedule page and the test send compose for this ask
    _, message = await app_core.store.write(prompting.preview, app_core.ctx, CAMPAIGN, ASK, "test")
    bot = discord_bot(app_core, discord, retry_first=0.05, retry_cap=0.2)
    await bot.online()
    try:
        await bot.send(str(SAM), ChatKind.PRIVATE, message)
    finally:
        await bot.offline()
    (received,) = discord.dms_to(SAM)
    shown = look(html, "discord")
    sent = json.loads(shown.one("pre", data_sent="discord").text)
    assert sent["embeds"] == received["embeds"]
    strip = [
        {k: v for k, v in item.items() if k != "id"}
        for row in received["components"]
        for item in row["components"]
    ]
    assert [item for row in sent["components"] for item in row["components"]] == strip
    # drawn as Discord shows it
    (embed,) = received["embeds"]
    assert shown.one(None, data_part="title").text == embed["title"]
    assert shown.one(None, data_part="description").text == shown_markdown(embed["description"])
    (field_,) = embed["fields"]
    drawn = shown.one(None, data_part="field")
    assert drawn.one("p").text == field_["name"]
    assert drawn.one("div").text == shown_markdown(field_["value"])
    link = drawn.one("a")
    assert f"]({link.attrs['href']})" in field_["value"]
    assert shown.one("rect").attrs["fill"] == f"#{embed['color']:06x}"
    styles = {3: "success", 2: "secondary", 5: "link"}
    assert [
        [
            (b.text, b.attrs.get("href"), b.attrs["class"])
            for b in row.children
            if isinstance(b, Node)
        ]
        for row in shown.all(None, data_part="buttons")
    ] == [
        [
            (item["label"], item.get("url"), f"dc-button dc-button-{styles[item['style']]}")
            for item in row["components"]
        ]
        for row in received["components"]
    ]

    # the console chat prints what the console preview shows
    terminal = Console(width=CONSOLE_WIDTH, file=io.StringIO(), record=True, highlight=False)
    chat = ConsoleChat(app_core, console=terminal)
    await chat.send(chat.origin.chat, ChatKind.PRIVATE, message)
    screen = look(html, "console").one("pre").text
    assert terminal.export_text() == screen + "\n"
    assert "[2] I did it" in screen and "Write to your MP" in screen


async def test_a_stored_ask_round_trips_through_its_form(
    organiser: httpx.AsyncClient, app_core: Core
) -> None:
    """Posting the page's form unchanged previews exactly the stored ask."""
    html, _ = await a_page(organiser)
    again = await organiser.post("/asks/preview", data=the_form(html), headers=FRAGMENT)
    assert again.status_code == 200
    for platform in ("telegram", "discord"):
        assert look(again.text, platform).one("pre").text == look(html, platform).one("pre").text
    assert look(again.text, "console").one("pre").text == look(html, "console").one("pre").text


# ---------------------------------------------------------------- the form


async def test_a_changed_field_is_previewed_everywhere_and_nothing_is_saved(
    organiser: httpx.AsyncClient, settings: Settings, app_core: Core
) -> None:
    html, _ = await a_page(organiser)
    before = audited(settings)
    values = the_form(html) | {
        "title": "A new title for this week",
        "reminder": "Two days left: it takes a minute.",
        "show": "reminder",
    }
    answer = await organiser.post("/asks/preview", data=values, headers=FRAGMENT)
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith('<div class="preview-result"')  # the fragment only
    for platform in ("telegram", "discord", "console"):
        text = look(answer.text, platform).text
        assert "A new title for this week" in text, platform
        assert "Reminder" in text and "Two days left: it takes a minute." in text
    # the whole page, without JavaScript, says the same
    page = await organiser.post("/asks/preview", data=values)
    assert page.status_code == 200 and "<h1>Preview: Bring the law up to speed" in page.text
    assert "A new title for this week" in look(page.text, "telegram").text
    # nothing stored, nothing audited
    stored = await app_core.store.read(prompting.resolve_ask, app_core.ctx.catalog, CAMPAIGN, ASK)
    assert stored.title == "Bring the law up to speed on AI abuse images"
    assert audited(settings) == before


async def test_each_wrong_field_is_named_beside_it(organiser: httpx.AsyncClient) -> None:
    html, _ = await a_page(organiser)
    bad = {
        "title": "",
        "topic": "Not A Topic",
        "statistic.url": "javascript:alert(1)",
        "statistic.year": "20x4",
        "link.url": "http://example.org/",
        "reminder": "r" * 281,
        "ask": "x" * (MAX_ASK_CHARS + 1),
    }
    expected = {
        "title": "is empty",
        "topic": "must be lowercase letters, digits and hyphens",
        "statistic.url": "'javascript:alert(1)' is not a web link",
        "statistic.year": "must be a year of four digits, such as 2024",
        "link.url": "must be an https:// link",
        "reminder": "is 281 characters long; at most 280 fit",
        "ask": f"is {MAX_ASK_CHARS + 1} characters long; at most {MAX_ASK_CHARS} fit",
    }
    page = await organiser.post("/asks/preview", data=the_form(html) | bad)
    assert page.status_code == 422
    shown = tree(page.text)
    assert shown.all("figure") == []  # no preview of an ask that isn't one
    for name, words in expected.items():
        slot = name.replace(".", "-")
        error = shown.one("p", id=f"error-{slot}")
        assert words in error.text and "hidden" not in error.attrs, name
        control = shown.one(None, id=f"f-{slot}")
        assert control.attrs.get("aria-invalid") == "true", name
        assert f"error-{slot}" in control.attrs["aria-describedby"]
    for name in ("statistic.figure", "link.label"):  # good fields are left unmarked
        assert "hidden" in shown.one("p", id=f"error-{name.replace('.', '-')}").attrs
    # the summary names each field and links to it
    summary = shown.one(None, role="alert").text
    assert "Ask: Title: is empty" in summary and "Link: Web address:" in summary
    # the fragment carries the same, for the script to mark the fields
    fragment = await organiser.post("/asks/preview", data=the_form(html) | bad, headers=FRAGMENT)
    assert fragment.status_code == 200  # a fragment is drawn either way; it names the fields
    assert set(errors_of(fragment.text)) == set(expected)
    # a whole table's problem goes to its field: a period the sentence doesn't say
    period = await organiser.post(
        "/asks/preview", data=the_form(html) | {"statistic.period": "2019"}, headers=FRAGMENT
    )
    assert errors_of(period.text) == {
        "statistic.sentence": "the sentence must say 2019 (from period): supporters see only "
        "the sentence and the source's year"
    }
    # an unknown campaign is named too
    other = await organiser.post(
        "/asks/preview", data=the_form(html) | {"campaign": "nope"}, headers=FRAGMENT
    )
    assert "Campaign: is not a campaign here" in other.text
    assert errors_of(other.text) == {"campaign": "is not a campaign here (known: one-step-ahead)"}


async def test_markup_in_every_field_is_shown_as_text(organiser: httpx.AsyncClient) -> None:
    html, _ = await a_page(organiser)
    hostile = {
        name: f"{SCRIPT} {BOLD} {IMG}"
        for name in (
            "title",
            "ask",
            "statistic.figure",
            "statistic.sentence",
            "statistic.source",
            "link.label",
            "reminder",
        )
    }
    hostile["title"] = f"{SCRIPT} {BOLD}"  # a title is at most 80 characters
    hostile["statistic.figure"] = BOLD  # a figure at most 40
    hostile["link.label"] = BOLD
    hostile["link.url"] = 'https://example.org/?q="><script>alert(4)</script>'
    hostile["show"] = "reminder"
    for headers in (FRAGMENT, {}):
        answer = await organiser.post(
            "/asks/preview", data=the_form(html) | hostile, headers=headers
        )
        assert answer.status_code == 200, answer.text
        text = answer.text
        assert "<script>alert" not in text and "<b onclick" not in text
        assert "<img src=x" not in text
        for platform in ("telegram", "discord", "console"):
            shown = look(text, platform)
            assert SCRIPT in shown.text and BOLD in shown.text, platform
            assert all(node.tag not in ("script", "img") for node in shown.all())
            assert not [node for node in shown.all() if any(a.startswith("on") for a in node.attrs)]
        # Telegram's HTML escapes it; the preview shows the escaped text as text
        sent = look(text, "telegram").one("pre", data_sent="telegram").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sent
        assert "&lt;b onclick=" in sent
        links = [node.attrs["href"] for node in tree(text).all("a") if "href" in node.attrs]
        assert all(not href.lower().startswith("javascript") for href in links)
        assert all('"' not in href and "<" not in href for href in links)
    # a link that isn't one is named, and what it said comes back as text
    bad_link = the_form(html) | {"statistic.url": f"javascript:{SCRIPT}"}
    for headers in (FRAGMENT, {}):
        answer = await organiser.post("/asks/preview", data=bad_link, headers=headers)
        assert "<script>alert" not in answer.text
        assert f"&#39;javascript:{escape(SCRIPT)}&#39; is not a web link" in answer.text
    fragment = await organiser.post("/asks/preview", data=bad_link, headers=FRAGMENT)
    assert errors_of(fragment.text) == {"statistic.url": f"'javascript:{SCRIPT}' is not a web link"}


async def test_odd_unicode_and_huge_text(organiser: httpx.AsyncClient) -> None:
    html, _ = await a_page(organiser)
    odd = "Cafe\u0301 \u202eRTL\u202c \u200d👩‍👩‍👧 \U0001f600 \ufeff ǅ Ω"
    answer = await organiser.post(
        "/asks/preview", data=the_form(html) | {"title": odd[:80]}, headers=FRAGMENT
    )
    assert answer.status_code == 200
    normalised = "Café"  # NFC, as packs keep text
    for platform in ("telegram", "discord", "console"):
        assert normalised in look(answer.text, platform).text
        assert "👩‍👩‍👧" in look(answer.text, platform).text
    # a control character is named, not shown
    bell = await organiser.post(
        "/asks/preview", data=the_form(html) | {"ask": "ring\x07"}, headers=FRAGMENT
    )
    assert errors_of(bell.text) == {"ask": "contains a control character (U+0007)"}
    # a text area's CR LF is a line end, not a control character
    lines = await organiser.post(
        "/asks/preview", data=the_form(html) | {"ask": "one\r\ntwo"}, headers=FRAGMENT
    )
    assert lines.status_code == 200
    assert "one\ntwo" in look(lines.text, "telegram").one(None, data_part="text").text
    # bytes that aren't UTF-8, and a NUL
    raw = urlencode({k: v for k, v in the_form(html).items() if k != "title"})
    for title in ("%ff%fe", "%00", "%ED%A0%80"):
        odd_bytes = await organiser.post(
            "/asks/preview",
            content=f"{raw}&title={title}",
            headers={"content-type": "application/x-www-form-urlencoded", **FRAGMENT},
        )
        assert odd_bytes.status_code == 200, title
        assert set(errors_of(odd_bytes.text)) <= {"title"}
    # huge: capped as packs cap it, and a body past the form limit is refused whole
    huge = await organiser.post(
        "/asks/preview", data=the_form(html) | {"ask": "a" * 60_000}, headers=FRAGMENT
    )
    assert errors_of(huge.text) == {"ask": "is 60000 characters long; at most 400 fit"}
    assert "a" * 1000 not in huge.text  # the fragment doesn't echo it
    too_big = await organiser.post(
        "/asks/preview", data=the_form(html) | {"ask": "a" * 100_000}, headers=FRAGMENT
    )
    assert too_big.status_code == 413


# ---------------------------------------------------------------- who may


async def test_only_organisers_signed_in_with_a_good_token(
    settings: Settings, app_core: Core
) -> None:
    from web.app import create_app

    app = create_app(app_core, settings)
    async with asgi_client(app) as http:
        # signed out: sent to sign in; a post is refused
        page = await http.get(PAGE)
        assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")
        form = await http.get("/sign-in")
        posted = await http.post(
            "/asks/preview", data={"csrftoken": csrf_of(form.text), "title": "x"}
        )
        assert posted.status_code in (303, 403)
        assert "Preview" not in posted.text
        # staff: refused, even with a good token
        await sign_in(http, "stan")
        assert (await http.get(PAGE)).status_code == 403
        token = csrf_of((await http.get("/")).text)
        refused = await http.post("/asks/preview", data={"csrftoken": token}, headers=FRAGMENT)
        assert refused.status_code == 403
    async with signed_in(app, "olive") as http:
        html, token = await a_page(http)
        values = the_form(html)
        # no token, a forged one, one from another session
        for forged in ("", "forged", token[:-2] + "xx"):
            answer = await http.post(
                "/asks/preview", data=values | {"csrftoken": forged}, headers=FRAGMENT
            )
            assert answer.status_code == 403, forged
            assert "lookalikes" not in answer.text
        ok = await http.post("/asks/preview", data=values, headers=FRAGMENT)
        assert ok.status_code == 200
        # the form's address, visited: the asks to choose from
        visited = await http.get("/asks/preview")
        assert visited.status_code == 303 and visited.headers["location"] == "/prompts/new#asks"
        # an ask that isn't there
        for path in ("/asks/one-step-ahead/no-such-ask/preview", "/asks/nope/ai-images/preview"):
            assert (await http.get(path)).status_code == 404


async def test_the_schedule_page_links_every_ask_to_its_preview(
    organiser: httpx.AsyncClient, app_core: Core
) -> None:
    page = await organiser.get("/prompts/new")
    asks = await app_core.store.read(prompting.asks_by_campaign, app_core.ctx.catalog)
    for slug, rows in asks.items():
        for ask in rows:
            link = f'href="/asks/{slug}/{ask.id}/preview"'
            assert link in page.text, ask.id
            assert (await organiser.get(f"/asks/{slug}/{ask.id}/preview")).status_code == 200


# ---------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium (make chromium)"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = with_users(make_settings(tmp_path_factory.mktemp("preview")))
    with LiveServer(settings) as live:
        yield live


def signed_in_page(browser: Browser, server: LiveServer, *, script: bool = True) -> Page:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", java_script_enabled=script
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.add_init_script(WATCH_CSP)
    page.goto(server.url + PAGE)
    page.get_by_label("Name").fill("olive")
    page.get_by_label("Password").fill(PASSWORDS["olive"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url + PAGE)
    return page


def test_the_previews_follow_the_typing_without_a_page_load(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    page = signed_in_page(browser, server)
    console: list[ConsoleMessage] = []
    page.on("console", lambda message: console.append(message))
    looks = {
        name: page.locator(f"[data-look={name}]") for name in ("telegram", "discord", "console")
    }
    for shown in looks.values():
        expect(shown).to_contain_text("Bring the law up to speed on AI abuse images")
    page.evaluate("window.stillTheSamePage = true")
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )

    title = page.get_by_label("Title", exact=True)
    title.fill("")
    typed = "Tell your MP about AI images"
    title.press_sequentially(typed, delay=20)
    for shown in looks.values():
        expect(shown).to_contain_text(typed)
    # debounced: the form is posted when the typing pauses, not at every key
    assert 1 <= len(posts) < len(typed) / 2, posts
    assert all(url.endswith("/asks/preview") for url in posts)

    # a field made wrong is marked beside it, and the previews wait
    title.fill("")
    error = page.locator("#error-title")
    expect(error).to_be_visible()
    expect(error).to_have_text("is empty")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#preview-output [role=alert]")).to_contain_text("Ask: Title: is empty")
    expect(looks["telegram"]).to_have_count(0)
    title.fill(f"{SCRIPT} {BOLD}")
    expect(error).to_be_hidden()
    expect(title).not_to_have_attribute("aria-invalid", "true")
    for name in ("telegram", "discord"):
        expect(page.locator(f"[data-look={name}]")).to_contain_text(f"{SCRIPT} {BOLD}")
    expect(page.locator("[data-look=console]")).to_contain_text(SCRIPT)  # a title cut to fit
    assert page.locator("#preview-output script, #preview-output [onclick]").count() == 0

    # its reminder, chosen by a radio button
    page.get_by_label("Its reminder").check()
    expect(page.locator("[data-look=discord] [data-part=title]")).to_contain_text("Reminder: ")

    page.screenshot(path=str(tmp_path / "ask-preview.png"), full_page=True)
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.evaluate("window.cspViolations") == []
    assert not [m.text for m in console if m.type == "error"], [m.text for m in console]
    page.context.close()


def test_without_javascript_the_preview_button_does_the_same(
    browser: Browser, server: LiveServer
) -> None:
    page = signed_in_page(browser, server, script=False)
    page.get_by_label("Button label").fill("Email your MP")
    page.get_by_label("Web address").fill("http://example.org/")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("#error-link-url")).to_have_text("must be an https:// link")
    expect(page.get_by_label("Button label")).to_have_value("Email your MP")  # kept
    page.get_by_label("Web address").fill("https://example.org/mp")
    page.get_by_role("button", name="Preview", exact=True).click()
    button = page.locator("[data-look=telegram] a.tg-button", has_text="Email your MP")
    expect(button).to_have_attribute("href", "https://example.org/mp")
    expect(page.locator("[data-look=discord] a.dc-button")).to_have_text("Email your MP")
    expect(page.locator("[data-look=console]")).to_contain_text(
        "[1] Email your MP → https://example.org/mp"
    )
    page.context.close()


def test_the_page_fits_a_phone(browser: Browser, server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    try:
        page = context.new_page()
        page.goto(server.url + PAGE)
        page.get_by_label("Name").fill("olive")
        page.get_by_label("Password").fill(PASSWORDS["olive"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("[data-look=console]")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(el => el.labels.length === 0).map(el => el.name)"""
        )
        assert unlabelled == []
    finally:
        context.close()
