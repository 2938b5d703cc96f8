"""Star ratings of texts: Label Studio's ``<Rating>`` on a ``<Text>``, as a labelsieve task type.

A rating is ordinal: a review torn between 1 and 5 stars is more uncertain than one torn between 4 and 5, though
both have the same top-class probability. The learner (:class:`labelsieve_rating.learner.RatingLearner`) gives a
distribution over the star values; this type predicts its median (the value with the least expected absolute
error) and scores each task by that expected error.

What each seam of :class:`labelsieve.tasktypes.base.TaskType` is here:

- tags: one ``<Rating>`` whose ``toName`` is a ``<Text value="$key">``;
- target: the rating as its label (``"4"``), read from the annotation's ``rating`` region;
- prediction: one ``rating`` region (the median), ``score`` = the probability of exactly that rating;
- aggregation: every task has exactly one region (the rating), so no no-region rule is needed; ``expected_error``
  (default) or ``least_confidence``;
- embedding: the learner's (its base learner's features);
- metrics: mean absolute error, exact and within-one accuracy;
- label issues: cleanlab's ``find_label_issues`` with the star values as classes;
- balancing: by star value (reviews are mostly 5 stars);
- simulation: a CSV cell holds the rating (``"4"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from xml.etree.ElementTree import Element

import numpy as np
from defusedxml import ElementTree as SafeET
from sklearn.metrics import mean_absolute_error

from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.tasktypes.base import TaskLabelIssues, TaskType
from labelsieve.tasktypes.multilabel_math import single_label_issues

SUPPORTED = ('the rating task type serves one <Rating> on a <Text> with a $variable value, e.g. <View>'
             '<Text name="text" value="$review"/><Rating name="stars" toName="text" maxRating="5"/></View>')
MAX_STARS = 100


@dataclass(frozen=True)
class RatingConfig:
    """What the rating type needs from the label config (the names the host's loader and store read, too)."""

    from_name: str
    to_name: str
    data_key: str
    max_rating: int
    kind: str = "text"

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(str(star) for star in range(1, self.max_rating + 1))

    def annotation_labels(self, result: list[dict[str, Any]] | None) -> list[str]:
        """The label the annotation store keeps for this annotation (``[]``: it gives no rating)."""
        label = rating_of(result, self)
        return [label] if label is not None else []


@dataclass(frozen=True)
class RatingOutput:
    """One task's model output: the distribution over star ``values`` and the predicted (median) rating."""

    values: np.ndarray  # (k,) star values the model knows, ascending
    probas: np.ndarray  # (k,) their probabilities
    rating: int
    confidence: float  # P(rating)


def rating_of(result: list[dict[str, Any]] | None, config: RatingConfig) -> str | None:
    for region in result or []:
        if not isinstance(region, dict) or region.get("from_name") != config.from_name:
            continue
        value = region.get("value")
        stars = value.get("rating") if isinstance(value, dict) else None
        if isinstance(stars, int | float) and not isinstance(stars, bool) and float(stars).is_integer() \
                and 1 <= int(stars) <= config.max_rating:
            return str(int(stars))
    return None


def _ratings(root: Element) -> list[Element]:
    return [el for el in root.iter()
            if isinstance(el.tag, str) and el.tag.lower() == "rating" and el.get("toName") is not None]


class Rating(TaskType):
    """Star ratings of texts (``<Rating>`` on ``<Text>``); see the module docstring for every seam.

    Default aggregation ``expected_error``: the expected absolute distance, in stars, between the true rating and
    the predicted median under the model's distribution. Least confidence ignores the order of the stars; the
    expected error is the loss the prediction is judged by (mean absolute error), so it is the default. It was not
    benchmarked: this type is the smallest working example of a third-party task type."""

    name: ClassVar[str] = "rating"
    unit: ClassVar[str] = "tasks"
    aggregations: ClassVar[dict[str, str]] = {
        "expected_error": "expected |true rating - predicted rating| in stars under the model's distribution",
        "least_confidence": "1 - the probability of the predicted rating",
    }
    default_aggregation: ClassVar[str] = "expected_error"
    default_strategy: ClassVar[str | None] = "task_uncertainty"
    supports_balancing: ClassVar[bool] = True

    def reads(self, root: Element) -> list[Element]:
        return _ratings(root)

    def parse_config(self, xml: str) -> RatingConfig:
        root = SafeET.fromstring(xml)
        ratings = _ratings(root)
        if len(ratings) != 1:
            raise UnsupportedLabelConfig(f"found {len(ratings)} <Rating> tags. " + SUPPORTED)
        rating = ratings[0]
        objects = {el.get("name"): el for el in root.iter() if isinstance(el.tag, str) and el.get("name")}
        target = objects.get(rating.get("toName"))
        value = target.get("value", "") if target is not None else ""
        if target is None or target.tag.lower() != "text" or not value.startswith("$"):
            raise UnsupportedLabelConfig(f"<Rating name={rating.get('name')!r}> must rate a <Text> tag. " + SUPPORTED)
        try:
            max_rating = int(rating.get("maxRating") or 5)
        except ValueError as exc:
            raise UnsupportedLabelConfig(f"maxRating must be a whole number, got {rating.get('maxRating')!r}") from exc
        if not 2 <= max_rating <= MAX_STARS:
            raise UnsupportedLabelConfig(f"maxRating must be between 2 and {MAX_STARS}, got {max_rating}")
        return RatingConfig(from_name=str(rating.get("name")), to_name=str(rating.get("toName")),
                            data_key=value[1:], max_rating=max_rating)

    def target(self, result: list[dict[str, Any]] | None, config: RatingConfig) -> str | None:
        return rating_of(result, config)

    def prediction_result(self, config: RatingConfig, output: RatingOutput, *,
                          preannotate: bool) -> list[dict[str, Any]]:
        if not preannotate:
            return []
        return [{"from_name": config.from_name, "to_name": config.to_name, "type": "rating",
                 "value": {"rating": int(output.rating)}, "score": float(output.confidence)}]

    def task_uncertainty(self, outputs: Sequence[RatingOutput], aggregation: str | None = None) -> np.ndarray:
        name = aggregation or self.default_aggregation
        if name not in self.aggregations:
            raise ValueError(f"unknown aggregation {name!r} for task type {self.name!r}; "
                             f"choose from {sorted(self.aggregations)}")
        if name == "least_confidence":
            return np.array([1.0 - o.confidence for o in outputs], dtype=np.float64)
        return np.array([float(np.sum(o.probas * np.abs(o.values - o.rating))) for o in outputs], dtype=np.float64)

    def metrics(self, y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        true, pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
        return {"mae": float(mean_absolute_error(true, pred)), "accuracy": float(np.mean(true == pred)),
                "within_one": float(np.mean(np.abs(true - pred) <= 1))}

    def label_issues(self, targets: Sequence[str], outputs: Sequence[RatingOutput],
                     labels: Sequence[str]) -> TaskLabelIssues:
        probas = np.zeros((len(outputs), len(labels)))
        for i, output in enumerate(outputs):
            for value, p in zip(output.values, output.probas, strict=True):
                probas[i, int(value) - 1] = p
        return single_label_issues(targets, probas, labels)

    def balancing_key(self, target: str) -> str:
        return target

    def target_from_cell(self, cell: str, config: RatingConfig) -> str | None:
        value = str(cell).strip()
        if not value:
            return None
        if value not in config.labels:
            raise ValueError(f"rating {value!r} is not a whole number from 1 to {config.max_rating}")
        return value

    def page_section(self, facts: Any) -> Any:
        """The project page's rating section (``labelsieve.pages.kinds``): the prequential mean absolute error of
        the ratings labelled while a model served, against that model's stored prediction for the task."""
        from labelsieve.pages.kinds import KindSection, uncertainty_histogram

        pairs = [(int(target), int(regions[0]["value"]["rating"])) for annotation, regions in facts.scored
                 if regions and (target := self.target(annotation.result, facts.served.config)) is not None]
        histogram = uncertainty_histogram(facts.pool_uncertainty, self.default_aggregation)
        if not pairs:
            return KindSection("Rating error", '<p class="empty">No rating labelled while a model served yet.</p>'
                               + histogram)
        errors = np.abs(np.array([t - p for t, p in pairs], dtype=np.float64))
        return KindSection("Rating error", f'<p class="kind-summary">Mean absolute error <b>{errors.mean():.3f}</b> '
                           f"stars, exact {np.mean(errors == 0):.1%}, within one star {np.mean(errors <= 1):.1%}, "
                           f"over {len(pairs)} rated tasks (prequential: each against the prediction the serving "
                           "model had stored for it).</p>" + histogram)

    def default_learner(self, config: RatingConfig, base: str, base_params: dict[str, Any],
                        ) -> tuple[str, dict[str, Any]]:
        return "rating", {"base": base, "base_params": dict(base_params)}
