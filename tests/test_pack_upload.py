"""The Campaigns page's import is a plain file upload (multipart), working without
script: its CSRF token is read from the multipart body, the body is capped at a
pack's size (413 before parsing), and every bad upload gets one line and changes
nothing. Other routes keep refusing multipart forms. The browser test picks a file
in Debian's chromium, with script off."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from campaigns import pack_io
from campaigns.core import Core
from campaigns.packs import load_pack
from db import audit as audit_db
from db.store import open_database
from settings import Settings
from tests import test_packs_in_out as packs_tests
from tests.browser import CHROMIUM
from tests.seeding import bundled_folder
from tests.test_packs_in_out import BAD_URL, BUNDLED, EVERY_FIELD, stored, write
from tests.web_support import PASSWORDS, LiveServer, csrf_of, make_settings, with_users
from web.security import UPLOADS

IMPORT = "/campaigns/import"
# the signed-in organiser over the bundled pack's folder, as tests/test_packs_in_out.py has it
dashboard, olive = packs_tests.dashboard, packs_tests.olive


async def token_of(client: httpx.AsyncClient) -> str:
    return csrf_of((await client.get("/campaigns")).text)


def problem_of(html: str) -> str:
    """The page's one refusal: the text of its alert."""
    found = re.search(r'id="import-problems">(.*?)</div>', html, re.S)
    assert found, "no problem shown"
    return " ".join(re.sub(r"<[^>]+>", " ", unescape(found.group(1))).split())


async def test_a_pack_file_uploaded_is_stored_and_audited(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard
    page = await olive.get("/campaigns")
    assert 'enctype="multipart/form-data"' in page.text
    assert 'type="file" id="pack-file" name="pack" required' in page.text
    assert "<textarea" not in page.text  # the file itself, not its text in a box
    posted = await olive.post(
        IMPORT,
        files={"pack": ("C:\\Users\\olive\\every-field.toml", EVERY_FIELD.encode())},
        data={"csrftoken": csrf_of(page.text)},
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/campaigns"
    after = unescape((await olive.get("/campaigns")).text)
    assert "Imported every-field.toml: every-field: new campaign, 2 asks (first, second)" in after
    db = open_database(settings.db)
    try:
        assert pack_io.pack_from_db(db, "every-field") == load_pack(
            write(settings.db.parent, "every.toml", EVERY_FIELD)
        )
        [audit] = [row for row in audit_db.latest(db, 50) if row.action == "import-pack"]
        assert (audit.actor, audit.target) == ("web:olive", "every-field")
    finally:
        db.close()
    # Windows line ends and a byte-order-free file read the same; again: nothing to do
    again = await olive.post(
        IMPORT,
        files={"pack": ("every-field.toml", EVERY_FIELD.replace("\n", "\r\n").encode())},
        data={"csrftoken": await token_of(olive)},
        follow_redirects=True,
    )
    assert "Nothing to import from every-field.toml: every-field: no changes" in unescape(
        again.text
    )


Files = list[tuple[str, tuple[str, bytes]]]
NO_FILE = "Nothing was imported: no pack file came with the form: choose the pack file to import."
BAD_UPLOADS = [
    pytest.param(
        [("pack", ("latin.toml", "title = 'caf\xe9'".encode("latin-1")))],
        {},
        422,
        "Nothing was imported. latin.toml has 1 problem: the file is not UTF-8 text",
        id="not-utf-8",
    ),
    pytest.param(
        [("pack", ("notes.toml", b"this is [not toml"))],
        {},
        422,
        "Nothing was imported. notes.toml has 1 problem: not valid TOML:",
        id="not-toml",
    ),
    pytest.param(
        [("pack", ("broken.toml", BAD_URL.encode()))],
        {},
        422,
        "Nothing was imported. broken.toml has 1 problem: ask 'first' (#1), field "
        "statistic.url: must be an https:// link",
        id="pack-with-errors",
    ),
    pytest.param(
        [("pack", ("empty.toml", b" \n"))],
        {},
        422,
        "Nothing was imported. empty.toml has 1 problem: is empty: choose the pack file itself",
        id="empty-file",
    ),
    pytest.param(
        [("pack", ("one.toml", EVERY_FIELD.encode())), ("pack", ("two.toml", b"x = 1"))],
        {},
        400,
        "Nothing was imported: 2 files came: choose one pack file at a time.",
        id="two-files",
    ),
    pytest.param(
        [("other", ("every.toml", EVERY_FIELD.encode()))], {}, 400, NO_FILE, id="another-field"
    ),
    pytest.param([("pack", ("", b""))], {}, 400, NO_FILE, id="no-file-chosen"),
    # a multipart form with the pack's text in a plain field, not a file
    pytest.param([("unused", ("", b""))], {"pack": EVERY_FIELD}, 400, NO_FILE, id="text-field"),
    pytest.param(
        [],
        {"pack": EVERY_FIELD},
        400,
        "Nothing was imported: choose the pack file to import (the form sends it as a file "
        "upload).",
        id="url-encoded",
    ),
    pytest.param(
        [("pack", ("big.toml", EVERY_FIELD.encode() + b"#" * pack_io.MAX_PACK_BYTES))],
        {},
        422,
        f"Nothing was imported. big.toml has 1 problem: is "
        f"{(len(EVERY_FIELD.encode()) + pack_io.MAX_PACK_BYTES) // 1024} KB; a pack may be 256 KB",
        id="file-over-a-pack-in-a-body-under-the-cap",
    ),
]


@pytest.mark.parametrize(("files", "fields", "status", "line"), BAD_UPLOADS)
async def test_a_bad_upload_gets_one_line_and_changes_nothing(
    olive: httpx.AsyncClient,
    dashboard: tuple[Core, Settings],
    files: Files,
    fields: dict[str, str],
    status: int,
    line: str,
) -> None:
    _, settings = dashboard
    before = stored(settings)
    data = {**fields, "csrftoken": await token_of(olive)}
    answer = await olive.post(IMPORT, data=data, files=files or None)
    assert answer.status_code == status, answer.text[:300]
    assert problem_of(answer.text).startswith(line), problem_of(answer.text)
    assert "Traceback" not in answer.text
    assert stored(settings) == before


async def test_a_forged_or_missing_token_in_a_multipart_form_is_refused(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard
    before = stored(settings)
    token = await token_of(olive)
    upload = {"pack": ("every.toml", EVERY_FIELD.encode())}
    for data in ({}, {"csrftoken": token[:-4] + "AAAA"}, {"csrftoken": ""}):
        answer = await olive.post(IMPORT, files=upload, data=data)
        assert answer.status_code == 403
        assert answer.text.startswith("This form has expired or came from another site.")
    # a token only as a file's content is no token
    answer = await olive.post(IMPORT, files={**upload, "csrftoken": ("t", token.encode())})
    assert answer.status_code == 403
    assert stored(settings) == before


async def test_a_body_over_a_packs_size_is_refused_before_it_is_parsed(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard
    before = stored(settings)
    token = await token_of(olive)
    huge = EVERY_FIELD.encode() + b"#" * UPLOADS[IMPORT]
    answer = await olive.post(
        IMPORT, files={"pack": ("huge.toml", huge)}, data={"csrftoken": token}
    )
    assert answer.status_code == 413
    assert answer.text == (
        "That file is too big to import: a pack may be 256 KB. Go back and choose the pack "
        "file itself."
    )

    # the same body, streamed without a length: refused as it passes the cap
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    streamed = await olive.post(
        IMPORT,
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert streamed.status_code == 413
    assert stored(settings) == before


async def test_other_routes_keep_refusing_multipart_forms(
    olive: httpx.AsyncClient, dashboard: tuple[Core, Settings]
) -> None:
    _, settings = dashboard
    before = stored(settings)
    token = await token_of(olive)
    for path in ("/prompts/new", "/campaigns/_new", "/sign-out"):
        # the token in a multipart body counts only on the import
        answer = await olive.post(path, files={"file": ("a.txt", b"hi")}, data={"csrftoken": token})
        assert answer.status_code == 403, path
    with_header = await olive.post(
        "/prompts/new",
        files={"file": ("a.txt", b"hi")},
        data={"campaign": BUNDLED},
        headers={"x-csrftoken": token},
    )
    assert with_header.status_code == 400
    # and their cap stays the form's: a multipart body as big as a pack is too big there
    big = await olive.post(
        "/prompts/new",
        files={"file": ("a.txt", b"x" * 100_000)},
        headers={"x-csrftoken": token},
    )
    assert big.status_code == 413 and big.text == "Request too large"
    assert stored(settings) == before


def test_a_pack_file_picked_in_the_browser_is_imported_without_script(tmp_path: Path) -> None:
    """Debian's chromium with script off: the form alone uploads the file."""
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium (make chromium)"
    settings = with_users(make_settings(tmp_path, packs=bundled_folder(tmp_path / "packs")))
    source = write(tmp_path / "files", "every-field.toml", EVERY_FIELD)
    broken = write(tmp_path / "files", "broken.toml", BAD_URL)
    huge = write(tmp_path / "files", "huge.toml", "#" * (pack_io.MAX_PACK_BYTES + 2000))
    with LiveServer(settings) as server, sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        problems: list[str] = []
        for script in (False, True):
            page = browser.new_context(java_script_enabled=script).new_page()
            page.set_default_timeout(10_000)
            # what a page's own 422 logs is expected; anything else (a CSP refusal, a
            # script error) is not
            page.on(
                "console",
                lambda message: (
                    None if "status of 422" in message.text else problems.append(message.text)
                ),
            )
            page.goto(server.url + "/campaigns")
            page.get_by_label("Name").fill("olive")
            page.get_by_label("Password").fill(PASSWORDS["olive"])
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
            page.get_by_label("Pack file (TOML)").set_input_files(str(broken))
            page.get_by_role("button", name="Import pack").click()
            expect(page.locator("#import-problems")).to_contain_text("broken.toml has 1 problem")
            expect(page.locator("#import-problems")).to_contain_text("field statistic.url")
            page.get_by_label("Pack file (TOML)").set_input_files(str(source))
            page.get_by_role("button", name="Import pack").click()
            expect(page.get_by_role("status").first).to_contain_text(
                "every-field.toml: every-field: " + ("new campaign" if not script else "no changes")
            )
            row = page.get_by_role("row", name=re.compile("every-field"))
            expect(row).to_contain_text("an import")
            if script:  # the optional script names a file too big before it is sent
                page.get_by_label("Pack file (TOML)").set_input_files(str(huge))
                expect(page.locator("#pack-file-error")).to_have_text(
                    "huge.toml is 258 KB; a pack may be 256 KB."
                )
                expect(page.get_by_label("Pack file (TOML)")).to_have_value("")
            assert not problems, problems
            page.context.close()
        browser.close()
    db = open_database(settings.db)
    assert pack_io.export_pack(db, "every-field") == pack_io.to_toml(load_pack(source))
    db.close()
