"""labelsieve: an active-learning ML backend for Label Studio.

What a strategy plugin author needs: :class:`QueryStrategy` (subclass it), :class:`PoolContext` (what
``score``/``select`` see) and :func:`check_strategy` (the conformance check for your test suite).
"""

__version__ = "0.1.0"

from labelsieve.strategies.base import PoolContext, QueryStrategy  # noqa: E402 - after __version__, which api reads
from labelsieve.testing import check_strategy  # noqa: E402

__all__ = ["PoolContext", "QueryStrategy", "__version__", "check_strategy"]
