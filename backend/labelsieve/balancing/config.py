"""Validation of a project's ``balancing`` / ``balancing_params`` settings (called at ``/setup``).

Every problem is a :class:`~labelsieve.balancing.base.BalancingError` whose message names the
offending value and lists what is allowed, so ``/setup`` can answer with a clear 4xx.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelsieve.balancing.base import BalancingError
from labelsieve.balancing.domains import check_domains
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
    all_methods,
    torch_refusal,
)
from labelsieve.balancing.stages import staged_cv_refusal, torch_stage, training_signature
from labelsieve.registry import PluginLoadError, UnknownPluginError, get_registry

#: balancing_params keys and the type each must have
PARAM_TYPES: dict[str, type | tuple[type, ...]] = {
    "loss_tau": (int, float), "loss_beta": (int, float), "beta": (int, float),
    "augmenter": str, "augmenter_params": dict, "augment_strength": (int, float), "minority_boost": (int, float),
    "mix_alpha": (int, float), "k_neighbors": int, "n_clusters": int,
    "synthesizer_params": dict, "synthetic_fill": (int, float), "max_synthetic_per_class": int,
    "oversample": (int, float), "gate_threshold": (int, float), "quality_gate": bool,
    "synthetic_weight": (int, float), "synthesis": bool,
    "drw_start": (int, float), "drw_beta": (int, float), "crt_epochs": int, "norm_tau": (int, float),
    "cv_folds": int, "min_novelty": (int, float), "style_transfer": dict,
}
#: (low, high) inclusive bounds of numeric balancing_params
PARAM_BOUNDS: dict[str, tuple[float, float]] = {
    "loss_tau": (0.0, 10.0), "loss_beta": (0.0, 0.999999), "beta": (0.0, 0.999999),
    "augment_strength": (0.0, 1.0), "minority_boost": (0.0, 1.0), "mix_alpha": (1e-6, 100.0),
    "k_neighbors": (1, 100), "n_clusters": (1, 1000), "synthetic_fill": (0.0, 10.0),
    "max_synthetic_per_class": (0, 100_000),
    "oversample": (1.0, 20.0), "gate_threshold": (0.0, 1.0), "synthetic_weight": (0.0, 10.0),
    "drw_start": (0.0, 1.0), "drw_beta": (0.0, 0.999999), "crt_epochs": (1, 1000), "norm_tau": (0.0, 5.0),
    "cv_folds": (2, 10), "min_novelty": (0.0, 10.0),
}


def check_params(params: dict[str, Any]) -> None:
    unknown = sorted(set(params) - set(PARAM_TYPES))
    if unknown:
        raise BalancingError(f"unknown balancing_params {unknown}; known: {sorted(PARAM_TYPES)}")
    for key, value in params.items():
        kind = PARAM_TYPES[key]
        wrong_bool = isinstance(value, bool) and kind is not bool
        if wrong_bool or not isinstance(value, kind):
            names = "/".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
            raise BalancingError(f"balancing_params.{key} must be {names}, got {value!r}")
        if key in PARAM_BOUNDS:
            low, high = PARAM_BOUNDS[key]
            if not low <= value <= high:
                raise BalancingError(f"balancing_params.{key} must be in [{low}, {high}], got {value!r}")
    field = (params.get("style_transfer") or {}).get("domain_field") if "style_transfer" in params else ""
    if "style_transfer" in params and (not isinstance(field, str) or not field):
        raise BalancingError(
            "balancing_params.style_transfer needs the task data field that names each image's domain, e.g. "
            f'{{"style_transfer": {{"domain_field": "site"}}}}; got {params["style_transfer"]!r}')


def check_balancing(method: str | None, params: dict[str, Any], *, learner_cls: Any, input_kind: str | None,
                    learner_name: str | None = None, domain_values: Sequence[Any] | None = None) -> None:
    """Raise :class:`BalancingError` unless ``method`` can run with this learner and these params; the messages name
    the learner (``learner_name``, else its class) and the method. ``domain_values``: the tasks' values of the
    ``style_transfer`` domain field, when the caller knows them (style transfer needs exactly two). A staged
    learner (``auto_image``) takes the torch methods its torch stage takes (:mod:`labelsieve.balancing.stages`)."""
    check_params(params)
    if method is None or method == "" or method == "none":
        return
    parts = [p.strip() for p in method.split("+")]
    if "" in parts:
        raise BalancingError(
            f"balancing {method!r} has an empty part; join methods with '+', e.g. logit_adjusted+augment"
        )
    if "auto" in parts and len(parts) > 1:
        raise BalancingError("balancing 'auto' cannot be combined with other methods")
    name = learner_name or getattr(learner_cls, "__name__", "?")
    signature = training_signature(learner_cls)
    torch_learner = "loss" in signature
    _check_decoupled(parts, signature, name)
    synthesizers = get_registry("synthesizers")
    for part in parts:
        if part in ("auto", *WEIGHT_METHODS, *INDEX_METHODS):
            continue
        if part == CV_METHOD and not torch_learner:
            raise BalancingError(
                f"balancing {CV_METHOD!r} tunes the logit-adjusted loss of a torch learner, but learner {name!r} is "
                "not a torch learner; use class_weight, effective_number, random_over or random_under with it"
            )
        if part == CV_METHOD and torch_stage(learner_cls) is not None:
            raise BalancingError(staged_cv_refusal(name))
        if part in (*CLASSIFIER_METHODS, DRW_METHOD, CV_METHOD):
            continue
        if part in (*LOSS_METHODS, *SAMPLER_METHODS, "augment", *MIX_METHODS):
            if not torch_learner:
                raise torch_refusal(part, name)
            continue
        if part in VECTOR_METHODS:
            if input_kind != "vector":
                raise BalancingError(
                    f"balancing {part!r} interpolates feature vectors and needs the vector learner "
                    f"(learner {name!r} reads {input_kind} inputs); use random_over, or augment for images"
                )
            continue
        if part not in synthesizers.names():
            raise BalancingError(
                f"unknown balancing method {part!r}; methods: {', '.join(all_methods())}; "
                f"synthesizers: {', '.join(synthesizers.names())}"
            )
        if input_kind != "image":
            raise BalancingError(
                f"synthesizer {part!r} generates images, but learner {name!r} reads {input_kind} inputs")
        try:
            synthesizers.create(part, params.get("synthesizer_params", {})).check()
        except (UnknownPluginError, PluginLoadError, ValueError) as exc:
            raise BalancingError(str(exc)) from exc
    if "augment" in parts:
        augmenters = get_registry("augmenters")
        name = params.get("augmenter", "geometric")
        if name == "style_transfer":
            _check_style_transfer(params, input_kind, domain_values)
            return
        try:
            augmenters.create(name, params.get("augmenter_params", {}))
        except UnknownPluginError as exc:
            raise BalancingError(f"unknown augmenter {name!r}; augmenters: {', '.join(augmenters.names())}") from exc
        except (PluginLoadError, ValueError) as exc:
            raise BalancingError(str(exc)) from exc


def _check_decoupled(parts: list[str], signature: Any, name: str) -> None:
    """cRT / τ-norm / DRW need a learner with a separate linear head and a training schedule (``classifier`` and
    ``drw_start`` parameters: the image learner); one second stage at a time; the tuned τ owns the loss."""
    for part in parts:
        needed = "drw_start" if part == DRW_METHOD else "classifier" if part in CLASSIFIER_METHODS else None
        if needed is not None and needed not in signature:
            raise BalancingError(
                f"balancing {part!r} needs a learner with a decoupled linear classifier trained by epochs (the image "
                f"learner); learner {name!r} has no {needed!r} parameter: use class_weight or random_over with it, or "
                "logit_adjusted with a torch learner"
            )
    stages = [p for p in parts if p in CLASSIFIER_METHODS]
    if len(stages) > 1:
        raise BalancingError(f"balancing joins {' and '.join(stages)}: choose one classifier stage (crt or tau_norm)")
    losses = [p for p in parts if p in LOSS_METHODS]
    if CV_METHOD in parts and losses:
        raise BalancingError(
            f"balancing {CV_METHOD!r} sets the loss itself (logit adjustment with a tuned tau); drop {losses[0]!r}"
        )


def _check_style_transfer(params: dict[str, Any], input_kind: str | None, domain_values: Sequence[Any] | None) -> None:
    """The style_transfer augmenter translates images between the two values of a task data field."""
    if input_kind != "image":
        raise BalancingError(f"augmenter 'style_transfer' translates images, but the learner reads {input_kind} inputs")
    options = params.get("style_transfer")
    if not options or "domain_field" not in options:
        raise BalancingError(
            "augmenter 'style_transfer' needs the task data field that names each image's domain: "
            'balancing_params {"style_transfer": {"domain_field": "site"}}')
    try:
        augmenter = get_registry("augmenters").load("style_transfer")(**options)
    except TypeError as exc:
        raise BalancingError(f"balancing_params.style_transfer: {exc}") from exc
    augmenter.check()
    if domain_values is not None:
        check_domains(domain_values, options["domain_field"])
