"""Who and where an interaction comes from, as the core names it: used by the bot
(presses, commands) and by the slash commands, so both import it from here."""

from __future__ import annotations

from typing import Any

import discord

from campaigns.model import ChatKind, Origin

PLATFORM = "discord"


def origin_for_command(interaction: discord.Interaction[Any]) -> Origin:
    """Slash commands are about the person: their DM subscription."""
    user = str(interaction.user.id)
    return Origin(PLATFORM, user, ChatKind.PRIVATE, user=user)


def origin_for_press(interaction: discord.Interaction[Any]) -> Origin:
    """A press in a DM is the person's; in a server channel, a member's in that channel."""
    user = str(interaction.user.id)
    if interaction.guild is None or interaction.channel_id is None:
        return Origin(PLATFORM, user, ChatKind.PRIVATE, user=user)
    return Origin(PLATFORM, str(interaction.channel_id), ChatKind.GROUP, user=user)
