"""Errors of the Label Studio layer that the layers above act on."""

from __future__ import annotations


class RetryLater(RuntimeError):
    """Raised by a puller/verifier when Label Studio is unreachable: the event stays queued."""
