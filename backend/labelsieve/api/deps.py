"""Dependencies: the service container lives on ``app.state``; routes take it through these."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from labelsieve.service.container import Service


async def get_service(request: Request) -> Service:
    """Async on purpose: FastAPI would run a plain function on a thread of the pool, for every request."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]

#: A Label Studio project id as a path parameter: a positive 64-bit integer (larger ones would overflow the DB).
ProjectIdPath = Annotated[int, Path(ge=1, lt=2**63, description="Label Studio project id")]
