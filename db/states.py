"""The one vocabulary of stored states and kinds, as the database's CHECK constraints allow.

Every layer names a prompt's, a delivery's or a supporter's state with these, never a
bare string. They are `StrEnum`s, so a member equals its stored text: SQL parameters
and rows read back need no conversion. The migrations keep their own literal SQL (a
shipped migration never changes); a new value here needs a new migration there.
"""

from __future__ import annotations

from enum import StrEnum


class ChatKind(StrEnum):
    """Where a message goes: one person's private chat, or a shared group or channel."""

    PRIVATE = "private"
    GROUP = "group"


class SupporterStatus(StrEnum):
    """Where a supporter stands. Only `active` supporters get the weekly ask."""

    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"  # unsubscribed with /stop
    GONE = "gone"  # blocked the bot, left, or can no longer be reached
    MEMBER = "member"  # known only from pressing a button in a subscribed group


class PromptKind(StrEnum):
    """Why a prompt exists: the weekly run, an organiser's send, a standing ask, a
    reminder; or a step of a supporter's journey (a next step, a welcome, a poll)."""

    WEEKLY = "weekly"
    MANUAL = "manual"
    STANDING = "standing"  # the ask a new supporter gets, outside any schedule
    REMINDER = "reminder"  # a nudge to those who have not answered its parent
    # Journey steps: one prompt each, whose deliveries are added as supporters reach
    # the step (one per supporter, ever, by the deliveries' unique key).
    NEXT = "next"  # an ask's next step, to those who did it
    WELCOME = "welcome"  # one message of a campaign's welcome series (`prompts.step`)
    POLL = "poll"  # an ask's outcome poll, some days after a supporter did it


class PromptState(StrEnum):
    """A prompt's life: scheduled → sending → sent, or cancelled, or missed."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    MISSED = "missed"  # its time passed while the bot was down, beyond the grace


class DeliveryState(StrEnum):
    """One message to one supporter: pending → sending → sent | gone | failed | unknown.

    `sending` only while its request is out; `unknown` may have arrived and is never
    sent again; `cancelled` was still pending when an organiser stopped the send.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    GONE = "gone"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


class ActionKind(StrEnum):
    """What a supporter did about a prompt. Only these are "actions"."""

    DONE = "done"
    SKIPPED = "skipped"
    OPENED = "opened"


class ActionVia(StrEnum):
    """How an action arrived: a button press, a typed command, or the tracked link."""

    BUTTON = "button"
    COMMAND = "command"
    LINK = "link"


class AccountRole(StrEnum):
    """What a dashboard account may do."""

    STAFF = "staff"
    ORGANISER = "organiser"


# Prompts that carry an ask (its text, statistic and link): what participation counts,
# what /ask shows and what /done answers. The others are journey steps.
ASK_KINDS = (PromptKind.WEEKLY, PromptKind.MANUAL, PromptKind.STANDING, PromptKind.REMINDER)
JOURNEY_KINDS = (PromptKind.NEXT, PromptKind.WELCOME, PromptKind.POLL)


class AfterLast(StrEnum):
    """What a campaign does once its weekly runs have used every ask."""

    REPEAT = "repeat"  # start again from the first ask
    STOP = "stop"  # send no more weekly asks until the pack has new ones


# A prompt in one of these states is over: it gets a `finished_at` and is not sent.
PROMPT_FINISHED = frozenset({PromptState.SENT, PromptState.CANCELLED, PromptState.MISSED})
# The answers to a prompt: a supporter has at most one of these (the latest) per prompt.
ANSWERS = (ActionKind.DONE, ActionKind.SKIPPED)
