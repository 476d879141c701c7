"""A worker process for the kill/restart test: runs one step of an ops_chat thread, and can
SIGKILL itself at a chosen point, as a crashed machine would.

python -m tests.agents.crash_worker --db URL --sim PATH --thread T --step start|approve|continue
    [--kill-at after_apply|mid_send|after_execute]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from dataclasses import replace
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from agents.executor.dispatcher import DispatchSettings
from agents.lease import LeaseHeld
from agents.llm.offline import OfflinePlanner
from agents.persistence import open_checkpointer
from agents.policy import load_policy
from agents.registry import build_graph
from agents.runs import RunResult, run_graph
from agents.runtime import AgentRuntime
from connectors.base import ConnectorSet
from inventory.clock import ticking_world_clock
from inventory.config import Settings
from inventory.db import make_engine

REQUEST = "ship 100 pairs of RB001-BLK-40 from DC-SHA to SHA-S01"
DECISION = {
    "decisions": [{"type": "approve"}],
    "principal": {"name": "alice", "roles": ["approver"]},
}
LEASE_S = 1.0


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAfterSend:
    """The WMS client, but the process dies right after the WMS accepted the order."""

    def __init__(self, wms: Any) -> None:
        self._wms = wms

    def create_transfer_order(self, *args: Any, **kwargs: Any) -> Any:
        self._wms.create_transfer_order(*args, **kwargs)
        die()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wms, name)


def make_runtime(db: str, connectors: ConnectorSet, kill_at: str | None = None) -> AgentRuntime:
    engine = make_engine(db)
    if kill_at == "mid_send":
        connectors = replace(connectors, wms=KillAfterSend(connectors.wms))
    # The demo service's clock: the world's, advancing in real time, so a dead worker's outbox
    # claim lapses after LEASE_S as it would in production.
    clock = ticking_world_clock(engine)
    return AgentRuntime(
        engine=engine,
        settings=Settings(database_url=db, clock="world"),
        llm=OfflinePlanner(clock),
        connectors=connectors,
        clock=clock,
        policy=load_policy(),
        dispatch=DispatchSettings(lease_s=LEASE_S, backoff_initial_s=0.0),
    )


def run_step(
    runtime: AgentRuntime, thread: str, step: str, kill_at: str | None = None
) -> RunResult:
    """One step of the thread on a fresh checkpointer, as a (re)started worker would run it."""
    kill_node = {"after_apply": "apply_decisions", "after_execute": "execute"}.get(kill_at or "")

    def on_update(chunk: dict[str, Any]) -> None:
        if kill_node in chunk:
            die()

    with open_checkpointer(runtime.settings) as saver:
        graph = build_graph("ops_chat", runtime, saver)
        config = {"configurable": {"thread_id": thread}}
        if step == "start":
            payload: Any = {"messages": [HumanMessage(REQUEST)]}
        elif step == "approve":
            payload = Command(resume=DECISION)
        else:
            time.sleep(LEASE_S + 0.2)  # let the dead worker's outbox claim lapse
            # The human's answer is re-sent if the crash came before it was checkpointed.
            waiting = graph.get_state(config).interrupts
            payload = Command(resume=DECISION) if waiting else None
        deadline = time.monotonic() + 15
        while True:
            try:
                return run_graph(
                    runtime,
                    graph,
                    assistant_id="ops_chat",
                    thread_id=thread,
                    payload=payload,
                    on_update=on_update,
                    lease_ttl_s=LEASE_S,
                )
            except LeaseHeld:  # the killed worker's lease has not lapsed yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--sim", required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--step", choices=["start", "approve", "continue"], required=True)
    parser.add_argument("--kill-at", choices=["after_apply", "mid_send", "after_execute"])
    args = parser.parse_args()
    with ConnectorSet.simulated(args.sim) as connectors:
        runtime = make_runtime(args.db, connectors, args.kill_at)
        result = run_step(runtime, args.thread, args.step, args.kill_at)
    print(json.dumps({"status": result.status, "interrupts": len(result.interrupts)}))


if __name__ == "__main__":
    main()
