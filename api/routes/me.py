"""``/v1/me``: who the caller's key is and the service's "now", so a client can show what it
may do and count down expiries on the service's clock (the demo world's runs in 2015)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import AppStateDep, PrincipalDep
from api.errors import ERROR_RESPONSES

router = APIRouter(tags=["me"], responses=ERROR_RESPONSES)


class MeView(BaseModel):
    name: str = Field(description="The key's name: what decisions record as the decider.")
    roles: list[str]
    channel: str | None
    now: datetime = Field(description="The service's clock (approvals expire by it).")


@router.get("/me", summary="The caller's key name and roles, and the service's clock")
def me(principal: PrincipalDep, state: AppStateDep) -> MeView:
    return MeView(
        name=principal.name,
        roles=[str(r) for r in principal.roles],
        channel=principal.channel,
        now=state.clock(),
    )
