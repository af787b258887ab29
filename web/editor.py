"""Organiser pages: campaigns and asks written in the dashboard (`campaigns.editing`).

- `GET|POST /campaigns/_new`, `GET /campaigns/{slug}`, `GET|POST /campaigns/{slug}/edit`:
  a campaign (its fields checked as a pack's, each problem beside its field) and its
  asks, each with its versions' state.
- `GET|POST /campaigns/{slug}/asks/_new`, `GET|POST /campaigns/{slug}/asks/{ask_id}`: an
  ask's form with the three previews beside it (`_ask_fields.html`, `_preview.html`,
  `preview.js`: the form posts itself with `X-Preview: fragment` as the organiser
  types, and gets the previews alone; nothing is saved then). Submitted, it saves
  the ask's draft.
- `POST /campaigns/{slug}/asks/{ask_id}/{action}`: request approval, approve, publish,
  discard the draft, or send a test of it to one's own linked chat (the schedule
  page's test send, `web.organiser.send_test`).

Every form carries the version it was opened on and a digest of what it showed: a
change made meanwhile is refused in one line and nothing is written. Organisers
only; every change is audited as `web:<account>`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from campaigns import ask_form, campaign_form, editing, editor_pages
from campaigns.ask_form import AskFormError
from campaigns.campaign_form import CampaignFormError
from campaigns.catalog import Catalog
from campaigns.packs import SLUG, WEEKDAYS
from web.auth import actor, current_user, organiser_only
from web.context import Dashboard, flash
from web.organiser import ZONES, send_test
from web.preview import FRAGMENT_HEADER, GROUPS, LABELS, LINKED, SHOWS
from web.security import MAX_FORM_FIELDS

if TYPE_CHECKING:
    from web.lookalikes import Looks

PAGE = "/campaigns"
NEW = "_new"  # in an address where a slug goes: no slug has "_", so none is taken
MAX_VERSION_DIGITS = 9
MAX_SEEN = 64
FORGED = "That form isn't one this page made: open the page again and retry."
CAMPAIGN_LABELS = {
    "slug": "Campaign id",
    "title": "Title",
    "description": "Description",
    "schedule.weekday": "Weekday",
    "schedule.time": "Time",
    "schedule.timezone": "Time zone",
    "schedule.grace_hours": "Grace hours",
    "schedule.reminder_days": "Reminder after (days)",
    "sources": "Source codes",
    "after_last": "After the last ask",
    "": "The campaign",
}
AFTER_LAST = [
    ("repeat", "Start again from the first ask"),
    ("stop", "Stop until a new ask is published"),
]
ACTIONS = ("request-approval", "approve", "publish", "discard", "test")


def _slug(value: object) -> str:
    """A campaign slug or ask id from a path: one that could be, or 404."""
    text = str(value)
    if not re.fullmatch(SLUG, text):
        raise HTTPException(404)
    return text


def _version(form: FormData) -> int | None:
    """The version a form was opened on (0: a new ask); None if it isn't a number."""
    text = str(form.get("version") or "")
    if text.isascii() and text.isdigit() and len(text) <= MAX_VERSION_DIGITS:
        return int(text)
    return None


def _show(value: object) -> str:
    return value if isinstance(value, str) and value in SHOWS else "ask"


def _editor(slug: str, ask_id: str | None = None) -> str:
    return f"{PAGE}/{slug}/asks/{ask_id}" if ask_id else f"{PAGE}/{slug}"


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store
    ctx = dash.core.ctx  # `ctx.ids` only; campaigns are read from the store

    def require_approval() -> bool:
        return dash.settings.require_approval

    # ------------------------------------------------------------ campaigns

    async def campaign_form_page(
        request: Request,
        values: dict[str, str],
        *,
        slug: str | None,
        seen: str = "",
        errors: dict[str, str] | None = None,
        problem: str | None = None,
        status: int = 200,
    ) -> Response:
        context = {
            "values": values,
            "errors": errors or {},
            "labels": CAMPAIGN_LABELS,
            "problem": problem,
            "slug": slug,
            "seen": seen,
            "weekdays": [(day, day.capitalize()) for day in WEEKDAYS],
            "after_last": AFTER_LAST,
            "zones": ZONES,
        }
        return dash.render(request, "campaign_edit.html", context, status)

    @organiser_only
    async def new_campaign(request: Request) -> Response:
        values = campaign_form.blank_values(dash.settings.timezone)
        return await campaign_form_page(request, values, slug=None)

    @organiser_only
    async def create_campaign(request: Request) -> Response:
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        values = campaign_form.form_values(form)
        try:
            made = await store.write(editing.create_campaign, values, actor(request))
        except CampaignFormError as exc:
            return await campaign_form_page(
                request, values, slug=None, errors=exc.errors, status=422
            )
        flash(request, f"Made campaign {made.slug}. It runs once it has a published ask.")
        return RedirectResponse(_editor(made.slug), status_code=303)

    @organiser_only
    async def campaign_page(request: Request) -> Response:
        slug = _slug(request.path_params["slug"])
        view = await store.read(editor_pages.campaign_view, slug)
        if view is None:
            raise HTTPException(404)
        context = {
            "view": view,
            "values": campaign_form.values_of(view.campaign) if view.campaign else None,
            "labels": CAMPAIGN_LABELS,
            "require_approval": require_approval(),
        }
        return dash.render(request, "campaign.html", context)

    @organiser_only
    async def edit_campaign_page(request: Request) -> Response:
        slug = _slug(request.path_params["slug"])
        view = await store.read(editor_pages.campaign_view, slug)
        if view is None:
            raise HTTPException(404)
        if view.campaign is None:
            flash(request, f"Campaign {slug} as stored no longer passes the pack rules.", "error")
            return RedirectResponse(_editor(slug), status_code=303)
        values = campaign_form.values_of(view.campaign)
        return await campaign_form_page(request, values, slug=slug, seen=view.digest)

    @organiser_only
    async def save_campaign(request: Request) -> Response:
        slug = _slug(request.path_params["slug"])
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        values = campaign_form.form_values(form) | {"slug": slug}
        seen = str(form.get("seen") or "")[:MAX_SEEN]
        try:
            changed = await store.write(editing.edit_campaign, slug, values, seen, actor(request))
        except CampaignFormError as exc:
            return await campaign_form_page(
                request, values, slug=slug, seen=seen, errors=exc.errors, status=422
            )
        except editing.EditError as exc:
            status = 409 if isinstance(exc, editing.Stale) else 422
            return await campaign_form_page(
                request, values, slug=slug, seen=seen, problem=exc.message, status=status
            )
        if changed:
            names = ", ".join(CAMPAIGN_LABELS[name].lower() for name in changed)
            flash(request, f"Saved campaign {slug}: {names} changed.")
        else:
            flash(request, f"Nothing to save: campaign {slug} already says that.")
        return RedirectResponse(_editor(slug), status_code=303)

    # ------------------------------------------------------------ asks

    def fragment(catalog: Catalog | None, values: dict[str, str], show: str) -> dict[str, Any]:
        """What `_preview.html` draws: the form's ask in the three apps, or what is
        wrong with it, field by field (as `web.preview` draws a stored ask's)."""
        from web import lookalikes  # the adapters' renderers, loaded at the first preview

        looks: Looks | None = None
        errors: dict[str, str] = {}
        if catalog is None:
            errors = {"": "the campaign can't be read: open it again"}
        else:
            try:
                draft = ask_form.read_draft(catalog, values)
            except AskFormError as exc:
                errors = exc.errors
            else:
                message = ask_form.preview_message(
                    ctx.ids, draft.row(), reminder=show == "reminder"
                )
                looks = lookalikes.looks(message)
        return {
            "looks": looks,
            "errors": errors,
            "labels": LABELS,
            "linked": LINKED,
            "link_label": values.get("link.label", ""),
            "link_url": values.get("link.url", ""),
            "tracking": dash.tracking,
        }

    async def catalog_for(slug: str) -> Catalog | None:
        try:
            return await store.read(editing.form_catalog, slug)
        except editing.EditError:
            return None

    async def ask_page(
        request: Request,
        slug: str,
        ask_id: str | None,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        problem: str | None = None,
        show: str = "ask",
        status: int = 200,
        opened_on: tuple[int, str] | None = None,
    ) -> Response:
        """The ask's editor; `values` as typed, when a save was refused, and `opened_on`
        the version and digest that form was opened on (kept, so saving it again is
        refused again while it is stale)."""
        view = await store.read(editor_pages.campaign_view, slug)
        if view is None:
            raise HTTPException(404)
        editor = await store.read(editor_pages.ask_editor, slug, ask_id) if ask_id else None
        if ask_id and editor is None:
            raise HTTPException(404)
        blank = values is None and editor is None  # a new ask, not yet typed
        if values is None:
            values = editor.values if editor else editing.new_ask_values(slug)
        shown = fragment(await catalog_for(slug), values, show)
        if blank:
            shown |= {"looks": None, "errors": {}}
        if errors:
            shown["errors"] = shown["errors"] | errors
        user = current_user(request)
        who = actor(request)
        opened = editor.open if editor else None
        version, seen = (editor.shown.version, editor.digest) if editor else (editing.NEW_ASK, "")
        context = {
            **shown,
            "view": view,
            "editor": editor,
            "ask_id": ask_id,
            "values": values,
            "groups": GROUPS,
            "show": show,
            "shows": SHOWS,
            "problem": problem,
            "version": opened_on[0] if opened_on else version,
            "seen": opened_on[1] if opened_on else seen,
            "action_url": _editor(slug, ask_id or NEW),
            "require_approval": require_approval(),
            "mine": opened is not None and opened.created_by == who,
            "chat": user.chat,
            "bot_running": dash.messengers is not None,
        }
        return dash.render(request, "ask_edit.html", context, status)

    @organiser_only
    async def new_ask(request: Request) -> Response:
        slug = _slug(request.path_params["slug"])
        return await ask_page(request, slug, None)

    @organiser_only
    async def ask_editor(request: Request) -> Response:
        slug = _slug(request.path_params["slug"])
        ask_id = _slug(request.path_params["ask_id"])
        show = _show(request.query_params.get("show"))
        return await ask_page(request, slug, ask_id, show=show)

    async def save(request: Request, slug: str, ask_id: str | None) -> Response:
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        values = ask_form.form_values(form) | {ask_form.CAMPAIGN: slug}
        if ask_id is not None:
            values["id"] = ask_id  # the address says which ask; the form can't change it
        show = _show(form.get("show"))
        if request.headers.get(FRAGMENT_HEADER) == "fragment":
            # The live preview: nothing saved. 200 even when a field is wrong (the
            # fragment says which), as the preview page's own form does.
            shown = fragment(await catalog_for(slug), values, show)
            return dash.templates.TemplateResponse(request, "_preview.html", shown)
        version = _version(form)
        seen = str(form.get("seen") or "")[:MAX_SEEN]
        if version is None or (ask_id is None) != (version == editing.NEW_ASK):
            return await ask_page(
                request, slug, ask_id, values=values, problem=FORGED, show=show, status=400
            )
        opened_on = (version, seen)
        try:
            saved = await store.write(
                editing.save_draft, slug, values, version, seen, actor(request)
            )
        except (AskFormError, editing.EditError) as exc:
            errors = exc.errors if isinstance(exc, AskFormError) else None
            problem = exc.message if isinstance(exc, editing.EditError) else None
            status = 409 if isinstance(exc, editing.Stale) else 422
            return await ask_page(
                request,
                slug,
                ask_id,
                values=values,
                errors=errors,
                problem=problem,
                show=show,
                status=status,
                opened_on=opened_on,
            )
        target = values["id"].strip()
        if saved.draft is None:
            flash(request, f"Nothing to save: {slug}/{target} already says that.")
        else:
            fields = ", ".join(LABELS.get(name, name) for name in saved.changed)
            flash(request, f"Saved {slug}/{target} v{saved.draft.version} as a draft ({fields}).")
        return RedirectResponse(_editor(slug, target), status_code=303)

    @organiser_only
    async def save_new(request: Request) -> Response:
        return await save(request, _slug(request.path_params["slug"]), None)

    @organiser_only
    async def save_ask(request: Request) -> Response:
        slug = _slug(request.path_params["slug"])
        return await save(request, slug, _slug(request.path_params["ask_id"]))

    @organiser_only
    async def act(request: Request) -> Response:
        """One of `ACTIONS` on the ask's open version; the answer is a line on its page."""
        slug = _slug(request.path_params["slug"])
        ask_id = _slug(request.path_params["ask_id"])
        action = str(request.path_params["action"])
        if action not in ACTIONS:
            raise HTTPException(404)
        here = _editor(slug, ask_id)
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        version = _version(form)
        seen = str(form.get("seen") or "")[:MAX_SEEN]
        if not version:
            flash(request, FORGED, "error")
            return RedirectResponse(here, status_code=303)
        who = actor(request)
        approval = {"require_approval": require_approval()}
        target = f"{slug}/{ask_id} v{version}"
        try:
            if action == "request-approval":
                await store.write(
                    editing.request_approval, slug, ask_id, version, seen, who, **approval
                )
                flash(request, f"{target} is waiting for another organiser's approval.")
            elif action == "approve":
                await store.write(editing.approve, slug, ask_id, version, seen, who, **approval)
                flash(request, f"Approved {target}: it can be published now.")
            elif action == "publish":
                await store.write(editing.publish, slug, ask_id, version, seen, who, **approval)
                flash(request, f"Published {target}: the bot sends this text from now on.")
            elif action == "discard":
                await store.write(editing.discard, slug, ask_id, version, seen, who)
                flash(request, f"Discarded the draft {target}.")
                editor = await store.read(editor_pages.ask_editor, slug, ask_id)
                return RedirectResponse(here if editor else _editor(slug), status_code=303)
            else:
                row = await store.read(editing.draft_row, slug, ask_id, version, seen)
                message = ask_form.preview_message(ctx.ids, row)
                kind, line = await send_test(dash, request, message, row, draft=True)
                flash(request, line, kind)
        except editing.EditError as exc:
            flash(request, exc.message, "error")
        return RedirectResponse(here, status_code=303)

    return [
        Route(f"{PAGE}/{NEW}", new_campaign, methods=["GET"]),
        Route(f"{PAGE}/{NEW}", create_campaign, methods=["POST"]),
        Route(PAGE + "/{slug}", campaign_page, methods=["GET"]),
        Route(PAGE + "/{slug}/edit", edit_campaign_page, methods=["GET"]),
        Route(PAGE + "/{slug}/edit", save_campaign, methods=["POST"]),
        Route(PAGE + "/{slug}/asks/" + NEW, new_ask, methods=["GET"]),
        Route(PAGE + "/{slug}/asks/" + NEW, save_new, methods=["POST"]),
        Route(PAGE + "/{slug}/asks/{ask_id}", ask_editor, methods=["GET"]),
        Route(PAGE + "/{slug}/asks/{ask_id}", save_ask, methods=["POST"]),
        Route(PAGE + "/{slug}/asks/{ask_id}/{action}", act, methods=["POST"]),
    ]
