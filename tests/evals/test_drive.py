"""The graph driver on a tiny interrupting graph: resume values, rounds, ignored requests."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from sqlalchemy.engine import Engine

from evals.approver import ScriptedApprover
from evals.drive import GraphDriver
from evals.scenario import Scenario


class State(TypedDict, total=False):
    alert: dict[str, Any]
    answers: list[dict[str, Any]]
    report: str


def build(rounds: int) -> Any:
    """Asks ``rounds`` times (like four-eyes), then reports what the humans said."""

    def ask(state: State) -> State:
        answers = list(state.get("answers") or [])
        while len(answers) < rounds:
            answers.append(
                interrupt(
                    {
                        "action_requests": [
                            {
                                "name": "transfer_order",
                                "args": {"subject_id": "TO-1", "lines": [{"sku": "A", "qty": 4}]},
                                "description": "d",
                            }
                        ],
                        "review_configs": [{"action_name": "transfer_order"}],
                    }
                )
            )
        return {"answers": answers}

    def report(state: State) -> State:
        names = [a["principal"]["name"] + ":" + a["decisions"][0]["type"] for a in state["answers"]]
        return {"report": ", ".join(names)}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_node("report", report)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", "report")
    graph.add_edge("report", END)
    return graph.compile(checkpointer=InMemorySaver())


def scenario(**approver: Any) -> Scenario:
    return Scenario.model_validate(
        {
            "id": "drive-test",
            "purpose": "Drives a tiny graph through interrupts.",
            "clock": "2015-07-11T08:00:00",
            "trigger": {"alert": {"payload": {"type": "rain", "city": "Shanghai", "mm": 60}}},
            "approver": approver,
        }
    )


def driver(
    engine: Engine, graph: Any, sc: Scenario, moved: list[dt.timedelta], swept: list[int]
) -> GraphDriver:
    return GraphDriver(
        graph,
        engine,
        sc,
        ScriptedApprover(sc.approver),
        advance_clock=moved.append,
        sweep_expired=lambda: swept.append(1) or [],
        thread_prefix="t",
    )


def test_two_rounds_go_to_two_people_and_the_run_completes(engine: Engine) -> None:
    sc = scenario(principal={"name": "alice"}, second_principal={"name": "bob"})
    result = driver(engine, build(rounds=2), sc, [], []).run()
    assert result.status == "completed", result.error
    assert result.interrupts == 2
    assert result.nodes == ["ask", "report"]
    assert result.final_reply == "alice:approve, bob:approve"


def test_ignored_request_stays_pending_then_the_clock_moves_and_expiry_runs(
    engine: Engine,
) -> None:
    moved: list[dt.timedelta] = []
    swept: list[int] = []
    result = driver(
        engine,
        build(rounds=1),
        scenario(default="ignore", advance_clock_hours=5),
        moved,
        swept,
    ).run()
    assert result.status == "interrupted"
    assert result.ignored_requests == 1
    assert moved == [dt.timedelta(hours=5)] and swept == [1]


def test_an_endless_approval_loop_is_an_error_not_a_hang(engine: Engine) -> None:
    result = driver(engine, build(rounds=10), scenario(max_rounds=3), [], []).run()
    assert result.status == "error"
    assert "still waiting for approval after 3 rounds" in (result.error or "")


def test_duplicate_deliveries_start_nothing(engine: Engine) -> None:
    sc = Scenario.model_validate(
        {
            **scenario().model_dump(exclude={"source"}),
            "trigger": {"alert": {"payload": {"city": "Shanghai"}, "repeat": 2}},
        }
    )
    seen: list[int] = []

    def admit(payload: dict[str, Any], delivery: int) -> tuple[str, bool]:
        seen.append(delivery)
        return "thread-1", delivery > 0

    d = driver(engine, build(rounds=1), sc, [], [])
    d.admit_alert = admit
    result = d.run()
    assert seen == [0, 1]
    assert result.duplicate_deliveries == 1 and result.thread_ids == ["thread-1"]
