"""Who and where an interaction comes from, as the core names it: used by the bot
(presses, commands) and by the slash commands, so both import it from here."""

from __future__ import annotations

from typing import Any

import discord

from campaigns.model import ChatKind, Origin

PLATFORM = "discord"


def _locale(interaction: discord.Interaction[Any]) -> str:
    """The person's client language (`en-GB`): the core keeps only a language it has."""
    return interaction.locale.value


def origin_for_command(interaction: discord.Interaction[Any], *, organiser: bool = False) -> Origin:
    """Slash commands are about the person: their DM subscription. (Inside a server
    the reply is one only they see, so this counts as private for organisers too.)"""
    user, language = str(interaction.user.id), _locale(interaction)
    return Origin(
        PLATFORM, user, ChatKind.PRIVATE, user=user, organiser=organiser, language=language
    )


def origin_for_press(interaction: discord.Interaction[Any], *, organiser: bool = False) -> Origin:
    """A press in a DM is the person's; in a server channel, a member's in that channel."""
    user = str(interaction.user.id)
    language = _locale(interaction)
    if interaction.guild is None or interaction.channel_id is None:
        return Origin(
            PLATFORM, user, ChatKind.PRIVATE, user=user, organiser=organiser, language=language
        )
    channel = str(interaction.channel_id)
    return Origin(
        PLATFORM, channel, ChatKind.GROUP, user=user, organiser=organiser, language=language
    )


def origin_for_dm(message: discord.Message) -> Origin:
    """A message in a DM (a plain STOP or START) is the person's, as their commands are."""
    user = str(message.author.id)
    return Origin(PLATFORM, user, ChatKind.PRIVATE, user=user)
