"""Held-out splits and stratified seed sets: identical for every strategy within one seed.

Randomness: one ``np.random.SeedSequence([base_seed, seed_index])`` per seed, so a split is
reproducible from the seed alone and independent of which strategies run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from labelsieve.simulate.datasets import DatasetError


@dataclass(frozen=True)
class Split:
    seed: int
    train: np.ndarray  # indices into the data set: the pool the oracle labels
    test: np.ndarray  # held-out indices, never labelled (empty when a fixed test set scores the rounds)
    initial: np.ndarray  # positions into ``train``: the stratified seed set


def check_protocol(labels: np.ndarray, *, initial: int, budget: int, test_fraction: float | None,
                   batch_size: int) -> None:
    """Raise :class:`DatasetError` when the data or the numbers cannot make a fair simulation.

    ``test_fraction`` None: a fixed test set scores the rounds, the whole data set is the pool."""
    counts = Counter(labels.tolist())
    if len(counts) < 2:
        raise DatasetError(f"the data set has only one class ({next(iter(counts), 'none')!r}); need at least two")
    if batch_size < 1:
        raise DatasetError(f"--batch-size must be at least 1, got {batch_size}")
    if test_fraction is None:
        _check_sizes(initial=initial, budget=budget, pool=len(labels))
        return
    too_few = sorted(label for label, n in counts.items() if n < 2)
    if too_few:
        shown = ", ".join(repr(label) for label in too_few[:10])
        raise DatasetError(
            f"class(es) {shown} have a single example; every class needs at least 2 so that the pool and the "
            "held-out set both contain it. Remove those classes or add examples.")
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    n_test = int(np.ceil(test_fraction * len(labels)))
    if n_test < len(counts) or len(labels) - n_test < len(counts):
        raise DatasetError(f"a held-out fraction of {test_fraction} leaves fewer examples than classes "
                           f"({len(counts)}) on one side; change --test-fraction")
    _check_sizes(initial=initial, budget=budget, pool=len(labels) - n_test)


def _check_sizes(*, initial: int, budget: int, pool: int) -> None:
    if initial < 2:
        raise DatasetError(f"--initial must be at least 2 (two classes to train on), got {initial}")
    if budget < initial:
        raise DatasetError(f"the budget ({budget} labels) is smaller than the seed set ({initial} labels); "
                           "raise --budget or lower --initial")
    if initial > pool:
        raise DatasetError(f"the seed set ({initial}) is larger than the pool ({pool} items)")


def stratified_seed_set(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` positions spread as evenly as possible over the classes (small-text's balanced init)."""
    classes = sorted(set(labels.tolist()))
    by_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    take = dict.fromkeys(classes, 0)
    order = [classes[i] for i in rng.permutation(len(classes))]
    remaining = size
    while remaining > 0:
        progressed = False
        for c in order:
            if remaining and take[c] < len(by_class[c]):
                take[c] += 1
                remaining -= 1
                progressed = True
        if not progressed:
            break
    chosen = np.concatenate([by_class[c][: take[c]] for c in classes])
    return rng.permutation(chosen).astype(np.int64)


def seed_set(labels: np.ndarray, size: int, rng: np.random.Generator, sampling: str) -> np.ndarray:
    """``stratified`` (every class in the seed set) or ``random`` (uniform: a rare class must be found)."""
    if sampling == "random":
        return rng.permutation(len(labels))[:size].astype(np.int64)
    if sampling != "stratified":
        raise DatasetError(f"--initial-sampling must be stratified or random, got {sampling!r}")
    return stratified_seed_set(labels, size, rng)


def make_split(labels: np.ndarray, *, base_seed: int, seed: int, test_fraction: float, initial: int,
               sampling: str = "stratified") -> Split:
    rng = np.random.default_rng(np.random.SeedSequence([base_seed, seed]))
    positions = np.arange(len(labels))
    train, test = train_test_split(positions, test_size=test_fraction, stratify=labels,
                                   random_state=int(rng.integers(0, 2**31 - 1)))
    train, test = np.sort(train), np.sort(test)
    return Split(seed=seed, train=train, test=test, initial=seed_set(labels[train], initial, rng, sampling))


def make_pool_split(labels: np.ndarray, *, base_seed: int, seed: int, initial: int,
                    sampling: str = "stratified") -> Split:
    """A fixed test set scores the rounds: the whole data set is the pool; ``test`` is empty."""
    rng = np.random.default_rng(np.random.SeedSequence([base_seed, seed]))
    return Split(seed=seed, train=np.arange(len(labels)), test=np.zeros(0, dtype=np.int64),
                 initial=seed_set(labels, initial, rng, sampling))
