"""The core is the one front door: organiser commands and confirmations, group and
admin rules are decided there, from the facts an adapter passes, the same for every
platform."""

from __future__ import annotations

from campaigns import wording
from campaigns.buttons import Verb
from campaigns.core import Core
from campaigns.model import ChatKind, Message, Origin
from campaigns.organising import NOT_AVAILABLE
from db import audit as audit_db

ORGANISER = Origin("telegram", "900", ChatKind.PRIVATE, user="900", organiser=True)
SUPPORTER = Origin("telegram", "901", ChatKind.PRIVATE, user="901")
GROUP = Origin("telegram", "-100", ChatKind.GROUP, user="900", organiser=True)


def confirm_id(core: Core, message: Message, verb: Verb) -> str:
    for button in message.all_buttons():
        read = core.ids.read(button.id or "")
        if read is not None and read.verb is verb:
            assert button.id is not None
            return button.id
    raise AssertionError(f"no {verb} button")


async def test_organiser_commands_need_the_adapters_word_and_a_private_chat(core: Core) -> None:
    [refused] = await core.command(SUPPORTER, "stats")
    assert refused.text == NOT_AVAILABLE
    # an organiser in a group would show everyone the answer
    [in_group] = await core.command(GROUP, "stats")
    assert in_group.text == NOT_AVAILABLE
    [stats] = await core.command(ORGANISER, "stats")
    assert stats.text.startswith("All time:")
    audit = await core.store.read(audit_db.latest, 10)
    assert [(row.actor, row.action) for row in audit] == [("telegram:900", "stats")]


async def test_confirmation_buttons_are_for_the_organiser_who_asked(core: Core) -> None:
    [question] = await core.command(ORGANISER, "sendnow", ("one-step-ahead",))
    cancel = confirm_id(core, question, Verb.CANCEL)
    refused = await core.press(SUPPORTER, cancel)
    assert refused.answer == NOT_AVAILABLE
    # another organiser can't press it either: it stands for this organiser's request
    other = Origin("discord", "900", ChatKind.PRIVATE, user="900", organiser=True)
    assert "expired" in (await core.press(other, cancel)).answer
    [question] = await core.command(ORGANISER, "sendnow", ("one-step-ahead",))
    done = await core.press(ORGANISER, confirm_id(core, question, Verb.CANCEL))
    assert done.edit is not None and done.edit.text == "Cancelled: nothing was sent."


async def test_the_admin_check_is_asked_only_when_a_command_needs_it(core: Core) -> None:
    asked: list[bool] = []

    async def is_admin() -> bool:
        asked.append(True)
        return False

    member = Origin("telegram", "-100", ChatKind.GROUP, user="902")
    await core.command(member, "help", admin=is_admin)
    await core.command(SUPPORTER, "start", admin=is_admin)
    assert asked == []
    [refused] = await core.command(member, "subscribe_group", admin=is_admin)
    assert refused.text == wording.GROUP_ONLY_ADMINS and asked == [True]

    async def yes() -> bool:
        return True

    [subscribed, *_] = await core.command(member, "subscribe_group", admin=yes)
    assert subscribed.text == wording.GROUP_SUBSCRIBED
