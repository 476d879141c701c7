"""Deterministic tools over a read-only view of the pool and a clock (DESIGN §3).

Each tool is ``fn(ctx: ToolContext, request: <Input>) -> <Output>`` with pydantic models whose
JSON schema is what an LLM sees. Same inputs, same outputs; tools never write.
"""
