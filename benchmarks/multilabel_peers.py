"""Multi-label active learning side by side: labelsieve's strategies, small-text's and modAL's multi-label
strategies, and random, through the loop, splits, features and learner of benchmarks/multilabel.py.

Every method picks from the same pool with the same fitted learner (``MultiLabelLearner(base="vector")``,
one-vs-rest logistic regressions with per-label thresholds); only the choice of the next batch differs. The peers
are called through their own public functions on an adapter that gives them what they read (``predict_proba``,
thresholded ``predict``):

- small-text 1.4.1: ``CategoryVectorInconsistencyAndRanking`` (CVIRS, Reyes et al. 2018), its one multi-label
  strategy (``small_text.query_strategies.multi_label``);
- modAL 0.4.2.1 (``modAL.multilabel``): ``max_loss`` and ``mean_max_loss`` (Li et al. 2004), ``min_confidence``,
  ``avg_confidence``, ``max_score``, ``avg_score`` (Esuli and Sebastiani 2009). ``SVM_binary_minimum`` is left out:
  it reads the SVMs' ``decision_function`` inside a ``OneVsRestClassifier``, which a probabilistic learner has not.

The peers are benchmark-only dependencies, never labelsieve's: ``make bench-venv`` puts them in ``.venv-bench``, an
overlay of ``.venv`` (its torch and the rest reused, nothing downloaded but the two peers and ``dill``).

    OMP_NUM_THREADS=1 nice -n 10 .venv-bench/bin/python benchmarks/multilabel_peers.py --seeds 5 --n 1500 \\
        --budget 200 --batch 20 --out benchmarks/results/multilabel_peers.json
    .venv/bin/python benchmarks/multilabel_table.py benchmarks/results/multilabel_peers.json
"""

from __future__ import annotations

import os
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from multilabel import LABELS, ROOT, Chooser, labelsieve_chooser, run_benchmark  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402

from labelsieve.learners.multilabel import MultiLabelLearner  # noqa: E402


class PeerClassifier:
    """What the peers read of a classifier, over labelsieve's fitted learner, columns in ``LABELS`` order."""

    def __init__(self, learner: MultiLabelLearner) -> None:
        self.learner = learner
        self.classes_ = np.arange(len(LABELS))

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = self.learner.predict_proba(list(np.asarray(X)))
        out = np.zeros((proba.shape[0], len(LABELS)))
        for j, label in enumerate(LABELS):
            if label in self.learner.classes_:
                out[:, j] = proba[:, self.learner.classes_.index(label)]
        return out

    def predict(self, X: Any) -> np.ndarray:
        thresholds = np.array([self.learner.thresholds_[self.learner.classes_.index(label)]
                               if label in self.learner.classes_ else 1.0 for label in LABELS])
        return (self.predict_proba(X) >= thresholds).astype(np.int64)


def small_text_cvirs(learner: MultiLabelLearner, pool: np.ndarray, labeled: np.ndarray, Y: np.ndarray, n: int,
                     rng: np.random.Generator) -> np.ndarray:
    from small_text.query_strategies.multi_label import CategoryVectorInconsistencyAndRanking

    strategy = CategoryVectorInconsistencyAndRanking(pbar=None)
    picked = strategy.query(PeerClassifier(learner), pool, np.arange(len(pool)), np.arange(len(labeled)),
                            csr_matrix(Y), n=n)
    return np.asarray(picked)


def modal_chooser(function_name: str) -> Chooser:
    def choose(learner: MultiLabelLearner, pool: np.ndarray, labeled: np.ndarray, Y: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
        import modAL.multilabel

        picked = getattr(modAL.multilabel, function_name)(PeerClassifier(learner), pool, n_instances=n)
        return np.asarray(picked[0] if isinstance(picked, tuple) else picked)

    return choose


METHODS: dict[str, Chooser] = {
    "random": labelsieve_chooser("random", {}),
    "labelsieve mean": labelsieve_chooser("multilabel_uncertainty", {"aggregation": "mean"}),
    "labelsieve mmc": labelsieve_chooser("mmc", {}),
    "labelsieve lci": labelsieve_chooser("lci", {}),
    "small-text CVIRS": small_text_cvirs,
    **{f"modAL {name}": modal_chooser(name) for name in
       ("max_loss", "mean_max_loss", "min_confidence", "avg_confidence", "max_score", "avg_score")},
}


def main() -> None:
    run_benchmark(METHODS, description=__doc__.splitlines()[0], default_n=1500, default_budget=200,
                  default_out=ROOT / "benchmarks" / "results" / "multilabel_peers.json")


if __name__ == "__main__":
    main()
