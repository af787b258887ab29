"""Actions: "I did it" counts once, forged buttons change nothing, groups count members."""

from __future__ import annotations

from sqlite_utils import Database

from campaigns import wording
from campaigns.buttons import ButtonIds, Verb
from campaigns.dialogue import Context
from campaigns.model import ChatKind, Origin
from tests.chat import ALICE, BOB, GROUP, action_of, count, press, say, text_of

ACTIONS = "SELECT count(*) FROM actions WHERE kind = ?"


def test_double_done_counts_once(db: Database, ctx: Context) -> None:
    ask = say(db, ctx, ALICE, "/start")
    done = action_of(ask, wording.DONE_LABEL)
    first = press(db, ctx, ALICE, done)
    assert first.counted and first.answer == wording.DONE_THANKS
    assert first.edit is not None and first.edit.card is not None
    # after "I did it" the link stays and the answer buttons go
    assert [b.label for b in first.edit.all_buttons()] == ["Write to your MP"]
    second = press(db, ctx, ALICE, done)
    assert not second.counted and second.answer == wording.DONE_ALREADY
    assert second.edit is None
    assert wording.DONE_ALREADY in text_of(say(db, ctx, ALICE, "/done"))
    assert count(db, ACTIONS, ["done"]) == 1


def test_typed_done_and_skip_are_twins_of_the_buttons(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    assert wording.SKIP_NOTED in text_of(say(db, ctx, ALICE, "/skip"))
    assert wording.SKIP_ALREADY in text_of(say(db, ctx, ALICE, "/skip"))
    assert count(db, ACTIONS, ["skipped"]) == 1
    assert wording.DONE_THANKS in text_of(say(db, ctx, ALICE, "/done"))  # changes the answer
    assert count(db, ACTIONS, ["skipped"]) == 0
    assert count(db, ACTIONS, ["done"]) == 1
    assert count(db, "SELECT count(*) FROM actions WHERE via = 'command'") == 1


def test_forged_and_tampered_buttons_change_nothing(db: Database, ctx: Context) -> None:
    ask = say(db, ctx, ALICE, "/start")
    genuine = action_of(ask, wording.DONE_LABEL)
    prefix, verb, prompt, signature = genuine.split(":")
    forged = [
        "",
        "done",
        "cb1:done:1",
        f"{prefix}:{verb}:{int(prompt) + 1}:{signature}",  # another prompt, same signature
        f"{prefix}:skip:{prompt}:{signature}",  # another verb
        f"{prefix}:{verb}:{prompt}:{signature[:-1]}A",
        ButtonIds(b"someone-elses-secret-0123456789").make(Verb.DONE, prompt),
        "cb1:done:" + "9" * 200 + ":x",
        "cb1:done:1:\u202e\u0000",
    ]
    for value in forged:
        result = press(db, ctx, ALICE, value)
        assert not result.counted and result.answer == wording.BUTTON_STALE, value
    assert count(db, "SELECT count(*) FROM actions") == 0


def test_stale_button_for_a_prompt_that_does_not_exist(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    result = press(db, ctx, ALICE, ctx.ids.make(Verb.DONE, 999))
    assert result.answer == wording.BUTTON_STALE
    db.execute("UPDATE prompts SET state = 'cancelled'")
    ask_button = ctx.ids.make(Verb.DONE, 1)
    assert press(db, ctx, ALICE, ask_button).answer == wording.BUTTON_STALE
    assert count(db, "SELECT count(*) FROM actions") == 0


def test_press_from_someone_we_hold_nothing_about(db: Database, ctx: Context) -> None:
    ask = say(db, ctx, ALICE, "/start")
    stranger = Origin("console", "stranger")
    result = press(db, ctx, stranger, action_of(ask, wording.DONE_LABEL))
    assert not result.counted
    assert count(db, "SELECT count(*) FROM supporters") == 1


def test_group_members_each_count_once(db: Database, ctx: Context) -> None:
    refused = say(db, ctx, GROUP, "/subscribe_group", admin=False)
    assert wording.GROUP_ONLY_ADMINS in text_of(refused)
    posted = say(db, ctx, GROUP, "/subscribe_group", admin=True)
    done = action_of(posted, wording.DONE_LABEL)
    members = [Origin("telegram", GROUP.chat, ChatKind.GROUP, user=str(n)) for n in (11, 12)]
    for member in members:
        assert press(db, ctx, member, done).counted
        assert not press(db, ctx, member, done).counted
    assert count(db, ACTIONS, ["done"]) == 2
    # members are known only as members: never sent the weekly ask
    assert count(db, "SELECT count(*) FROM supporters WHERE status = 'member'") == 2
    assert wording.GROUP_PRIVATE_ONLY in text_of(say(db, ctx, members[0], "/mydata"))


def test_private_buttons_refused_in_a_group(db: Database, ctx: Context) -> None:
    say(db, ctx, GROUP, "/subscribe_group", admin=True)
    result = press(db, ctx, GROUP, ctx.ids.make(Verb.FORGET))
    assert result.answer == wording.BUTTON_STALE
    assert count(db, "SELECT count(*) FROM supporters") == 1


def test_bob_and_alice_are_counted_apart(db: Database, ctx: Context) -> None:
    for origin in (ALICE, BOB):
        ask = say(db, ctx, origin, "/start")
        assert press(db, ctx, origin, action_of(ask, wording.DONE_LABEL)).counted
    assert count(db, ACTIONS, ["done"]) == 2
