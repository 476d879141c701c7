"""The ops console at ``/console``: a static single-page app (sources in ``console/``, built
into ``api/console_dist`` and committed, so neither ``make run`` nor CI needs Node).

The page calls the same REST and LangGraph-compatible API as any client, with the user's own
API key in ``x-api-key``; it holds no privilege of its own. Same origin, so no CORS is needed.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

#: Where ``make console`` (``npm run build`` in ``console/``) writes the bundle.
CONSOLE_DIST = Path(__file__).with_name("console_dist")


class _ConsoleFiles(StaticFiles):
    """Static files that tell the browser to revalidate ``index.html`` (hashed assets may be
    cached for good: their names change with their content)."""

    async def get_response(self, path: str, scope: Scope):  # type: ignore[override]
        response = await super().get_response(path, scope)
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response


def install_console(app: FastAPI) -> None:
    """Serve the built console, or say how to build it when the bundle is missing."""
    index = CONSOLE_DIST / "index.html"

    @app.get("/console", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    if not index.is_file():

        @app.get("/console/", include_in_schema=False)
        async def console_missing() -> None:
            from api.errors import ApiError

            raise ApiError(404, "the console is not built: run `make console` (needs Node 20)")

        return
    app.mount("/console", _ConsoleFiles(directory=CONSOLE_DIST, html=True), name="console")
