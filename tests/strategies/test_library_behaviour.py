"""What each built-in strategy prefers, on data where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from labelsieve.learners.vector import VectorLearner
from labelsieve.registry import UnknownPluginError
from labelsieve.strategies.base import PoolContext, StrategyRequirementError, full_ranking
from labelsieve.strategies.cluster_margin import ClusterMargin
from labelsieve.strategies.coldstart import TypiClust
from labelsieve.strategies.committee import QueryByCommittee
from labelsieve.strategies.density import DensityWeighted
from labelsieve.strategies.influence import Influence, expected_gradient_length
from labelsieve.strategies.kmeans import KMeansRepresentatives
from labelsieve.strategies.uncertainty import Bald, Entropy, Margin
from labelsieve.strategies.wrappers import ClassBalanced, PrefilterDiversify, Scorecard, Subsample
from labelsieve.testing import image_context, vector_context


def two_class(seed: int = 0, n_labeled: int = 40):
    """Two blobs at x0 = -3 and +3 (boundary near x0 = 0); the pool is a line across them."""
    rng = np.random.default_rng(seed)
    labeled = np.vstack([rng.normal((-3, 0), 1.0, (n_labeled // 2, 2)), rng.normal((3, 0), 1.0, (n_labeled // 2, 2))])
    names = ["a"] * (n_labeled // 2) + ["b"] * (n_labeled // 2)
    learner = VectorLearner().fit(list(labeled.astype(np.float32)), names)
    pool = np.column_stack([np.linspace(-6, 6, 61), rng.normal(0, 0.3, 61)]).astype(np.float32)
    ctx = PoolContext(pool=list(pool), learner=learner, rng=np.random.default_rng(seed), labeled=list(labeled),
                      labeled_y=np.array([0 if n == "a" else 1 for n in names]), classes=("a", "b"))
    return ctx, pool


def embedding_ctx(x: np.ndarray, seed: int = 0, probas: np.ndarray | None = None) -> PoolContext:
    return PoolContext(pool=range(x.shape[0]), learner=None, rng=np.random.default_rng(seed),
                       pool_embeddings=x.astype(np.float32), pool_probas=probas)


@pytest.mark.parametrize("strategy", [Margin(), Entropy()])
def test_uncertainty_picks_the_decision_boundary(strategy) -> None:
    ctx, pool = two_class()
    picks = strategy.select(ctx, 5)
    nearest = set(np.argsort(np.abs(pool[:, 0]))[:10])
    assert set(picks.tolist()) <= nearest


def test_qbc_disagrees_near_the_boundary() -> None:
    for how in ("vote_entropy", "kl"):
        ctx, pool = two_class(n_labeled=16)
        scores = QueryByCommittee(n_members=7, disagreement=how).score(ctx)
        near, far = np.abs(pool[:, 0]) < 0.6, np.abs(pool[:, 0]) > 4
        assert scores[near].mean() > 2 * scores[far].mean() + 1e-9, how
    assert np.all(QueryByCommittee(disagreement="vote_entropy").score(two_class()[0])[far] == 0)


def test_qbc_needs_two_labelled_classes() -> None:
    ctx, _ = two_class()
    one_class = PoolContext(pool=ctx.pool, learner=ctx.learner, rng=ctx.rng, labeled=ctx.labeled[:5],
                            labeled_y=np.zeros(5, dtype=np.int64), classes=ctx.classes)
    with pytest.raises(StrategyRequirementError, match="at least 2 classes"):
        QueryByCommittee().score(one_class)


def test_bald_prefers_items_the_dropout_passes_disagree_on() -> None:
    ctx = image_context(90, 0)
    scores = Bald(n_samples=8).score(ctx)
    seed = int(np.random.default_rng(0).integers(0, 2**31 - 1))  # the first draw BALD takes from ctx.rng
    samples = np.clip(ctx.learner.predict_proba_samples(ctx.pool, 8, seed), 1e-12, 1.0)
    mean = samples.mean(axis=0)
    mutual = -(mean * np.log(mean)).sum(axis=1) + (samples * np.log(samples)).sum(axis=2).mean(axis=0)
    assert np.allclose(scores, np.maximum(mutual, 0), atol=1e-9)
    spread = samples.std(axis=0).sum(axis=1)
    order = np.argsort(-scores)
    assert spread[order[:15]].mean() > 1.3 * spread[order[-15:]].mean()


def test_bald_explains_what_it_needs() -> None:
    with pytest.raises(StrategyRequirementError, match="bald needs MC-dropout passes; VectorLearner has none"):
        Bald().score(vector_context(10, 0))


def test_kmeans_takes_one_item_per_cluster() -> None:
    x, blob = make_blobs(n_samples=500, centers=6, n_features=5, cluster_std=0.3, center_box=(-20, 20),
                         random_state=1)
    picks = KMeansRepresentatives().select(embedding_ctx(x), 6)
    assert sorted(blob[picks].tolist()) == list(range(6))


def dense_and_outliers(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dense = rng.normal(0, 1.0, (300, 4))
    outliers = rng.uniform(-1, 1, (12, 4)) * 30 + np.sign(rng.uniform(-1, 1, (12, 4))) * 15
    return np.vstack([dense, outliers])


def test_typiclust_picks_dense_regions_not_outliers() -> None:
    x = dense_and_outliers()
    ctx = embedding_ctx(x)
    scores = TypiClust().score(ctx)
    assert scores[300:].max() < np.median(scores[:300])
    first = TypiClust().select(embedding_ctx(x, seed=1), 1)
    assert first[0] < 300 and np.linalg.norm(x[first[0]]) < 1.5  # median norm of a 4-d normal is 1.8


def test_typiclust_without_model_or_embeddings_says_what_it_needs() -> None:
    ctx = PoolContext(pool=["a text", "another"], learner=None, rng=np.random.default_rng(0))
    with pytest.raises(StrategyRequirementError, match="typiclust needs embeddings"):
        TypiClust().select(ctx, 1)


def test_density_weighting_discounts_outliers_of_equal_uncertainty() -> None:
    x = dense_and_outliers()
    probas = np.full((x.shape[0], 2), 0.5)
    scores = DensityWeighted().score(embedding_ctx(x, probas=probas))
    assert scores[300:].max() < np.median(scores[:300])


def test_influence_is_the_expected_last_layer_gradient_norm() -> None:
    rng = np.random.default_rng(0)
    probas = rng.dirichlet(np.ones(3), size=20)
    h = rng.normal(size=(20, 5))
    brute = [sum(p[c] * np.linalg.norm(np.outer(p - np.eye(3)[c], np.append(hi, 1.0))) for c in range(3))
             for p, hi in zip(probas, h, strict=True)]
    assert np.allclose(expected_gradient_length(probas, h), brute)
    # uncertain beats confident at equal |h|; larger |h| beats smaller at equal probabilities
    ctx = embedding_ctx(np.array([[1.0, 0], [1.0, 0], [3.0, 0]]),
                        probas=np.array([[0.5, 0.5], [0.99, 0.01], [0.5, 0.5]]))
    assert Influence().select(ctx, 3).tolist() == [2, 0, 1]


def test_scorecard_weights_decide_the_order() -> None:
    ctx = vector_context(60, 0)
    margin = Margin().score(ctx)
    influence = Influence().score(vector_context(60, 0))
    only_margin = Scorecard(weights={"margin": 1.0, "influence": 0.0}).score(vector_context(60, 0))
    only_influence = Scorecard(weights={"margin": 0.0, "influence": 1.0}).score(vector_context(60, 0))
    assert np.argmax(only_margin) == np.argmax(margin) and np.argmax(only_influence) == np.argmax(influence)
    assert np.argmax(margin) != np.argmax(influence)
    mixed = Scorecard(weights={"margin": 0.5, "influence": 0.5}, normalise="minmax").score(vector_context(60, 0))
    assert np.corrcoef(mixed, margin)[0, 1] > 0.3 and np.corrcoef(mixed, influence)[0, 1] > 0.3


def test_wrappers_name_unknown_inner_strategies() -> None:
    with pytest.raises(UnknownPluginError, match="unknown strategy 'nope'; available: .*margin"):
        Scorecard(weights={"nope": 1.0}).score(vector_context(10, 0))


def test_class_balanced_spreads_the_batch_over_predicted_classes() -> None:
    rng = np.random.default_rng(0)
    probas = np.vstack([rng.dirichlet((1, 1, 8), 80), rng.dirichlet((8, 1, 1), 10), rng.dirichlet((1, 8, 1), 10)])
    ctx = embedding_ctx(rng.normal(size=(100, 3)), probas=probas)
    predicted = probas.argmax(axis=1)
    balanced = ClassBalanced(base="entropy").select(ctx, 9)
    assert np.bincount(predicted[balanced], minlength=3).tolist() == [3, 3, 3]
    plain = Entropy().select(embedding_ctx(rng.normal(size=(100, 3)), probas=probas), 9)
    assert np.bincount(predicted[plain], minlength=3).max() > 3


def test_subsample_ranks_only_its_subsample() -> None:
    rng = np.random.default_rng(0)
    probas = rng.dirichlet((1, 1), 500)
    scores = Subsample(base="margin", size=50).score(embedding_ctx(rng.normal(size=(500, 2)), probas=probas))
    floor = scores.min()
    assert (scores > floor).sum() >= 49 and (scores > floor).sum() <= 50
    ctx = embedding_ctx(rng.normal(size=(500, 2)), seed=4, probas=probas)
    members = np.sort(np.random.default_rng(4).choice(500, size=50, replace=False))
    picks = Subsample(base="margin", size=50).select(ctx, 20)
    assert set(picks.tolist()) <= set(members.tolist())
    assert len(Subsample(base="margin", size=50).select(embedding_ctx(rng.normal(size=(500, 2)), probas=probas),
                                                        80)) == 80


def test_subsample_scores_and_selects_the_same_subsample() -> None:
    """The service ranks with score() then select() on one context: both must use one subsample."""
    rng = np.random.default_rng(1)
    ctx = embedding_ctx(rng.normal(size=(500, 2)), seed=4, probas=rng.dirichlet((1, 1), 500))
    order, scores = full_ranking(Subsample(base="margin", size=50), ctx, 20)
    in_sample = scores > scores.min()
    assert in_sample.sum() >= 49
    assert in_sample[order[:20]].all()  # the batch comes from the subsample that was scored
    assert in_sample[order[:in_sample.sum()]].all()


def test_prefilter_diversify_stays_inside_the_prefilter() -> None:
    x, _ = make_blobs(n_samples=400, centers=4, n_features=3, random_state=2)
    probas = np.random.default_rng(0).dirichlet((1, 1), 400)
    margin = Margin().score(embedding_ctx(x, probas=probas))
    top = set(np.argsort(-margin)[:30].tolist())
    picks = PrefilterDiversify(prefilter="margin", diversify="kmeans", factor=3).select(
        embedding_ctx(x, probas=probas), 10)
    assert set(picks.tolist()) <= top and len(set(picks.tolist())) == 10


def test_cluster_margin_spreads_low_margin_candidates_over_clusters() -> None:
    x, blob = make_blobs(n_samples=600, centers=5, n_features=3, cluster_std=0.5, random_state=3)
    rng = np.random.default_rng(0)
    gap = np.ones(600)  # confident everywhere but: 30 near-ties in cluster 0, 20 fairly unsure items per other
    gap[np.flatnonzero(blob == 0)[:30]] = rng.uniform(0, 0.01, 30)
    for cluster in range(1, 5):
        gap[np.flatnonzero(blob == cluster)[:20]] = rng.uniform(0.02, 0.05, 20)
    probas = np.column_stack([(1 + gap) / 2, (1 - gap) / 2])
    margin_picks = Margin().select(embedding_ctx(x, probas=probas), 10)
    picks = ClusterMargin(n_clusters=5).select(embedding_ctx(x, probas=probas), 10)
    candidates = set(np.argsort(Margin().score(embedding_ctx(x, probas=probas)))[::-1][:100].tolist())
    assert len(candidates) == 100
    assert set(picks.tolist()) <= candidates
    assert len(set(blob[margin_picks])) == 1 and len(set(blob[picks])) >= 3
