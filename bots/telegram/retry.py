"""Keeping at it when the Bot API has a bad minute, and saying so in few lines.

A volunteer reading the log wants one line when Telegram stops answering and one
when it answers again, not a traceback every few seconds. Two pieces (the waits
between tries are `campaigns.backoff.Backoff`):

- :class:`PollingWatch`: PTB's updater retries a failed ``getUpdates`` forever by
  itself (``telegram.ext._utils.networkloop.network_retry_loop`` with
  ``max_retries=-1``: waits of 1, 1.5, 2.25 ... seconds up to 30, reset by a success;
  a timeout is retried at once and not reported). By default it logs every failure
  with a traceback; the watch is its ``error_callback`` instead.
- :func:`quiet_network_tracebacks`: PTB logs a network failure with a traceback in two
  more places (a failed bootstrap ``deleteWebhook``, the last ``getUpdates`` at stop);
  those become one warning line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram.error import Conflict, NetworkError, TelegramError

from bots.telegram.request import NotBotApi

log = logging.getLogger(__name__)


def reason(error: BaseException, token: str = "") -> str:
    """A short, token-free account of what went wrong, for a log line."""
    if isinstance(error, NotBotApi):
        return f"HTTP {error.status}, not the Bot API's answer"
    name = type(error).__name__
    if type(error) is NetworkError:  # an error status; PTB's text is the description
        text = str(error).replace(token, "<token>") if token else str(error)
        return f"{name}: {text[:120]}"
    return name


class PollingWatch:
    """One warning when polling starts failing, a reminder at most every `remind` seconds
    while it goes on, and one line when it works again."""

    def __init__(
        self,
        *,
        token: str = "",
        remind: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token
        self._remind = remind
        self._clock = clock
        self.failures = 0
        self._since: float | None = None
        self._said = 0.0

    @property
    def failing(self) -> bool:
        return self._since is not None

    def failed(self, error: TelegramError) -> None:
        """PTB's error callback (and the request's, for timeouts PTB doesn't report)."""
        now = self._clock()
        self.failures += 1
        why = reason(error, self._token)
        if self._since is None:
            self._since = self._said = now
            if isinstance(error, Conflict):
                log.warning(
                    "telegram: another program is polling with this bot token (%s); is a "
                    "second campaignbot running? Trying again on its own",
                    why,
                )
            else:
                log.warning(
                    "telegram: polling for updates failed (%s); trying again on its own", why
                )
        elif now - self._said >= self._remind:
            self._said = now
            log.warning(
                "telegram: polling still failing: %d tries in %.0fs (last: %s)",
                self.failures,
                now - self._since,
                why,
            )

    def answered(self, status: int) -> None:
        """The Bot API answered a getUpdates: a success ends a streak of failures."""
        if self._since is None or not 200 <= status < 300:
            return
        log.info(
            "telegram: polling works again, after %d failed tries in %.0fs",
            self.failures,
            self._clock() - self._since,
        )
        self._since = None
        self.failures = 0


class _OneLine(logging.Filter):
    """A PTB record carrying a network failure loses its traceback and becomes a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, NetworkError | Conflict):
            record.msg = f"{record.getMessage()} ({reason(error)})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_FILTER = _OneLine()


def quiet_network_tracebacks() -> None:
    """Install the filter on the loggers PTB's retry loop and updater log to."""
    for name in ("telegram.ext", "telegram.ext.Updater"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
