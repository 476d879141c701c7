"""Liveness: the trivial endpoint (also the baseline of the load benchmark)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = "ok"


@router.get("/healthz", summary="Liveness probe")
async def healthz() -> Health:
    return Health()
