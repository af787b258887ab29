"""The Telegram adapter, on python-telegram-bot 22."""

import logging
import os

# PTB 22 gives RetryAfter.retry_after as a timedelta when asked to (the coming default).
os.environ.setdefault("PTB_TIMEDELTA", "1")

# At DEBUG, PTB logs whole updates, and so what supporters type: never below INFO.
for _name in ("telegram", "httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.INFO)
