"""Fetch task media the way Label Studio serves it, and nothing else.

Accepted references:

- ``/data/local-files/?d=<path>``: read from ``document_root/<path>`` when a document root is
  configured (never outside it), else fetched from Label Studio with the API key;
- ``/data/upload/...`` and other root-relative paths: fetched from the Label Studio URL;
- ``http(s)://...``: only when scheme, host and port equal the configured Label Studio URL;
- ``data:image/...;base64,...``: decoded inline.

Anything else (other hosts, ``file:``, ``s3:``, paths escaping the root) raises
:class:`MediaError`. Downloads have a total timeout (not only per read) and a byte cap; images are
checked against a pixel cap *before* decoding (decompression bombs). Fetched bytes are cached on disk by URL hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from PIL import Image

from labelsieve.labelstudio.auth import LabelStudioAuthError, TokenAuth


class MediaError(RuntimeError):
    """A task's media could not be read; the message says why."""


class MediaFetcher:
    def __init__(
        self,
        *,
        base_url: str | None,
        auth: TokenAuth | None,
        document_root: Path | None,
        cache_dir: Path | None,
        timeout: float = 10.0,
        max_bytes: int = 20 * 1024 * 1024,
        max_pixels: int = 40_000_000,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.auth = auth
        self.document_root = document_root
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    # --------------------------------------------------------------- resolving
    def _local_path(self, relative: str) -> Path:
        assert self.document_root is not None
        root = Path(self.document_root).resolve()
        candidate = (root / unquote(relative).lstrip("/")).resolve()
        if candidate != root and root not in candidate.parents:
            raise MediaError(f"refusing to read {relative!r}: it is outside the document root")
        if not candidate.is_file():
            raise MediaError(f"local file {relative!r} does not exist under the document root")
        return candidate

    def _read_file(self, path: Path) -> bytes:
        size = path.stat().st_size
        if size > self.max_bytes:
            raise MediaError(f"{path.name} is {size} bytes, over the {self.max_bytes}-byte limit")
        return path.read_bytes()

    def fetch_bytes(self, ref: str) -> bytes:
        if not isinstance(ref, str) or not ref:
            raise MediaError("the task has no media reference")
        if ref.startswith("data:"):
            return self._decode_data_uri(ref)
        parts = urlsplit(ref)
        if parts.scheme in ("", None) and ref.startswith("/"):
            if parts.path.rstrip("/") == "/data/local-files" and self.document_root is not None:
                relative = parse_qs(parts.query).get("d", [""])[0]
                if not relative:
                    raise MediaError(f"{ref!r} has no ?d= path")
                return self._read_file(self._local_path(relative))
            return self._download(self._absolute(ref))
        if parts.scheme in ("http", "https"):
            if not self._same_origin(ref):
                raise MediaError(f"refusing to fetch {parts.scheme}://{parts.netloc}: only the configured "
                                 "Label Studio host is allowed")
            return self._download(ref)
        if parts.scheme == "" and self.document_root is not None:
            return self._read_file(self._local_path(ref))
        raise MediaError(f"unsupported media reference {ref[:80]!r} (scheme {parts.scheme or 'none'!r})")

    def _absolute(self, path: str) -> str:
        if self.base_url is None:
            raise MediaError(f"cannot fetch {path!r}: LABEL_STUDIO_URL is not configured")
        return self.base_url + path

    def _same_origin(self, url: str) -> bool:
        if self.base_url is None:
            return False
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.hostname, a.port or _default_port(a.scheme)) == (
            b.scheme, b.hostname, b.port or _default_port(b.scheme)
        )

    def _decode_data_uri(self, ref: str) -> bytes:
        header, _, payload = ref.partition(",")
        if ";base64" not in header:
            raise MediaError("only base64 data: URIs are supported")
        if len(payload) > self.max_bytes * 4 // 3 + 4:
            raise MediaError(f"data: URI is over the {self.max_bytes}-byte limit")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MediaError(f"data: URI is not valid base64 ({exc})") from exc

    # ------------------------------------------------------------- downloading
    def _cache_path(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir) / hashlib.sha256(url.encode()).hexdigest()

    def _download(self, url: str) -> bytes:
        cached = self._cache_path(url)
        if cached is not None and cached.is_file():
            return cached.read_bytes()
        try:
            headers = self.auth.headers() if self.auth else {}
        except LabelStudioAuthError as exc:
            raise MediaError(str(exc)) from exc
        chunks: list[bytes] = []
        total = 0
        # httpx's timeout bounds each read; the deadline bounds the whole download (a trickling server)
        deadline = time.monotonic() + self.timeout
        try:
            with httpx.stream("GET", url, headers=headers, timeout=self.timeout, follow_redirects=False) as resp:
                if resp.status_code != 200:
                    raise MediaError(f"GET {_redact(url)} returned HTTP {resp.status_code}")
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise MediaError(f"{_redact(url)} is over the {self.max_bytes}-byte limit")
                    if time.monotonic() > deadline:
                        raise MediaError(f"GET {_redact(url)} took over the {self.timeout:g}-second media timeout")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise MediaError(f"GET {_redact(url)} failed: {type(exc).__name__}: {exc}") from exc
        data = b"".join(chunks)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, cached)
        return data

    # ------------------------------------------------------------------ images
    def load_image(self, ref: str) -> Image.Image:
        data = self.fetch_bytes(ref)
        try:
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > self.max_pixels:
                raise MediaError(f"image is {width}x{height} pixels, over the {self.max_pixels}-pixel limit")
            image.load()
        except MediaError:
            raise
        except Image.DecompressionBombError as exc:  # Pillow refuses > 2x its own cap already in open()
            raise MediaError(f"image is over the {self.max_pixels}-pixel limit: {exc}") from exc
        except Exception as exc:  # PIL raises many types for corrupt data
            raise MediaError(f"cannot decode image: {type(exc).__name__}: {exc}") from exc
        return image


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"
