"""``stockpilot chat``: an interactive ops chat that shows proposals and asks for decisions."""

from __future__ import annotations

import uuid

import typer
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command

from agents.runs import RunResult, run_graph
from inventory.config import get_settings
from inventory.db import get_engine
from stockpilot_cli.agent_io import (
    API_KEY_HELP,
    agent_session,
    ask_decisions,
    console,
    identify,
    may_decide,
    print_requests,
    resume_principal,
)

EXIT_WORDS = {"exit", "quit", "bye", "退出"}


def _print_reply(result: RunResult, seen: int) -> int:
    messages = result.values.get("messages") or []
    for message in messages[seen:]:
        if isinstance(message, AIMessage) and message.text:
            console.print(f"[bold green]stockpilot[/]: {message.text}")
    return len(messages)


def chat(
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="STOCKPILOT_API_KEY", help=API_KEY_HELP, show_envvar=False
    ),
    thread: str | None = typer.Option(None, "--thread", help="Continue a thread."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Ask about stock, forecasts and transfers, in English or Chinese; decide on proposals."""
    thread_id = thread or f"chat-{uuid.uuid4().hex[:12]}"
    who = identify(get_engine(db), api_key, demo=get_settings().demo)
    roles = ", ".join(str(r) for r in who.roles)
    console.print(f"thread [bold]{thread_id}[/] as {who.name} ({roles}); type 'exit' to leave.")
    with agent_session("ops_chat", db) as (runtime, graph):
        seen = len(
            graph.get_state({"configurable": {"thread_id": thread_id}}).values.get("messages", [])
        )
        while True:
            try:
                text = console.input("[bold]you[/]: ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not text:
                continue
            if text.lower() in EXIT_WORDS:
                break
            result = run_graph(
                runtime,
                graph,
                assistant_id="ops_chat",
                thread_id=thread_id,
                payload={"messages": [HumanMessage(text)]},
                trigger="chat",
                requested_by=who.name,
            )
            seen = _print_reply(result, seen)
            while result.interrupts:
                request = result.interrupts[0]["value"]
                print_requests(request)
                if not may_decide(who):
                    console.print(
                        f"{who.name} is not an approver: the proposal waits for one "
                        f"(thread {thread_id})"
                    )
                    break
                decisions = ask_decisions(request)
                if decisions is None:
                    console.print(f"left pending on thread {thread_id}")
                    return
                result = run_graph(
                    runtime,
                    graph,
                    assistant_id="ops_chat",
                    thread_id=thread_id,
                    payload=Command(
                        resume={"decisions": decisions, "principal": resume_principal(who)}
                    ),
                    trigger="chat",
                )
                seen = _print_reply(result, seen)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
