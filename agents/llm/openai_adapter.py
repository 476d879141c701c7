"""The openai-client adapter: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Transport failures (429, 5xx, timeouts) are retried by the openai client with backoff, bounded by
``max_retries``. A malformed or unknown tool call is sent back to the model as a tool error and
asked again, at most ``max_repairs`` times; after that the adapter raises instead of quietly
returning a message the graph would read as "done".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import ValidationError

from agents.llm.base import LLMError, ToolDefinition


def _to_openai(message: BaseMessage) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.text}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": message.text}
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if isinstance(message, AIMessage):
        payload: dict[str, Any] = {"role": "assistant", "content": message.text or None}
        if message.tool_calls:
            payload["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
                }
                for call in message.tool_calls
            ]
        return payload
    raise LLMError(f"cannot send a {type(message).__name__} to an OpenAI-compatible model")


def _check_call(name: str, raw_args: str, tools: dict[str, ToolDefinition]) -> str | None:
    """Why this tool call cannot be run, or None when it can."""
    if name not in tools:
        return f"unknown tool {name!r}; available tools: {', '.join(sorted(tools))}"
    try:
        args = json.loads(raw_args or "{}")
    except json.JSONDecodeError as exc:
        return f"arguments of {name} are not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(args, dict):
        return f"arguments of {name} must be a JSON object, got {type(args).__name__}"
    model = tools[name].input_model
    if model is not None:
        try:
            model.model_validate(args)
        except ValidationError as exc:
            return f"arguments of {name} are invalid: {exc.errors(include_url=False)}"
    return None


class OpenAIChatModel:
    """Chat completions with tools, parallel tool calls, timeouts and bounded retries."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        max_repairs: int = 2,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.max_repairs = max_repairs
        # Local servers (vLLM, Ollama) take no key, but the client insists on one.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=http_client,
        )

    def invoke(self, messages: Sequence[BaseMessage], tools: Sequence[ToolDefinition]) -> AIMessage:
        by_name = {tool.name: tool for tool in tools}
        transcript = [_to_openai(m) for m in messages]
        problems: list[str] = []
        for _attempt in range(self.max_repairs + 1):
            reply = self._complete(transcript, tools)
            calls = reply.tool_calls or []
            problems = [
                f"{call.id}: {problem}"
                for call in calls
                if (problem := _check_call(call.function.name, call.function.arguments, by_name))
            ]
            if not problems:
                return AIMessage(
                    content=reply.content or "",
                    tool_calls=[
                        {
                            "id": call.id,
                            "name": call.function.name,
                            "args": json.loads(call.function.arguments or "{}"),
                            "type": "tool_call",
                        }
                        for call in calls
                    ],
                )
            # Show the model its own bad calls and what was wrong with each, then ask again.
            transcript.append(
                reply.model_dump(exclude_none=True, include={"role", "content", "tool_calls"})
            )
            for call in calls:
                problem = _check_call(call.function.name, call.function.arguments, by_name)
                transcript.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": f"error: {problem}"
                        if problem
                        else "not run: fix the other calls",
                    }
                )
        raise LLMError(
            f"{self.name} returned unusable tool calls {self.max_repairs + 1} times: "
            + "; ".join(problems)
        )

    def _complete(self, transcript: list[dict[str, Any]], tools: Sequence[ToolDefinition]) -> Any:
        kwargs: dict[str, Any] = {"model": self.model, "messages": transcript}
        if tools:
            kwargs["tools"] = [tool.openai_schema() for tool in tools]
            kwargs["parallel_tool_calls"] = True
        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.APIStatusError as exc:
            raise LLMError(
                f"{self.name} answered HTTP {exc.status_code} after retries: {exc.message}"
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMError(f"{self.name} unreachable after retries: {exc}") from exc
        if not response.choices:
            raise LLMError(f"{self.name} returned no choices")
        return response.choices[0].message
