"""Constructor parameters, the scikit-learn way: the one place the signature is read (``get_params``,
``param_defaults``, plugin listings)."""

from __future__ import annotations

import inspect
from typing import Any


def constructor_params(obj: Any) -> dict[str, Any]:
    """Named parameters of ``obj``'s constructor (a class) or of ``obj`` (a factory function), in order,
    each with its default (None where it has none); ``self``, ``*args`` and ``**kwargs`` are left out."""
    is_class = isinstance(obj, type)
    try:
        params = list(inspect.signature(obj.__init__ if is_class else obj).parameters.values())
    except (TypeError, ValueError):
        return {}
    if is_class:
        params = params[1:]  # self
    return {
        p.name: None if p.default is inspect.Parameter.empty else p.default
        for p in params
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
