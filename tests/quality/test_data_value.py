"""Data value against true leave-one-out retraining on a small digits set."""

from __future__ import annotations

from itertools import permutations

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from labelsieve.quality.influence import head_influence
from labelsieve.quality.value import knn_shapley, loo_values
from tests.quality.helpers import noisy_digits

N_TRAIN, N_VAL = 120, 400


def _small_set():
    X, given, truth, _ = noisy_digits(0.0, seed=1)
    rng = np.random.default_rng(1)
    order = rng.permutation(len(truth))
    train, val = order[:N_TRAIN], order[N_TRAIN:N_TRAIN + N_VAL]
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 1e-6, X.std(axis=0), 1.0)
    y = truth[train].copy()
    wrong = rng.choice(N_TRAIN, 12, replace=False)
    for i in wrong:
        y[i] = (y[i] + 1 + rng.integers(9)) % 10
    return X[train], y, X[val], truth[val], wrong


def test_values_rank_like_true_leave_one_out_and_mislabelled_items_get_low_value() -> None:
    Xt, yt, Xv, yv, wrong = _small_set()

    def utility(mask: np.ndarray) -> float:
        model = LogisticRegression(C=1.0, max_iter=500).fit(Xt[mask], yt[mask])
        proba = np.zeros((len(yv), 10))
        proba[:, model.classes_] = model.predict_proba(Xv)
        proba = np.clip(proba, 1e-9, 1)
        return -log_loss(yv, proba / proba.sum(axis=1, keepdims=True), labels=range(10))

    loo = loo_values(N_TRAIN, utility)
    influence = head_influence(Xt, yt, 10, C=1.0, validation=Xv, validation_y=yv)
    shapley = knn_shapley(Xt, yt, validation=Xv, validation_y=yv, k=3)
    rho_influence = spearmanr(influence, loo).statistic
    rho_shapley = spearmanr(shapley, loo).statistic
    print(f"spearman vs LOO: influence {rho_influence:.3f}, knn-shapley {rho_shapley:.3f}")
    assert rho_influence > 0.6, rho_influence
    assert rho_shapley > 0.2, rho_shapley
    clean = np.setdiff1d(np.arange(N_TRAIN), wrong)
    for value in (influence, shapley, loo):
        assert value[wrong].mean() < 0 < value[clean].mean()
    # leave-self-out (the service has no validation set): mislabelled items still rank lowest
    self_out = knn_shapley(Xt, yt, k=3)
    lowest = set(np.argsort(self_out)[:12].tolist())
    assert len(lowest & set(wrong.tolist())) >= 8


def test_knn_shapley_matches_brute_force_shapley_on_a_tiny_set() -> None:
    """The recursion equals the Shapley definition (all permutations) for a 1-point validation set."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 2))
    y = np.array([0, 1, 0, 1, 0])
    xv, yv, k = np.array([[0.1, -0.2]]), np.array([0]), 2
    dist = ((X - xv) ** 2).sum(axis=1)

    def u(subset: list[int]) -> float:
        if not subset:
            return 0.0
        near = sorted(subset, key=lambda i: dist[i])[:k]
        return sum(y[i] == yv[0] for i in near) / k

    brute = np.zeros(5)
    perms = list(permutations(range(5)))
    for perm in perms:
        for pos, i in enumerate(perm):
            brute[i] += u(list(perm[:pos + 1])) - u(list(perm[:pos]))
    brute /= len(perms)
    assert np.allclose(knn_shapley(X, y, validation=xv, validation_y=yv, k=k), brute)
