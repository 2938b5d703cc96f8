"""Which torch device a round runs on: ``auto`` (CUDA when there is one, else the CPU), ``cpu`` or ``cuda[:n]``.

The service-wide and per-project setting ``device`` (:class:`labelsieve.settings.ProjectSettings`) is put in
scope for a round with :func:`device_scope`; everything that runs torch in that round reads it with
:func:`current_device`: the CNN (:mod:`labelsieve.learners.image`, mixed precision on CUDA), the image encoders
(:mod:`labelsieve.learners.encoders`), the diffusion synthesizers and the distance kernels
(:func:`labelsieve.strategies.distance.resolve_device` resolves their ``"auto"`` to the scope's device). Outside
any scope it is ``auto``. The scope is a context variable: each thread (each project's retrain) has its own.

Checking the spelling needs no torch (``/setup`` answers within Label Studio's 3 s); resolving it does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_CURRENT: ContextVar[str] = ContextVar("labelsieve_device", default="auto")


def check_device(name: Any) -> str:
    """``name`` when it is spelled ``auto``, ``cpu``, ``cuda`` or ``cuda:<n>``; else ValueError naming them."""
    if not isinstance(name, str) or not DEVICE_PATTERN.match(name):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<n>', got {name!r}")
    return name


def resolve_device(name: str | None = None) -> Any:
    """The :class:`torch.device` of ``name`` (default: the scope's): ``auto`` is CUDA when available; a CUDA device
    asked for on a machine without one (or past its device count) raises ValueError."""
    import torch

    name = check_device(current_device() if name is None else name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def current_device() -> str:
    """The device name in scope (``auto`` outside any :func:`device_scope`)."""
    return _CURRENT.get()


@contextmanager
def device_scope(name: str) -> Iterator[None]:
    """Run the block with ``name`` as the device of every torch step that reads :func:`current_device`."""
    token = _CURRENT.set(check_device(name))
    try:
        yield
    finally:
        _CURRENT.reset(token)
