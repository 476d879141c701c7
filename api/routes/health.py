"""Liveness: the trivial endpoint (also the baseline of the load benchmark)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.startup import startup_message

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "starting", "failed"] = "ok"
    message: str = Field(default="ready", description="Start-up progress while starting.")


@router.get("/healthz", summary="Liveness probe; says 'starting' (with progress) until ready")
async def healthz(request: Request) -> Health:
    status, message = startup_message(request.app.state.stockpilot)
    return Health(status=status, message=message)
