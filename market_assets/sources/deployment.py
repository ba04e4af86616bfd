"""The price source a deployment decides, and how a run may refine it.

A run never swaps the deployment's source: it gets the deployment's kind and
options, refined by the options it sets itself, under three rules:

1. A run may name another kind only if the deployment allows it
   (``allow_kind_switch``); otherwise ``kind`` must be unset or the
   deployment's own.
2. A run may set only options its kind declares ``per_run`` (see
   :mod:`~market_assets.sources.options`); the hosts a provider calls and the
   variables that hold keys (``per_run=False``) are the deployment's alone.
3. Options the resolved kind does not take are ignored, so one configuration
   form can hold the fields of several kinds.

Every value is checked without I/O (:func:`~market_assets.sources.check_options`)
when the deployment is made and when a run resolves it, so a bad setting
fails when the code loads and a bad run fails before its first step.

``names`` maps an option (and ``"kind"``, ``"allow_kind_switch"``) to what the
deployment calls it, e.g. ``{"symbols": "MARKET_ASSETS_SYMBOLS"}``: messages
then name the setting a user has to change rather than the internal option.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from market_assets.sources import (
    DEFAULT_KIND,
    SOURCE_KINDS,
    PriceSource,
    build_source,
    check_options,
    configurable_options,
    declared_options,
    source_options,
)
from market_assets.sources.http import hide_password
from market_assets.sources.options import SourceOptionError


@dataclass(frozen=True)
class SourceDeployment:
    """A deployment's price source: its kind, the options it sets, what runs may change.

    Parameters
    ----------
    kind : str, default "synthetic"
        The kind every run gets unless it names another (see ``allow_kind_switch``).
    options : mapping of kind -> mapping of option -> value
        Options the deployment sets, per kind: those of ``kind`` (complete: a
        required option must be here or come from every run) and those a run
        switching to another kind gets (e.g. ``{"alpha_vantage": {"api_key_env": ...}}``).
    allow_kind_switch : bool, default True
        Whether a run may name a kind other than ``kind``.  True is the
        permissive default of code and tests; settings decide it for a
        deployment (only ``MARKET_ASSETS_ENV=local`` allows it).
    names : mapping of str -> str
        What the deployment calls each option, for messages.

    Raises
    ------
    ValueError
        When an option is unknown to its kind, missing or invalid; the message
        names the setting (from ``names``), its value and what is expected.
    """

    kind: str = DEFAULT_KIND
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    allow_kind_switch: bool = True
    names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))
        object.__setattr__(
            self, "options", MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.options.items()})
        )
        for kind in (self.kind, *self.options):
            if kind not in SOURCE_KINDS:
                raise ValueError(
                    f"{self.names.get('kind', 'kind')}={kind!r}: expected a price source kind, one of "
                    f"{sorted(SOURCE_KINDS)}"
                )
        for kind in {self.kind, *self.options}:
            try:
                check_options(kind, self.options.get(kind, {}), complete=kind == self.kind)
            except SourceOptionError as exc:
                raise ValueError(self._explain(kind, exc)) from None

    @classmethod
    def of(
        cls,
        kind: str = DEFAULT_KIND,
        *,
        allow_kind_switch: bool = True,
        names: Mapping[str, str] | None = None,
        **options: Any,
    ) -> SourceDeployment:
        """A deployment of one kind with ``options``: ``SourceDeployment.of("stooq", symbols=["AAPL"])``."""
        return cls(kind=kind, options={kind: options}, allow_kind_switch=allow_kind_switch, names=names or {})

    def __repr__(self) -> str:
        options = {k: {n: hide_password(v) for n, v in o.items()} for k, o in self.options.items()}
        return (
            f"SourceDeployment(kind={self.kind!r}, options={options}, "
            f"allow_kind_switch={self.allow_kind_switch})"
        )

    def _called(self, option: str) -> str:
        return f" ({self.names[option]})" if option in self.names else ""

    def _explain(self, kind: str, exc: SourceOptionError) -> str:
        """A deployment-level message for ``exc``, naming the setting behind the option."""
        setting = self.names.get(exc.option)
        if setting is None:
            return f"price source {kind!r}{self._called('kind') if kind == self.kind else ''}: {exc}"
        value = hide_password(self.options.get(kind, {}).get(exc.option))
        if exc.reason == "unknown":
            takers = sorted(k for k in SOURCE_KINDS if exc.option in source_options(k))
            return (
                f"{setting}={value!r} does not apply to price source {kind!r}{self._called('kind')}: it takes no "
                f"{exc.option!r} option; unset {setting}, or choose a source that takes it: {takers}"
            )
        if exc.reason == "required":
            return f"price source {kind!r}{self._called('kind')} needs {exc.option!r}: set {setting}"
        return f"{setting}: {exc}"

    def resolve(
        self, kind: str | None = None, refinements: Mapping[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The kind and options a run gets: this deployment's, refined by the run's.

        ``kind`` None (or the deployment's kind) keeps the deployment's kind;
        ``refinements`` are the run's options, None values meaning unset.

        Raises
        ------
        SourceOptionError
            When the run names another kind and switching is not allowed,
            sets an option only the deployment may set, or sets an invalid value.
        """
        target = self.kind if kind is None else str(getattr(kind, "value", kind))
        if target not in SOURCE_KINDS:
            raise SourceOptionError("kind", f"kind={target!r}: expected one of {sorted(SOURCE_KINDS)}")
        if target != self.kind and not self.allow_kind_switch:
            rule = f" (only {self.names['allow_kind_switch']} does)" if "allow_kind_switch" in self.names else ""
            raise SourceOptionError(
                "kind",
                f"kind={target!r} is refused: the deployment's price source is {self.kind!r}{self._called('kind')} "
                f"and this deployment does not let a run switch kinds{rule}; leave kind unset or set it to "
                f"{self.kind!r}",
            )
        given = {name: value for name, value in (refinements or {}).items() if value is not None}
        deployment_only = sorted(set(given) & set(configurable_options(per_run=False)))
        if deployment_only:
            name = deployment_only[0]
            raise SourceOptionError(
                name,
                f"{name} is decided by the deployment{self._called(name)}, never by a run: it chooses which "
                "host a provider calls or which environment variable holds a key; remove it from the run's config",
            )
        declared = declared_options(target)
        options = {**self.options.get(target, {}), **{n: v for n, v in given.items() if n in declared}}
        return target, check_options(target, options)

    def build(self, kind: str | None = None, refinements: Mapping[str, Any] | None = None) -> PriceSource:
        """The :class:`PriceSource` a run gets (see :meth:`resolve`)."""
        target, options = self.resolve(kind, refinements)
        return build_source(target, **options)
