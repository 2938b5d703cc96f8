"""Dependencies: the service container lives on ``app.state``; routes take it through these."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from labelsieve.service import Service


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
