"""Last-layer influence: what removing one labelled item would do to the loss of a logistic-regression head.

For the head ``W`` (classes × (d+1), bias folded in) minimising ``½‖W‖² + C Σ_i ℓ_i`` (scikit-learn's objective),
removing item i moves the optimum by ``≈ H⁻¹ C g_i`` (Koh & Liang 2017), so the mean validation loss grows by

    value_i ≈ C / m · g_valᵀ H⁻¹ g_i,     g_i = (p_i − e_{y_i}) ⊗ x̃_i,   H = I + C Σ_i (diag p_i − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ

One conjugate-gradient solve ``s = H⁻¹ g_val`` with Hessian-vector products (never the P×P Hessian), then
``value_i = C/m · Σ_c (p_ic − e_ic)(S x̃_i)_c`` for every item at once. Positive = the item lowers validation loss.
Without a validation set the labelled items are it, fold by fold (``folds``): items of fold f are valued
against the validation loss of the other folds, so an item's own loss never counts (a mislabelled item would
otherwise "help" itself). One CG solve per fold.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, cg

from labelsieve.learners.base import softmax
from labelsieve.learners.linear import LinearHead


def _augment(X: np.ndarray) -> np.ndarray:
    return np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(X), 1))])


def head_influence(
    X: np.ndarray,
    y_index: np.ndarray,
    n_classes: int,
    *,
    C: float = 1.0,
    validation: np.ndarray | None = None,
    validation_y: np.ndarray | None = None,
    head: LinearHead | None = None,
    folds: np.ndarray | None = None,
    max_iter: int = 200,
) -> np.ndarray:
    """Estimated increase of mean validation log-loss when each training item is removed."""
    if head is None:
        head = LinearHead.fit(X, y_index, n_classes, C=C, class_weight=None, sample_weight=None, max_iter=2000,
                              random_state=0)
    W = np.hstack([head.coef, head.intercept[:, None]]).astype(np.float64)
    W[:, -1] = np.where(W[:, -1] < -1e3, 0.0, W[:, -1])  # classes absent from training: no gradient signal
    Xa = _augment(X)
    P = softmax(Xa @ W.T)
    E = np.eye(n_classes)[y_index]
    shape = W.shape
    reg = np.ones(shape)
    reg[:, -1] = 1e-3  # the intercept is not penalised: a small damping keeps H positive definite

    def hvp(v: np.ndarray) -> np.ndarray:
        V = v.reshape(shape)
        Z = Xa @ V.T
        PZ = P * Z
        AZ = PZ - P * PZ.sum(axis=1, keepdims=True)
        return (reg * V + C * (AZ.T @ Xa)).ravel()

    operator = LinearOperator((W.size, W.size), matvec=hvp, dtype=np.float64)

    def value_of(g_val: np.ndarray, m: int, rows: np.ndarray) -> np.ndarray:
        s, _ = cg(operator, g_val, maxiter=max_iter)
        S = s.reshape(shape)
        return C / max(m, 1) * ((P[rows] - E[rows]) * (Xa[rows] @ S.T)).sum(axis=1)

    if validation is not None:
        Va = _augment(validation)
        Pv = softmax(Va @ W.T)
        Ev = np.eye(n_classes)[np.asarray(validation_y)]
        return value_of(((Pv - Ev).T @ Va).ravel(), len(Va), np.arange(len(Xa)))
    if folds is None:
        folds = np.arange(len(Xa)) % 2
    out = np.zeros(len(Xa))
    grads = P - E
    for fold in np.unique(folds):
        rows = np.flatnonzero(folds == fold)
        others = np.flatnonzero(folds != fold)
        out[rows] = value_of((grads[others].T @ Xa[others]).ravel(), len(others), rows)
    return out
