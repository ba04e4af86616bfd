"""Model zoo, ensembles and pipelines: pure computation, no tracking, no I/O.

``make_model(name, task, params, random_state)`` returns an unfitted
scikit-learn pipeline; see :mod:`.zoo` for the names and tasks.
``fit_model(model, X, y, dates)`` fits it, giving the rows' session dates to
the estimators that purge their own inner folds (see :mod:`.fitting`).
"""

from market_assets.quant.models.fitting import fit_model
from market_assets.quant.models.pipeline import PIPELINE_OPTIONS, make_model
from market_assets.quant.models.walk_forward import score_fold, walk_forward_folds, walk_forward_predict
from market_assets.quant.models.zoo import CLASSIFICATION_TASKS, MODEL_NAMES, TASK_TARGETS, TASKS

__all__ = [
    "CLASSIFICATION_TASKS",
    "MODEL_NAMES",
    "PIPELINE_OPTIONS",
    "TASKS",
    "TASK_TARGETS",
    "fit_model",
    "make_model",
    "score_fold",
    "walk_forward_folds",
    "walk_forward_predict",
]
