"""``prepare_training_set``: the one entry point the service loop and the simulation call.

``method`` is a balancing method name, several joined by ``+`` (e.g. ``"logit_adjusted+ddpm"``),
``"auto"``, or ``None`` (data unchanged). Methods:

==========================  =================================================================
loss level (torch*)          ``logit_adjusted``, ``balanced_softmax``, ``weighted_loss``,
                             ``effective_number_loss`` → ``learner_overrides["loss"]``
sample weights (any learner) ``class_weight`` (inverse frequency), ``effective_number``
samplers (torch learners)    ``class_balanced_sampler``, ``loss_weighted_sampler``
decoupled (image learner)    ``drw`` (deferred re-weighting), ``crt`` (classifier re-training), ``tau_norm``
                             (τ-normalised head): see :mod:`labelsieve.balancing.decoupled`
validated τ (torch)          ``logit_adjusted_cv``: logit adjustment with τ chosen by stratified folds of
                             the labelled set (:mod:`labelsieve.balancing.tuning`; needs ``learner_params``)
augmentation (torch)         ``augment`` (augmenter from ``params["augmenter"]``, default
                             ``geometric``, stronger for minority classes), ``mixup``,
                             ``cutmix``, ``mixup_cutmix``
index resampling (any)       ``random_over``, ``random_under``
vector resampling            ``smote``, ``borderline_smote``, ``adasyn``, ``kmeans_smote`` (on vectors, or on
                             ``embed(X)`` when ``embed`` is given: then ``X`` is returned in
                             embedding space, for a head trained on embeddings)
synthesis (images)           any name in ``labelsieve.synthesizers`` (``ddpm``, ``sd_img2img``)
==========================  =================================================================
*torch: a torch learner, or the torch stage of a staged learner (``auto_image``'s CNN).

``auto`` (thresholds from the measured digits benchmark, benchmarks/imbalance.py): below an imbalance ratio of 3
nothing; from 3 up, torch learners get ``logit_adjusted`` with τ = ``AUTO_TAU`` (IR 50 digits: 90.7 bAcc vs 84.1,
tail recall 80 vs 58; issue 16 moved τ from 1 to 1.5), the others ``class_weight`` (LR: 86.2 vs 76.6 at IR 50).
``auto_image`` (a staged learner, :mod:`labelsieve.balancing.stages`) gets logit adjustment in its CNN stage and,
in its linear stage, post-hoc logit adjustment on encoder vectors or balanced class weights on pixels (issue 28:
measured in benchmarks/results/generative.md).
Synthesis is never chosen automatically.
Whenever a method is applied, a staged learner picks its stage by balanced accuracy (``cv_metric``).
"""

from __future__ import annotations

import inspect
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from labelsieve.balancing.added_rows import apply_synthesizer, apply_vector_resampling
from labelsieve.balancing.base import BalancingError
from labelsieve.balancing.losses import effective_number_weights, inverse_frequency_weights
from labelsieve.balancing.methods import (
    CLASSIFIER_METHODS,
    CV_METHOD,
    DRW_METHOD,
    INDEX_METHODS,
    LOSS_METHODS,
    MIX_METHODS,
    SAMPLER_METHODS,
    VECTOR_METHODS,
    WEIGHT_METHODS,
    torch_refusal,
)
from labelsieve.balancing.resampling import resample_indices
from labelsieve.balancing.stages import selection_overrides, staged_cv_refusal, torch_stage, training_signature
from labelsieve.balancing.style import apply_style_transfer
from labelsieve.balancing.training_set import TrainingSet
from labelsieve.balancing.tuning import choose_tau
from labelsieve.registry import PluginLoadError, UnknownPluginError, get_registry

__all__ = ["AUTO_MIN_RATIO", "AUTO_TAU", "TrainingSet", "auto_method", "imbalance_ratio", "prepare_training_set"]

AUTO_MIN_RATIO = 3.0
DRW_START = 0.6
#: the logit-adjustment τ ``auto`` uses (README, Balancing: τ 1.5 >= τ 1 in macro-F1 and above it in tail recall
#: at IR 10 / 50 / 100 on digits and IR 50 on MNIST-5k; τ 2 lost macro-F1 on MNIST-5k); an explicit loss_tau wins
AUTO_TAU = 1.5
#: Tukey's power β ``auto`` gives the linear stage on a pretrained encoder's vectors (``feature_power``: β 0.5 of
#: Yang et al. 2021, not tuned here); with τ 1.5 it beat τ 1.5 alone on textures, Animal-MNIST, MNIST-5k and digits
#: at IR 10 and 50 and did not lose at IR 1 (benchmarks/results/auto-image-balancing.md)
AUTO_FEATURE_POWER = 0.5


def imbalance_ratio(y: Sequence[str] | Mapping[str, float]) -> float:
    """Largest over smallest class count, of labels or of a ``{class: count}`` mapping: 0.0 when nothing is
    counted, ``inf`` when a class of the mapping has none. The one place this ratio is computed."""
    counts = y if isinstance(y, Mapping) else Counter(y)
    values = list(counts.values())
    if not values or max(values) == 0:
        return 0.0
    return float(max(values) / min(values)) if min(values) > 0 else float("inf")


def learner_class(learner_name: str) -> Any:
    """The registered learner class, or None when it cannot be loaded (the caller's checks then refuse)."""
    try:
        return get_registry("learners").load(learner_name)
    except (UnknownPluginError, PluginLoadError):
        return None


def is_torch_learner(learner_name: str) -> bool:
    """True when the registered learner, or its torch stage (:mod:`labelsieve.balancing.stages`), takes a ``loss``
    constructor parameter."""
    return "loss" in training_signature(learner_class(learner_name))


def auto_method(y: Sequence[str], learner_name: str) -> str | None:
    """None below :data:`AUTO_MIN_RATIO`; else ``logit_adjusted`` for a torch learner, including a staged one
    (``auto_image``: the loss reaches its CNN stage, its linear stage gets balanced class weights instead, see
    :func:`staged_auto_overrides`), and ``class_weight`` for the others."""
    if imbalance_ratio(y) < AUTO_MIN_RATIO:
        return None
    return "logit_adjusted" if is_torch_learner(learner_name) else "class_weight"


def staged_auto_overrides(learner_name: str, learner_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """What ``auto`` gives the linear stage of a staged learner beside the CNN stage's logit adjustment (kept with
    the project's own linear parameters): on a pretrained encoder's vectors (``encoder`` set) post-hoc logit
    adjustment of the linear head with τ :data:`AUTO_TAU` (``logit_tau``) on vectors power-transformed with β
    :data:`AUTO_FEATURE_POWER` (``feature_power``), on pixels balanced class weights. With the
    stage chosen by balanced accuracy, logit adjustment on the CNN beat class_weight at IR 50 on MNIST-5k and
    Animal-MNIST; on encoder vectors the adjusted head beat class weights on Animal-MNIST and textures
    (benchmarks/results/generative.md)."""
    cls = learner_class(learner_name)
    if torch_stage(cls) is None or "linear_params" not in inspect.signature(cls).parameters:
        return {}
    own = dict((learner_params or {}).get("linear_params") or {})
    if (learner_params or {}).get("encoder"):
        return {"linear_params": {"logit_tau": AUTO_TAU, "feature_power": AUTO_FEATURE_POWER, **own}}
    return {"linear_params": {"class_weight": "balanced", **own}}


def prepare_training_set(
    X: Sequence[Any], y: Sequence[str], *, method: str | None, params: dict[str, Any], learner_name: str,
    rng: np.random.Generator, embed: Callable[[Sequence[Any]], np.ndarray] | None = None,
    learner_params: dict[str, Any] | None = None, domains: Sequence[Any] | None = None,
) -> TrainingSet:
    """Balance ``(X, y)`` with ``method``; see the module docstring for names and ``auto``. ``learner_params``
    (the project's) are what ``logit_adjusted_cv`` fits its fold models with; ``domains`` (each row's value of the
    ``style_transfer`` domain field) is what the ``style_transfer`` augmenter translates between."""
    X_out: Any = X if isinstance(X, np.ndarray) else list(X)
    y_out = [str(label) for label in y]
    if len(X_out) != len(y_out):
        raise BalancingError(f"X has {len(X_out)} rows but y has {len(y_out)} labels")
    started = time.perf_counter()
    ts = TrainingSet(X_out, y_out, None, {}, np.zeros(len(y_out), dtype=bool), {"requested": method})
    if method == "auto":
        method = auto_method(y_out, learner_name)
        ts.info["auto_ratio"] = round(imbalance_ratio(y_out), 3)
        if method == "logit_adjusted":
            params = {"loss_tau": AUTO_TAU, **params}
            ts.learner_overrides |= staged_auto_overrides(learner_name, learner_params)
    ts.info["applied"] = []
    if not method or method == "none" or not y_out:
        return ts
    torch_learner = is_torch_learner(learner_name)
    parts = [p.strip() for p in method.split("+") if p.strip()]
    for part in parts:
        if part == "augment" and params.get("augmenter") == "style_transfer":
            _need_torch(part, learner_name, torch_learner)
            apply_style_transfer(ts, domains if domains is not None else [None] * len(y_out), params, rng)
        elif part != CV_METHOD:
            _apply(ts, part, params, learner_name, torch_learner, rng, embed)
            ts.info["applied"].append(part)
    if CV_METHOD in parts:  # last: the folds are fitted with everything else this method applies
        _need_torch(CV_METHOD, learner_name, torch_learner)
        if torch_stage(learner_class(learner_name)) is not None:
            raise BalancingError(staged_cv_refusal(learner_name))
        tau, measured = choose_tau(
            ts.X, ts.y, synthetic_mask=ts.synthetic_mask, sample_weight=ts.sample_weight, learner_name=learner_name,
            learner_params={**(learner_params or {}), **ts.learner_overrides},
            tau0=float(params.get("loss_tau", 1.0)), folds=int(params.get("cv_folds", 3)), rng=rng,
        )
        ts.learner_overrides |= {"loss": "logit_adjusted", "loss_tau": tau}
        ts.info[CV_METHOD] = measured
        ts.info["applied"].append(CV_METHOD)
    if ts.info["applied"]:  # a staged learner then picks its stage by balanced accuracy (balancing/stages.py)
        ts.learner_overrides |= selection_overrides(learner_class(learner_name), learner_params)
    ts.info["seconds"] = round(time.perf_counter() - started, 3)
    return ts


def _need_torch(part: str, learner_name: str, torch_learner: bool) -> None:
    if not torch_learner:
        raise torch_refusal(part, learner_name)


def _override(ts: TrainingSet, params: dict[str, Any], fixed: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Set the learner overrides ``fixed`` plus every ``keys`` entry the user gave in ``params``."""
    ts.learner_overrides.update(fixed)
    ts.learner_overrides.update({key: params[key] for key in keys if key in params})


def _apply(ts: TrainingSet, part: str, params: dict[str, Any], learner_name: str, torch_learner: bool,
           rng: np.random.Generator, embed: Callable[[Sequence[Any]], np.ndarray] | None) -> None:
    if part in (*LOSS_METHODS, *SAMPLER_METHODS, *CLASSIFIER_METHODS, DRW_METHOD, "augment"):
        _need_torch(part, learner_name, torch_learner)
    if part in LOSS_METHODS:
        _override(ts, params, {"loss": LOSS_METHODS[part]}, ("loss_tau", "loss_beta"))
    elif part in SAMPLER_METHODS:
        _override(ts, params, {"sampler": SAMPLER_METHODS[part]}, ())
    elif part in CLASSIFIER_METHODS:
        _override(ts, params, {"classifier": CLASSIFIER_METHODS[part]}, ("crt_epochs", "norm_tau"))
    elif part == DRW_METHOD:
        _override(ts, params, {"drw_start": params.get("drw_start", DRW_START)}, ("drw_beta",))
    elif part == "augment":
        _override(ts, params, {"augmenter": params.get("augmenter", "geometric")},
                  ("augmenter_params", "augment_strength", "minority_boost"))
    elif part in MIX_METHODS:
        _need_torch(part, learner_name, torch_learner)
        ts.learner_overrides["batch_mix"] = part
        if "mix_alpha" in params:
            ts.learner_overrides["mix_alpha"] = params["mix_alpha"]
    elif part in WEIGHT_METHODS:
        labels = sorted(set(ts.y))
        counts = np.array([Counter(ts.y)[c] for c in labels], dtype=np.float64)
        weights = (inverse_frequency_weights(counts) if part == "class_weight"
                   else effective_number_weights(counts, float(params.get("beta", 0.999))))
        per_class = dict(zip(labels, weights, strict=True))
        new = np.array([per_class[label] for label in ts.y], dtype=np.float64)
        ts.sample_weight = new if ts.sample_weight is None else ts.sample_weight * new
    elif part in INDEX_METHODS:
        keep = resample_indices(np.asarray(ts.y), part, rng=rng)
        ts.X = ts.X[keep] if isinstance(ts.X, np.ndarray) else [ts.X[i] for i in keep]
        ts.y = [ts.y[i] for i in keep]
        ts.synthetic_mask = ts.synthetic_mask[keep]
        ts.sample_weight = None if ts.sample_weight is None else ts.sample_weight[keep]
    elif part in VECTOR_METHODS:
        apply_vector_resampling(ts, part, params, rng, embed)
    elif params.get("synthesis", True):
        apply_synthesizer(ts, part, params, rng, embed)
    else:
        ts.info.setdefault("skipped", []).append(f"{part} (synthesis switched off)")
