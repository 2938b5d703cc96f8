"""Installed plugins: what a project can name in its settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelsieve.api.deps import ServiceDep

router = APIRouter(tags=["plugins"])


@router.get("/strategies")
def list_strategies(service: ServiceDep) -> list[dict[str, Any]]:
    """Every query strategy: name, package, version, parameters (and the error if it fails to load)."""
    return service.registries.strategies.describe()


@router.get("/plugins")
def list_plugins(service: ServiceDep) -> dict[str, list[dict[str, Any]]]:
    """Every plugin of every kind (strategies, learners, augmenters, synthesizers)."""
    r = service.registries
    return {
        "strategies": r.strategies.describe(),
        "learners": r.learners.describe(),
        "augmenters": r.augmenters.describe(),
        "synthesizers": r.synthesizers.describe(),
    }
