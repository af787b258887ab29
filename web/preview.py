"""Organiser pages: an ask as supporters will see it on Telegram, on Discord and in the
console, side by side, with its fields in a form to try changes on.

- `GET /asks/{campaign}/{ask_id}/preview`: a stored ask (`?show=reminder`: as its
  reminder goes out).
- `POST /asks/preview`: the form's fields, checked as a pack's ask is
  (`campaigns.ask_form`), each problem beside its field. `web/static/preview.js`
  posts the form as the organiser types and asks, with the `X-Preview: fragment`
  header, for the previews alone (`_preview.html`) to swap in; without JavaScript the
  Preview button gets the whole page (422 when a field is wrong).

A preview changes nothing and is not audited: nothing is stored, nothing is sent.
Sending the stored ask to one's own chat is the schedule page's test send, which
is audited. Looks come from `web.lookalikes`, the adapters' own renderers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from campaigns import ask_form, prompting
from campaigns.ask_form import AskFormError
from campaigns.dashboard import AskRow
from web.auth import current_user, organiser_only
from web.context import Dashboard
from web.security import MAX_FORM_FIELDS

if TYPE_CHECKING:
    from web.lookalikes import Looks

FRAGMENT_HEADER = "x-preview"
SHOWS = {"ask": "The ask", "reminder": "Its reminder"}
MAX_SLUG = 120  # longer than any campaign slug or ask id can be


@dataclass(frozen=True)
class FormField:
    """One field of the ask's form: its pack name, label and input."""

    name: str
    label: str
    kind: str = "text"  # text, textarea, url or year
    hint: str = ""
    rows: int = 3

    @property
    def optional(self) -> bool:
        return self.name in ask_form.OPTIONAL

    @property
    def slot(self) -> str:
        """The name as an HTML id part (no dots, which CSS selectors would read as classes)."""
        return self.name.replace(".", "-")


GROUPS: tuple[tuple[str, tuple[FormField, ...]], ...] = (
    (
        "The ask",
        (
            FormField("title", "Title"),
            FormField("ask", "What to do", "textarea", rows=5),
            FormField("topic", "Topic", hint="Lowercase letters, digits and hyphens."),
        ),
    ),
    (
        "The statistic",
        (
            FormField("statistic.figure", "Figure", hint="Shown in bold, such as 20,254."),
            FormField("statistic.sentence", "Sentence", "textarea"),
            FormField("statistic.source", "Source"),
            FormField("statistic.url", "Source link", "url"),
            FormField("statistic.year", "Year the source came out", "year"),
            FormField(
                "statistic.period",
                "Period the figure covers",
                hint="Not shown; every year it names must be in the sentence.",
            ),
        ),
    ),
    (
        "The link",
        (
            FormField("link.label", "Button label"),
            FormField("link.url", "Web address", "url", hint="An https:// link."),
        ),
    ),
    (
        "The reminder",
        (
            FormField(
                "reminder",
                "Reminder words",
                "textarea",
                hint="Under the ask when its reminder goes out.",
            ),
        ),
    ),
)
LABELS = {
    ask_form.CAMPAIGN: "Campaign",
    "id": "Ask id",
    "": "The ask",
    **{
        field.name: f"{legend.removeprefix('The ').capitalize()}: {field.label}"
        for legend, group in GROUPS
        for field in group
    },
}

LINKED = frozenset(field.name for _, group in GROUPS for field in group)  # shown in the form


def _show(value: object) -> str:
    return value if isinstance(value, str) and value in SHOWS else "ask"


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store
    ctx = dash.core.ctx

    def fragment(values: dict[str, str], show: str) -> dict[str, Any]:
        """What `_preview.html` draws: the form's ask in the three apps, or what is
        wrong with it, field by field."""
        # Imported at the first preview, not at start: Telegram's and Discord's libraries
        # take a second to load, and a bot may run without one of them.
        from web import lookalikes

        looks: Looks | None = None
        errors: dict[str, str] = {}
        try:
            draft = ask_form.read_draft(ctx.catalog, values)
        except AskFormError as exc:
            errors = exc.errors
        else:
            reminder = show == "reminder"
            looks = lookalikes.looks(
                ask_form.preview_message(ctx.ids, draft.row(), reminder=reminder)
            )
        return {
            "looks": looks,
            "errors": errors,
            "labels": LABELS,
            "linked": LINKED,
            "link_label": values.get("link.label", ""),
            "link_url": values.get("link.url", ""),
            "tracking": dash.tracking,
        }

    async def stored_ask(campaign: str, ask_id: str) -> AskRow | None:
        if not campaign or not ask_id:
            return None
        try:
            return await store.read(prompting.resolve_ask, ctx.catalog, campaign, ask_id)
        except prompting.ScheduleError:
            return None

    def page(
        request: Request, values: dict[str, str], show: str, stored: AskRow | None
    ) -> Response:
        shown = fragment(values, show)
        context = {
            **shown,
            "values": values,
            "show": show,
            "shows": SHOWS,
            "groups": GROUPS,
            "stored": stored,
            "heading": (stored.title if stored else values.get("title")) or "a new ask",
            "chat": current_user(request).chat,
            "bot_running": dash.messengers is not None,
        }
        return dash.render(request, "preview.html", context, 422 if shown["errors"] else 200)

    @organiser_only
    async def stored_preview(request: Request) -> Response:
        campaign = str(request.path_params["campaign"])[:MAX_SLUG]
        ask_id = str(request.path_params["ask_id"])[:MAX_SLUG]
        stored = await stored_ask(campaign, ask_id)
        if stored is None:
            raise HTTPException(404)
        show = _show(request.query_params.get("show"))
        return page(request, ask_form.stored_values(stored), show, stored)

    @organiser_only
    async def form_preview(request: Request) -> Response:
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        values = ask_form.form_values(form)
        show = _show(form.get("show"))
        if request.headers.get(FRAGMENT_HEADER) == "fragment":
            # 200 even when a field is wrong: the fragment says so, field by field, and
            # a 4xx would only add an error to the browser's console at every keystroke.
            return dash.templates.TemplateResponse(request, "_preview.html", fragment(values, show))
        campaign = values[ask_form.CAMPAIGN][:MAX_SLUG]
        stored = await stored_ask(campaign, values["id"][:MAX_SLUG])
        return page(request, values, show, stored)

    async def asks(request: Request) -> Response:
        """A preview's own address, visited (after signing in again, say): the asks to
        choose one from, on the schedule page."""
        return RedirectResponse("/prompts/new#asks", status_code=303)

    return [
        Route("/asks/{campaign}/{ask_id}/preview", stored_preview, methods=["GET"]),
        Route("/asks/preview", form_preview, methods=["POST"]),
        Route("/asks/preview", asks, methods=["GET"]),
    ]
