"""The read tools as an MCP server (official ``mcp`` SDK): over Streamable HTTP at ``/mcp`` with
the service's API keys and roles, and over stdio (``stockpilot mcp``) for desktop agents.

The same registry specs the chat agent uses become typed MCP tools: their pydantic input fields
are the tool's parameters, their output model its output schema (results come back as structured
content). Only read tools are exposed — the transfer plan and the markdown recommendations are
dry runs; nothing here proposes, approves or executes, so nothing bypasses the policy gate.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError as McpToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import STAFF_ROLES, KeyStore, Principal, Role
from tools.context import ToolContext, ToolError
from tools.registry import TOOLS, ToolSpec

#: Who may call each tool, as on the REST routes (/v1/stock and /v1/forecasts: any staff role;
#: plan and markdown dry runs: ops; order routing reads, as /v1/orders: any staff role).
TOOL_ROLES: dict[str, tuple[Role, ...]] = {
    "stock_lookup": STAFF_ROLES,
    "forecast_demand": STAFF_ROLES,
    "plan_transfers": (Role.OPS,),
    "recommend_promos": (Role.OPS,),
    "route_order": STAFF_ROLES,
    "ship_nodes": STAFF_ROLES,
}

#: The caller of the current MCP request (set by the HTTP key gate, or once for stdio).
current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "stockpilot_mcp_principal", default=None
)

ContextFactory = Callable[[], ToolContext]


def build_mcp_server(context: ContextFactory) -> MCPServer:
    """An MCP server with one typed tool per read tool of the registry."""
    server = MCPServer(
        name="stockpilot",
        title="Stockpilot inventory tools",
        instructions=(
            "Read tools over the inventory pool: stock positions with ATP, demand forecasts, "
            "transfer plans and markdown recommendations (dry runs: nothing is ordered). "
            "Changes go through Stockpilot's approvals, never through these tools."
        ),
        version="0.1.0",
    )
    for name, roles in TOOL_ROLES.items():
        spec = TOOLS[name]
        server.add_tool(
            _tool_function(spec, roles, context),
            name=spec.name,
            description=spec.description,
            structured_output=True,
        )
    return server


def _tool_function(spec: ToolSpec, roles: tuple[Role, ...], context: ContextFactory) -> Any:
    """An async function whose signature is the input model's fields and whose return type is
    the output model, which is what the SDK turns into the tool's input and output schemas."""

    async def call(**arguments: Any) -> Any:
        principal = current_principal.get()
        if principal is None or not principal.has_any(*roles):
            who = principal.name if principal else "an anonymous caller"
            needed = ", ".join(str(r) for r in roles)
            raise McpToolError(f"{who} may not call {spec.name}; needs one of: {needed}")
        try:
            return await anyio.to_thread.run_sync(lambda: spec.run(context(), arguments))
        except (ToolError, ValidationError, ValueError) as exc:
            raise McpToolError(f"{spec.name}: {exc}") from exc

    parameters = [
        inspect.Parameter(
            field_name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[field.annotation, field],
            default=inspect.Parameter.empty if field.is_required() else field.get_default(),
        )
        for field_name, field in spec.input_model.model_fields.items()
    ]
    call.__signature__ = inspect.Signature(parameters, return_annotation=spec.output_model)  # type: ignore[attr-defined]
    call.__annotations__ = {
        **{p.name: p.annotation for p in parameters},
        "return": spec.output_model,
    }
    call.__name__ = spec.name
    return call


class McpKeyGate:
    """``/mcp`` behind the service's API keys: ``x-api-key`` (or ``Authorization: Bearer``);
    401 without a known key. Roles are checked per tool."""

    def __init__(self, app: ASGIApp, keys: KeyStore) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        key = headers.get(b"x-api-key", b"").decode("latin-1")
        bearer = headers.get(b"authorization", b"").decode("latin-1")
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip()
        principal = await anyio.to_thread.run_sync(self.keys.resolve, key) if key else None
        if principal is None:
            message = "unknown API key" if key else "missing API key: send it in x-api-key"
            body = {"error": {"status": 401, "code": "unauthenticated", "message": message}}
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        token = current_principal.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            current_principal.reset(token)


class McpMount:
    """The ``/mcp`` route: a fresh MCP server per app lifespan (an SDK session manager runs
    once), stateless Streamable HTTP, behind the key gate."""

    def __init__(self) -> None:
        self._endpoint: ASGIApp | None = None

    @contextlib.asynccontextmanager
    async def serving(self, state: Any) -> AsyncIterator[None]:
        server = build_mcp_server(state.tool_context)
        server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True)
        async with server.session_manager.run():
            self._endpoint = McpKeyGate(StreamableHTTPASGIApp(server.session_manager), state.keys)
            try:
                yield
            finally:
                self._endpoint = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._endpoint is None:
            body = b'{"error": {"status": 503, "code": "unavailable", "message": "starting"}}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self._endpoint(scope, receive, send)
