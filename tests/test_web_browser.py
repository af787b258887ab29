"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against
the app served by uvicorn on a free localhost port.

One browser for all of them; each test gets a fresh context (no cookies). The
overview and funnel screenshots in docs/screenshots are (re)made here when they
are missing or when CAMPAIGNBOT_SCREENSHOTS=1; the other pages are captured under
the test's temp folder, so an ordinary run leaves the working tree as it was.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    Dialog,
    FloatRect,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from campaigns.links import LinkTokens, link_maker
from db import catalog as catalog_db
from db.store import open_database
from db.times import now_text
from settings import Settings
from tests.browser import ARGS, CHROMIUM
from tests.web_seed import seed_demo
from tests.web_support import (
    IMG,
    PASSWORDS,
    SCRIPT,
    SECRET,
    LiveServer,
    add_users,
    hostile_packs,
    make_settings,
    prepared_db,
    run_cli,
)
from web.server import listen

DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ACTION_PAGE = "https://www.writetothem.com/"
NOW = datetime.now(UTC).replace(microsecond=0)


# One browser for all the browser tests, which are this module. (Not the whole
# session: sync Playwright keeps an event loop running in this thread while it is
# up, and the async tests after this module need the thread back.)
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


def serve_seeded(folder: Path, *, packs: Path | None = None) -> tuple[LiveServer, Settings]:
    sock = listen("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(folder, packs=packs, public_base_url=base)
    db = prepared_db(settings)
    with db.atomic():
        seed_demo(db, NOW)
    add_users(db)
    db.close()
    return LiveServer(settings, sock=sock), settings


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Settings]]:
    server, settings = serve_seeded(tmp_path_factory.mktemp("demo"))
    with server:
        yield server, settings


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Settings]]:
    folder = tmp_path_factory.mktemp("hostile")
    server, settings = serve_seeded(folder, packs=hostile_packs(folder / "packs"))
    with server:
        yield server, settings


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        timezone_id="Europe/London",
        accept_downloads=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, base: str, name: str, then: str = "/") -> None:
    page.goto(base + then)
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + then)


def shoot(
    page: Page, name: str, folder: Path, *, docs: bool = False, down_to: str | None = None
) -> None:
    """A full-page screenshot (or down to the end of one element); the README's two
    also go to docs/screenshots."""
    target = folder / f"{name}.png"
    if down_to is None:
        page.screenshot(path=str(target), full_page=True)
    else:
        box = page.locator(down_to).bounding_box()
        assert box is not None
        width = page.viewport_size["width"] if page.viewport_size else 1280
        clip: FloatRect = {"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 24}
        page.screenshot(path=str(target), full_page=True, clip=clip)
    wanted = DOCS / f"{name}.png"
    if docs and (os.environ.get("CAMPAIGNBOT_SCREENSHOTS") == "1" or not wanted.exists()):
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, wanted)


def count(settings: Settings, sql: str, params: list[object] | None = None) -> int:
    db = open_database(settings.db)
    try:
        return int(db.execute(sql, params or []).fetchone()[0])
    finally:
        db.close()


def test_sign_in_and_out(demo: tuple[LiveServer, Settings], page: Page) -> None:
    server, _ = demo
    sign_in(page, server.url, "olive", then="/participation")
    expect(page.get_by_role("heading", level=1)).to_have_text("Participation per ask and week")
    expect(page.locator(".account")).to_contain_text("olive")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(server.url + "/sign-in")
    expect(page.get_by_role("status")).to_contain_text("You’re signed out.")
    page.goto(server.url + "/sources")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/sources"))


def test_sign_in_by_keyboard_alone(demo: tuple[LiveServer, Settings], page: Page) -> None:
    server, _ = demo
    page.goto(server.url + "/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Name")).to_be_focused()
    page.keyboard.type("stan")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS["stan"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/")
    # every visible form field on the main pages has a label
    for path in ("/participation", "/sources"):
        page.goto(server.url + path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
                .filter(el => el.labels.length === 0).map(el => el.name)"""
        )
        assert unlabelled == [], path


def test_staff_cannot_schedule(demo: tuple[LiveServer, Settings], page: Page) -> None:
    server, settings = demo
    sign_in(page, server.url, "stan")
    page.goto(server.url + "/prompts")
    expect(page.get_by_role("link", name="Schedule a prompt")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Cancel prompt"))).to_have_count(0)
    response = page.goto(server.url + "/prompts/new")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not for this account")
    before = count(settings, "SELECT count(*) FROM prompts")
    # even with a good CSRF token, a staff account's schedule request is refused
    page.goto(server.url + "/prompts")
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('input[name=csrftoken]').value;
            const body = new URLSearchParams({csrftoken: token, intent: 'schedule',
                campaign: 'one-step-ahead', date: '2099-01-01', time: '10:00',
                timezone: 'Europe/London'});
            const response = await fetch('/prompts/new', {method: 'POST', body});
            return response.status;
        }"""
    )
    assert status == 403
    assert count(settings, "SELECT count(*) FROM prompts") == before


def fill_schedule_form(page: Page, when: datetime) -> None:
    page.get_by_label("Campaign").select_option("one-step-ahead")
    page.get_by_label("Ask").select_option(label="Make age checks real for children online")
    page.get_by_label("Date").fill(f"{when:%Y-%m-%d}")
    page.get_by_label("Time", exact=True).fill("19:15")
    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_label("Platform").select_option("telegram")
    page.get_by_label(re.compile("Only supporters from source")).fill("leaflet")


def test_a_form_without_its_csrf_token_is_refused(
    demo: tuple[LiveServer, Settings], page: Page
) -> None:
    server, settings = demo
    sign_in(page, server.url, "olive", then="/prompts/new")
    fill_schedule_form(page, NOW + timedelta(days=9))
    page.evaluate("document.querySelector('.schedule-form input[name=csrftoken]').remove()")
    before = count(settings, "SELECT count(*) FROM prompts")
    with page.expect_response(re.compile(r"/prompts/new$")) as answer:
        page.get_by_role("button", name="Schedule", exact=True).click()
    assert answer.value.status == 403
    expect(page.locator("body")).to_contain_text("reload the page and try again")
    assert count(settings, "SELECT count(*) FROM prompts") == before


def test_a_prompt_scheduled_in_the_browser_is_in_the_cli(
    demo: tuple[LiveServer, Settings], page: Page, tmp_path: Path
) -> None:
    server, settings = demo
    sign_in(page, server.url, "olive", then="/prompts")
    page.get_by_role("link", name="Schedule a prompt").click()
    # only the chosen campaign's asks are offered
    offered = page.locator("#ask optgroup[data-campaign='one-step-ahead']")
    assert offered.evaluate("group => !group.hidden && !group.disabled")
    when = NOW + timedelta(days=10)
    fill_schedule_form(page, when)
    page.get_by_role("button", name="Preview").click()
    telegram = page.locator("[data-mock=telegram]")
    discord = page.locator("[data-mock=discord]")
    for mock in (telegram, discord):
        expect(mock).to_contain_text("Make age checks real for children online")
        expect(mock).to_contain_text("I did it")
        expect(mock).to_contain_text("Not this week")
    expect(page.get_by_label("Date")).to_have_value(f"{when:%Y-%m-%d}")  # the form kept its values
    shoot(page, "schedule-preview", tmp_path)
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page).to_have_url(server.url + "/prompts")
    flash = page.get_by_role("status").first
    expect(flash).to_contain_text("Scheduled prompt")
    prompt_id = re.search(r"Scheduled prompt (\d+)", flash.inner_text())
    assert prompt_id is not None
    listed = run_cli(["schedule", "list"], settings)
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if f" {prompt_id.group(1)} " in row)
    assert "age-verification" in line
    assert f"{when:%Y-%m-%d} 19:15 Europe/London" in line
    assert "telegram, leaflet" in line
    shoot(page, "prompts", tmp_path)
    # and cancelling it in the browser shows in the CLI as well
    page.get_by_role("button", name=f"Cancel prompt {prompt_id.group(1)}").click()
    expect(page.get_by_role("status").first).to_contain_text("Cancelled prompt")
    after = run_cli(["schedule", "list", "--all"], settings)
    line = next(row for row in after.stdout.splitlines() if f" {prompt_id.group(1)} " in row)
    assert "cancelled" in line


def test_a_bad_time_gets_a_message_next_to_the_field(
    demo: tuple[LiveServer, Settings], page: Page
) -> None:
    server, settings = demo
    sign_in(page, server.url, "olive", then="/prompts/new")
    fill_schedule_form(page, NOW - timedelta(days=2))
    before = count(settings, "SELECT count(*) FROM prompts")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator("#error-at")).to_contain_text("that time has passed")
    expect(page.get_by_label("Date")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Time zone").fill("")
    page.get_by_label("Date").fill(f"{NOW + timedelta(days=3):%Y-%m-%d}")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator("#error-timezone")).to_contain_text("time zone")
    assert count(settings, "SELECT count(*) FROM prompts") == before


def table_cells(page: Page, caption: str) -> list[list[str]]:
    table = page.locator("table", has=page.locator("caption", has_text=caption))
    rows: list[list[str]] = table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))"
    )
    return [[cell.replace(",", "") for cell in row] for row in rows]


def test_the_numbers_are_the_clis(
    demo: tuple[LiveServer, Settings], page: Page, tmp_path: Path
) -> None:
    server, settings = demo
    sign_in(page, server.url, "stan")
    shoot(page, "overview", tmp_path, docs=True)
    page.goto(server.url + "/participation")
    report = json.loads(run_cli(["stats", "--json"], settings).stdout)
    columns = ("delivered", "opened", "done", "skipped", "supporters")
    version = {None: ""}  # of the ask's text: none recorded by the seeded prompts
    assert table_cells(page, "Per ask and week") == [
        [
            r["week"],
            r["campaign"],
            r["ask_id"],
            r["ask_title"],
            version.get(r["version"], str(r["version"])),
            *(str(r[c]) for c in columns),
        ]
        for r in report["by_ask_week"]
    ]
    assert table_cells(page, "Per platform") == [
        [r["platform"], *(str(r[c]) for c in columns)] for r in report["by_platform"]
    ]
    funnel = dict((row[0], row[1]) for row in table_cells(page, "The funnel"))
    assert funnel["delivered"] == str(report["total"]["delivered"])
    assert funnel["link opened"] == str(report["total"]["opened"])
    assert funnel["done"] == str(report["total"]["done"])
    expect(page.get_by_role("img", name=re.compile("Funnel chart"))).to_be_visible()
    shoot(page, "funnel", tmp_path, docs=True, down_to="section:has(#funnel-heading)")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download “Per ask and week” as CSV").click()
    text = Path(download.value.path()).read_text()
    assert text == run_cli(["stats", "--csv", "--table", "asks"], settings).stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["week", "campaign", "ask_id", "ask_title", "version", *columns]
    assert len(rows) == 1 + len(report["by_ask_week"])
    assert download.value.suggested_filename.endswith(".csv")

    # filtered, on the per-source page
    page.goto(server.url + "/sources")
    page.get_by_label("Platform").select_option("discord")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"platform=discord"))
    filtered = json.loads(run_cli(["stats", "--json", "--platform", "discord"], settings).stdout)
    assert table_cells(page, "Participation per source") == [
        [r["source"], *(str(r[c]) for c in columns)] for r in filtered["by_source"]
    ]
    shoot(page, "sources", tmp_path)


def test_the_link_redirect_counts_once_and_refuses_a_tampered_token(
    demo: tuple[LiveServer, Settings], page: Page
) -> None:
    server, settings = demo
    db = open_database(settings.db)
    delivery_id, campaign, ask_id = db.execute(
        """SELECT d.id, p.campaign, p.ask_id FROM deliveries d JOIN prompts p ON p.id = d.prompt_id
        WHERE d.state = 'sent' AND p.kind = 'weekly' AND NOT EXISTS (
            SELECT 1 FROM actions a WHERE a.prompt_id = d.prompt_id
            AND a.supporter_key = d.supporter_key AND a.kind = 'opened')
        ORDER BY d.id DESC LIMIT 1"""
    ).fetchone()
    ask = catalog_db.get_ask(db, campaign, ask_id)
    db.close()
    assert ask is not None
    maker = link_maker(settings.public_base_url, settings.button_secret())
    assert maker is not None
    link = maker(delivery_id, ask)
    assert link.startswith(server.url + "/l/")
    # The ask's link is a page on the internet, which this browser can't reach: what
    # counts is that it was sent there, by a 302 from the tracked link.
    opened = "SELECT count(*) FROM actions WHERE kind = 'opened'"
    before = count(settings, opened)
    action = re.compile("^" + re.escape(ACTION_PAGE))
    for _ in range(2):
        page.goto("about:blank")
        with page.expect_request(action) as followed, contextlib.suppress(PlaywrightError):
            page.goto(link)
        page.wait_for_url(re.compile("^chrome-error://"))  # it settles on the offline page
        hop = followed.value.redirected_from
        assert hop is not None and hop.url == link
        response = hop.response()
        assert response is not None and response.status == 302
        assert response.headers["location"] == ACTION_PAGE
    assert count(settings, opened) == before + 1
    assert page.context.cookies(server.url) == []  # supporters get no cookies from us
    token = link.rsplit("/", 1)[1]
    tampered = token[:-1] + ("B" if token[-1] == "A" else "A")
    page.goto("about:blank")
    for bad in (
        tampered,
        LinkTokens(b"someone-else-secret-123").make(delivery_id, campaign, ask_id),
    ):
        response = page.goto(f"{server.url}/l/{bad}")
        assert response is not None and response.status == 404
        expect(page.locator("body")).to_have_text("Not found")
    assert count(settings, opened) == before + 1
    assert LinkTokens(SECRET.encode()).check(token, delivery_id, campaign, ask_id)


def test_live_progress_updates_without_a_reload(
    demo: tuple[LiveServer, Settings], page: Page
) -> None:
    server, settings = demo
    db = open_database(settings.db)
    with db.atomic():
        prompt_id = db.execute(
            """INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,
                created_by, created_at, started_at)
            VALUES ('one-step-ahead', 'ai-images', 'manual', ?, 'UTC', 'sending', 'test', ?, ?)""",
            [now_text(), now_text(), now_text()],
        ).lastrowid
        for n in range(10):
            db.execute(
                """INSERT INTO deliveries (prompt_id, supporter_key, platform, state,
                    created_at, updated_at) VALUES (?, ?, 'telegram', 'pending', ?, ?)""",
                [prompt_id, f"live-{n}", now_text(), now_text()],
            )
    sign_in(page, server.url, "stan", then="/sends")
    row = page.locator(f"tr[data-prompt='{prompt_id}']")
    expect(row).to_contain_text("one-step-ahead/ai-images")
    page.evaluate("window.stillTheSamePage = true")
    with db.atomic():
        db.execute(
            "UPDATE deliveries SET state = 'sent', updated_at = ? WHERE prompt_id = ? AND id IN"
            " (SELECT id FROM deliveries WHERE prompt_id = ? LIMIT 7)",
            [now_text(), prompt_id, prompt_id],
        )
        db.execute(
            "UPDATE deliveries SET state = 'cancelled', updated_at = ? WHERE prompt_id = ?"
            " AND id IN (SELECT id FROM deliveries WHERE prompt_id = ? AND state = 'pending'"
            " LIMIT 1)",
            [now_text(), prompt_id, prompt_id],
        )
    expect(row.locator("td").nth(1)).to_have_text("7", timeout=8000)  # sent
    expect(row.locator("td").nth(5)).to_have_text("1")  # cancelled
    expect(row.locator("td").nth(6)).to_have_text("2")  # left
    assert page.evaluate("window.stillTheSamePage") is True
    with db.atomic():
        db.execute("UPDATE prompts SET state = 'sent' WHERE id = ?", [prompt_id])
        db.execute("DELETE FROM deliveries WHERE prompt_id = ?", [prompt_id])
        db.execute("DELETE FROM prompts WHERE id = ?", [prompt_id])
    db.close()
    expect(row).to_have_count(0, timeout=8000)


def test_pack_text_is_shown_escaped_everywhere(
    hostile: tuple[LiveServer, Settings], page: Page, tmp_path: Path
) -> None:
    server, settings = hostile
    dialogs: list[str] = []

    def note(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", note)
    sign_in(page, server.url, "olive")
    seen: list[str] = []
    for path in ("/", "/participation", "/sources", "/prompts/new"):
        page.goto(server.url + path)
        seen.append(page.locator("main").inner_text())
    page.get_by_label("Ask").select_option(label=f"{SCRIPT} AI abuse images")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-mock=telegram]")).to_contain_text(SCRIPT)
    expect(page.locator("[data-mock=discord]")).to_contain_text(IMG)
    seen.append(page.locator("main").inner_text())
    shoot(page, "escaped-preview", tmp_path)
    text = "\n".join(seen)
    assert f"{SCRIPT} AI abuse images" in text  # shown, as text
    assert IMG in text
    assert dialogs == []
    assert page.locator("img[onerror], img[src=x]").count() == 0
    assert page.locator("script:not([src])").count() == 0
    page.goto(server.url + "/participation")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download “Per ask and week” as CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert [f"{SCRIPT} AI abuse images"] == [row[3] for row in rows if SCRIPT in row[3]][:1]
    assert rows == list(csv.reader(io.StringIO(run_cli(["stats", "--csv"], settings).stdout)))


def test_readable_on_a_phone(demo: tuple[LiveServer, Settings], browser: Browser) -> None:
    server, _ = demo
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    try:
        page = context.new_page()
        sign_in(page, server.url, "stan")
        for path in ("/", "/participation", "/sources", "/prompts"):
            page.goto(server.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (path, width)
    finally:
        context.close()
