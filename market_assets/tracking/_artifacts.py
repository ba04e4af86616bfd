"""What goes into a run besides params and metrics: metric cleaning, the
feature-importance chart, and the settings that make a model file loadable.

Model files use mlflow's default **skops** format (safe: it refuses types it
was not told to trust).  Zoo models contain types outside skops' defaults
(``market_assets`` estimators, xgboost and lightgbm boosters), so the types
found in the model are trusted when their top-level package is in
:data:`TRUSTED_MODULE_ROOTS`, and refused otherwise.  The model's pip
requirements are pinned from the installed packages those types come from,
instead of letting mlflow infer them (which runs ``uv export`` on the current
directory or a subprocess that re-loads the model).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

TOP_FEATURES = 30
TRUSTED_MODULE_ROOTS: tuple[str, ...] = (
    "builtins", "collections", "numpy", "scipy", "sklearn", "market_assets", "xgboost", "lightgbm",
)


def finite_metrics(metrics: Mapping[str, float]) -> tuple[dict[str, float], list[str]]:
    """Split ``metrics`` into the loggable floats and the sorted names of NaN ones.

    Raises
    ------
    TypeError
        When a value is not a real number, naming the metric and the value.
    """
    kept: dict[str, float] = {}
    skipped: list[str] = []
    for name, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"metric {name!r}={value!r}: expected a real number") from None
        if math.isnan(number):
            skipped.append(name)
        else:
            kept[name] = number
    return kept, sorted(skipped)


def ranked_importance(importance: Mapping[str, float]) -> list[tuple[str, float]]:
    """Finite importances sorted by absolute value, largest first (ties by name)."""
    finite = [(str(k), float(v)) for k, v in importance.items() if math.isfinite(float(v))]
    return sorted(finite, key=lambda item: (-abs(item[1]), item[0]))


def importance_figure(importance: Mapping[str, float], top: int = TOP_FEATURES) -> Any:
    """A horizontal bar chart of the ``top`` features by absolute importance.

    Built on the Agg canvas directly (no pyplot), so it changes no global
    matplotlib backend and needs no display.

    Returns
    -------
    matplotlib.figure.Figure
        Largest bar at the top; the title says how many features are shown.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ranked = ranked_importance(importance)
    shown = ranked[:top][::-1]
    figure = Figure(figsize=(8, 0.28 * max(len(shown), 1) + 1.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.barh([name for name, _ in shown], [value for _, value in shown], color="#4c72b0")
    axes.set_xlabel("importance")
    axes.set_title(f"Feature importance (top {len(shown)} of {len(ranked)})")
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    return figure


def skops_trusted_types(model: object) -> list[str]:
    """The non-default types skops must trust to load ``model``.

    Raises
    ------
    ValueError
        When the model holds a type from a package outside
        :data:`TRUSTED_MODULE_ROOTS`, naming the types; add the package to
        the tuple only if its objects are safe to load.
    """
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=sio.dumps(model))
    outside = [name for name in untrusted if name.split(".", 1)[0] not in TRUSTED_MODULE_ROOTS]
    if outside:
        raise ValueError(
            f"model {type(model).__name__} holds types {outside} from packages outside "
            f"TRUSTED_MODULE_ROOTS={list(TRUSTED_MODULE_ROOTS)}; expected only estimators "
            "from those packages"
        )
    return sorted(untrusted)


def pip_requirements(trusted_types: list[str]) -> list[str]:
    """Pinned requirements: scikit-learn, skops and the installed packages of ``trusted_types``.

    Packages that are not installed distributions (the standard library, this
    project itself) are left out; mlflow adds its own pin.
    """
    from importlib import metadata

    distributions = metadata.packages_distributions()
    names = {"scikit-learn", "skops"}
    for root in {name.split(".", 1)[0] for name in trusted_types}:
        if root != "market_assets":
            names.update(distributions.get(root, []))
    return sorted(f"{name}=={metadata.version(name)}" for name in names)
