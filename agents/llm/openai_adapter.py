"""The openai-client adapter: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

What small local models get wrong is repaired here, and every repair is recorded on the returned
message (``invalid_tool_calls`` and ``response_metadata["repairs"]``) so the run's tool calls
show it:
- arguments sent as a JSON object instead of a string, or as JSON encoded twice, are accepted;
- tool calls written as text (``agents.llm.text_calls``) become tool calls, or are refused;
- chat-template tokens a server failed to stop on (``<|im_end|>``, ``<|im_start|>``) are
  removed; a reply of nothing else is returned empty, not asked again;
- a malformed or unknown call is sent back to the model with what was wrong, and an empty reply
  is answered with a nudge, at most ``max_repairs`` times; after that the adapter raises instead
  of returning a message the graph would read as "done".

Transport: only retryable failures are retried (``agents.llm.retry``); a read timeout is not,
because the server is still working on the request. The default timeout (300 s) suits a local
model on CPU. When a client streams the run's tokens (``agents.llm.tokens``), the request is
streamed and content deltas are relayed as they come; a server that refuses streaming (HTTP 400)
is asked again without, and not asked to stream again.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import ValidationError

from agents.llm import retry, tokens
from agents.llm.base import DROPPED_ARGUMENTS, LLMError, ToolDefinition
from agents.llm.offline_answers import loads
from agents.llm.text_calls import parse_text_calls, strip_template_tokens

#: The repair kind of a reply that carried chat-template tokens (``<|im_start|>``), removed.
TEMPLATE_TOKENS = "template_tokens"
EMPTY_REPLY_NOTE = (
    "Your last reply was empty. Answer the user's question in words, or call one of the tools."
)


#: The repair kind of an answer that copied the empty-reply nudge's own words.
ECHOED_NUDGE = "echoed_nudge"
_NUDGE_PHRASES = (
    "Your last reply was empty.",
    "The tool results say:",
    "Answer the user with that.",
    "Answer the user's question in words, or call one of the tools.",
)


def without_nudge(content: str) -> str | None:
    """An answer without the words of the empty-reply nudge it copied, or None when it copied
    none. Measured with Qwen2.5-Coder-1.5B (chat-plan-rain-zh, 2026-12-06 22:40 UTC): nudged
    after an empty reply, it answered with the whole nudge -- "Your last reply was empty. The
    tool results say: 调拨计划：…" -- which the user read as is. The quoted results stay."""
    if not any(phrase in content for phrase in _NUDGE_PHRASES):
        return None
    for phrase in _NUDGE_PHRASES:
        content = content.replace(phrase, "")
    return content.strip()


#: Repair kind: a final answer written as a JSON object with an ``answer`` field, as the tool
#: results are, unwrapped to its words.
JSON_ANSWER = "json_answer"
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def unwrapped_answer(content: str) -> str | None:
    """The words of an answer written as ``{"answer": "..."}``, or None when it is not one.
    Measured with Qwen2.5-Coder-1.5B (chat-plan-rain-zh, 2026-12-06 22:19 UTC): after a plan it
    answered in the tool results' own shape, ``{"answer": "调拨计划…"}``, which the user would
    have read as JSON."""
    text = content.strip()
    if fenced := _FENCE.match(text):
        text = fenced.group(1)
    answer = (loads(text) or {}).get("answer")
    return answer.strip() if isinstance(answer, str) and answer.strip() else None


def empty_reply_note(messages: Sequence[BaseMessage]) -> str:
    """The nudge after an empty reply, quoting the ``answer`` lines of this turn's tool results
    (ops_chat states a stock or forecast result in words first): measured with
    Qwen2.5-Coder-1.5B, the bare nudge after a correct lookup got "Sorry, I didn't get any
    information"."""
    answers = []
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, ToolMessage):
            try:
                data = json.loads(message.text)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("answer"), str):
                answers.insert(0, data["answer"])
    if not answers:
        return EMPTY_REPLY_NOTE
    quoted = " ".join(dict.fromkeys(answers))
    return f"Your last reply was empty. The tool results say: {quoted} Answer the user with that."


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
                _wire_call(call["id"] or "", call["name"], call["args"])
                for call in message.tool_calls
            ]
        return payload
    raise LLMError(f"cannot send a {type(message).__name__} to an OpenAI-compatible model")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _wire_call(call_id: str, name: str, args: Any) -> dict[str, Any]:
    text = args if isinstance(args, str) else _json(args)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Arguments as a dict from a JSON string, an object, or JSON encoded twice; else why not."""
    args = raw
    for _ in range(2):  # a string holding a JSON string: decode once more
        if not isinstance(args, str):
            break
        if not args.strip():
            args = {}
            break
        try:
            args = json.loads(args)
        except json.JSONDecodeError as exc:
            return None, f"not valid JSON ({exc.msg} at position {exc.pos})"
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None, f"must be a JSON object, got {type(args).__name__}"
    return args, None


def check_call(name: str, raw_args: Any, tools: dict[str, ToolDefinition]) -> str | None:
    """Why this tool call cannot be run, or None when it can."""
    if name not in tools:
        return f"unknown tool {name!r}; available tools: {', '.join(sorted(tools))}"
    args, problem = parse_arguments(raw_args)
    if args is None:
        return f"arguments of {name} are {problem}"
    model = tools[name].input_model
    if model is not None:
        try:
            model.model_validate(args)
        except ValidationError as exc:
            return f"arguments of {name} are invalid: {exc.errors(include_url=False)}"
    return None


def drop_invalid_optional(
    name: str, raw_args: Any, tools: dict[str, ToolDefinition]
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """A lenient tool's arguments without the optional ones that fail its schema, and why each
    was dropped; None when nothing can be saved that way (a required argument is wrong, the
    JSON is unreadable, or the call is valid as it is).

    Measured with Qwen2.5-Coder-1.5B: it filled every field of plan_transfers' ``constraints``
    with junk, was refused three times and the turn failed, though the request needed none of
    them. Dropping such a field runs the call on the defaults; the result says what was ignored
    (``ignored_arguments``), so neither the model nor the run log is misled.
    """
    tool = tools.get(name)
    if tool is None or not tool.lenient or tool.input_model is None:
        return None
    args, _problem = parse_arguments(raw_args)
    if args is None:
        return None
    fields = tool.input_model.model_fields
    try:
        tool.input_model.model_validate(args)
        return None
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    why: dict[str, str] = {}
    dated = _dates_of_datetimes(args, errors, why)
    if dated is not None:
        try:
            tool.input_model.model_validate(dated)
            return dated, why
        except ValidationError as exc:
            args, errors, why = dated, exc.errors(include_url=False), {}
    for error in errors:
        top = str(error["loc"][0]) if error["loc"] else ""
        if top not in args or (top in fields and fields[top].is_required()):
            return None
        where = ".".join(map(str, error["loc"]))
        why.setdefault(top, f"{where}: {error['msg']}")
    kept = {k: v for k, v in args.items() if k not in why}
    try:
        tool.input_model.model_validate(kept)
    except ValidationError:
        return None
    return kept, why


def _dates_of_datetimes(
    args: dict[str, Any], errors: list[Any], why: dict[str, str]
) -> dict[str, Any] | None:
    """``args`` with each datetime given where a date is asked cut to its date, or None when
    there is none. Measured through llama.cpp's server: plan_transfers' rain scenario with
    ``start="2015-07-11T08:00:00+00:00"`` was dropped whole, and the plan ran without the rain
    the user described."""
    fixed = json.loads(json.dumps(args))
    found = False
    for error in errors:
        loc = error["loc"]
        if error["type"] != "date_from_datetime_inexact" or not loc:
            continue
        node = fixed
        for key in loc[:-1]:
            node = node[key]
        value = node[loc[-1]]
        if not isinstance(value, str) or not re.match(r"\d{4}-\d{2}-\d{2}T", value):
            continue
        node[loc[-1]] = value[:10]
        where = ".".join(map(str, loc))
        why[str(loc[0])] = f"{where}: a datetime where a date is asked; its date {value[:10]} used"
        found = True
    return fixed if found else None


class OpenAIChatModel:
    """Chat completions with tools, parallel tool calls, a timeout, bounded retries and repairs."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 2,
        max_repairs: int = 2,
        max_output_tokens: int | None = None,
        context_tokens: int = 8192,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.max_repairs = max_repairs
        self.max_retries = max_retries
        self.max_output_tokens = max_output_tokens
        #: The model's window: ops_chat fits tool results and history to it.
        self.context_tokens = context_tokens
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._streams = True  # until the server refuses a streamed request
        # Local servers (vLLM, Ollama) take no key, but the client insists on one. Retries are
        # ours (``_complete``): the client's own would repeat read timeouts too.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            max_retries=0,
            http_client=http_client,
        )

    def invoke(self, messages: Sequence[BaseMessage], tools: Sequence[ToolDefinition]) -> AIMessage:
        by_name = {tool.name: tool for tool in tools}
        transcript = [_to_openai(m) for m in messages]
        repairs: list[dict[str, Any]] = []
        invalid: list[dict[str, Any]] = []
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        last_problem = ""
        nudged = False  # an empty reply was answered with ``empty_reply_note``
        for attempt in range(1, self.max_repairs + 2):
            try:
                reply = self._complete(transcript, tools, usage)
            except LLMError as exc:  # e.g. a timeout while repairing: keep what went before
                raise LLMError(
                    str(exc), invalid_tool_calls=invalid, repairs=repairs, usage=usage
                ) from exc
            content = reply.content or ""
            if (cleaned := strip_template_tokens(content)) != content:
                repairs.append(_repair(attempt, TEMPLATE_TOKENS, content[:300]))
                content = cleaned
                if not content.strip() and not reply.tool_calls:
                    # The model ended its turn without words; the graph judges that against the
                    # turn's tool results (asking again costs a whole slow call for little).
                    return self._message("", [], repairs, invalid, usage)
            calls = [
                (
                    call.id or f"call_{uuid.uuid4().hex[:12]}",
                    call.function.name,
                    call.function.arguments,
                )
                for call in reply.tool_calls or []
            ]
            if not calls and (text := parse_text_calls(content)).found:
                if text.calls:
                    calls = [
                        (f"call_{uuid.uuid4().hex[:12]}", n, a if isinstance(a, str) else _json(a))
                        for n, a in text.calls
                    ]
                    repairs.append(
                        _repair(
                            attempt, "text_tool_call", f"tool call written as text ({text.form})"
                        )
                    )
                    content = ""
                else:
                    form = f" ({text.form})" if text.form else ""
                    last_problem = f"{text.problem}{form}; its text was not shown to the user"
                    repairs.append(_repair(attempt, "text_tool_call_refused", last_problem))
                    transcript.append({"role": "assistant", "content": content})
                    transcript.append({"role": "user", "content": _text_call_note(text.problem)})
                    continue
            if not calls and not content.strip():
                last_problem = "an empty reply"
                repairs.append(_repair(attempt, "empty_reply", "empty reply, asked again"))
                transcript.append({"role": "user", "content": empty_reply_note(messages)})
                nudged = True
                continue
            calls = [self._lenient(call, by_name, attempt, repairs) for call in calls]
            problems = {cid: p for cid, n, a in calls if (p := check_call(n, a, by_name))}
            if not problems:
                if not calls and (words := unwrapped_answer(content)) is not None:
                    repairs.append(_repair(attempt, JSON_ANSWER, content[:300]))
                    content = words
                if nudged and not calls and (own := without_nudge(content)) is not None:
                    repairs.append(_repair(attempt, ECHOED_NUDGE, content[:300]))
                    content = own
                if not calls and (echoed := echoed_tool_error(content, messages)) is not None:
                    repairs.append(_repair(attempt, "echoed_tool_error", content[:300]))
                    content = echoed
                return self._message(content, calls, repairs, invalid, usage)
            last_problem = "; ".join(f"{cid}: {p}" for cid, p in problems.items())
            for cid, name, args in calls:
                if cid in problems:
                    invalid.append(_invalid(cid, name, args, problems[cid], attempt))
            repairs.append(_repair(attempt, "invalid_tool_call", last_problem))
            # Show the model its own bad calls and what was wrong with each, then ask again.
            transcript.append(
                {
                    "role": "assistant",
                    "content": content or None,
                    "tool_calls": [_wire_call(cid, n, a) for cid, n, a in calls],
                }
            )
            for cid, name, _args in calls:
                problem = problems.get(cid)
                transcript.append(
                    {
                        "role": "tool",
                        "tool_call_id": cid,
                        "content": f"error: {problem}. Next: {_next_step(name, by_name)}"
                        if problem
                        else "not run: fix the other calls, then call all of them again",
                    }
                )
        tries = self.max_repairs + 1
        raise LLMError(
            f"{self.name} gave {last_problem} {tries} times in a row"
            if last_problem == "an empty reply"
            else f"{self.name} returned unusable output {tries} times: {last_problem}",
            invalid_tool_calls=invalid,
            repairs=repairs,
            usage=usage,
        )

    @staticmethod
    def _lenient(
        call: tuple[str, str, Any],
        tools: dict[str, ToolDefinition],
        attempt: int,
        repairs: list[dict[str, Any]],
    ) -> tuple[str, str, Any]:
        cid, name, raw = call
        saved = drop_invalid_optional(name, raw, tools)
        if saved is None:
            return call
        kept, why = saved
        detail = f"{cid}: {name} ran without " + "; ".join(why.values())
        repairs.append(
            {**_repair(attempt, DROPPED_ARGUMENTS, detail[:500]), "call_id": cid, "arguments": why}
        )
        return cid, name, _json(kept)

    @staticmethod
    def _message(
        content: str,
        calls: list[tuple[str, str, Any]],
        repairs: list[dict[str, Any]],
        invalid: list[dict[str, Any]],
        usage: dict[str, int],
    ) -> AIMessage:
        tool_calls = []
        for cid, name, raw in calls:
            args, _ = parse_arguments(raw)
            tool_calls.append({"id": cid, "name": name, "args": args or {}, "type": "tool_call"})
            if not isinstance(raw, str):
                repairs.append(
                    _repair(0, "object_arguments", f"{cid}: arguments sent as an object")
                )
        return AIMessage(
            content=content,
            tool_calls=tool_calls,
            invalid_tool_calls=invalid,
            response_metadata={"repairs": repairs} if repairs else {},
            usage_metadata=usage if usage["total_tokens"] else None,
        )

    def _complete(
        self,
        transcript: list[dict[str, Any]],
        tools: Sequence[ToolDefinition],
        usage: dict[str, int],
    ) -> Any:
        kwargs: dict[str, Any] = {"model": self.model, "messages": transcript}
        if tools:
            kwargs["tools"] = [tool.openai_schema() for tool in tools]
            kwargs["parallel_tool_calls"] = True
        if self.max_output_tokens:
            kwargs["max_tokens"] = self.max_output_tokens
        sink = tokens.current_sink() if self._streams else None
        if sink is not None:
            kwargs.update(stream=True, stream_options={"include_usage": True})
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.chat.completions.create(**kwargs)
                if sink is not None:
                    return _collect(response, usage, tokens.TokenRelay(sink), self.name)
                break
            except openai.BadRequestError as exc:
                if sink is None:
                    raise LLMError(retry.describe(exc, self.name, attempt, self.timeout_s)) from exc
                # A server without streaming (or without stream_options): ask plainly, for good.
                self._streams, sink = False, None
                kwargs.pop("stream"), kwargs.pop("stream_options")
                attempt -= 1
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                if retry.retryable(exc) and attempt <= self.max_retries:
                    self._sleep(retry.delay_s(exc, attempt))
                    continue
                raise LLMError(retry.describe(exc, self.name, attempt, self.timeout_s)) from exc
        _count_usage(response.usage, usage)
        if not response.choices:
            raise LLMError(f"{self.name} returned no choices")
        return response.choices[0].message


def _count_usage(reported: Any, usage: dict[str, int]) -> None:
    if reported is not None:
        usage["input_tokens"] += reported.prompt_tokens or 0
        usage["output_tokens"] += reported.completion_tokens or 0
        usage["total_tokens"] += reported.total_tokens or 0


@dataclass
class _Function:
    name: str = ""
    arguments: Any = ""


@dataclass
class _Call:
    id: str | None = None
    function: _Function = field(default_factory=_Function)


@dataclass
class _Reply:
    """A streamed reply put back together, shaped like the client's non-streamed message."""

    content: str
    tool_calls: list[_Call]


def _collect(chunks: Iterable[Any], usage: dict[str, int], relay: Any, name: str) -> _Reply:
    """Join a streamed completion: content deltas are relayed as they arrive; tool-call deltas
    are joined by their index (ids and names come once, arguments in pieces)."""
    content: list[str] = []
    calls: dict[int, _Call] = {}
    seen_choice = False
    try:
        for chunk in chunks:
            _count_usage(getattr(chunk, "usage", None), usage)
            for choice in chunk.choices or []:
                seen_choice = True
                delta = choice.delta
                if delta is None:
                    continue
                if delta.content:
                    content.append(delta.content)
                    relay.feed(delta.content)
                for part in delta.tool_calls or []:
                    call = calls.setdefault(part.index or 0, _Call())
                    call.id = part.id or call.id
                    if part.function is not None:
                        call.function.name += part.function.name or ""
                        piece = part.function.arguments
                        if isinstance(piece, dict):  # an object, not a string: keep it whole
                            call.function.arguments = piece
                        elif piece:
                            call.function.arguments += piece
    except (openai.APIError, httpx.HTTPError) as exc:
        raise LLMError(f"{name} broke off its streamed reply: {exc}") from exc
    if not seen_choice:
        raise LLMError(f"{name} returned no choices")
    return _Reply(content="".join(content), tool_calls=[calls[i] for i in sorted(calls)])


def _squash(text: str) -> str:
    return " ".join(text.split())


def _answer_of(content: str) -> str:
    """The ``answer`` a tool result addresses to the user, if it is JSON with one."""
    answer = (loads(content) or {}).get("answer")
    return answer if isinstance(answer, str) else ""


#: A copied run of an error this long, covering at least half the answer, makes the answer a copy
#: of the error: seen live (chat-plan-rain-zh, "Error: request matches 198 series ...") with words
#: around the copy, which the answer-inside-the-error test missed.
COPIED_RUN = 40


def _copied(said: str, source: str) -> bool:
    """Whether ``said`` is ``source``'s text: inside it, or mostly one run copied from it."""
    if not said or not source:
        return False
    if said in source:
        return True
    block = SequenceMatcher(None, said, source, autojunk=False).find_longest_match()
    return block.size >= COPIED_RUN and block.size * 2 >= len(said)


def echoed_tool_error(content: str, messages: Sequence[BaseMessage]) -> str | None:
    """What to tell the user instead of a final answer that only repeats a tool's error.

    Measured with Qwen2.5-Coder-1.5B (``benchmarks/llm_chat.py``): after a tool refused its
    arguments ("unknown sku 'RB001'; did you mean ... Next: call list_catalog(...)"), it answered
    the user with a sentence copied from that error -- advice meant for the model, read by a
    person as nonsense. Such an answer becomes a plain statement that the tool refused, in the
    user's language; the model's text stays in the repair record.
    """
    # Measured through llama.cpp's server: the error copied inside Qwen's <tool_response> tags.
    # Compared without case: a copy that capitalises the error's first word is still a copy.
    said = _squash(re.sub(r"</?tool_response>", " ", content)).lower()
    if len(said) < 20:
        return None
    this_turn: list[ToolMessage] = []  # the results since the user last spoke, latest first
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, ToolMessage):
            this_turn.append(message)
    for result in this_turn:
        error = _squash(result.text)
        if result.status != "error" or not _copied(said, error.lower()):
            continue
        if _copied(said, _squash(_answer_of(result.text)).lower()):
            # A refused proposal's ``answer`` is written for the user (ops_chat): copying it
            # is an answer, not an echo of advice meant for the model.
            return None
        detail = error.removeprefix("error: ").split(" Next:", 1)[0][:300]
        asked = next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        if any("\u4e00" <= ch <= "\u9fff" for ch in asked):
            return f"未能完成：工具 {result.name} 拒绝了这次调用（{detail}）。"
        return f"I could not finish this: {result.name} refused the call ({detail})."
    return None


def _repair(attempt: int, kind: str, detail: str) -> dict[str, Any]:
    return {"attempt": attempt, "kind": kind, "detail": detail}


def _invalid(cid: str, name: str, args: Any, error: str, attempt: int) -> dict[str, Any]:
    text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False, default=str)
    return {
        "type": "invalid_tool_call",
        "id": cid,
        "name": name,
        "args": text,
        "error": f"attempt {attempt}: {error}",
    }


def _next_step(name: str, tools: dict[str, ToolDefinition]) -> str:
    if name not in tools:
        return "call one of the available tools by its exact name"
    return f"call {name} again with arguments that are one JSON object matching its schema"


def _text_call_note(problem: str | None) -> str:
    return (
        f"Your reply looked like a tool call written as text, but {problem}. Call the tool "
        "through the tool-calling interface with JSON arguments, or answer in plain words."
    )
