"""The TF-IDF SVD is refitted only when the corpus changed: an annotation (a text moved from the pool to the labelled
rows) reuses the last round's SVD, and the embeddings it gives match a fresh fit's."""

from __future__ import annotations

import numpy as np

from labelsieve.learners.svd_cache import SVDS, SvdCache, corpus_key
from labelsieve.learners.text import TextLearner
from tests.e2e.helpers import text_dataset


def _round(items: list[tuple[str, str]], n_labelled: int) -> TextLearner:
    texts = [t for t, _ in items]
    return TextLearner(svd_components=16).fit(texts[:n_labelled], [y for _, y in items[:n_labelled]],
                                              unlabeled=texts[n_labelled:])


def test_an_annotation_reuses_the_svd_and_embeds_like_a_fresh_fit() -> None:
    items = text_dataset(600)
    texts = [t for t, _ in items]
    SVDS.clear()
    first = _round(items, 30)
    second = _round(items, 31)  # one more label: the same corpus, in another order
    assert second.svd_ is first.svd_
    SVDS.clear()
    fresh = _round(items, 31)
    assert fresh.svd_ is not first.svd_
    # the components are the same up to each one's sign: compare the embeddings' cosine similarities
    a, b = second.embed(texts[:200]), fresh.embed(texts[:200])
    np.testing.assert_allclose(a @ a.T, b @ b.T, atol=2e-3)
    np.testing.assert_allclose(second.predict_proba(texts[:50]), fresh.predict_proba(texts[:50]), atol=1e-4)


def test_a_new_task_refits_the_svd() -> None:
    items = text_dataset(300)
    SVDS.clear()
    first = _round(items[:-1], 30)
    grown = _round(items, 30)  # a task was added to the pool: another corpus
    assert grown.svd_ is not first.svd_


def test_the_key_ignores_order_and_counts_repeats() -> None:
    assert corpus_key(["a", "b", "c"], 2) == corpus_key(["c", "a", "b"], 2)
    assert corpus_key(["a", "b"], 2) != corpus_key(["a", "b", "b"], 2)
    assert corpus_key(["a", "b"], 2) != corpus_key(["a", "b"], 3)


def test_the_cache_keeps_the_most_recent_fits_within_its_bytes() -> None:
    from sklearn.decomposition import TruncatedSVD

    rng = np.random.default_rng(0)
    cache = SvdCache(max_bytes=3 * 8 * 4 * 50)  # three fits of 4 components × 50 float64 features

    def fit() -> TruncatedSVD:
        return TruncatedSVD(n_components=4, random_state=0).fit(rng.random((20, 50)))

    kept = [cache.fit(str(k), fit) for k in range(4)]
    assert cache.fit("3", fit) is kept[3] and cache.fit("1", fit) is kept[1]
    assert cache.fit("0", fit) is not kept[0]  # the oldest went first
    assert cache.misses == 5 and cache.hits == 2
