"""Dependency aliases for routes: the session, the settings, and the authenticated principal.

Dependencies that only read memory are ``async`` so FastAPI calls them on the event loop instead
of handing each one to the thread pool (a hop per dependency is most of a hot read's cost). The
key is checked against the pool on every request (``api.auth.principal_for``: a revoked key is
refused at once), on a request thread.

The channels' hot routes (availability, reservations) go further: ``in_request_thread`` checks
the key, checks the role and does the route's work in one session on one thread hop, where the
usual dependencies would take three or four (a sync session dependency's entry and exit, the
endpoint, the response model's validation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

import anyio.to_thread
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlmodel import Session

from agents.policy.model import Policy
from api.auth import STAFF_ROLES, Principal, Role, principal_for
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


ApiKeyDep = Annotated[str | None, Security(api_key_header)]


def _known(key: str, principal: Principal | None) -> Principal:
    if principal is None:
        raise ApiError(401, "unknown API key", field="x-api-key", value=f"{key[:6]}…")
    return principal


async def sent_key(key: ApiKeyDep = None) -> str:
    """401 when no key is sent (who are you?)."""
    if not key:
        raise ApiError(401, "missing API key: send it in the x-api-key header", field="x-api-key")
    return key


SentKeyDep = Annotated[str, Depends(sent_key)]


async def authenticate(state: AppStateDep, key: SentKeyDep) -> Principal:
    """401 when no key or an unknown key is sent (who are you?)."""
    return _known(key, await anyio.to_thread.run_sync(state.keys.resolve, key))


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def get_broker(state: AppStateDep) -> RunBroker:
    return state.broker


def _allowed(principal: Principal, roles: tuple[Role, ...]) -> Principal:
    """403 when the caller is known but lacks every one of ``roles`` (admin always passes)."""
    if not principal.has_any(*roles):
        raise ApiError(
            403,
            f"{principal.name!r} lacks the role for this action; needs one of: "
            + ", ".join(str(r) for r in roles),
            field="role",
            value=[str(r) for r in principal.roles],
        )
    return principal


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """403 when the caller is known but lacks every one of ``roles`` (admin always passes)."""

    async def check(principal: PrincipalDep) -> Principal:
        return _allowed(principal, roles)

    return check


T = TypeVar("T")


async def in_request_thread(
    state: AppState,
    key: str,
    roles: tuple[Role, ...],
    work: Callable[[Session, Principal], T],
) -> T:
    """``work(session, principal)`` after the same checks as ``require_role(*roles)`` (401
    without a known key, 403 without a role), all on one request thread in one session: the
    key's row is read on the connection the work then uses (``key``: a ``SentKeyDep``)."""

    def run() -> T:
        with Session(state.engine, expire_on_commit=False) as session:
            principal = _allowed(_known(key, principal_for(session, key)), roles)
            return work(session, principal)

    return await anyio.to_thread.run_sync(run)


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
