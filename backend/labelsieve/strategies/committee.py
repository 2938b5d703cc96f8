"""Query-by-committee (Seung et al. 1992; McCallum & Nigam 1998) with a bootstrap committee."""

from __future__ import annotations

import warnings

import numpy as np

from labelsieve.strategies.base import PoolContext, QueryStrategy, StrategyRequirementError

DISAGREEMENTS = ("vote_entropy", "kl")


def member_probas(ctx: PoolContext, n_members: int) -> np.ndarray:
    """``(n_members, n_pool, n_classes)``: clones of the fitted learner, each fitted on a bootstrap
    resample of the labelled set (seeds from ``ctx.rng``), predicting the pool."""
    learner = ctx.require_learner("qbc")
    y_index = np.asarray(ctx.labeled_y)
    keep = np.flatnonzero(y_index >= 0)
    if keep.shape[0] < 2 or np.unique(y_index[keep]).shape[0] < 2:
        raise StrategyRequirementError("qbc needs labelled examples of at least 2 classes to build a committee")
    names = np.asarray(ctx.classes, dtype=object)
    out = np.zeros((n_members, ctx.n_pool, ctx.n_classes))
    for m in range(n_members):
        for _ in range(20):  # redraw a resample that lost all but one class
            sample = keep[ctx.rng.integers(0, keep.shape[0], size=keep.shape[0])]
            if np.unique(y_index[sample]).shape[0] >= 2:
                break
        params = dict(learner.get_params())
        if "random_state" in params:
            params["random_state"] = int(ctx.rng.integers(0, 2**31 - 1))
        member = type(learner)(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            member.fit([ctx.labeled[int(i)] for i in sample], [str(names[y_index[i]]) for i in sample])
        columns = [ctx.classes.index(c) for c in member.classes_]
        out[m][:, columns] = member.predict_proba(ctx.pool)
    return out


class QueryByCommittee(QueryStrategy):
    """Query-by-committee: items the committee disagrees on most come first.

    The committee is ``n_members`` clones of the current learner, each fitted on a bootstrap
    resample of the labelled set; for learners with MC dropout, ``committee="auto"`` uses the
    dropout passes as members instead (no refitting). ``disagreement="vote_entropy"`` is the
    entropy of the members' hard votes, ``"kl"`` the mean KL divergence of each member from the
    consensus. Cost: ``n_members`` fits on the labelled set plus ``n_members`` pool predictions.
    """

    def __init__(self, n_members: int = 5, disagreement: str = "vote_entropy", committee: str = "auto") -> None:
        self.n_members = n_members
        self.disagreement = disagreement
        self.committee = committee

    def score(self, ctx: PoolContext) -> np.ndarray:
        if self.disagreement not in DISAGREEMENTS:
            raise ValueError(f"unknown disagreement {self.disagreement!r}; use one of {DISAGREEMENTS}")
        if self.committee not in ("auto", "bootstrap", "mc_dropout"):
            raise ValueError(f"unknown committee {self.committee!r}; use 'auto', 'bootstrap' or 'mc_dropout'")
        if int(self.n_members) < 2:
            raise ValueError(f"n_members must be at least 2, got {self.n_members}")
        learner = ctx.require_learner("qbc")
        if ctx.n_pool == 0:
            return np.zeros(0)
        mc = getattr(learner, "supports_mc_dropout", False)
        if self.committee == "mc_dropout" or (self.committee == "auto" and mc):
            probas = ctx.mc_probas(int(self.n_members))
        else:
            probas = member_probas(ctx, int(self.n_members))
        return disagreement(probas, self.disagreement)


def disagreement(probas: np.ndarray, how: str) -> np.ndarray:
    """Vote entropy or mean KL-to-consensus of ``(members, n, C)`` probabilities."""
    members, n, n_classes = probas.shape
    if how == "vote_entropy":
        votes = probas.argmax(axis=2)
        share = np.zeros((n, n_classes))
        for m in range(members):
            share[np.arange(n), votes[m]] += 1.0 / members
        safe = np.where(share > 0, share, 1.0)
        return -(share * np.log(safe)).sum(axis=1)
    p = np.clip(probas, 1e-12, 1.0)
    consensus = p.mean(axis=0)
    return (p * (np.log(p) - np.log(consensus)[None])).sum(axis=2).mean(axis=0)
