"""Limits: body size, tasks per /predict, decompression bombs, media only from Label Studio or the root."""

from __future__ import annotations

import logging
import os
import resource
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from labelsieve.labelstudio.media import MediaError, MediaFetcher
from tests.api.helpers import annotate_digits, wait_trained
from tests.factories import IMAGE_CONFIG, TEXT_CONFIG, ls_task, predict_payload, setup_payload
from tests.reliability.loopback import CountingServer

PROJECT = 5
FAST_IMAGE = {"learner": "image", "learner_params": {"epochs": 2}, "preannotate_threshold": 0}  # labels pre-ticked


@pytest.fixture
def database_url(tmp_path) -> str:  # limits do not depend on the database: SQLite only
    return f"sqlite:///{tmp_path / 'limits.sqlite3'}"


def bomb_png(path: Path, side: int) -> int:
    """A ``side``×``side`` 1-bit all-black PNG written row by row (a few KB on disk); returns its size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    raw = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
           + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    path.write_bytes(raw)
    return len(raw)


def test_body_size_and_task_count_limits(client_factory) -> None:
    with client_factory(max_body_bytes=2000, max_predict_tasks=3, start_workers=False) as client:
        assert client.post("/setup", json=setup_payload(PROJECT, TEXT_CONFIG)).status_code == 200
        big = predict_payload(PROJECT, TEXT_CONFIG, [ls_task(1, {"text": "x" * 3000}, PROJECT)])
        response = client.post("/predict", json=big)
        assert response.status_code == 413 and "over 2000 bytes" in response.json()["detail"]

        def chunks():  # no Content-Length: the limit must hold for a streamed body too
            for _ in range(10):
                yield b"x" * 500

        streamed = client.post("/webhook", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413 and "over 2000 bytes" in streamed.json()["detail"]

        small = client.post("/predict", content=iter([b'{"tasks": []', b', "project": "5.1"}']),
                            headers={"Content-Type": "application/json"})
        assert small.status_code == 422 and "empty" in small.json()["detail"]  # streamed body still read

        four = predict_payload(PROJECT, TEXT_CONFIG, [ls_task(i, {"text": "a"}, PROJECT) for i in range(1, 5)])
        response = client.post("/predict", json=four)
        assert response.status_code == 413 and "4 tasks in one request; the limit is 3" in response.json()["detail"]
        assert client.post("/predict", json=dict(four, tasks=four["tasks"][:3])).status_code == 200


def test_bad_media_never_fetched_or_read_and_rest_of_batch_served(client_factory, digits_root, tmp_path,
                                                                   caplog) -> None:
    root, paths, labels = digits_root
    bomb_png(root / "bomb.png", 20_000)
    assert (root / "bomb.png").stat().st_size < 200_000
    secret = tmp_path / "secret.png"
    secret.write_bytes((root / paths[0]).read_bytes())
    if not (root / "escape.png").exists():
        os.symlink(secret, root / "escape.png")
    with CountingServer() as other, CountingServer() as ls:
        ls.routes["/data/upload/1/redirect.png"] = (302, f"{other.url}/stolen.png")
        for n in range(30):  # the annotations the webhooks announce, as Label Studio has them
            ls.routes[f"/api/annotations/{5000 + n}/"] = (200, {
                "id": 5000 + n, "task": 1000 + n, "project": PROJECT, "result": [
                    {"from_name": "label", "to_name": "image", "type": "choices",
                     "value": {"choices": [str(labels[n])]}}]})
        with client_factory(local_files_document_root=root, label_studio_url=ls.url, label_studio_api_key="k-1",
                            media_timeout_seconds=2.0, debounce_seconds=0.2) as client:
            assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, FAST_IMAGE)).status_code == 200
            annotate_digits(client, PROJECT, paths, labels, np.arange(30))
            wait_trained(client, 120)
            bad = [f"{other.url}/x.png", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd",
                   "/data/local-files/?d=../../../../etc/passwd", "/data/local-files/?d=escape.png",
                   "/data/local-files/?d=%2E%2E/%2E%2E/etc/passwd", "../../etc/passwd",
                   "/data/upload/1/redirect.png", "/data/local-files/?d=bomb.png"]
            good = [f"/data/local-files/?d={paths[i]}" for i in range(100, 110)]
            tasks = [ls_task(9000 + n, {"image": ref}, PROJECT) for n, ref in enumerate(bad + good)]
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            with caplog.at_level(logging.WARNING, logger="labelsieve.service.predict"):
                response = client.post("/predict", json=predict_payload(PROJECT, IMAGE_CONFIG, tasks))
            grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
            assert response.status_code == 200, response.text
            results = response.json()["results"]
            assert len(results) == len(tasks)
            assert [r["result"] for r in results[:len(bad)]] == [[]] * len(bad)
            assert all(r["result"][0]["value"]["choices"] for r in results[len(bad):]), "good tasks not served"
            messages = " ".join(r.getMessage() for r in caplog.records)
            assert "only the configured Label Studio host is allowed" in messages
            assert "outside the document root" in messages
            assert "over the 40000000-pixel limit" in messages and "HTTP 302" in messages
            assert grown_mb < 300, f"the bomb grew the process by {grown_mb:.0f} MB"
        assert other.connections == 0, "a request reached a host that is not Label Studio"
        # API calls (annotation checks, the task-pool refresh before a retrain) are not media fetches
        media = [path for path, _ in ls.requests if not path.startswith("/api/")]
        assert media == ["/data/upload/1/redirect.png"]


def test_media_timeouts_bound_slow_and_trickling_servers(tmp_path) -> None:
    for server in (CountingServer(delay=5.0), CountingServer(trickle=0.1)):
        with server:
            server.routes["/data/upload/a.png"] = (200, b"\x89PNG" + b"\0" * 200)
            fetcher = MediaFetcher(base_url=server.url, auth=None, document_root=None, cache_dir=None, timeout=1.0)
            started = time.monotonic()
            with pytest.raises(MediaError, match="timeout|Timeout"):
                fetcher.fetch_bytes("/data/upload/a.png")
            assert time.monotonic() - started < 4.0, "the media timeout was not honoured"


def test_pixel_cap_applies_before_decoding(tmp_path) -> None:
    from PIL import Image

    Image.new("L", (300, 300)).save(tmp_path / "big.png")
    fetcher = MediaFetcher(base_url=None, auth=None, document_root=tmp_path, cache_dir=None, max_pixels=50_000)
    with pytest.raises(MediaError, match="300x300 pixels, over the 50000-pixel limit"):
        fetcher.load_image("/data/local-files/?d=big.png")
