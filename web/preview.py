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

from campaigns import ask_form, ask_form_words, languages, prompting
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
LANGUAGE = "language"  # the form's choice of the language to preview in
# Each language the bot speaks, by its own name: the preview draws the bot's words in
# it (`campaigns.languages.speaking`) and the ask's translation, where it has one.
LANGUAGE_CHOICES = {code: languages.name_of(code) for code in languages.LANGUAGES}
# A translation's fields, as the form labels them; the preview page holds the card's.
# No label holds another field's ("Title", "Button label"), so each names one field.
TRANSLATION_LABELS = {
    "title": "Heading",
    "ask": "Words of the ask",
    "statistic_sentence": "What the statistic says",
    "link_label": "Words on the link's button",
    "reminder": "Words of the reminder",
    "next_text": "Words of the next step",
    "poll_question": "The poll's question",
}
CARD_WORDS = ("title", "ask", "statistic_sentence", "link_label", "reminder")
LONG_WORDS = frozenset({"ask", "statistic_sentence", "reminder", "next_text"})  # text areas
# Answers by place, in words: "Answer 1" is the poll's own answer's label.
ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth")
TRANSLATION_HINT = "Optional. Leave a field empty and supporters reading {name} get the English."


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


@dataclass(frozen=True)
class LanguageGroup:
    """An ask's words in one other language: a collapsible part of its form."""

    code: str
    name: str
    fields: tuple[FormField, ...]

    @property
    def hint(self) -> str:
        return TRANSLATION_HINT.format(name=self.name)


def language_groups(keys: tuple[str, ...], *, answers: bool) -> tuple[LanguageGroup, ...]:
    """The translation fields of each language the bot speaks but English: `keys` of
    `TRANSLATION_LABELS`, and (`answers`) the poll's answers, each beside its place."""
    groups = []
    for code in ask_form_words.OTHER_LANGUAGES:
        name = languages.name_of(code)
        fields = [
            FormField(
                f"{ask_form_words.TRANSLATIONS}.{code}.{key}",
                f"{TRANSLATION_LABELS[key]} ({name})",
                "textarea" if key in LONG_WORDS else "text",
            )
            for key in keys
        ]
        if answers:
            fields.append(
                FormField(
                    ask_form_words.answers_field(code),
                    f"The poll's answers ({name})",
                    "answers",
                    hint="One for each of the poll's answers, beside it; or none.",
                )
            )
            fields += [
                FormField(field_name, f"{ORDINALS[n]} answer ({name})", "answer")
                for n, field_name in enumerate(ask_form_words.answer_fields(code))
            ]
        groups.append(LanguageGroup(code, name, tuple(fields)))
    return tuple(groups)


def language_labels(groups: tuple[LanguageGroup, ...]) -> dict[str, str]:
    """What the preview's list of fixes calls each translation field."""
    return {
        field.name: f"{group.name}: {field.label.removesuffix(f' ({group.name})')}"
        for group in groups
        for field in group.fields
    }


CARD_LANGUAGES = language_groups(CARD_WORDS, answers=False)
CARD_LABELS = LABELS | language_labels(CARD_LANGUAGES)
CARD_LINKED = LINKED | frozenset(CARD_LABELS.keys() - LABELS.keys())


def _show(value: object) -> str:
    return value if isinstance(value, str) and value in SHOWS else "ask"


def language_of(value: object) -> str:
    """The language chosen to preview in: one the bot speaks, else English."""
    return languages.known(value if isinstance(value, str) else None) or languages.ENGLISH


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store
    ctx = dash.core.ctx

    def fragment(values: dict[str, str], show: str, language: str) -> dict[str, Any]:
        """What `_preview.html` draws: the form's ask in the three apps, in `language`,
        or what is wrong with it, field by field."""
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
            with languages.speaking(language):
                looks = lookalikes.looks(
                    ask_form.preview_message(ctx.ids, draft.row(), reminder=reminder)
                )
        return {
            "looks": looks,
            "errors": errors,
            "labels": CARD_LABELS,
            "linked": CARD_LINKED,
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
        request: Request, values: dict[str, str], show: str, stored: AskRow | None, language: str
    ) -> Response:
        shown = fragment(values, show, language)
        context = {
            **shown,
            "values": values,
            "show": show,
            "shows": SHOWS,
            "language": language,
            "preview_languages": LANGUAGE_CHOICES,
            "groups": GROUPS,
            "language_groups": CARD_LANGUAGES,
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
        language = language_of(request.query_params.get(LANGUAGE))
        return page(request, ask_form.stored_values(stored), show, stored, language)

    @organiser_only
    async def form_preview(request: Request) -> Response:
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        values = ask_form.form_values(form)
        show = _show(form.get("show"))
        language = language_of(form.get(LANGUAGE))
        if request.headers.get(FRAGMENT_HEADER) == "fragment":
            # 200 even when a field is wrong: the fragment says so, field by field, and
            # a 4xx would only add an error to the browser's console at every keystroke.
            shown = fragment(values, show, language)
            return dash.templates.TemplateResponse(request, "_preview.html", shown)
        campaign = values[ask_form.CAMPAIGN][:MAX_SLUG]
        stored = await stored_ask(campaign, values["id"][:MAX_SLUG])
        return page(request, values, show, stored, language)

    async def asks(request: Request) -> Response:
        """A preview's own address, visited (after signing in again, say): the asks to
        choose one from, on the schedule page."""
        return RedirectResponse("/prompts/new#asks", status_code=303)

    return [
        Route("/asks/{campaign}/{ask_id}/preview", stored_preview, methods=["GET"]),
        Route("/asks/preview", form_preview, methods=["POST"]),
        Route("/asks/preview", asks, methods=["GET"]),
    ]
