"""Bytes agent-chat-ui downloads from the service, on a private copy of the demo world.

    .venv/bin/python benchmarks/ui_payloads.py            # the lean views (what the API serves)
    .venv/bin/python benchmarks/ui_payloads.py --raw      # whole state, as before the lean views

Serves the real assistants in-process (uvicorn on a free port), then, as the UI does: streams a
stock question and a transfer-plan question with ``["values","messages-tuple","custom"]``, reads
the plan thread's state and history, and lists the threads with ``/threads/search``. Prints one
JSON line of byte counts. ``--raw`` turns the lean views off in this process only, to compare.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY = {"x-api-key": "sp-demo-ops-key"}
QUESTIONS = {
    "stock_stream": "How many rain boots are in Shanghai?",
    "plan_stream": "plan transfers for the rain in Shanghai",
}


def _raw_views() -> None:
    """Whole values everywhere: the views before lean payloads."""
    from api.langgraph_compat import lean, runs, views

    def identity(value, *_args):
        return value

    lean.lean_values = identity  # type: ignore[assignment]
    views.lean_values = identity  # type: ignore[assignment]
    runs.lean_values = identity  # type: ignore[assignment]
    runs.lean_event = lambda _event, data: data  # type: ignore[assignment]

    def whole(thread, snapshot, select):
        return views.thread_json(thread, snapshot)

    from api.langgraph_compat import threads

    threads.list_item_json = whole  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", action="store_true", help="whole state (before lean views)")
    parser.add_argument("--threads", type=int, default=8, help="threads in the list (>= 2)")
    args = parser.parse_args()
    if args.raw:
        _raw_views()

    import uvicorn

    from api.app import create_app
    from api.auth import seed_demo_keys
    from inventory import schema
    from inventory.config import Settings
    from inventory.db import get_engine
    from inventory.demo_world import WorldSpec, copy_world, world_template
    from tools.context import ToolContext
    from tools.forecast_demand.tool import ensure_model

    # a fresh pool each time; the forecasters fitted on the demo world are kept beside it
    data_dir = ROOT / "var" / "ui-payloads"
    data_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ui-payloads-"))
    copy_world(world_template(WorldSpec()), work / "pool.sqlite")
    settings = Settings(
        database_url=f"sqlite:///{work / 'pool.sqlite'}", data_dir=data_dir, demo=True
    )
    engine = get_engine(settings.database_url)
    schema.upgrade(engine)
    seed_demo_keys(engine)
    for level in ("sku", "style"):  # the stored forecasters, as after the service's fit jobs
        ensure_model(ToolContext.for_world(engine, settings), level)
    app = create_app(settings, engine=engine)
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    sizes: dict[str, int] = {}
    with httpx.Client(base_url=url, headers=KEY, timeout=600) as client:
        thread_ids = []
        for index in range(max(2, args.threads)):
            name, question = list(QUESTIONS.items())[index % 2]
            thread_id = client.post("/threads", json={}).json()["thread_id"]
            thread_ids.append(thread_id)
            body = {
                "assistant_id": "ops_chat",
                "input": {"messages": [{"role": "user", "content": question}]},
                "stream_mode": ["values", "messages-tuple", "custom"],
                "stream_subgraphs": True,
                "stream_resumable": True,
            }
            with client.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
                raw = b"".join(response.iter_bytes())
            sizes.setdefault(name, len(raw))
        plan_thread = thread_ids[1]
        sizes["plan_state"] = len(client.get(f"/threads/{plan_thread}/state").content)
        sizes["plan_history"] = len(
            client.post(f"/threads/{plan_thread}/history", json={"limit": 10}).content
        )
        search = client.post(
            "/threads/search", json={"metadata": {"graph_id": "ops_chat"}, "limit": 100}
        )
        sizes[f"threads_search_{len(search.json())}"] = len(search.content)
        answer = client.get(f"/threads/{plan_thread}/state").json()["values"]["messages"][-1]
    server.should_exit = True
    print(json.dumps({"raw": args.raw, **sizes, "plan_answer": answer["content"][:160]}))


if __name__ == "__main__":
    main()
