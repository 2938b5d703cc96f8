"""Time labelsieve's torch paths on the GPU against the CPU: the CNN (fit and inference), the packaged encoder, the
core-set distance kernel and a few DDPM training steps. Each path runs under ``device_scope("cpu")`` and, when
CUDA is available, ``device_scope("cuda")``; on a machine without a GPU it times the CPU and says so.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpu_paths.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine_line  # noqa: E402

from labelsieve.devices import device_scope  # noqa: E402
from labelsieve.learners.image import ImageLearner  # noqa: E402
from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.strategies.base import PoolContext  # noqa: E402


def digits(n: int) -> tuple[list[np.ndarray], list[str]]:
    data = load_digits()
    idx = np.arange(n) % len(data.images)
    return [(data.images[i] * 16).astype(np.uint8) for i in idx], data.target[idx].astype(str).tolist()


def cnn_fit(n: int, epochs: int) -> Callable[[], None]:
    images, y = digits(n)
    return lambda: ImageLearner(epochs=epochs, image_size=32).fit(images, y)


def cnn_infer(n: int) -> Callable[[], None]:
    images, y = digits(200)
    learner = ImageLearner(epochs=1, image_size=32).fit(images, y)
    pool, _ = digits(n)
    return lambda: learner.infer(pool)


def encoder(n: int, size: int) -> Callable[[], None]:
    images, _ = digits(n)
    plugin = get_registries().encoders.create("efficientnet_lite0", {"image_size": size})
    plugin.load()
    return lambda: plugin.encode(images)


def coreset(n: int, dim: int, picks: int) -> Callable[[], None]:
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(n, dim)).astype(np.float32)
    labeled = rng.normal(size=(50, dim)).astype(np.float32)

    class Embedder:  # the strategy reads the learner's embeddings of pool and labelled items
        classes_ = ["a", "b"]

        def infer(self, X: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            rows = np.asarray(X)
            return np.full((len(rows), 2), 0.5), rows

        embed = lambda self, X: np.asarray(X)  # noqa: E731

    strategy = get_registries().strategies.create("coreset", {"device": "auto"})
    ctx = PoolContext(pool=list(pool), learner=Embedder(), rng=np.random.default_rng(0), labeled=list(labeled),
                      labeled_y=np.zeros(50, dtype=int), classes=("a", "b"))
    return lambda: strategy.select(ctx, picks)


def ddpm(steps: int) -> Callable[[], None] | None:
    try:
        balancing = get_registries().synthesizers.create("ddpm", {"train_steps": steps, "image_size": 16})
    except Exception as exc:  # noqa: BLE001 - diffusers is an optional extra
        print(f"ddpm skipped: {exc}", file=sys.stderr)
        return None
    images, y = digits(200)
    return lambda: balancing.fit(images, y, rng=np.random.default_rng(0))


def timed(job: Callable[[], None], device: str, repeats: int) -> float:
    with device_scope(device):
        job()  # warm-up (CUDA context, cuDNN autotune, first allocation)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            job()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run on a CPU-only machine)")
    args = parser.parse_args()
    q = args.quick
    jobs: dict[str, Callable[[], None] | None] = {
        f"CNN fit ({200 if q else 2000} images, {2 if q else 10} epochs, 32 px)": cnn_fit(200 if q else 2000,
                                                                                          2 if q else 10),
        f"CNN inference ({500 if q else 20000} images)": cnn_infer(500 if q else 20000),
        f"EfficientNet-Lite0 encode ({64 if q else 2000} images, 128 px)": encoder(64 if q else 2000, 128),
        f"core-set select ({20000 if q else 500000} x 64, {10 if q else 100} picks)": coreset(
            20000 if q else 500_000, 64, 10 if q else 100),
        f"DDPM fit ({5 if q else 200} steps, 16 px)": ddpm(5 if q else 200),
    }
    cuda = torch.cuda.is_available()
    if not cuda:
        print("No CUDA GPU on this machine: only the CPU column is timed.\n")
    print("| path | CPU (s) | CUDA (s) | speed-up |\n|---|---|---|---|")
    for name, job in jobs.items():
        if job is None:
            continue
        cpu = timed(job, "cpu", 1 if not q else 1)
        gpu = timed(job, "cuda", 3) if cuda else None
        print(f"| {name} | {cpu:.2f} | {'-' if gpu is None else f'{gpu:.3f}'} | "
              f"{'-' if gpu is None else f'{cpu / gpu:.1f}x'} |", flush=True)
    print(f"\n{'GPU: ' + torch.cuda.get_device_name(0) if cuda else 'GPU: none'}; {machine_line()}")


if __name__ == "__main__":
    main()
