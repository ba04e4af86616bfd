"""A small HTTP client shared by the online providers (Stooq, Alpha Vantage).

What it does on top of :mod:`requests`:

* a timeout on every request;
* a rate limit: at least ``min_interval`` seconds between request starts;
* retries with exponential backoff (``backoff * 2**attempt``, capped at
  ``max_backoff``, times ``1 + jitter * U(0, 1)``) on timeouts, connection
  errors, HTTP 5xx and 429 (a ``Retry-After`` header in seconds wins over the
  computed delay, capped at ``max_backoff``), and on payloads the caller's
  parser marks as retryable (e.g. a throttle note) by raising
  :class:`RetryableResponse`;
* progress and retries logged on the ``market_assets.sources`` logger, with
  any ``apikey=`` value redacted from URLs and messages, in our records, in
  urllib3's debug records and in every :class:`SourceError` raised here.

``sleep``, ``clock`` and ``random`` are injectable so tests run without
waiting and with a deterministic jitter.
"""

from __future__ import annotations

import logging
import random as _random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests

from market_assets.sources.base import SourceError

logger = logging.getLogger("market_assets.sources")

T = TypeVar("T")
_APIKEY = re.compile(r"(?i)(apikey=)[^&\s'\"]+")


def redact(text: str) -> str:
    """``text`` with the value of every ``apikey=`` parameter replaced by ``***``."""
    return _APIKEY.sub(r"\1***", text)


def excerpt(text: str, limit: int = 120) -> str:
    """A short, redacted, single-line excerpt of a payload for error messages."""
    flat = " ".join(text.split())
    return repr(redact(flat[:limit] + ("…" if len(flat) > limit else "")))


class _RedactingFilter(logging.Filter):
    """Redacts ``apikey=`` from records of a third-party logger (urllib3 logs URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "apikey=" in message.lower():
            record.msg, record.args = redact(message), None
        return True


_URLLIB3_FILTER = _RedactingFilter()
logging.getLogger("urllib3.connectionpool").addFilter(_URLLIB3_FILTER)


class RetryableResponse(Exception):
    """Raised by a payload parser when the payload asks to try again later."""


@dataclass(frozen=True)
class _Retry:
    reason: str
    retry_after: float | None = None


class HttpClient:
    """GET with timeout, rate limit and retries; see the module docstring.

    Parameters (keyword-only)
    -------------------------
    provider : str
        Named in every error and log line (``"stooq"``, ``"alpha_vantage"``).
    timeout : float, default 30.0
        Seconds to connect and to wait for each read.
    min_interval : float, default 0.0
        Minimum seconds between the starts of two requests.
    max_retries : int, default 3
        Retries after the first attempt (so ``max_retries + 1`` attempts).
    backoff, max_backoff, jitter : float, default 1.0, 60.0, 0.1
        Delay before retry ``k`` (0-based) is ``min(max_backoff, backoff *
        2**k) * (1 + jitter * random())``.
    session, sleep, clock, random
        Injectable for tests; default a new ``requests.Session``,
        ``time.sleep``, ``time.monotonic``, ``random.random``.
    """

    def __init__(
        self,
        *,
        provider: str,
        timeout: float = 30.0,
        min_interval: float = 0.0,
        max_retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        jitter: float = 0.1,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if timeout <= 0 or min_interval < 0 or max_retries < 0 or backoff < 0:
            raise ValueError(
                f"{provider}: timeout must be > 0 and min_interval, max_retries, backoff >= 0; got "
                f"timeout={timeout!r}, min_interval={min_interval!r}, max_retries={max_retries!r}, "
                f"backoff={backoff!r}"
            )
        self.provider = provider
        self.timeout, self.min_interval, self.max_retries = timeout, min_interval, max_retries
        self.backoff, self.max_backoff, self.jitter = backoff, max_backoff, jitter
        self.session = session or requests.Session()
        # None means the real clock: sources pass their (test-injectable) hooks straight through.
        self._sleep, self._clock = sleep or time.sleep, clock or time.monotonic
        self._random = random
        self._last_start: float | None = None

    def __repr__(self) -> str:
        return (
            f"HttpClient(provider={self.provider!r}, timeout={self.timeout}, min_interval={self.min_interval}, "
            f"max_retries={self.max_retries})"
        )

    def _wait_for_rate_limit(self) -> None:
        if self._last_start is not None and self.min_interval > 0:
            wait = self.min_interval - (self._clock() - self._last_start)
            if wait > 0:
                self._sleep(wait)
        self._last_start = self._clock()

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_backoff, retry_after)
        return min(self.max_backoff, self.backoff * 2**attempt) * (1.0 + self.jitter * self._random())

    def get(self, url: str, params: dict[str, str], *, symbol: str, parse: Callable[[str], T]) -> T:
        """GET ``url`` with ``params`` and return ``parse(body)``.

        ``parse`` turns the body into a result, raises :class:`SourceError`
        for a final failure or :class:`RetryableResponse` to retry.  Raises
        :class:`SourceError` (naming the provider, the symbol and the redacted
        URL) on a non-retryable HTTP status or when retries are exhausted.
        """
        shown = redact(requests.Request("GET", url, params=params).prepare().url or url)
        for attempt in range(self.max_retries + 1):
            self._wait_for_rate_limit()
            logger.debug("%s: GET %s (attempt %d of %d)", self.provider, shown, attempt + 1, self.max_retries + 1)
            outcome = self._attempt(url, params, symbol, shown, parse)
            if not isinstance(outcome, _Retry):
                return outcome
            if attempt == self.max_retries:
                raise SourceError(
                    f"{self.provider}: no data for {symbol!r} after {attempt + 1} attempts; "
                    f"last failure: {outcome.reason} (GET {shown})"
                )
            delay = self._delay(attempt, outcome.retry_after)
            logger.warning(
                "%s: %s for %s; retry %d of %d in %.2f s (GET %s)",
                self.provider,
                outcome.reason,
                symbol,
                attempt + 1,
                self.max_retries,
                delay,
                shown,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _attempt(
        self, url: str, params: dict[str, str], symbol: str, shown: str, parse: Callable[[str], T]
    ) -> T | _Retry:
        """One request: the parsed result, or why and when to retry."""
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            return _Retry(f"{type(exc).__name__}: {redact(str(exc))[:200]}")
        status = response.status_code
        if status == 429 or status >= 500:
            return _Retry(f"HTTP {status}", _retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 400:
            raise SourceError(
                f"{self.provider}: HTTP {status} for {symbol!r} (GET {shown}); body: {excerpt(response.text)}"
            )
        try:
            return parse(response.text)
        except RetryableResponse as exc:
            return _Retry(redact(str(exc)))


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After (delta-seconds or an HTTP date) as seconds; None if absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
