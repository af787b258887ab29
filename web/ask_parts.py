"""The ask editor's fields beyond the ask itself: its next step and its outcome poll
(the pack's `[asks.next]` and `[asks.poll]`), its other wordings under test
(`[[asks.variants]]`) and its words in other languages (`[asks.translations.<code>]`,
each a collapsible part of the form), and the previews of each.

The preview page (`web.preview`) shows the ask and its reminder; the editor shows
these too, so an organiser sees every message an ask can lead to before publishing.
Field names are `campaigns.ask_form`'s; a poll's answers are numbered fields, and
a problem with the answers as a whole goes beside them under `poll.answers`.
"""

from __future__ import annotations

from campaigns import ask_form, ask_form_words
from campaigns.packs import MAX_VARIANTS
from web.preview import (
    GROUPS,
    LABELS,
    LINKED,
    SHOWS,
    TRANSLATION_LABELS,
    FormField,
    language_groups,
    language_labels,
)

NEXT = "next"
POLL = "poll"
ANSWERS_HINT = (
    f"2 to {len(ask_form.ANSWER_FIELDS)} answers, up to 40 characters each, in the order "
    "the buttons show them. Each answer is counted by its position."
)
LOCKED_HINT = (
    "This poll has gone out, so its answers are counted by position: the first {count} "
    "stay as they are, in this order. You can add answers after them."
)

JOURNEY_GROUPS: tuple[tuple[str, tuple[FormField, ...]], ...] = (
    (
        "The next step",
        (
            FormField(
                "next.text",
                "Next step's words",
                "textarea",
                hint="Sent once to each supporter who did the ask, soon after. Leave every "
                "next-step field empty for none.",
            ),
            FormField("next.link.label", "Next step's button label"),
            FormField(
                "next.link.url",
                "Next step's web address",
                "url",
                hint="An https:// link; leave it and the label empty for no button.",
            ),
            FormField(
                "next.invite",
                "Add the supporter's own invite link, to bring a friend",
                "checkbox",
            ),
        ),
    ),
    (
        "The outcome poll",
        (
            FormField(
                "poll.question",
                "Poll question",
                hint="Sent some days later to those who did the ask. Leave the question and "
                "the answers empty for no poll.",
            ),
            FormField(ask_form.ANSWERS, "Answers", "answers", hint=ANSWERS_HINT),
            *(
                FormField(name, f"Answer {n}", "answer")
                for n, name in enumerate(ask_form.ANSWER_FIELDS, start=1)
            ),
            FormField(
                "poll.after_days",
                "Days after the ask",
                "number",
                hint="When the poll goes out, 1 to 28 days after a supporter did the ask; 7 if "
                "left empty.",
            ),
        ),
    ),
)
VARIANT = "variant"  # `variant.1`: the preview shows the first other wording
VARIANTS_HINT = (
    f"Up to {MAX_VARIANTS} other wordings of the ask, to find out which gets more people "
    "acting. Each supporter in a private chat gets one wording at random (the one above "
    "is called original); the statistic and the link stay the same. The Participation "
    "page compares them and lets you choose the winner. Leave these empty for no experiment."
)
RUNNING_HINT = (
    "This experiment is running: v{version} went out with these wordings ({sent} "
    "messages so far). Saving a change makes a new version, as always; what went out "
    "and its counts stay with v{version}."
)
VARIANT_GROUP: tuple[FormField, ...] = tuple(
    field
    for n in ask_form_words.VARIANT_SLOTS
    for field in (
        FormField(
            f"variants.{n}.name",
            f"Other wording {n}: name",
            hint="Letters, digits and hyphens, such as short; reports name the wording by it."
            if n == 1
            else "",
        ),
        FormField(
            f"variants.{n}.title",
            f"Other wording {n}: heading",
            hint="Leave it empty to keep the ask's own." if n == 1 else "",
        ),
        FormField(f"variants.{n}.ask", f"Other wording {n}: words", "textarea", rows=4),
    )
)
EDITOR_LANGUAGES = language_groups(tuple(TRANSLATION_LABELS), answers=True)
EDITOR_GROUPS = GROUPS + JOURNEY_GROUPS
EDITOR_LABELS = (
    LABELS
    | {
        field.name: f"{legend.removeprefix('The ').capitalize()}: {field.label}"
        for legend, group in JOURNEY_GROUPS
        for field in group
    }
    | {field.name: field.label.capitalize() for field in VARIANT_GROUP}
    | language_labels(EDITOR_LANGUAGES)
)
EDITOR_LINKED = (
    LINKED
    | frozenset(
        field.name for _, group in JOURNEY_GROUPS for field in group if field.kind != "answers"
    )
    | frozenset(field.name for field in VARIANT_GROUP)
    | frozenset(
        field.name
        for group in EDITOR_LANGUAGES
        for field in group.fields
        if field.kind != "answers"
    )
)
EDITOR_SHOWS = (
    SHOWS
    | {NEXT: "Its next step", POLL: "Its poll"}
    | {f"{VARIANT}.{n}": f"Other wording {n}" for n in ask_form_words.VARIANT_SLOTS}
)
ABSENT = {
    NEXT: "This ask has no next step: write the next step's words to see it here.",
    POLL: "This ask has no outcome poll: write a question and its answers to see it here.",
    **{
        f"{VARIANT}.{n}": f"This ask has no other wording {n}: give it a name and its words "
        "to see it here."
        for n in ask_form_words.VARIANT_SLOTS
    },
}


def locked_hint(count: int) -> str:
    """What the poll's answers say beside them once the poll went out."""
    return LOCKED_HINT.format(count=count)


def variant_of(show: str, values: dict[str, str]) -> tuple[bool, str | None]:
    """Whether `show` is one of the other wordings, and that wording's name as typed
    (None: it has none, so there is nothing to show)."""
    if not show.startswith(VARIANT + "."):
        return False, None
    name = values.get(f"variants.{show.removeprefix(VARIANT + '.')}.name", "").strip()
    return True, name or None


def shows_for(values: dict[str, str]) -> dict[str, str]:
    """The Show choices, each other wording under its name as typed."""
    shows = dict(EDITOR_SHOWS)
    for n in ask_form_words.VARIANT_SLOTS:
        name = values.get(f"variants.{n}.name", "").strip()
        if name:
            shows[f"{VARIANT}.{n}"] = f"Other wording {n} ({name})"
    return shows


def running_hint(version: int, sent: int) -> str:
    """What the wordings say beside them once a version with them went out."""
    return RUNNING_HINT.format(version=version, sent=sent)
