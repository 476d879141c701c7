"""The LangGraph-Platform-compatible subset that langgraph-sdk and agent-chat-ui speak."""

from fastapi import APIRouter

from api.langgraph_compat import assistants, runs, threads

router = APIRouter()
router.include_router(assistants.router)
router.include_router(threads.router)
router.include_router(runs.router)

__all__ = ["router"]
