"""Where balancing reaches a learner built of stages (``auto_image``: a linear model, then a CNN once it wins).

A learner declares its torch stage with the class attribute ``torch_stage = (parameter, learner class)``: the
constructor parameter that holds the stage's parameters (``cnn_params``) and the stage's own learner class
(:class:`~labelsieve.learners.image.ImageLearner`). Balancing methods that change torch training (losses,
samplers, DRW / cRT / τ-norm, augmentation, batch mixing) are learner overrides named after the torch learner's
parameters; :func:`routed_params` puts every override the staged learner does not take itself into the stage's
parameters, so the override applies both in the cross-validation that picks linear vs CNN and in the final fit.
Sample-weight balancing (``class_weight``, ``effective_number``, resampling) needs no routing: the staged learner
passes ``sample_weight`` to both stages, in its cross-validation and in its final fit (the linear stage uses it
as the logistic regression's sample weights).

Learners without a ``torch_stage`` get ``params`` merged with the overrides, as a plain torch learner needs.

A staged learner that picks its stage by cross-validation and takes a ``cv_metric`` parameter scores the candidates
by balanced accuracy whenever balancing is applied (:func:`selection_overrides`): plain accuracy on long-tailed folds
favours the head-biased linear stage, so a balanced CNN served in some seeds and not in others (README, Balancing).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any


def torch_stage(learner_cls: Any) -> tuple[str, Any] | None:
    """``(parameter, stage learner class)`` of a staged learner, else None."""
    stage = getattr(learner_cls, "torch_stage", None)
    return None if stage is None else (str(stage[0]), stage[1])


def constructor_signature(learner_cls: Any) -> Mapping[str, inspect.Parameter]:
    return inspect.signature(learner_cls).parameters if learner_cls is not None else {}


def training_signature(learner_cls: Any) -> Mapping[str, inspect.Parameter]:
    """The parameters torch balancing methods set: the torch stage's for a staged learner, else the learner's own."""
    stage = torch_stage(learner_cls)
    return constructor_signature(stage[1] if stage is not None else learner_cls)


def routed_params(learner_cls: Any, params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor parameters of ``learner_cls`` with balancing ``overrides`` applied (see the module text)."""
    stage = torch_stage(learner_cls)
    if stage is None:
        return {**params, **overrides}
    key, _ = stage
    own = constructor_signature(learner_cls)
    routed = {name: value for name, value in overrides.items() if name not in own}
    merged = {**params, **{name: value for name, value in overrides.items() if name in own}}
    if routed:
        merged[key] = {**(merged.get(key) or {}), **routed}
    return merged


#: the stage-selection score of a staged learner while balancing is on
BALANCED_CV_METRIC = "balanced_accuracy"


def selection_overrides(learner_cls: Any, learner_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"cv_metric": "balanced_accuracy"}`` for a staged learner that takes ``cv_metric`` and was not given one
    explicitly (``learner_params``), else nothing."""
    if torch_stage(learner_cls) is None or "cv_metric" not in constructor_signature(learner_cls):
        return {}
    if learner_params and "cv_metric" in learner_params:
        return {}
    return {"cv_metric": BALANCED_CV_METRIC}


def staged_cv_refusal(learner_name: str) -> str:
    """Why ``logit_adjusted_cv`` cannot run on a staged learner (``/setup`` and the retrain say the same)."""
    return (f"balancing 'logit_adjusted_cv' scores tau on out-of-fold predictions of a logit-adjusted torch model, "
            f"but learner {learner_name!r} may fit its linear stage in those folds; use learner 'image' with it, or "
            f"logit_adjusted with a fixed loss_tau on {learner_name!r}")
