"""A strict fake of the Telegram Bot API (10.1) for tests with the real python-telegram-bot.

    async with FakeTelegram() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.base_url)
        fake.user_sends(42, 42, "/start source-leaflet")   # queue an Update
        ...                                                # the bot polls and answers
        await fake.wait_for(lambda: fake.sent_to(42))
        assert not fake.rejected

What it is for, module by module:

* :mod:`.server` - :class:`FakeTelegram`: the aiohttp server, request decoding,
  recording (``requests``, ``rejected``), fault injection, long polling.
* :mod:`.world` - the scripted world (users, chats, messages, updates) and what
  tests read back (``sent_to``, ``deleted``, ``callback_answers``, ``commands``).
* :mod:`.api` - the Bot API methods the fake implements.
* :mod:`.spec` / :mod:`.rules` - validation of every call against the spec and
  Telegram's own limits.
* :mod:`.html` - the HTML parse mode, ported from TDLib.
* :mod:`.limits` - flood control (30 messages/s, 20/min per group, ~1/s per user;
  paid broadcasts, ``allow_paid_broadcast``, up to 1,000 messages/s).
"""

from .errors import ApiError
from .server import Call, FakeTelegram
from .spec import Upload, load_spec
from .world import Chat

__all__ = ["ApiError", "Call", "Chat", "FakeTelegram", "Upload", "load_spec"]
