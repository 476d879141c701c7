"""One router for the whole LangGraph-compatible surface.

Kept out of the package ``__init__`` so that importing ``api.langgraph_compat.runner`` (as
``api.deps`` does) does not pull in the routes, which import ``api.deps`` back.
"""

from fastapi import APIRouter

from api.langgraph_compat import assistants, runs, threads

router = APIRouter()
router.include_router(assistants.router)
router.include_router(threads.router)
router.include_router(runs.router)
