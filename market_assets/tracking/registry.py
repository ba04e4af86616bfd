"""Model registry: champion / challenger aliases, promotion, rollback, loading.

Conventions
-----------
* A registered model's **champion** is the version behind alias
  ``champion``; a version that lost its comparison gets alias
  ``challenger`` (the alias moves to the latest loser).
* Promoting writes the version that was champion into the new champion's
  version tag ``previous_champion``.  Those tags form a chain that
  :func:`rollback_champion` walks back one step at a time.
* Every decision is written on the version as tags: ``promotion_alias``,
  ``promotion_reason`` and the scores and margin behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from market_assets.tracking._session import (
    TrackingConfig,
    activate,
    client_for,
    is_not_found,
    model_deserialization_allowed,
    redacted,
)

if TYPE_CHECKING:
    from market_assets.quant.promotion import PromotionDecision

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION_TAG = "previous_champion"
ROLLED_BACK_TO_TAG = "rolled_back_to"


class NothingToRollBackError(LookupError):
    """Raised by :func:`rollback_champion` when no earlier champion is recorded."""


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered model version, with the metrics of the run that made it.

    Attributes
    ----------
    version : str
        Registry version number, as a string.
    run_id : str or None
        The MLflow run that logged the model.
    tags : dict of str to str
        The version's tags.
    metrics : dict of str to float
        The run's latest metric values (empty without a run).
    """

    version: str
    run_id: str | None
    tags: dict[str, str]
    metrics: dict[str, float]


def _aliases(client: Any, model_name: str) -> dict[str, str]:
    """Alias -> version of ``model_name``; empty when the model is not registered."""
    from mlflow.exceptions import MlflowException

    try:
        registered = client.get_registered_model(model_name)
    except MlflowException as error:
        if is_not_found(error):
            return {}
        raise
    return {alias: str(version) for alias, version in registered.aliases.items()}


def model_aliases(config: TrackingConfig, model_name: str) -> dict[str, str]:
    """Alias -> version of ``model_name`` (e.g. ``{"champion": "3"}``); empty when not registered."""
    return _aliases(client_for(config), model_name)


def champion_version(config: TrackingConfig, model_name: str) -> ModelVersionInfo | None:
    """The version behind alias ``champion``, or None when there is none (or no such model)."""
    client = client_for(config)
    version = _aliases(client, model_name).get(CHAMPION)
    if version is None:
        return None
    model_version = client.get_model_version(model_name, version)
    run_id = model_version.run_id or None
    metrics = dict(client.get_run(run_id).data.metrics) if run_id else {}
    return ModelVersionInfo(str(model_version.version), run_id, dict(model_version.tags), metrics)


def model_version_tags(config: TrackingConfig, model_name: str, version: str) -> dict[str, str]:
    """The tags of one model version."""
    return dict(client_for(config).get_model_version(model_name, str(version)).tags)


def set_alias(config: TrackingConfig, model_name: str, alias: str, version: str) -> None:
    """Point ``alias`` of ``model_name`` at ``version`` (moving it if it exists)."""
    client_for(config).set_registered_model_alias(model_name, alias, str(version))


def _decision_tags(alias: str, decision: PromotionDecision) -> dict[str, str]:
    champion = "none" if decision.champion_score is None else repr(decision.champion_score)
    return {
        "promotion_alias": alias,
        "promotion_reason": decision.reason,
        "promotion_challenger_score": repr(decision.challenger_score),
        "promotion_champion_score": champion,
        "promotion_margin": repr(decision.margin),
    }


def promote_or_challenge(
    config: TrackingConfig, model_name: str, version: str, decision: PromotionDecision
) -> str:
    """Apply a :class:`~market_assets.quant.promotion.PromotionDecision` to ``version``.

    When ``decision.promote``: alias ``champion`` moves to ``version`` and the
    version it leaves is recorded in ``version``'s tag ``previous_champion``
    (not when ``version`` already was champion).  Otherwise alias
    ``challenger`` moves to ``version``.  Either way the decision is written
    as version tags (see module conventions).

    Returns
    -------
    str
        The alias set: ``"champion"`` or ``"challenger"``.
    """
    client = client_for(config)
    version = str(version)
    alias = CHAMPION if decision.promote else CHALLENGER
    client.get_model_version(model_name, version)  # fails early, naming the missing version
    if decision.promote:
        previous = _aliases(client, model_name).get(CHAMPION)
        if previous is not None and previous != version:
            client.set_model_version_tag(model_name, version, PREVIOUS_CHAMPION_TAG, previous)
    for key, value in _decision_tags(alias, decision).items():
        client.set_model_version_tag(model_name, version, key, value)
    client.set_registered_model_alias(model_name, alias, version)
    return alias


def rollback_champion(config: TrackingConfig, model_name: str) -> str:
    """Move alias ``champion`` back to the version recorded as ``previous_champion``.

    The demoted version gets tag ``rolled_back_to``; calling again walks one
    more step back along the chain.

    Returns
    -------
    str
        The version that is champion now.

    Raises
    ------
    NothingToRollBackError
        When ``model_name`` has no champion, or its champion records no
        previous champion (it was the first one).
    """
    client = client_for(config)
    current = _aliases(client, model_name).get(CHAMPION)
    if current is None:
        raise NothingToRollBackError(
            f"model {model_name!r} has no 'champion' alias at {redacted(config.tracking_uri)}: "
            "expected a registered model with a champion to roll back"
        )
    previous = client.get_model_version(model_name, current).tags.get(PREVIOUS_CHAMPION_TAG)
    if not previous:
        raise NothingToRollBackError(
            f"champion version {current} of model {model_name!r} has no "
            f"{PREVIOUS_CHAMPION_TAG!r} tag: it was the first champion, so there is no "
            "earlier champion to roll back to"
        )
    client.set_registered_model_alias(model_name, CHAMPION, previous)
    client.set_model_version_tag(model_name, current, ROLLED_BACK_TO_TAG, previous)
    return previous


def model_uri(model_name: str, alias_or_version: str) -> str:
    """``models:/name/3`` for a version number, ``models:/name@alias`` otherwise."""
    reference = str(alias_or_version)
    return f"models:/{model_name}/{reference}" if reference.isdigit() else f"models:/{model_name}@{reference}"


def load_model(config: TrackingConfig, model_name: str, alias_or_version: str) -> Any:
    """Load the scikit-learn model behind an alias (``"champion"``) or a version (``"3"``).

    Side effects: sets mlflow's global URIs (see ``activate``) and allows
    model deserialization for this call (see ``model_deserialization_allowed``).
    """
    activate(config)
    import mlflow.sklearn

    with model_deserialization_allowed():
        return mlflow.sklearn.load_model(model_uri(model_name, alias_or_version))
