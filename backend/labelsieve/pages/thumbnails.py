"""Small previews of the queued tasks: embedded PNG thumbnails for images, a snippet for text.

Images come through the backend's own :class:`MediaFetcher` (its document root, its on-disk cache, its
same-origin rule and limits), all in parallel under one deadline: a Label Studio that does not answer
costs the page at most ``DEADLINE`` seconds and shows why each preview is missing.
"""

from __future__ import annotations

import base64
import html
import io
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from labelsieve.labelconfig import LabelConfig
from labelsieve.labelstudio.media import MediaError, MediaFetcher
from labelsieve.pages.collect import QueueItem

SIZE = 64
DEADLINE = 2.0
SNIPPET = 160


@dataclass
class Preview:
    html: str  # an <img> with a data: URI, a text snippet, or why there is none
    ok: bool


def _thumbnail(fetcher: MediaFetcher, ref: str) -> Preview:
    image = fetcher.load_image(ref).convert("RGB")
    image.thumbnail((SIZE, SIZE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return Preview(f'<img class="thumb" alt="task preview" src="{uri}">', True)


def _missing(reason: str) -> Preview:
    return Preview(f'<span class="missing">no preview: {html.escape(reason[:200])}</span>', False)


def previews(items: list[QueueItem], config: LabelConfig, fetcher: MediaFetcher) -> dict[int, Preview]:
    out: dict[int, Preview] = {}
    if config.kind != "image":
        for item in items:
            value = item.data.get(config.data_key)
            text = "" if value is None else str(value)
            cut = text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")
            out[item.task_id] = Preview(f'<span class="snippet">{html.escape(cut)}</span>', bool(text))
        return out
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="labelsieve-thumb")
    futures = {}
    for item in items:
        ref = item.data.get(config.data_key)
        if not isinstance(ref, str):
            out[item.task_id] = _missing(f"task data has no {config.data_key!r} image reference")
            continue
        futures[item.task_id] = pool.submit(_thumbnail, fetcher, ref)
    wait(list(futures.values()), timeout=max(0.0, DEADLINE - (time.monotonic() - started)))
    for task_id, future in futures.items():
        if not future.done():
            out[task_id] = _missing(f"the image did not load within {DEADLINE:g} s")
            continue
        try:
            out[task_id] = future.result()
        except MediaError as exc:
            out[task_id] = _missing(str(exc))
        except Exception as exc:  # noqa: BLE001 - any unreadable image becomes a visible note, not a 500
            out[task_id] = _missing(f"{type(exc).__name__}: {exc}")
    pool.shutdown(wait=False, cancel_futures=True)
    return out
