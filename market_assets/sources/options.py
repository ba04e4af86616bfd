"""How a price source declares the options configuration may set, and who may set them.

Each source class lists its configurable options in ``OPTIONS`` (name ->
:class:`SourceOption`); the defaults are those of its constructor, so each
option is defined once, next to the code that uses it.  A configuration layer
(the Dagster resource, the settings) offers exactly these.

Two scopes:

* ``per_run=True``: a run may refine the deployment's value (a universe, a
  simulation seed);
* ``per_run=False``: only the deployment decides: the hosts a provider calls
  (``base_url``) and which environment variable holds a key
  (``api_key_env``).  Letting a run choose them would let anyone who can
  launch a run send a secret to any host.

Validation errors are :class:`SourceOptionError`, a ValueError that also
carries the option's name, so a layer above can say where the value came
from (a setting's variable, a run's config field).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from market_assets.schema import validate_symbol


@dataclass(frozen=True)
class SourceOption:
    """One option of a price source that configuration may set.

    Attributes
    ----------
    type : type
        The value's type in configuration: ``int``, ``float``, ``str`` (dates
        are ISO strings) or ``list[str]``.
    description : str
        One line, shown in the Dagster launchpad.
    per_run : bool, default True
        Whether a run's config may set it; False: only the deployment does.
    """

    type: Any
    description: str
    per_run: bool = True


class SourceOptionError(ValueError):
    """An invalid or misplaced source option.

    ``option`` names it; ``reason`` is ``"invalid"`` (a bad value),
    ``"unknown"`` (the source takes no such option) or ``"required"`` (missing).
    """

    def __init__(self, option: str, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.option, self.reason = option, reason


@contextmanager
def option_error(option: str) -> Iterator[None]:
    """Re-raise a ValueError inside the block as :class:`SourceOptionError` for ``option``."""
    try:
        yield
    except SourceOptionError:
        raise
    except ValueError as exc:
        raise SourceOptionError(option, str(exc)) from None


def check_symbols(symbols: Iterable[str] | None) -> None:
    """Validate a universe (each symbol as :func:`~market_assets.schema.validate_symbol` wants)."""
    if symbols is None:
        return
    if isinstance(symbols, str):
        raise SourceOptionError("symbols", f"symbols={symbols!r}: expected a list of symbols, e.g. ['AAPL', 'MSFT']")
    with option_error("symbols"):
        for symbol in symbols:
            validate_symbol(symbol)
