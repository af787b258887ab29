"""The Campaigns page (organisers only): every campaign the store holds, its pack to
download, and a pack file to import.

The import is a plain file upload (a multipart form), so it works without script;
`web.security` reads its CSRF token from the multipart body and caps the body at a
pack's size, for this one address only. The file is validated as a pack file is; a
broken one shows each problem (the file, the ask, the field) and changes nothing, as
does a form without exactly one file. A good one is written in one transaction and
audited as `web:<account>`; with `require_approval` on, each ask it adds or changes
waits for a second organiser's approval (`campaigns.importing`).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from campaigns import campaign_page, importing, pack_io
from campaigns.editing import EditError
from campaigns.packs import SLUG, Pack, PackError
from web.auth import actor, organiser_only
from web.context import Dashboard, flash
from web.security import MAX_FORM_FIELDS, MULTIPART, UPLOADS

PAGE = "/campaigns"
IMPORT = f"{PAGE}/import"
FIELD = "pack"  # the form's file field
assert IMPORT in UPLOADS  # the one address whose multipart body the CSRF check reads


class Refused(ValueError):
    """An upload that is not one pack file, in one line; nothing was read or written."""


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store

    async def page(
        request: Request,
        *,
        problems: tuple[str, list[str]] | None = None,
        refused: str | None = None,
        status: int = 200,
    ) -> Response:
        running = dash.core.ctx.catalog.version
        model = await store.read(campaign_page.campaigns_page, running)
        context: dict[str, Any] = {
            "page": model,
            "problems": problems,
            "refused": refused,
            "limit_kb": pack_io.MAX_PACK_BYTES // 1024,
            "require_approval": dash.settings.require_approval,
        }
        return dash.render(request, "campaigns.html", context, status)

    @organiser_only
    async def campaigns(request: Request) -> Response:
        return await page(request)

    @organiser_only
    async def export(request: Request) -> Response:
        slug = str(request.path_params["slug"])
        if not re.fullmatch(SLUG, slug):
            raise HTTPException(404)
        try:
            text = await store.read(campaign_page.export, slug)
        except PackError as exc:
            flash(request, f"{exc.args[0]} (import a corrected pack to replace it)", "error")
            return RedirectResponse(PAGE, status_code=303)
        if text is None:
            raise HTTPException(404)
        return Response(
            text,
            media_type="application/toml; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{slug}.toml"'},
        )

    @organiser_only
    async def import_pack(request: Request) -> Response:
        try:
            name, raw = await _uploaded(request)
        except Refused as exc:
            return await page(request, refused=str(exc), status=400)
        try:
            # A temporary file and TOML parsing: off the event loop.
            pack = await asyncio.to_thread(_validated, raw, name)
        except PackError as exc:
            return await page(request, problems=(name, exc.problems), status=422)
        try:
            done: importing.Imported = await store.write(
                importing.import_pack,
                pack,
                actor(request),
                name,
                require_approval=dash.settings.require_approval,
            )
        except EditError as exc:
            return await page(request, refused=exc.message, status=409)
        if done.any:
            flash(request, f"Imported {name}: {done.summary()}.")
        else:
            flash(request, f"Nothing to import from {name}: {done.summary()}.")
        return RedirectResponse(PAGE, status_code=303)

    return [
        Route(PAGE, campaigns, methods=["GET"]),
        Route(IMPORT, import_pack, methods=["POST"]),
        Route(PAGE + "/{slug}/pack.toml", export, methods=["GET"]),
    ]


async def _uploaded(request: Request) -> tuple[str, bytes]:
    """The one pack file the form brings: its name (as the page may show it) and bytes."""
    if not request.headers.get("content-type", "").startswith(MULTIPART):
        raise Refused("choose the pack file to import (the form sends it as a file upload)")
    try:
        form = await request.form(
            max_files=MAX_FORM_FIELDS,
            max_fields=MAX_FORM_FIELDS,
            max_part_size=UPLOADS[IMPORT],
        )
    except HTTPException:  # starlette's word for a body that isn't well-formed multipart
        raise Refused("the upload could not be read: choose the pack file again") from None
    try:
        return await _one_file(form)
    finally:
        await form.close()


async def _one_file(form: FormData) -> tuple[str, bytes]:
    files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
    chosen = [file for file in files if file.filename or file.size]
    if len(chosen) > 1:
        raise Refused(f"{len(chosen)} files came: choose one pack file at a time")
    found = form.getlist(FIELD)
    if not chosen or len(found) != 1 or found[0] is not chosen[0]:
        raise Refused("no pack file came with the form: choose the pack file to import")
    upload = chosen[0]
    raw = await upload.read()  # no more than the body, which `web.security` capped
    name = campaign_page.file_name(upload.filename)
    return ("the uploaded file" if name == campaign_page.PASTED else name), raw


def _validated(raw: bytes, name: str) -> Pack:
    """An uploaded file, validated exactly as a pack file is (`PackError` names it)."""
    if not raw.strip():
        raise PackError(Path(name), ["is empty: choose the pack file itself"])
    return pack_io.read_pack(raw, name)
