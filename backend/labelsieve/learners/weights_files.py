"""A quick look at the weights files a project names, without torch (``/setup`` answers within Label Studio's 3 s).

A missing file, one that is not a torch checkpoint (a zip archive, or a legacy pickle) or a safetensors file, or
one cut short (a zip without its central directory, safetensors tensors past the end of the file) is refused with
the file's name. The full read happens when the network is built (learners/encoders.py ``read_state_dict``).
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".ckpt")


def looks_like_file(value: Any) -> bool:
    """A string naming a local file: a weights suffix, or a path that starts at the root, home or here."""
    return isinstance(value, str) and (value.endswith(WEIGHT_SUFFIXES) or value.startswith(("/", "./", "~")))


def check_weights_file(value: str) -> None:
    """ValueError naming ``value`` when it is missing, unreadable, not a checkpoint, or cut short."""
    path = Path(value).expanduser()
    if path.is_dir():
        return  # a model folder (Hugging Face): its loader checks it
    if not path.is_file():
        raise ValueError(f"weights file {value} does not exist (encoders and backbones load local files only)")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            size = path.stat().st_size
            if path.suffix == ".safetensors":
                _check_safetensors(fh, head, size)
                return
    except OSError as exc:
        raise ValueError(f"weights file {value} cannot be read: {exc}") from exc
    if head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            raise ValueError(f"weights file {value} is a damaged or truncated torch checkpoint (zip without its end)")
        return
    if not head.startswith(b"\x80"):  # neither torch's zip format nor a legacy pickle
        raise ValueError(f"weights file {value} is not a torch checkpoint or a safetensors file")


def _check_safetensors(fh: Any, head: bytes, size: int) -> None:
    name = getattr(fh, "name", "?")
    if len(head) < 8:
        raise ValueError(f"weights file {name} is shorter than a safetensors header")
    (length,) = struct.unpack("<Q", head)
    if length > size - 8:
        raise ValueError(f"weights file {name} is not a safetensors file (or is truncated)")
    try:
        header = json.loads(fh.read(length))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"weights file {name} has a damaged safetensors header") from exc
    if 8 + length + end > size:
        raise ValueError(f"weights file {name} is truncated: its tensors end past the file's {size} bytes")


def check_encoder_files(learner_params: dict[str, Any]) -> None:
    """Check every weights file ``learner_params`` names: ``backbone_weights`` (image), ``cnn_params`` /
    ``encoder_params`` (auto_image) ``weights``/``model``/``backbone_weights`` that look like local files."""
    places: list[Any] = [learner_params]
    for nested in ("cnn_params", "encoder_params"):
        if isinstance(learner_params.get(nested), dict):
            places.append(learner_params[nested])
    for place in places:
        for key in ("backbone_weights", "weights", "model"):
            value = place.get(key)
            if looks_like_file(value):
                check_weights_file(str(value))
