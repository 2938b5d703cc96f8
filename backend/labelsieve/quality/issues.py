"""Label-issue candidates: cleanlab on out-of-fold probabilities, shown only when they can mean something.

Three layers decide which annotations become candidates (``LabelIssues.flagged``):

1. **Gate** (:func:`reliability`): the out-of-fold model must be good enough for its disagreement to mean
   something. Its smallest class needs at least ``MIN_PER_CLASS`` (20) labels, and its out-of-fold accuracy
   against the given labels must reach halfway from the majority-class share to 1 (``MIN_SKILL`` = 0.5 of the
   way: 0.55 for ten balanced classes, 0.75 for two; a chance-corrected level, so that a coin-flip-plus model of
   a binary task does not pass where a ten-class one would). Below either, nothing is flagged and the gate says
   why. Both levels are measured (``benchmarks/label_issues.py``, ``benchmarks/results/label-issues.md``): with
   10 labels per class (100 digits) cleanlab's flags on 10-20% noise are under 50% right and clean sets get
   3 false candidates per 100 labels; the TF-IDF model of rotten-tomatoes reviews (0.56-0.68 accuracy, two
   classes) flags 10-30% of clean labels at 14-28% precision on noisy ones. The accuracy is against the given
   labels, which noise lowers too: the level is low enough that 20% flipped digits (0.59-0.69) still pass.
2. **Count that adapts to the noise rate**: cleanlab's ``find_label_issues`` (``prune_by_noise_rate``) flags per
   class as many items as its estimated joint of given and true labels (``cleanlab.count.estimate_joint``) puts
   off the diagonal.
3. **Per-item threshold that adapts to the noise rate**: the posterior probability that the given label ``g`` is
   wrong, ``1 - p_g·N[g,g] / Σ_c p_c·N[g,c]`` with ``p`` the out-of-fold probabilities and ``N[g,c] = P(given g |
   true c)`` the noise matrix of that estimated joint, must exceed ``MIN_WRONG_PROBABILITY`` (0.5: the label is
   more likely wrong than right). With clean labels ``N`` is close to the identity and only a near-certain
   disagreement passes, so the expected number of candidates on clean data is about zero; with 20% noise the
   off-diagonal mass grows and moderate disagreements pass.

``issue_score`` (``1 - cleanlab self-confidence``) ranks the items worst first; ``wrong_probability`` is the
posterior of (3). Neither is the model's confidence in the suggested label (``suggested_confidence`` is).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from labelsieve.cleanlab_calls import class_issues

MIN_PER_CLASS = 20
MIN_SKILL = 0.5
MIN_WRONG_PROBABILITY = 0.5


@dataclass
class Reliability:
    """Whether the out-of-fold model is good enough to show candidates, and the numbers behind the answer."""

    shown: bool
    reason: str
    min_class_count: int
    oof_accuracy: float
    noise_rate: float  # cleanlab's estimate: off-diagonal mass of the estimated joint
    min_oof_accuracy: float  # majority share + MIN_SKILL · (1 - majority share)
    min_per_class: int = MIN_PER_CLASS

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["oof_accuracy"] = round(self.oof_accuracy, 4)
        out["min_oof_accuracy"] = round(self.min_oof_accuracy, 4)
        out["noise_rate"] = round(self.noise_rate, 4)
        return out


@dataclass
class LabelIssues:
    issue_score: np.ndarray  # 1 - cleanlab label quality, per item (ranking only)
    flagged: np.ndarray  # bool: shown as candidates (gate AND cleanlab AND posterior)
    suggested: list[str]  # out-of-fold argmax class
    suggested_confidence: np.ndarray  # out-of-fold probability of the suggested class
    wrong_probability: np.ndarray | None = None  # posterior that the given label is wrong
    cleanlab_flagged: np.ndarray | None = None  # cleanlab's find_label_issues alone (before gate and posterior)
    reliability: Reliability | None = None


def reliability(labels: np.ndarray, pred: np.ndarray, noise_rate: float, *, min_per_class: int = MIN_PER_CLASS,
                min_skill: float = MIN_SKILL) -> Reliability:
    counts = Counter(labels.tolist())
    smallest = min(counts.values()) if counts else 0
    accuracy = float(np.mean(np.argmax(pred, axis=1) == labels)) if len(labels) else 0.0
    majority = max(counts.values()) / len(labels) if counts else 1.0
    min_oof_accuracy = majority + min_skill * (1.0 - majority)
    reasons = []
    if smallest < min_per_class:
        reasons.append(f"the smallest class has {smallest} labels (at least {min_per_class} needed)")
    if accuracy < min_oof_accuracy:
        reasons.append(f"out-of-fold accuracy {accuracy:.2f} is under {min_oof_accuracy:.2f}: the model's own "
                       "mistakes would outnumber the label errors")
    return Reliability(shown=not reasons, reason="; ".join(reasons) or "model good enough to judge labels",
                       min_class_count=smallest, oof_accuracy=accuracy, noise_rate=noise_rate,
                       min_per_class=min_per_class, min_oof_accuracy=min_oof_accuracy)


def wrong_probability(labels: np.ndarray, pred: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """Posterior that each given label is wrong under the noise matrix of ``joint`` (``joint[g, c] = P(given g,
    true c)``)."""
    true_mass = joint.sum(axis=0, keepdims=True)
    noise = joint / np.where(true_mass > 0, true_mass, 1.0)  # noise[g, c] = P(given g | true c)
    weighted = pred * noise[labels]  # p_c · N[g, c] per item
    total = weighted.sum(axis=1)
    right = weighted[np.arange(len(labels)), labels]
    return np.where(total > 0, 1.0 - right / np.where(total > 0, total, 1.0), 0.0)


def find_issues(y: list[str], proba: np.ndarray, classes: list[str], *, min_per_class: int = MIN_PER_CLASS,
                min_skill: float = MIN_SKILL,
                min_wrong_probability: float = MIN_WRONG_PROBABILITY) -> LabelIssues:
    index = {c: j for j, c in enumerate(classes)}
    labels = np.array([index[c] for c in y], dtype=np.int64)
    found = class_issues(labels, proba)  # every class is present among the labels here by construction
    pred, joint, cleanlab_flagged = found.probabilities, found.joint, found.flagged
    noise_rate = float(max(0.0, 1.0 - np.trace(joint)))
    wrong = wrong_probability(labels, pred, joint)
    gate = reliability(labels, pred, noise_rate, min_per_class=min_per_class, min_skill=min_skill)
    flagged = cleanlab_flagged & (wrong > min_wrong_probability) & gate.shown
    best = np.argmax(pred, axis=1)
    return LabelIssues(
        issue_score=1.0 - found.quality,
        flagged=flagged,
        suggested=[classes[j] for j in best],
        suggested_confidence=pred[np.arange(len(best)), best],
        wrong_probability=wrong,
        cleanlab_flagged=cleanlab_flagged,
        reliability=gate,
    )
