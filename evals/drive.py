"""Drive a compiled graph through a scenario's trigger, answering approval interrupts as scripted.

This is what the service's worker and approval endpoint do, minus HTTP, on the same run path
(``agents.runs``): start a thread with the trigger's input, and each time the graph stops at
``interrupt()`` hand the payload to the (scripted) human and resume with ``Command(resume=...)``.
"""

from __future__ import annotations

import datetime as dt
import json
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.types import Command
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.engine import Engine

from agents.runs import run_graph
from evals.approver import ApprovalRequest, ScriptedApprover
from evals.observation import PlanSeen
from evals.scenario import Scenario


class DriveResult(BaseModel):
    status: str = "completed"
    error: str | None = None
    thread_ids: list[str] = Field(default_factory=list)
    interrupts: int = 0
    ignored_requests: int = 0
    duplicate_deliveries: int = Field(
        default=0, description="Alert deliveries the admission recognised as already received."
    )
    nodes: list[str] = Field(default_factory=list)
    tool_calls: list[str] = Field(default_factory=list)
    plans: list[PlanSeen] = Field(default_factory=list)
    final_reply: str | None = None


def _tool_calls(values: dict[str, Any]) -> list[str]:
    """Tool names the run called, from the LangChain messages and any explicit trace in state."""
    names: list[str] = []
    for message in values.get("messages") or []:
        if isinstance(message, AIMessage):
            names += [call["name"] for call in message.tool_calls]
    for entry in values.get("tool_calls") or values.get("trace") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name") or entry.get("tool"), str):
            names.append(entry.get("name") or entry["tool"])
        elif isinstance(entry, str):
            names.append(entry)
    return names


def _plans(values: dict[str, Any]) -> list[PlanSeen]:
    """Each plan_transfers call of the chat with the arguments it ran with (the result's
    ``artifact``: names resolved) and its totals, so a reply can be judged against its plan."""
    calls: dict[str, dict[str, Any]] = {}
    plans: list[PlanSeen] = []
    for message in values.get("messages") or []:
        if isinstance(message, AIMessage):
            calls.update({c["id"] or "": c for c in message.tool_calls})
        elif isinstance(message, ToolMessage) and message.name == "plan_transfers":
            artifact = message.artifact if isinstance(message.artifact, dict) else {}
            args = artifact.get("args") or calls.get(message.tool_call_id, {}).get("args") or {}
            seen = PlanSeen(
                city=args.get("city"),
                rain=[dict(r) for r in args.get("rain") or [] if isinstance(r, dict)],
                window_days=args.get("window_days"),
            )
            try:
                out = json.loads(message.text)
            except ValueError:
                out = None
            if message.status == "error" or not isinstance(out, dict):
                plans.append(seen.model_copy(update={"error": message.text[:300]}))
                continue
            totals = out.get("totals") or {}
            plans.append(
                seen.model_copy(
                    update={
                        "shipments": int(totals.get("shipments") or 0),
                        "units": int(totals.get("units") or 0),
                        "expected_value": float(totals.get("expected_value") or 0.0),
                        "cost": float(totals.get("cost") or 0.0),
                        "net_value": float(totals.get("net_value") or 0.0),
                        "empty_reason": out.get("empty_reason"),
                    }
                )
            )
    return plans


def _final_reply(values: dict[str, Any]) -> str | None:
    for message in reversed(values.get("messages") or []):
        if isinstance(message, AIMessage) and message.text:
            return message.text
    report = values.get("report") or values.get("summary")
    if isinstance(report, str):
        return report
    if isinstance(report, dict):
        text = report.get("text") or report.get("summary")
        return text if isinstance(text, str) else None
    return None


def where(exc: BaseException) -> str:
    """`` (at file:line in function)`` of the innermost frame of our own code that raised."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if "site-packages" not in f.filename
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {Path(frame.filename).name}:{frame.lineno} in {frame.name})"


class GraphDriver:
    """Runs one scenario's trigger on ``graph`` with ``approver`` answering interrupts."""

    def __init__(
        self,
        graph: Any,
        engine: Engine,
        scenario: Scenario,
        approver: ScriptedApprover,
        *,
        advance_clock: Callable[[dt.timedelta], None],
        sweep_expired: Callable[[], list[str]],
        thread_prefix: str,
        admit_alert: Callable[[dict[str, Any], int], tuple[str, bool]] | None = None,
    ) -> None:
        self.graph = graph
        self.engine = engine
        self.scenario = scenario
        self.approver = approver
        self.advance_clock = advance_clock
        self.sweep_expired = sweep_expired
        self.thread_prefix = thread_prefix
        self.admit_alert = admit_alert
        self.result = DriveResult()

    def _stream(self, payload: Any, config: dict[str, Any]) -> None:
        """One run on the one run path (Run row, thread lease), as the service would run it."""

        def seen(chunk: Any) -> None:
            if isinstance(chunk, dict):
                self.result.nodes += [name for name in chunk if not name.startswith("__")]

        run_graph(
            self.engine,
            self.graph,
            assistant_id=self.scenario.trigger.assistant_id,
            thread_id=config["configurable"]["thread_id"],
            payload=payload,
            trigger="eval",
            on_update=seen,
        )

    def _answer_interrupts(self, config: dict[str, Any]) -> bool:
        """Resume until the thread finishes; False when the approver left a request pending."""
        for round_index in range(self.scenario.approver.max_rounds):
            state = self.graph.get_state(config)
            pending = list(state.interrupts)
            if not pending:
                return True
            self.result.interrupts += len(pending)
            answers: dict[str, Any] = {}
            for interrupt in pending:
                try:
                    request = ApprovalRequest.model_validate(interrupt.value)
                except ValidationError as exc:
                    raise RuntimeError(
                        f"interrupt payload is not an approval request: {exc.errors()[:2]}"
                    ) from exc
                answer = self.approver.decide(request, round_index=round_index)
                if answer is None:
                    self.result.ignored_requests += 1
                    return False
                answers[interrupt.id] = answer
            resume = next(iter(answers.values())) if len(answers) == 1 else answers
            self._stream(Command(resume=resume), config)
        raise RuntimeError(
            f"still waiting for approval after {self.scenario.approver.max_rounds} rounds"
        )

    def _run_thread(self, thread_id: str, payload: Any) -> bool:
        config = {"configurable": {"thread_id": thread_id}}
        self.result.thread_ids.append(thread_id)
        self._stream(payload, config)
        return self._answer_interrupts(config)

    def run(self) -> DriveResult:
        trigger = self.scenario.trigger
        try:
            if trigger.alert is not None:
                payload = dict(trigger.alert.payload)
                for delivery in range(trigger.alert.repeat):
                    thread, duplicate = f"{self.thread_prefix}-alert-{delivery}", False
                    if self.admit_alert is not None:
                        thread, duplicate = self.admit_alert(payload, delivery)
                    if duplicate:  # the service starts nothing for an alert it already has
                        self.result.duplicate_deliveries += 1
                        continue
                    finished = self._run_thread(thread, {"alert": payload})
                    self._after_thread(thread, finished)
            else:
                thread = f"{self.thread_prefix}-chat"
                finished = True
                for turn in trigger.chat:
                    config = {"configurable": {"thread_id": thread}}
                    if thread not in self.result.thread_ids:
                        self.result.thread_ids.append(thread)
                    self._stream({"messages": [HumanMessage(content=turn.content)]}, config)
                    finished = self._answer_interrupts(config)
                    if not finished:
                        break
                self._after_thread(thread, finished)
        except Exception as exc:  # the scenario fails with the reason; the suite goes on
            self.result.status = "error"
            self.result.error = f"{type(exc).__name__}: {exc}{where(exc)}"
        return self.result

    def _after_thread(self, thread_id: str, finished: bool) -> None:
        config = {"configurable": {"thread_id": thread_id}}
        values = self.graph.get_state(config).values or {}
        self.result.tool_calls += _tool_calls(values)
        self.result.plans += _plans(values)
        reply = _final_reply(values)
        if reply:
            self.result.final_reply = reply
        if not finished:
            self.result.status = "interrupted"
            hours = self.scenario.approver.advance_clock_hours
            if hours:
                self.advance_clock(dt.timedelta(hours=hours))
                self.sweep_expired()
