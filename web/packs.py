"""The Campaigns page (organisers only): every campaign the store holds, its pack to
download, and a pack to import.

An import is validated as a pack file is; a broken one shows each problem (the
file, the ask, the field) above the text, kept for fixing, and changes nothing. A
good one is written in one transaction and audited as `web:<account>`. The pack's
text comes in an ordinary form field (the page's script fills it from a chosen
file), so the form's CSRF token and size limit are the other forms' own.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from campaigns import campaign_page, pack_io
from campaigns.packs import SLUG, PackError
from web.auth import actor, organiser_only
from web.context import Dashboard, flash
from web.security import MAX_FORM_BYTES, MAX_FORM_FIELDS

PAGE = "/campaigns"


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store

    async def page(
        request: Request,
        *,
        problems: tuple[str, list[str]] | None = None,
        text: str = "",
        name: str = "",
        status: int = 200,
    ) -> Response:
        running = dash.core.ctx.catalog.version
        model = await store.read(campaign_page.campaigns_page, running)
        context: dict[str, Any] = {
            "page": model,
            "problems": problems,
            "text": text,
            "name": "" if name == campaign_page.PASTED else name,
            # The form posts URL-encoded, and the whole form may be MAX_FORM_BYTES.
            "limit_kb": MAX_FORM_BYTES * 3 // 4 // 1024,
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
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        text = str(form.get("pack") or "")
        name = campaign_page.file_name(form.get("filename"))
        try:
            # A temporary file and TOML parsing: off the event loop.
            pack = await asyncio.to_thread(campaign_page.validated, text, name)
        except PackError as exc:
            return await page(
                request, problems=(name, exc.problems), text=text, name=name, status=422
            )
        changes: pack_io.Changes = await store.write(
            pack_io.import_pack, pack, actor(request), name
        )
        if changes.any:
            flash(request, f"Imported {name}: {changes.summary()}.")
        else:
            flash(request, f"Nothing to import from {name}: {changes.summary()}.")
        return RedirectResponse(PAGE, status_code=303)

    return [
        Route(PAGE, campaigns, methods=["GET"]),
        Route(f"{PAGE}/import", import_pack, methods=["POST"]),
        Route(PAGE + "/{slug}/pack.toml", export, methods=["GET"]),
    ]
