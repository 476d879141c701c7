"""Dependency aliases for routes: the session, the settings, and the authenticated principal.

Dependencies that only read memory are ``async`` so FastAPI calls them on the event loop instead
of handing each one to the thread pool (a hop per dependency is most of a hot read's cost). The
key lookup reads the database only on a cache miss (once per key per ``KeyStore.ttl_s``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlmodel import Session

from agents.policy.model import Policy
from api.auth import STAFF_ROLES, Principal, Role
from api.errors import ApiError
from api.langgraph_compat.broker import RunBroker
from api.langgraph_compat.runner import GraphRunner
from api.state import AppState
from inventory.config import Settings
from tools.context import ToolContext

api_key_header = APIKeyHeader(
    name="x-api-key",
    auto_error=False,
    description="An API key; its roles decide what the caller may do.",
)


async def get_app_state(request: Request) -> AppState:
    return request.app.state.stockpilot


AppStateDep = Annotated[AppState, Depends(get_app_state)]


async def get_settings(state: AppStateDep) -> Settings:
    return state.settings


def get_session(state: AppStateDep) -> Iterator[Session]:
    with Session(state.engine, expire_on_commit=False) as session:
        yield session


async def get_policy(state: AppStateDep) -> Policy:
    return state.policy


async def get_runner(state: AppStateDep) -> GraphRunner:
    return state.require_runner()


async def authenticate(
    state: AppStateDep, key: Annotated[str | None, Security(api_key_header)] = None
) -> Principal:
    """401 when no key or an unknown key is sent (who are you?)."""
    if not key:
        raise ApiError(401, "missing API key: send it in the x-api-key header", field="x-api-key")
    principal = state.keys.resolve(key)
    if principal is None:
        raise ApiError(401, "unknown API key", field="x-api-key", value=f"{key[:6]}…")
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def get_broker(state: AppStateDep) -> RunBroker:
    return state.broker


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """403 when the caller is known but lacks every one of ``roles`` (admin always passes)."""
    needed = ", ".join(str(r) for r in roles)

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(*roles):
            raise ApiError(
                403,
                f"{principal.name!r} lacks the role for this action; needs one of: {needed}",
                field="role",
                value=[str(r) for r in principal.roles],
            )
        return principal

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PolicyDep = Annotated[Policy, Depends(get_policy)]
RunnerDep = Annotated[GraphRunner, Depends(get_runner)]
BrokerDep = Annotated[RunBroker, Depends(get_broker)]
ReaderDep = Annotated[Principal, Depends(require_role(*STAFF_ROLES))]
OpsDep = Annotated[Principal, Depends(require_role(Role.OPS))]
RunCallerDep = Annotated[Principal, Depends(require_role(Role.OPS, Role.APPROVER))]
ApproverDep = Annotated[Principal, Depends(require_role(Role.APPROVER))]
AdminDep = Annotated[Principal, Depends(require_role(Role.ADMIN))]


async def get_tool_context(state: AppStateDep) -> ToolContext:
    # The world clock is cached (re-read at most once a second): memory almost always.
    return state.tool_context()


ToolContextDep = Annotated[ToolContext, Depends(get_tool_context)]
