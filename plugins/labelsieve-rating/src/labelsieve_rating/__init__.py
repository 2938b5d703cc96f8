"""Star ratings of texts as a labelsieve task type: the smallest third-party task type (see README.md)."""

from labelsieve_rating.learner import RatingLearner
from labelsieve_rating.tasktype import Rating, RatingConfig, RatingOutput

__all__ = ["Rating", "RatingConfig", "RatingLearner", "RatingOutput"]
__version__ = "0.1.0"
