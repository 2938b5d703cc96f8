"""The names of the balancing methods ``prepare_training_set`` applies itself, by what they change.

Synthesizers (``labelsieve.synthesizers`` plugins) are the other names a ``balancing`` may hold.
"""

from __future__ import annotations

from labelsieve.balancing.base import BalancingError
from labelsieve.balancing.resampling import INDEX_METHODS, VECTOR_METHODS

__all__ = ["CLASSIFIER_METHODS", "CV_METHOD", "DRW_METHOD", "INDEX_METHODS", "LOSS_METHODS", "MIX_METHODS",
           "SAMPLER_METHODS", "VECTOR_METHODS", "WEIGHT_METHODS", "all_methods", "torch_refusal"]

LOSS_METHODS = {"logit_adjusted": "logit_adjusted", "balanced_softmax": "balanced_softmax",
                "weighted_loss": "weighted", "effective_number_loss": "effective_number"}
SAMPLER_METHODS = {"class_balanced_sampler": "class_balanced", "loss_weighted_sampler": "loss_weighted"}
MIX_METHODS = ("mixup", "cutmix", "mixup_cutmix")
WEIGHT_METHODS = ("class_weight", "effective_number")
#: method -> the image learner's second stage (``classifier``); DRW is a schedule of the loss
CLASSIFIER_METHODS = {"crt": "crt", "tau_norm": "tau_norm"}
DRW_METHOD = "drw"
CV_METHOD = "logit_adjusted_cv"


def all_methods() -> list[str]:
    return sorted([*LOSS_METHODS, *SAMPLER_METHODS, "augment", *MIX_METHODS, *WEIGHT_METHODS, *INDEX_METHODS,
                   *VECTOR_METHODS, *CLASSIFIER_METHODS, DRW_METHOD, CV_METHOD, "auto"])


def torch_refusal(part: str, learner_name: str) -> BalancingError:
    """The refusal of a method that changes torch training (loss, sampler, augmentation, mixing, decoupled stage)
    asked of a learner that is not a torch learner: at ``/setup`` and when a training set is prepared."""
    return BalancingError(
        f"balancing {part!r} changes torch training, but learner {learner_name!r} is not a torch learner; "
        "use class_weight, effective_number, random_over or random_under with it"
    )
