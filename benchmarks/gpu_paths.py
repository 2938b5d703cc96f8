"""Time labelsieve's torch paths on the GPU against the CPU, in one run of a few minutes, and write the table to
``benchmarks/results/gpu.md``: the CNN (fit and inference), the packaged encoder, the core-set and BADGE
distance kernels, the detector (fit and inference), a few DDPM training steps, and Stable Diffusion img2img (a
random-weight checkpoint of SD 1.5's shape built on the spot: the cost of a step depends on the shape, not the
weights; ``benchmarks/gpu_models.py``) when diffusers is installed. Each path runs under ``device_scope("cpu")``
and, when CUDA is available, ``device_scope("cuda")`` (mixed precision where labelsieve uses it); on a machine
without a GPU it times the CPU column only and says so. ``--budget-s`` stops timing new paths once the run has
used that long (the table says which were skipped). Leave ``OMP_NUM_THREADS`` unset on a GPU machine: the CPU
column uses every core torch is given (the table records how many).

    .venv/bin/python benchmarks/gpu_paths.py                       # GPU machine: full sizes, under 5 minutes
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpu_paths.py --quick --out /tmp/gpu.md   # smoke run on a CPU
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine_line  # noqa: E402

from labelsieve.devices import current_device, device_scope  # noqa: E402
from labelsieve.learners.image import ImageLearner  # noqa: E402
from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.strategies.base import PoolContext  # noqa: E402

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the table is the output
RESULTS = Path(__file__).resolve().parent / "results" / "gpu.md"


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


def badge(n: int, dim: int, picks: int) -> Callable[[], None]:
    rng = np.random.default_rng(1)
    pool = rng.normal(size=(n, dim)).astype(np.float32)
    learner = _FixedProbabilities(rng.dirichlet(np.ones(10), size=n))
    strategy = get_registries().strategies.create("badge", {"device": "auto"})
    ctx = PoolContext(pool=list(pool), learner=learner, rng=np.random.default_rng(0))
    return lambda: strategy.select(ctx, picks)


class _FixedProbabilities:
    """A stand-in learner for BADGE: fixed class probabilities and the pool rows as embeddings."""

    def __init__(self, probas: np.ndarray) -> None:
        self.probas = probas
        self.classes_ = [str(c) for c in range(probas.shape[1])]

    def infer(self, X: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return self.probas[: len(X)], np.asarray(X)

    def predict_proba(self, X: list[np.ndarray]) -> np.ndarray:
        return self.probas[: len(X)]

    def embed(self, X: list[np.ndarray]) -> np.ndarray:
        return np.asarray(X)


def detector_fit(n: int, epochs: int) -> Callable[[], None]:
    from labelsieve.detection.learner import DetectorLearner
    from labelsieve.detection.synthetic import make_shapes

    data = make_shapes(n, size=64, seed=0)
    return lambda: DetectorLearner(epochs=epochs, min_steps=0, device=current_device()).fit(
        data.images, data.targets, classes=data.classes)


def detector_infer(n: int) -> Callable[[], None]:
    from labelsieve.detection.learner import DetectorLearner
    from labelsieve.detection.synthetic import make_shapes

    data = make_shapes(32, size=64, seed=0)
    learner = DetectorLearner(epochs=1, min_steps=0, device="cpu").fit(data.images, data.targets,
                                                                        classes=data.classes)
    pool = make_shapes(n, size=64, seed=1).images

    def run() -> None:
        learner.device = current_device()  # the detector reads its own device parameter
        learner.predict(pool)
    return run


def ddpm(steps: int) -> Callable[[], None] | None:
    try:
        balancing = get_registries().synthesizers.create("ddpm", {"train_steps": steps, "image_size": 16})
    except Exception as exc:  # noqa: BLE001 - diffusers is an optional extra
        print(f"ddpm skipped: {exc}", file=sys.stderr)
        return None
    images, y = digits(200)
    return lambda: balancing.fit(images, y, rng=np.random.default_rng(0))


def img2img(folder: Path, tiny: bool, size: int, steps: int, n: int) -> Callable[[], None] | None:
    """``n`` img2img variations at ``size`` px, ``steps`` scheduler steps at strength 0.6 (the synthesizer's
    default), from a random-weight checkpoint (built once per run; fit moves it to the device in scope)."""
    if importlib.util.find_spec("diffusers") is None:
        print("img2img skipped: diffusers is not installed (labelsieve[diffusion])", file=sys.stderr)
        return None
    from benchmarks.gpu_models import random_sd_checkpoint
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    path = random_sd_checkpoint(folder, tiny=tiny)
    images, y = digits(8)
    synth = get_registries().synthesizers.create("sd_img2img", {
        "model_path": str(path), "image_size": size, "inference_steps": steps, "guidance_scale": 5.0})

    def run() -> None:
        synth.fit(images, y, rng=np.random.default_rng(0))
        synth.sample({y[0]: n}, rng=np.random.default_rng(0))
    return run


def timed(job: Callable[[], None], device: str, repeats: int, warm_up: bool) -> float:
    with device_scope(device):
        if warm_up:
            job()  # CUDA context, cuDNN autotune, first allocation
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


def paths(q: bool, folder: Path) -> dict[str, Callable[[], Callable[[], None] | None]]:
    """Each path's name and a builder of its job (built only when its turn comes, inside the budget)."""
    def size(quick: int, full: int) -> int:
        return quick if q else full

    sd = "tiny random" if q else "SD 1.5-shaped random"
    return {
        f"CNN fit ({size(200, 2000)} images, {size(2, 10)} epochs, 32 px)": lambda: cnn_fit(size(200, 2000),
                                                                                            size(2, 10)),
        f"CNN inference ({size(500, 20000)} images)": lambda: cnn_infer(size(500, 20000)),
        f"EfficientNet-Lite0 encode ({size(64, 1000)} images, 128 px)": lambda: encoder(size(64, 1000), 128),
        f"core-set select ({size(20000, 500000)} x 64, {size(10, 100)} picks)": lambda: coreset(
            size(20000, 500_000), 64, size(10, 100)),
        f"BADGE select ({size(5000, 100000)} x 64, 10 classes, {size(10, 50)} picks)": lambda: badge(
            size(5000, 100_000), 64, size(10, 50)),
        f"detector fit ({size(16, 256)} images, {size(1, 5)} epochs, 64 px)": lambda: detector_fit(size(16, 256),
                                                                                                 size(1, 5)),
        f"detector inference ({size(32, 1000)} images, 64 px)": lambda: detector_infer(size(32, 1000)),
        f"DDPM fit ({size(5, 50)} steps, 16 px)": lambda: ddpm(size(5, 50)),
        f"SD img2img ({sd}, {size(2, 4)} images, {size(32, 256)} px, {size(4, 20)} steps)": lambda: img2img(
            folder, q, size(32, 256), size(4, 20), size(2, 4)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run on a CPU-only machine)")
    parser.add_argument("--budget-s", type=float, default=200.0, help="start no new path after this many seconds")
    parser.add_argument("--out", default=str(RESULTS), help="the Markdown file to write")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    started = time.perf_counter()
    lines = ["| path | CPU (s) | CUDA (s) | speed-up |", "|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory(prefix="labelsieve-gpu-") as tmp:
        for name, build in paths(args.quick, Path(tmp)).items():
            if time.perf_counter() - started > args.budget_s:
                lines.append(f"| {name} | skipped (over the {args.budget_s:.0f} s budget) | | |")
            elif (job := build()) is None:
                lines.append(f"| {name} | skipped (optional extra not installed) | | |")
            else:
                cpu = timed(job, "cpu", 1, warm_up=args.quick)
                gpu = timed(job, "cuda", 2, warm_up=True) if cuda else None
                lines.append(f"| {name} | {cpu:.2f} | {'-' if gpu is None else f'{gpu:.3f}'} | "
                             f"{'-' if gpu is None else f'{cpu / gpu:.1f}x'} |")
            print(lines[-1], flush=True)
    gpu_name = torch.cuda.get_device_name(0) if cuda else "none (only the CPU column is timed)"
    footer = (f"GPU: {gpu_name}; CPU: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}; whole run "
              f"{time.perf_counter() - started:.0f} s; {machine_line()}")
    print(f"\n{footer}")
    write_results(Path(args.out), lines, footer, args)


def write_results(path: Path, lines: list[str], footer: str, args: argparse.Namespace) -> None:
    command = "benchmarks/gpu_paths.py" + (" --quick" if args.quick else "")
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = (f"# GPU paths: CPU against CUDA\n\nCommand: `{command}`; date {date}; commit `{git_commit()}`.\n\n"
            "Best of 2 runs after a warm-up on CUDA; one run on the CPU. "
            "CUDA paths use mixed precision where labelsieve does (CNN, encoders, detector).\n\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + "\n".join(lines) + f"\n\n{footer}\n")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
