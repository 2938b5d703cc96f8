"""Class balancing: diagnosis, re-weighting, resampling, augmentation and diffusion synthesis."""

from labelsieve.balancing.base import Augmenter, BalancingError, Synthesizer, SyntheticBatch
from labelsieve.balancing.prepare import auto_method, imbalance_ratio, prepare_training_set
from labelsieve.balancing.training_set import TrainingSet

__all__ = [
    "Augmenter", "BalancingError", "SyntheticBatch", "Synthesizer", "TrainingSet", "auto_method",
    "imbalance_ratio", "prepare_training_set",
]
