"""Failure alerts: Slack-compatible webhook messages, and their delivery.

Two kinds of message, each a JSON object with a plain ``text`` (what
notifications and non-Slack receivers show) and ``blocks`` (Slack's layout):

* a failed run: job, run id, partition(s), each failing step with the first
  line of its error, and a link to the run in the Dagster UI
  (``{ui_url}/runs/{run_id}``);
* failed evaluations of one asset check: asset, check, and per failure its
  partition, severity and observed value vs threshold (from the check's
  metadata, where present), with a link to the asset's checks page
  (``{ui_url}/assets/{key path}?view=checks&checkDetail={check}``).

``text`` stays plain (receivers other than Slack show it as is); the
blocks' mrkdwn escapes ``&``, ``<`` and ``>``.

Message building is pure.  :func:`post_message` is the one function that does
I/O: a bounded POST that reports a webhook that is down (refused, timed out,
5xx) as an undelivered :class:`Delivery` instead of raising, so an alert never
fails the sensor tick that sends it.  Nothing here reads the environment; the
webhook URL (its path is a token) never appears in a message or a problem
description, and error lines pass through :func:`market_assets.sources.http.redact`
(registered provider keys, ``apikey=`` values) and lose the password of any
``user:password@`` URL.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from market_assets.sources.http import redact

#: Metadata keys read as the observed value and as the threshold of a check, first found wins.
OBSERVED_KEYS = ("observed", "observed_value", "value")
THRESHOLD_KEYS = ("threshold", "expected", "limit", "expected_value", "max_allowed")
#: At most this many steps / check failures are listed in one message; the rest are counted.
MAX_LISTED = 10
MAX_LINE = 300
_PASSWORD = re.compile(r"(://[^/\s:@]+):[^/\s@]+@")


@dataclass(frozen=True)
class StepError:
    """A failed step and the first line of its error."""

    step_key: str
    error: str


@dataclass(frozen=True)
class RunFailure:
    """What a run-failure alert says; ``partitions`` is a key, ``"A…B"`` for a range, or None."""

    job_name: str
    run_id: str
    partitions: str | None
    steps: tuple[StepError, ...]
    #: the run's own failure message, shown when no step failed (e.g. a crashed run worker)
    reason: str | None = None


@dataclass(frozen=True)
class CheckFailure:
    """One failed evaluation of an asset check; values are already formatted for display."""

    asset_path: tuple[str, ...]
    check_name: str
    partition: str | None
    severity: str
    run_id: str
    observed: str | None = None
    threshold: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Delivery:
    """The outcome of :func:`post_message`; ``problem`` says what went wrong, never the URL's path."""

    delivered: bool
    attempts: int
    problem: str | None = None


def first_line(text: str | None, limit: int = MAX_LINE) -> str:
    """The first non-blank line of ``text``, scrubbed of secrets and cut to ``limit`` characters."""
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    line = _PASSWORD.sub(r"\1:***@", redact(line))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def run_url(ui_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def check_url(ui_url: str, asset_path: Sequence[str], check_name: str) -> str:
    """The asset's checks page in the Dagster UI, with ``check_name`` opened."""
    path = "/".join(quote(part, safe="") for part in asset_path)
    return f"{ui_url.rstrip('/')}/assets/{path}?{urlencode({'view': 'checks', 'checkDetail': check_name})}"


def observed_and_threshold(metadata: Mapping[str, object]) -> tuple[str | None, str | None]:
    """The observed value and the threshold a check recorded, as display strings (None when absent).

    ``metadata`` holds plain values (the caller unwraps Dagster metadata
    values); the keys tried are :data:`OBSERVED_KEYS` and :data:`THRESHOLD_KEYS`.
    """

    def pick(keys: Sequence[str]) -> str | None:
        key = next((k for k in keys if metadata.get(k) is not None), None)
        return None if key is None else first_line(_display(metadata[key]), limit=80)

    return pick(OBSERVED_KEYS), pick(THRESHOLD_KEYS)


def run_failure_message(failure: RunFailure, ui_url: str) -> dict[str, object]:
    """The Slack-compatible message for a failed run."""
    link = run_url(ui_url, failure.run_id)
    where = f", partition {failure.partitions}" if failure.partitions else ""
    steps = [f"`{s.step_key}`: {s.error}" for s in failure.steps[:MAX_LISTED]]
    if len(failure.steps) > MAX_LISTED:
        steps.append(f"and {len(failure.steps) - MAX_LISTED} more steps")
    first = failure.steps[0] if failure.steps else None
    cause = f"step {first.step_key}: {first.error}" if first else (failure.reason or "no step failed")
    text = f"Run failed: {failure.job_name}{where}: {cause} ({link})"
    header = f"*Run failed*: `{_escape(failure.job_name)}`{_escape(where)}\nRun <{_escape(link)}|{failure.run_id}>"
    details = (
        "*Failed steps*\n" + "\n".join(f"• {_escape(s)}" for s in steps)
        if steps
        else f"*Reason*: {_escape(failure.reason or 'the run failed before any step failed')}"
    )
    return {"text": text, "blocks": [_section(header), _section(details)]}


def without_run_summaries(failures: Sequence[CheckFailure]) -> list[CheckFailure]:
    """``failures`` less the unpartitioned result of any run that also recorded partitioned ones.

    A short run records a check both per partition and once for the run (see
    ``market_assets.defs.checks``): the partitions say more, and one failure
    should not be counted twice.  A run that recorded only the run-level
    result (a long backfill) keeps it.
    """
    partitioned = {f.run_id for f in failures if f.partition is not None}
    return [f for f in failures if f.partition is not None or f.run_id not in partitioned]


def check_failure_message(
    failures: Sequence[CheckFailure], ui_url: str, *, more_than_listed: bool = False
) -> dict[str, object]:
    """The Slack-compatible message for new failures of one asset check (oldest first).

    ``more_than_listed`` says ``failures`` was cut at a fetch limit: the count
    is then shown as a lower bound.
    """
    if not failures:
        raise ValueError("check_failure_message needs at least one CheckFailure, got none")
    check = failures[-1]
    asset = "/".join(check.asset_path)
    link = check_url(ui_url, check.asset_path, check.check_name)
    severity = "ERROR" if any(f.severity == "ERROR" for f in failures) else check.severity
    count = f"{len(failures)}{'+' if more_than_listed else ''}"
    latest = _failure_line(check)
    text = f"Check failed ({severity}): {asset} {check.check_name}, {count} new failure(s); latest: {latest} ({link})"
    lines = [f"• {_escape(_failure_line(f))}" for f in failures[-MAX_LISTED:]]
    hidden = len(failures) - len(lines)
    if hidden or more_than_listed:
        lines.insert(0, f"• … {hidden or 'more'}{'+' if more_than_listed and hidden else ''} earlier")
    header = (
        f"*Check failed* ({severity}): `{_escape(asset)}` · `{_escape(check.check_name)}`\n"
        f"<{_escape(link)}|Checks page>"
    )
    if check.description:
        header += f"\n{_escape(first_line(check.description))}"
    return {"text": text, "blocks": [_section(header), _section(f"*{count} new failure(s)*\n" + "\n".join(lines))]}


def post_message(
    url: str,
    payload: Mapping[str, object],
    *,
    timeout: float = 5.0,
    budget: float = 8.0,
    retry_delay: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """POST ``payload`` as JSON to the webhook ``url``; never raises for a webhook that is down.

    Parameters
    ----------
    url
        The webhook; only its scheme, host and port appear in a problem.
    timeout
        Seconds each attempt may wait on the socket.
    budget
        Seconds both attempts may take together: the one retry runs only if a
        second remains, with what remains as its timeout.
    retry_delay
        Seconds between the attempts.

    Returns
    -------
    Delivery
        Delivered on a 2xx answer.  One retry follows a refused or dropped
        connection, HTTP 429 or 5xx; a timeout is not retried (the webhook may
        have received the message: a retry could post it twice), nor is
        another 4xx (a wrong URL stays wrong).
    """
    body = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    start, attempts = clock(), 0
    while True:
        attempts += 1
        remaining = budget - (clock() - start)
        try:
            with urllib.request.urlopen(request, timeout=max(min(timeout, remaining), 0.1)) as response:
                response.read(4096)
            return Delivery(delivered=True, attempts=attempts)
        except urllib.error.HTTPError as exc:
            problem, retry = f"answered HTTP {exc.code}", exc.code == 429 or exc.code >= 500
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            timed_out = isinstance(reason, TimeoutError)
            problem = f"did not answer within {timeout:g} s" if timed_out else f"is unreachable ({reason})"
            retry = not timed_out
        if not retry or attempts > 1 or budget - (clock() - start) - retry_delay < 1.0:
            where = f"{urlsplit(url).scheme}://{urlsplit(url).netloc.rpartition('@')[2]}"
            return Delivery(False, attempts, f"alert webhook {where} {problem} ({attempts} attempt(s))")
        sleep(retry_delay)


def _failure_line(failure: CheckFailure) -> str:
    parts = [f"partition {failure.partition}" if failure.partition else "no partition", failure.severity]
    if failure.observed is not None or failure.threshold is not None:
        parts.append(f"observed {failure.observed or '—'} vs threshold {failure.threshold or '—'}")
    return ", ".join(parts) + f" (run {failure.run_id[:8]})"


def _display(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _escape(text: str) -> str:
    """Slack mrkdwn escaping: ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(markdown: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown[:2900]}}
