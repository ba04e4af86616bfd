"""Model zoo, ensembles and pipelines: pure computation, no tracking, no I/O.

``make_model(name, task, params, random_state)`` returns an unfitted
scikit-learn pipeline; see :mod:`.zoo` for the names and tasks.
"""

from market_assets.quant.models.pipeline import PIPELINE_OPTIONS, make_model
from market_assets.quant.models.walk_forward import score_fold, walk_forward_folds, walk_forward_predict
from market_assets.quant.models.zoo import CLASSIFICATION_TASKS, MODEL_NAMES, TASK_TARGETS, TASKS

__all__ = [
    "CLASSIFICATION_TASKS",
    "MODEL_NAMES",
    "PIPELINE_OPTIONS",
    "TASKS",
    "TASK_TARGETS",
    "make_model",
    "score_fold",
    "walk_forward_folds",
    "walk_forward_predict",
]
