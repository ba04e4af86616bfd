"""A small HTTP client shared by the online providers (Stooq, Alpha Vantage).

What it does on top of :mod:`requests`:

* a timeout on every request;
* a rate limit: at least ``min_interval`` seconds between request starts;
* retries with exponential backoff (``backoff * 2**attempt``, capped at
  ``max_backoff``, times ``1 + jitter * U(0, 1)``) on timeouts, connection
  errors, bodies cut short or undecodable (a connection closed before
  ``Content-Length`` bytes arrived: ``ChunkedEncodingError``; a corrupt gzip
  body: ``ContentDecodingError``), HTTP 5xx and 429 (a ``Retry-After``
  header in seconds wins over the computed delay, capped at
  ``max_backoff``), and on payloads the caller's
  parser marks as retryable (e.g. a throttle note) by raising
  :class:`RetryableResponse`;
* progress and retries logged on the ``market_assets.sources`` logger.

The timeout, rate limit and retry settings are one frozen :class:`RetryPolicy`;
each provider declares its default policy once and passes it here.

Secrets stay out of messages and logs: :func:`register_secret` records the
literal value of a key when a source reads it, and :func:`redact` replaces
every registered value (raw and URL-encoded) and the value of any ``apikey=``
parameter by ``***``.  Every :class:`SourceError` raised here is redacted, and
:class:`RedactingFilter` redacts the records of our logger and of urllib3's
(which logs request URLs), including their formatted tracebacks.

``sleep``, ``clock`` and ``random`` are injectable so tests run without
waiting and with a deterministic jitter.  :mod:`requests` is imported when a
client is made (it costs ~0.1 s, which loading the code location need not pay).
"""

from __future__ import annotations

import logging
import random as _random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, quote_plus, urlsplit

from market_assets.sources.base import SourceError

if TYPE_CHECKING:
    import requests

logger = logging.getLogger("market_assets.sources")

T = TypeVar("T")
_APIKEY = re.compile(r"(?i)(apikey=)[^&\s'\"]+")
#: Secrets shorter than this are not replaced literally (a 2-letter "key" would
#: blank out every occurrence of those letters); real provider keys are 16+.
MIN_SECRET_LENGTH = 6
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret(value: str) -> None:
    """Have :func:`redact` replace ``value`` (and its URL-encoded forms) from now on.

    Process-wide and permanent: a key read once stays redacted in every later
    message of the process.  Values shorter than :data:`MIN_SECRET_LENGTH`
    are ignored.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _SECRETS_LOCK:
        _SECRETS.update({value, quote(value, safe=""), quote_plus(value)})


def redact(text: str) -> str:
    """``text`` with every registered secret and every ``apikey=`` value replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):  # longest first: encoded forms contain raw ones
        if secret in text:
            text = text.replace(secret, "***")
    return _APIKEY.sub(r"\1***", text)


def excerpt(text: str, limit: int = 120) -> str:
    """A short, redacted, single-line excerpt of a payload for error messages."""
    flat = redact(" ".join(text.split()))
    return repr(flat[:limit] + ("…" if len(flat) > limit else ""))


def hide_password(url: object) -> object:
    """``url`` with the password of its ``user:password@`` part replaced by ``***`` (other values unchanged)."""
    if not isinstance(url, str) or "@" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_base_url(url: str, *, option: str = "base_url") -> str:
    """``url`` if it is an ``http(s)://`` URL with a host, else ValueError naming ``option``."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.hostname if parts else None
    except ValueError:  # e.g. an invalid port
        parts = host = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{option}={hide_password(url)!r}: expected an http:// or https:// URL with a host")
    return url


class RedactingFilter(logging.Filter):
    """Redacts secrets from a record's message and formatted traceback (see :func:`redact`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = redact(message)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()
for _name in ("market_assets.sources", "urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_FILTER)


class RetryableResponse(Exception):
    """Raised by a payload parser when the payload asks to try again later."""


@dataclass(frozen=True)
class RetryPolicy:
    """Timeout, rate limit and retries of one provider's requests.

    Attributes
    ----------
    timeout : float, default 30.0
        Seconds to connect and to wait for each read (> 0).
    min_interval : float, default 0.0
        Minimum seconds between the starts of two requests (>= 0).
    max_retries : int, default 3
        Retries after the first attempt (so ``max_retries + 1`` attempts).
    backoff, max_backoff, jitter : float, default 1.0, 60.0, 0.1
        Delay before retry ``k`` (0-based) is ``min(max_backoff, backoff *
        2**k) * (1 + jitter * random())``; a ``Retry-After`` header replaces
        it, capped at ``max_backoff``.
    """

    timeout: float = 30.0
    min_interval: float = 0.0
    max_retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 60.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if (
            self.timeout <= 0
            or self.min_interval < 0
            or self.max_retries < 0
            or self.backoff < 0
            or self.max_backoff < 0
            or self.jitter < 0
        ):
            raise ValueError(
                f"retry policy: timeout must be > 0 and min_interval, max_retries, backoff, max_backoff, "
                f"jitter >= 0; got {self}"
            )

    def delay(self, attempt: int, retry_after: float | None, random: float) -> float:
        """Seconds to wait before retry ``attempt`` (0-based); ``random`` is a U(0, 1) draw."""
        if retry_after is not None:
            return min(self.max_backoff, retry_after)
        return min(self.max_backoff, self.backoff * 2**attempt) * (1.0 + self.jitter * random)


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
    retry : RetryPolicy, default ``RetryPolicy()``
        Timeout, rate limit and retries.
    session, sleep, clock, random
        Injectable for tests; default a new ``requests.Session``,
        ``time.sleep``, ``time.monotonic``, ``random.random`` (None means the
        default, so sources pass their own hooks straight through).
    """

    def __init__(
        self,
        *,
        provider: str,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        import requests

        self.provider = provider
        self.retry = RetryPolicy() if retry is None else retry
        self.session = session or requests.Session()
        self._sleep, self._clock = sleep or time.sleep, clock or time.monotonic
        self._random = random or _random.random
        self._last_start: float | None = None

    def __repr__(self) -> str:
        return f"HttpClient(provider={self.provider!r}, retry={self.retry})"

    def _wait_for_rate_limit(self) -> None:
        if self._last_start is not None and self.retry.min_interval > 0:
            wait = self.retry.min_interval - (self._clock() - self._last_start)
            if wait > 0:
                self._sleep(wait)
        self._last_start = self._clock()

    def get(self, url: str, params: dict[str, str], *, symbol: str, parse: Callable[[str], T]) -> T:
        """GET ``url`` with ``params`` and return ``parse(body)``.

        ``parse`` turns the body into a result, raises :class:`SourceError`
        for a final failure or :class:`RetryableResponse` to retry.  Raises
        :class:`SourceError` (naming the provider, the symbol and the redacted
        URL) on a non-retryable HTTP status or when retries are exhausted;
        every message is redacted.
        """
        import requests

        shown = redact(requests.Request("GET", url, params=params).prepare().url or url)
        attempts = self.retry.max_retries + 1
        for attempt in range(attempts):
            self._wait_for_rate_limit()
            logger.debug("%s: GET %s (attempt %d of %d)", self.provider, shown, attempt + 1, attempts)
            try:
                outcome = self._attempt(url, params, symbol, shown, parse)
            except SourceError as exc:  # the parser's messages may quote the payload
                raise SourceError(redact(str(exc))) from None
            if not isinstance(outcome, _Retry):
                return outcome
            if attempt == self.retry.max_retries:
                raise SourceError(
                    f"{self.provider}: no data for {symbol!r} after {attempts} attempts; "
                    f"last failure: {outcome.reason} (GET {shown})"
                )
            delay = self.retry.delay(attempt, outcome.retry_after, self._random())
            logger.warning(
                "%s: %s for %s; retry %d of %d in %.2f s (GET %s)",
                self.provider,
                outcome.reason,
                symbol,
                attempt + 1,
                self.retry.max_retries,
                delay,
                shown,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _attempt(
        self, url: str, params: dict[str, str], symbol: str, shown: str, parse: Callable[[str], T]
    ) -> T | _Retry:
        """One request: the parsed result, or why and when to retry."""
        import requests

        try:
            response = self.session.get(url, params=params, timeout=self.retry.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            return _Retry(f"{type(exc).__name__}: {redact(str(exc))[:200]}")
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            # the body is read inside get(): a connection closed mid-body or a corrupt
            # compressed body is a transient transport fault, like a reset
            return _Retry(f"truncated or undecodable body ({type(exc).__name__}: {redact(str(exc))[:200]})")
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
