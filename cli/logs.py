"""Log lines for people who run the bot, with every token and secret masked.

One filter on the root handler sees every record, the libraries' included, and
masks two kinds of thing before anything is written:

- the exact values of the secrets in the settings (both bot tokens, the secret
  key, the secret file's key), wherever they appear;
- anything shaped like a credential or a supporter's address in a URL: a
  Telegram bot token (it sits in every Bot API URL), a Discord token, an
  interaction or webhook token (discord.py's 429 warnings print the URL), a
  channel id (a DM channel is one supporter's), a tracked-link token.

Tracebacks are masked too: the filter formats the exception itself and hands the
masked text on, so no handler formats the raw one again.

With `log_format = "json"` each line is one JSON object instead (time, level,
logger, message, and the exception's type and traceback when there is one), for a
log collector; it is made from the record after the same filter has masked it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

MASK = "«hidden»"


def _keep_prefix(match: re.Match[str]) -> str:
    return match.group(1) + MASK


PATTERNS: tuple[re.Pattern[str], ...] = (
    # Telegram bot tokens: <bot id>:<35 characters>, in every Bot API URL.
    re.compile(r"()\b\d{4,}:[A-Za-z0-9_-]{30,}"),
    # Discord bot tokens: three base64url parts joined by dots.
    re.compile(r"()\b[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}"),
    # Interaction and webhook tokens in Discord URLs.
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?'\"]+"),
    # Channel ids in Discord URLs: a DM channel belongs to one supporter.
    re.compile(r"(/channels/)\d+"),
    # Tracked-link tokens.
    re.compile(r"(/l/)[0-9a-z]{1,13}\.[A-Za-z0-9_-]{16}"),
)
_QUIET = ("httpx", "httpcore", "apscheduler", "aiohttp.access")


class Redactor:
    """Masks known secret values and credential-shaped text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in PATTERNS:
            text = pattern.sub(_keep_prefix, text)
        return text


_current = Redactor()


def redact(text: str) -> str:
    """Mask the secrets known to the current logging set-up (for lines printed directly)."""
    return _current(text)


class RedactingFilter(logging.Filter):
    """Rewrites each record with its message and traceback masked."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._mask(record)
        except Exception:  # never let a log line through unmasked, nor break the caller
            record.msg, record.args = "(a log line that could not be masked)", ()
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True

    def _mask(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string in a library's call: keep the template
            message = str(record.msg)
        record.msg, record.args = self.redact(message), ()
        if record.exc_info and record.exc_info != (None, None, None):
            kind = record.exc_info[0]
            record.exc_type = self.redact(kind.__qualname__) if kind else None
            record.exc_text = self.redact(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


class JsonLines(logging.Formatter):
    """One JSON object a line, from a record the `RedactingFilter` has masked: `time`
    (UTC, ISO 8601), `level`, `logger`, `message`, and `exception` (its `type` and
    `traceback`) and `stack` when present."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:  # not masked yet: no filter saw it
            record.exc_type = getattr(record.exc_info[0], "__qualname__", None)
            record.exc_text = _current(self.formatException(record.exc_info))
        if record.exc_text:
            kind = getattr(record, "exc_type", None)
            line["exception"] = {"type": kind, "traceback": record.exc_text}
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def _utc(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def configure_logging(
    level: str, secrets: Iterable[str] = (), *, console: Console, json_lines: bool = False
) -> None:
    """Rich log lines in a terminal, plain timestamped lines in a file or a pipe, or with
    `json_lines` one JSON object a line wherever they go; every line masked. Uncaught
    exceptions go through the same mask (and are a JSON line too, then)."""
    handler: logging.Handler
    if json_lines:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
        layout = "%(message)s"
    elif console.is_terminal:
        from rich.logging import RichHandler  # with rich's tracebacks: only in a terminal

        handler = RichHandler(console=console, show_path=False)
        layout = "%(message)s"
    else:
        handler = logging.StreamHandler(sys.stderr)
        layout = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    global _current
    redact = _current = Redactor(secrets)
    handler.addFilter(RedactingFilter(redact))
    logging.basicConfig(level=level, format=layout, handlers=[handler], force=True)
    # Client libraries log request URLs at DEBUG, and Telegram's URLs hold the token.
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _mask_uncaught(redact, json_lines)


def _mask_uncaught(redact: Redactor, json_lines: bool) -> None:
    def hook(kind: type[BaseException], value: BaseException, trace: TracebackType | None) -> None:
        text = redact("".join(traceback.format_exception(kind, value, trace)))
        if json_lines:
            line = {
                "time": _utc(datetime.now(UTC).timestamp()),
                "level": "CRITICAL",
                "logger": "uncaught",
                "message": "uncaught exception",
                "exception": {"type": redact(kind.__qualname__), "traceback": text},
            }
            text = json.dumps(line, ensure_ascii=False) + "\n"
        sys.stderr.write(text)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
