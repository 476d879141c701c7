"""``/info`` and ``/assistants``: what the server runs, in the Platform's ``Assistant`` shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response

from api.deps import AppStateDep, ReaderDep
from api.errors import ERROR_RESPONSES, not_found
from api.langgraph_compat.catalog import AssistantSpec
from api.langgraph_compat.models import AssistantSearch

router = APIRouter(tags=["langgraph-compatible"], responses=ERROR_RESPONSES)

#: Assistants are fixed code, versioned with the service.
_CREATED = datetime(2026, 1, 1, tzinfo=UTC).isoformat()


def assistant_json(spec: AssistantSpec) -> dict[str, Any]:
    return {
        "assistant_id": spec.assistant_id,
        "graph_id": spec.assistant_id,
        "name": spec.name,
        "description": spec.description,
        "config": {},
        "context": {},
        "metadata": dict(spec.metadata),
        "version": 1,
        "created_at": _CREATED,
        "updated_at": _CREATED,
    }


@router.get("/ok", summary="Readiness, as the Agent Server answers it (no key needed)")
async def ok() -> dict[str, bool]:
    return {"ok": True}


@router.get("/info", summary="Server information (the SDK and agent-chat-ui probe it)")
def info() -> dict[str, Any]:
    return {
        "version": "stockpilot-0.1",
        "langgraph_py_version": _langgraph_version(),
        "flags": {"assistants": True, "crons": False, "langsmith": False},
        "host": {"kind": "self-hosted", "project_id": None, "revision_id": None},
    }


@router.post("/assistants/search", summary="List assistants (ops_chat, alert_response)")
def search_assistants(
    body: AssistantSearch, state: AppStateDep, _: ReaderDep, response: Response
) -> list[dict[str, Any]]:
    specs = sorted(state.require_runner().catalog.specs.values(), key=lambda s: s.assistant_id)
    matches = [
        s
        for s in specs
        if (body.graph_id is None or s.assistant_id == body.graph_id)
        and (body.name is None or body.name.lower() in s.name.lower())
        and all(s.metadata.get(k) == v for k, v in (body.metadata or {}).items())
    ]
    page = matches[body.offset : body.offset + body.limit]
    if body.offset + body.limit < len(matches):
        response.headers["X-Pagination-Next"] = str(body.offset + body.limit)
    return [assistant_json(s) for s in page]


@router.get("/assistants/{assistant_id}", summary="One assistant")
def get_assistant(assistant_id: str, state: AppStateDep, _: ReaderDep) -> dict[str, Any]:
    spec = state.require_runner().catalog.specs.get(assistant_id)
    if spec is None:
        raise not_found("assistant", assistant_id, field="assistant_id")
    return assistant_json(spec)


def _langgraph_version() -> str:
    from importlib.metadata import version

    return version("langgraph")
