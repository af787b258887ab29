"""Organiser pages: campaigns and asks written in the dashboard (`campaigns.editing`).

- `GET|POST /campaigns/_new`, `GET /campaigns/{slug}`, `GET|POST /campaigns/{slug}/edit`:
  a campaign (its fields checked as a pack's, each problem beside its field) and its
  asks, each with its versions' state.
- `GET|POST /campaigns/{slug}/asks/_new`, `GET|POST /campaigns/{slug}/asks/{ask_id}`: an
  ask's form (its next step and outcome poll too: `web.ask_parts`) with the three
  previews beside it (`_ask_fields.html`, `_ask_preview.html`, `preview.js`: the form
  posts itself with `X-Preview: fragment` as the organiser types, and gets the
  previews alone; nothing is saved then). Submitted, it saves the ask's draft.
- `POST /campaigns/{slug}/asks/{ask_id}/{action}`: request approval, approve, publish,
  discard the draft, or send a test of it to one's own linked chat (the schedule
  page's test send, `web.organiser.send_test`).
- `POST /campaigns/{slug}/asks/{ask_id}/move|retire|restore`: the ask's place in the
  weekly runs (`campaigns.ask_order`), from the campaign's page; its form carries the
  order it was shown (`order`).

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

from campaigns import ask_form, ask_order, campaign_form, editing, editor_pages, languages
from campaigns.ask_form import AskFormError
from campaigns.campaign_form import CampaignFormError
from campaigns.catalog import Catalog
from campaigns.packs import SLUG, WEEKDAYS
from web.ask_parts import (
    ABSENT,
    EDITOR_GROUPS,
    EDITOR_LABELS,
    EDITOR_LANGUAGES,
    EDITOR_LINKED,
    EDITOR_SHOWS,
    NEXT,
    POLL,
    VARIANT_GROUP,
    VARIANTS_HINT,
    locked_hint,
    running_hint,
    shows_for,
    variant_of,
)
from web.auth import actor, current_user, organiser_only
from web.context import Dashboard, flash
from web.organiser import ZONES, send_test
from web.preview import FRAGMENT_HEADER, LANGUAGE, LANGUAGE_CHOICES, language_of
from web.security import MAX_FORM_FIELDS

if TYPE_CHECKING:
    from web.lookalikes import Looks

PAGE = "/campaigns"
NEW = "_new"  # in an address where a slug goes: no slug has "_", so none is taken
MAX_VERSION_DIGITS = 9
MAX_SEEN = 64
FORGED = "That form isn't one this page made: open the page again and retry."
# The ask's form holds its wordings and a part per language on top of the usual fields.
MAX_ASK_FORM_FIELDS = MAX_FORM_FIELDS + len(ask_form.WORDS_FIELDS)
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
    campaign_form.WELCOME: "The welcome series",
    **{
        name: f"Message {n}: {label}"
        for n, names in enumerate(campaign_form.WELCOME_MESSAGES, start=1)
        for name, label in zip(
            names, ("days after joining", "words", "button label", "web address"), strict=True
        )
    },
    **{
        name: f"{label} ({languages.name_of(code)})"
        for code in campaign_form.OTHER_LANGUAGES
        for name, label in zip(
            campaign_form.translation_fields(code),
            (
                "Name of the campaign",
                "What the campaign is for",
                *(
                    f"Welcome message {n}"
                    for n in range(1, len(campaign_form.WELCOME_MESSAGES) + 1)
                ),
                *(
                    f"Welcome message {n}: button label"
                    for n in range(1, len(campaign_form.WELCOME_MESSAGES) + 1)
                ),
            ),
            strict=True,
        )
    },
    **{
        campaign_form.translated_welcome(code): f"The welcome series ({languages.name_of(code)})"
        for code in campaign_form.OTHER_LANGUAGES
    },
    **{
        campaign_form.translated_labels(code): (
            f"The welcome series' button labels ({languages.name_of(code)})"
        )
        for code in campaign_form.OTHER_LANGUAGES
    },
    "": "The campaign",
}
# The campaign in each other language: (code, its name, its fields), a part of the form each.
CAMPAIGN_LANGUAGES = tuple(
    (code, languages.name_of(code), campaign_form.translation_fields(code))
    for code in campaign_form.OTHER_LANGUAGES
)
AFTER_LAST = [
    ("repeat", "Start again from the first ask"),
    ("stop", "Stop until a new ask is published"),
]
ACTIONS = ("request-approval", "approve", "publish", "discard", "test")
PLACES = ("move", "retire", "restore")  # an ask's place in the weekly runs (campaign page)
NOTHING_NEXT = "Every ask has gone out and the campaign says stop: no weekly run sends one."


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
    return value if isinstance(value, str) and value in EDITOR_SHOWS else "ask"


def running(editor: editor_pages.AskEditor | None) -> str:
    """Beside the wordings: the experiment is running (its published version has
    variants and went out), so a change makes the next version; "" if not."""
    published = editor.published if editor else None
    if editor is None or published is None or not published.data.get("variants"):
        return ""
    sent = editor.sent.get(published.version, 0)
    return running_hint(published.version, sent) if sent else ""


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
            "welcome": campaign_form.WELCOME_MESSAGES,
            "campaign_languages": CAMPAIGN_LANGUAGES,
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
            "welcome": campaign_form.WELCOME_MESSAGES,
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
            labels = (CAMPAIGN_LABELS[name] for name in changed)
            names = ", ".join(label[:1].lower() + label[1:] for label in labels)
            flash(request, f"Saved campaign {slug}: {names} changed.")
        else:
            flash(request, f"Nothing to save: campaign {slug} already says that.")
        return RedirectResponse(_editor(slug), status_code=303)

    # ------------------------------------------------------------ asks

    def fragment(
        catalog: Catalog | None, values: dict[str, str], show: str, language: str
    ) -> dict[str, Any]:
        """What `_ask_preview.html` draws: the form's ask (or its reminder, next step,
        poll or another wording) in the three apps, in `language` (the bot's words and
        the ask's translation there), or what is wrong with it, field by field (as
        `web.preview` draws a stored ask's); `absent`: the part shown isn't there."""
        from web import lookalikes  # the adapters' renderers, loaded at the first preview

        looks: Looks | None = None
        errors: dict[str, str] = {}
        absent = ""
        translated_away = False
        if catalog is None:
            errors = {"": "the campaign can't be read: open it again"}
        else:
            try:
                draft = ask_form.read_draft(catalog, values)
            except AskFormError as exc:
                errors = exc.errors
            else:
                row = draft.row()
                wording, variant = variant_of(show, values)
                # A supporter reading the ask's translation is not in its experiment.
                translated_away = wording and language in draft.ask.translations
                with languages.speaking(language):
                    if show == NEXT:
                        message = ask_form.preview_next_step(row)
                    elif show == POLL:
                        message = ask_form.preview_poll(ctx.ids, row)
                    elif wording and variant is None:
                        message = None
                    else:
                        message = ask_form.preview_message(
                            ctx.ids, row, reminder=show == "reminder", variant=variant
                        )
                    if message is None:
                        absent = ABSENT[show]
                    else:
                        looks = lookalikes.looks(message)
        return {
            "looks": looks,
            "errors": errors,
            "absent": absent,
            "labels": EDITOR_LABELS,
            "linked": EDITOR_LINKED,
            "link_label": values.get("link.label", ""),
            "link_url": values.get("link.url", ""),
            "tracking": dash.tracking and show not in (NEXT, POLL),
            "translated_away": translated_away,
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
        language: str = languages.ENGLISH,
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
        shown = fragment(await catalog_for(slug), values, show, language)
        if blank:
            shown |= {"looks": None, "errors": {}, "absent": ""}
        if errors:
            shown["errors"] = shown["errors"] | errors
        user = current_user(request)
        who = actor(request)
        opened = editor.open if editor else None
        version, seen = (editor.shown.version, editor.digest) if editor else (editing.NEW_ASK, "")
        locked = editor.locked if editor else []
        context = {
            **shown,
            "view": view,
            "editor": editor,
            "ask_id": ask_id,
            "values": values,
            "groups": EDITOR_GROUPS,
            "locked": set(ask_form.ANSWER_FIELDS[: len(locked)]),
            "locked_hint": locked_hint(len(locked)) if locked else "",
            "show": show,
            "shows": shows_for(values),
            "language": language,
            "preview_languages": LANGUAGE_CHOICES,
            "variant_group": VARIANT_GROUP,
            "variants_hint": VARIANTS_HINT,
            "running_hint": running(editor),
            "language_groups": EDITOR_LANGUAGES,
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
        language = language_of(request.query_params.get(LANGUAGE))
        return await ask_page(request, slug, ask_id, show=show, language=language)

    async def save(request: Request, slug: str, ask_id: str | None) -> Response:
        form = await request.form(max_fields=MAX_ASK_FORM_FIELDS, max_files=0)
        values = ask_form.form_values(form) | {ask_form.CAMPAIGN: slug}
        if ask_id is not None:
            values["id"] = ask_id  # the address says which ask; the form can't change it
        show = _show(form.get("show"))
        language = language_of(form.get(LANGUAGE))
        if request.headers.get(FRAGMENT_HEADER) == "fragment":
            # The live preview: nothing saved. 200 even when a field is wrong (the
            # fragment says which), as the preview page's own form does.
            shown = fragment(await catalog_for(slug), values, show, language)
            return dash.templates.TemplateResponse(request, "_ask_preview.html", shown)
        version = _version(form)
        seen = str(form.get("seen") or "")[:MAX_SEEN]
        if version is None or (ask_id is None) != (version == editing.NEW_ASK):
            return await ask_page(
                request,
                slug,
                ask_id,
                values=values,
                problem=FORGED,
                show=show,
                language=language,
                status=400,
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
                language=language,
                status=status,
                opened_on=opened_on,
            )
        target = values["id"].strip()
        if saved.draft is None:
            flash(request, f"Nothing to save: {slug}/{target} already says that.")
        else:
            fields = ", ".join(EDITOR_LABELS.get(name, name) for name in saved.changed)
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

    @organiser_only
    async def place(request: Request) -> Response:
        """Move, retire or bring back an ask (`campaigns.ask_order`); the answer is a
        line on the campaign's page, where the order is."""
        slug = _slug(request.path_params["slug"])
        ask_id = _slug(request.path_params["ask_id"])
        action = request.url.path.rsplit("/", 1)[-1]  # one of `PLACES`: its route's
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        seen = str(form.get("order") or "")[:MAX_SEEN]
        who = actor(request)
        target = f"{slug}/{ask_id}"
        try:
            if action == "move":
                where = str(form.get("move") or form.get("position") or "").strip()[:8]
                before, after = await store.write(
                    ask_order.move_ask, slug, ask_id, where, seen, who
                )
                line = (
                    f"Moved {target} from {before} to {after}: the weekly runs send it "
                    "in that place from now on."
                    if before != after
                    else f"Nothing to move: {target} is at {after} already."
                )
                flash(request, line)
            elif action == "retire":
                left, waiting = await store.write(ask_order.retire_ask, slug, ask_id, seen, who)
                flash(
                    request,
                    f"Retired {target}: no weekly run sends it again ({left} asks still go "
                    "out). Its counts stay, and it can be brought back.",
                )
                if waiting:
                    flash(
                        request,
                        f"{waiting} send{'s' if waiting > 1 else ''} of it scheduled by hand "
                        + (
                            "still go out: cancel them on the Prompts page if they shouldn't."
                            if waiting > 1
                            else "still goes out: cancel it on the Prompts page if it shouldn't."
                        ),
                        "error",
                    )
            else:
                at = await store.write(ask_order.restore_ask, slug, ask_id, seen, who)
                flash(request, f"Brought {target} back: the weekly runs send it at {at}, last.")
        except editing.EditError as exc:
            flash(request, exc.message, "error")
        else:
            coming = await store.read(ask_order.coming_ask, slug)
            flash(request, f"The next weekly run sends {coming}." if coming else NOTHING_NEXT)
        return RedirectResponse(_editor(slug) + "#asks-heading", status_code=303)

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
        *(
            Route(PAGE + "/{slug}/asks/{ask_id}/" + action, place, methods=["POST"])
            for action in PLACES
        ),
        Route(PAGE + "/{slug}/asks/{ask_id}/{action}", act, methods=["POST"]),
    ]
