"""Does the style_transfer augmenter help a rare class seen in only one domain? (issue 28, item 2)

Synthetic two-domain images (16x16 RGB): three shape classes ("bar", "post", "cross"); domain "day" bright and warm,
"night" dark and blue. Training: 30 "bar" and 30 "cross" split across both domains, 6 "post" (the tail), all
photographed by day. Test: 40 per class, half per domain. Both arms use logit adjustment (tau 1.5) on the image CNN;
the second adds style_transfer (day posts translated to night, gated). Reports macro-F1, tail recall, and the tail
recall at night (the condition the tail was never seen in), mean +- std over seeds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/style_transfer.py --seeds 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import f1_score

from labelsieve.balancing import prepare_training_set
from labelsieve.registry import get_registry

DAY, NIGHT = np.array([200.0, 190.0, 150.0]), np.array([40.0, 50.0, 110.0])
LEARNER = {"image_size": 16, "epochs": 15, "augment": None}


def draw(label: str, site: str, rng: np.random.Generator) -> np.ndarray:
    base = DAY if site == "day" else NIGHT
    image = np.clip(base + rng.normal(0, 12, (16, 16, 3)), 0, 255)
    k = int(rng.integers(4, 11))
    if label in ("bar", "cross"):
        image[k:k + 3, 2:14] = 255 - base
    if label in ("post", "cross"):
        image[2:14, k:k + 3] = 255 - base
    return image.astype(np.uint8)


def make(seed: int) -> tuple[list, list, list, list, list, list]:
    rng = np.random.default_rng(seed)
    train = [(c, s) for c in ("bar", "cross") for s in ("day", "night") for _ in range(15)] + [("post", "day")] * 6
    test = [(c, s) for c in ("bar", "post", "cross") for s in ("day", "night") for _ in range(20)]
    X = [draw(c, s, rng) for c, s in train]
    Xt = [draw(c, s, rng) for c, s in test]
    return X, [c for c, _ in train], [s for _, s in train], Xt, [c for c, _ in test], [s for _, s in test]


def run(seed: int, style: bool) -> dict[str, float]:
    X, y, sites, Xt, yt, st = make(seed)
    params = {"loss_tau": 1.5}
    method = "logit_adjusted"
    if style:
        params |= {"augmenter": "style_transfer", "style_transfer": {"domain_field": "site", "device": "cpu"}}
        method += "+augment"
    started = time.perf_counter()
    ts = prepare_training_set(X, y, method=method, params=params, learner_name="image",
                              rng=np.random.default_rng(seed), domains=sites)
    learner = get_registry("learners").create("image", {**LEARNER, "random_state": seed, **ts.learner_overrides})
    learner.fit(ts.X, ts.y, sample_weight=ts.sample_weight)
    proba = learner.predict_proba(Xt)
    pred = np.asarray(learner.classes_)[proba.argmax(1)]
    yt_a, st_a = np.asarray(yt), np.asarray(st)
    tail = yt_a == "post"
    return {"macro_f1": 100 * f1_score(yt_a, pred, average="macro"), "tail_recall": 100 * (pred[tail] == "post").mean(),
            "tail_recall_night": 100 * (pred[tail & (st_a == "night")] == "post").mean(),
            "added": int(ts.synthetic_mask.sum()), "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print("| arm | macro-F1 | tail recall | tail recall (night) | items added | seconds |")
    print("|---|---|---|---|---|---|")
    for style in (False, True):
        rows = [run(seed, style) for seed in range(args.seeds)]
        cell = {k: f"{np.mean([r[k] for r in rows]):.1f} ± {np.std([r[k] for r in rows]):.1f}" for k in rows[0]}
        name = "logit_adjusted + style_transfer" if style else "logit_adjusted"
        print(f"| {name} | {cell['macro_f1']} | {cell['tail_recall']} | {cell['tail_recall_night']} | "
              f"{cell['added']} | {cell['seconds']} |", flush=True)


if __name__ == "__main__":
    main()
