"""agent-chat-ui's requests from a real browser page on another origin (headless Debian chromium,
Playwright for Python): CORS preflight, ``/info``, ``/threads/search``, a thread, ``runs/stream``
with ``["values","messages-tuple","custom"]``, and approve / reject / edit resumes — asked in
English and in Chinese, one browser profile per role, against the real assistants.

Chromium comes from apt (``.ci/run`` installs it); the test skips outside CI when it is absent.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory.models import TransferLine, TransferOrder
from tests.api.conftest import KEYS, free_port
from tests.api.test_real_assistants import service_url  # noqa: F401  (fixture)
from tests.api.test_service_flows import ASK_ABOVE, FOUR_EYES_ABOVE, shipment_worth, wait_for

CHROMIUM = os.environ.get("STOCKPILOT_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE = Path(__file__).with_name("browser_page.html")


def _require_browser() -> None:
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[dev]')"
    if missing is None and not shutil.which(CHROMIUM):
        missing = f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(f"browser test skipped outside CI: {missing}")


@pytest.fixture
def page_origin() -> Iterator[str]:
    """The stand-in page, served from its own origin (localhost, another port)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(PAGE.parent))
    handler.log_message = lambda *_: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


class Profile:
    """One browser profile (context) for one role, its key in localStorage."""

    def __init__(self, browser, origin: str, api_url: str, key: str) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.goto(f"{origin}/{PAGE.name}")
        self.page.evaluate(
            "([url, key]) => { window.API_URL = url; localStorage.setItem(KEY_ITEM, key); }",
            [api_url, key],
        )

    def api(self, path: str, method: str = "GET", body=None) -> dict:
        return self.page.evaluate("([p, m, b]) => api(p, m, b)", [path, method, body])

    def stream(self, thread_id: str, body: dict) -> dict:
        return self.page.evaluate("([t, b]) => stream(t, b)", [thread_id, body])


def _last_values(result: dict) -> dict:
    values = [e["data"] for e in result["events"] if e["event"] == "values"]
    assert values, result
    return values[-1]


def _ai_text(values: dict) -> str:
    return [m for m in values["messages"] if m["type"] == "ai" and m["content"]][-1]["content"]


def _interrupt(result: dict) -> dict:
    found = [e["data"]["__interrupt__"] for e in result["events"] if "__interrupt__" in e["data"]]
    assert found, [e["event"] for e in result["events"]]
    return found[-1][0]["value"]


def _ask(ops: Profile, text: str) -> tuple[str, dict]:
    thread = ops.api("/threads", "POST", {"metadata": {}})
    assert thread["status"] == 200, thread
    thread_id = thread["body"]["thread_id"]
    result = ops.stream(
        thread_id,
        {"assistant_id": "ops_chat", "input": {"messages": [{"type": "human", "content": text}]}},
    )
    assert result["status"] == 200, result
    events = [e["event"] for e in result["events"]]
    assert events[0] == "metadata" and events[-1] == "end" and "error" not in events, events
    assert result["runId"].startswith(f"/threads/{thread_id}/runs/")  # exposed to the page
    return thread_id, result


def _resume(approver: Profile, thread_id: str, decision: dict) -> dict:
    result = approver.stream(
        thread_id,
        {"assistant_id": "ops_chat", "command": {"resume": {"decisions": [decision]}}},
    )
    assert result["status"] == 200, result
    assert result["events"][-1]["data"]["status"] == "success", result["events"][-1]
    return _last_values(result)


@pytest.mark.slow
def test_agent_chat_ui_flows_in_a_browser(
    service_url: str,  # noqa: F811
    page_origin: str,
    any_world_engine: Engine,
) -> None:
    world_engine = any_world_engine  # the service's own pool (SQLite or PostgreSQL)
    _require_browser()
    from playwright.sync_api import sync_playwright

    sku, qty, _ = shipment_worth(world_engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            ops = Profile(browser, page_origin, service_url, KEYS["demo-ops"])
            approver = Profile(browser, page_origin, service_url, KEYS["demo-approver"])

            info = ops.api("/info")  # what the UI probes first; a cross-origin fetch with a key
            assert info["status"] == 200 and info["body"]["flags"]["assistants"]

            # stock questions, English and Chinese
            _, english = _ask(ops, "How many rain boots are in Shanghai?")
            assert "available to promise" in _ai_text(_last_values(english))
            assert any(e["event"] == "messages" for e in english["events"])
            _, chinese = _ask(ops, "上海门店还有多少雨靴？")
            assert "可售" in _ai_text(_last_values(chinese))

            # approve (asked in English)
            thread_id, asked = _ask(ops, f"ship {qty} pairs of {sku} from DC-SHA to SHA-S01")
            request = _interrupt(asked)
            (action,) = request["action_requests"]
            assert "| style | size | units |" in action["description"]
            assert request["review_configs"][0]["args_schema"]["properties"]["lines"]
            forbidden = ops.stream(
                thread_id,
                {
                    "assistant_id": "ops_chat",
                    "command": {"resume": {"decisions": [{"type": "approve"}]}},
                },
            )
            assert forbidden["status"] == 403  # the ops profile may ask, not approve
            approved = _resume(approver, thread_id, {"type": "approve"})
            # approved at once; the service's outbox worker sends it to the WMS right after
            assert any(word in _ai_text(approved) for word in ("queued", "dispatched"))

            # reject (asked in Chinese)
            thread_zh, asked_zh = _ask(ops, f"从DC-SHA调拨{qty}双{sku}到SHA-S01")
            order_zh = _interrupt(asked_zh)["action_requests"][0]["args"]["subject_id"]
            rejected = _resume(approver, thread_zh, {"type": "reject", "message": "太远了"})
            assert "已拒绝" in _ai_text(rejected)

            # edit: every arg sent back as a string, as the UI's text fields do
            thread_edit, asked_edit = _ask(ops, f"ship {qty} pairs of {sku} from DC-SHA to SHA-S01")
            (edit_action,) = _interrupt(asked_edit)["action_requests"]
            args = {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in edit_action["args"].items()
            }
            args["lines"] = json.dumps([{"sku": sku, "qty": 1}])
            edited = _resume(
                approver,
                thread_edit,
                {"type": "edit", "edited_action": {"name": edit_action["name"], "args": args}},
            )
            assert any(word in _ai_text(edited) for word in ("edited", "queued", "dispatched"))

            # the thread list the UI shows
            listed = ops.api(
                "/threads/search", "POST", {"metadata": {"graph_id": "ops_chat"}, "limit": 100}
            )
            assert listed["status"] == 200
            ids = {t["thread_id"] for t in listed["body"]}
            assert {thread_id, thread_zh, thread_edit} <= ids
        finally:
            browser.close()

    def sent() -> bool:  # the service's outbox worker sends approved orders after the turn
        with Session(world_engine) as session:
            orders = session.exec(
                select(TransferOrder).where(TransferOrder.status == "approved")
            ).all()
        return not orders

    wait_for("approved orders to reach the WMS", sent, timeout_s=120)
    with Session(world_engine) as session:
        approved_order = session.get(TransferOrder, action["args"]["subject_id"])
        rejected_order = session.get(TransferOrder, order_zh)
        original = session.get(TransferOrder, edit_action["args"]["subject_id"])
        replacements = session.exec(
            select(TransferOrder).where(
                TransferOrder.reason == f"edit of {original.id} by demo-approver"
            )
        ).all()
        lines = [
            session.exec(select(TransferLine.qty).where(TransferLine.order_id == o.id)).all()
            for o in replacements
        ]
    assert approved_order.status == "dispatched" and rejected_order.status == "rejected"
    assert original.status == "rejected"
    assert [o.status for o in replacements] == ["dispatched"] and lines == [[1]]
