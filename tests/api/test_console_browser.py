"""The ops console (/console) in a real browser (headless Debian chromium, Playwright for
Python) against the real service on the small demo world with the low-limits policy: sign in
with a key, the inbox's cards, approve (by keyboard), four-eyes, reject with a reason, edit a
quantity (gated again), a viewer who cannot decide, another viewer who sees decisions arrive,
the map and the chart drawn, Chinese, and no console errors on any page.

One service, one browser and one set of proposals serve the whole module (its wall time is the
service's start plus a few chat turns). Chromium comes from apt (``.ci/run`` installs it); the
module skips outside CI when it is absent.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from api.auth import seed_demo_keys
from api.signatures import signed_headers
from inventory.config import Settings
from inventory.db import make_engine
from inventory.models import Approval, Sku, StockPosition, Style, TransferLine, TransferOrder
from tests.agents.helpers import drain
from tests.api.conftest import KEYS, LOW_LIMITS, free_port
from tests.api.real_service import EXTRA_KEYS, add_people
from tests.api.test_browser import CHROMIUM, FLAGS, _require_browser
from tests.api.test_service_flows import ASK_ABOVE, FOUR_EYES_ABOVE, wait_for

pytestmark = pytest.mark.slow

RUN_UNITS_DEFAULT = "max_units_per_run: 400"


@dataclass
class Console:
    url: str
    engine: Engine
    #: approval ids of chat proposals waiting for a human, by what each test does with it
    approvals: dict[str, str] = field(default_factory=dict)
    #: SKUs the module's proposals ship (each proposal gets its own: approving reserves stock)
    skus: set[str] = field(default_factory=set)


def _shipment(engine: Engine, low: float, high: float, taken: set[str]) -> tuple[str, int]:
    """A SKU no other proposal of the module uses (approving one reserves its stock) and a
    quantity at DC-SHA whose retail value lies in (low, high]."""
    with Session(engine) as session:
        rows = session.exec(
            select(StockPosition, Style.price)
            .join(Sku, col(Sku.code) == StockPosition.sku_code)
            .join(Style, col(Style.code) == Sku.style_code)
            .where(StockPosition.location_code == "DC-SHA")
        ).all()
    for position, price in sorted(rows, key=lambda r: (-r[1], r[0].sku_code)):
        qty = math.floor(low / price) + 1
        if position.sku_code not in taken and qty * price <= high and qty <= position.atp:
            taken.add(position.sku_code)
            return position.sku_code, qty
    raise AssertionError(f"no free DC-SHA position worth between {low} and {high}")


def _propose(url: str, engine: Engine, low: float, high: float, taken: set[str]) -> str:
    """An ops chat turn whose transfer the policy stops; returns its approval id."""
    sku, qty = _shipment(engine, low, high, taken)
    ops = {"x-api-key": KEYS["demo-ops"]}
    with httpx.Client(base_url=url, headers=ops, timeout=120) as client:
        thread_id = client.post("/threads", json={}).raise_for_status().json()["thread_id"]
        ask = f"ship {qty} pairs of {sku} from DC-SHA to SHA-S01"
        result = client.post(
            f"/threads/{thread_id}/runs/wait",
            json={
                "assistant_id": "ops_chat",
                "input": {"messages": [{"role": "user", "content": ask}]},
            },
        )
        assert result.status_code == 200 and result.json().get("__interrupt__"), result.text
        pending = client.get("/v1/approvals", params={"status": "pending"}).json()["items"]
    (approval,) = [a for a in pending if a["thread_id"] == thread_id]
    return approval["id"]


@pytest.fixture(scope="module")
def console(
    small_world_template: Path,
    forecast_models_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Console]:
    """The service as ``stockpilot serve`` wires it (worker, outbox, simulated WMS) on a private
    copy of the small world, with five proposals waiting for a decision."""
    _require_browser()
    from agents.policy.model import DEFAULT_POLICY_FILE
    from inventory.demo_world import copy_world

    root = tmp_path_factory.mktemp("console")
    path = copy_world(small_world_template, root / "world.sqlite")
    engine = make_engine(f"sqlite:///{path}")
    data_dir = root / "data"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(forecast_models_dir, target_is_directory=True)
    policy = DEFAULT_POLICY_FILE.read_text()
    for default, low in LOW_LIMITS.items():
        policy = policy.replace(default, low)
    # The rain alert's orders into the drained stores are small (a dozen units worth ¥900-1,600,
    # valued at the alert's hit rate): a low limit per run makes them ask, while one unit (the
    # size-grid edit) stays below every limit.
    assert RUN_UNITS_DEFAULT in policy, f"the default policy no longer says {RUN_UNITS_DEFAULT!r}"
    policy = policy.replace(RUN_UNITS_DEFAULT, "max_units_per_run: 5")
    (root / "policy.yaml").write_text(policy)
    settings = Settings(
        database_url=f"sqlite:///{path}",
        data_dir=data_dir,
        policy_file=root / "policy.yaml",
        alert_secrets={"demo-weather": "demo-weather-secret"},
        clock="world",
    )
    seed_demo_keys(engine)
    add_people(engine)  # an ops lead, who may both ask in chat and approve
    app = create_app(settings, engine=engine, run_worker=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.config.port}"
    console = Console(url=url, engine=engine)
    for name in ("approve", "reject", "edit", "zh"):
        console.approvals[name] = _propose(url, engine, ASK_ABOVE, FOUR_EYES_ABOVE, console.skus)
    console.approvals["four_eyes"] = _propose(url, engine, FOUR_EYES_ABOVE, 12_000, console.skus)
    yield console
    server.should_exit = True
    thread.join(timeout=30)
    engine.dispose()


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Page:
    """One browser context (a person), signed in with ``key``; it records console errors."""

    def __init__(self, browser, console: Console, key: str | None, lang: str = "en") -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        # the language choice is the page's own setting (localStorage), set before it loads
        self.context.add_init_script(f"localStorage.setItem('stockpilot.lang', '{lang}')")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.goto(f"{console.url}/console")
        if key is not None:
            self.sign_in(key)

    def sign_in(self, key: str) -> None:
        self.page.locator("#api-key").fill(key)
        self.page.locator("#api-key").press("Enter")
        self.page.locator(".who").wait_for()

    def card(self, approval_id: str):
        return self.page.locator(f'article[data-approval="{approval_id}"]')

    def close(self) -> None:
        assert self.errors == [], self.errors
        self.context.close()


def _approval(console: Console, approval_id: str) -> Approval:
    with Session(console.engine) as session:
        approval = session.get(Approval, approval_id)
        assert approval is not None
        return approval


def _not_blank(page, locator) -> int:
    """How many distinct colours the element's screenshot holds (1 = blank)."""
    png = base64.b64encode(locator.screenshot()).decode()
    return page.evaluate(
        """async (png) => {
            const img = new Image();
            img.src = 'data:image/png;base64,' + png;
            await img.decode();
            const canvas = document.createElement('canvas');
            canvas.width = img.width; canvas.height = img.height;
            const ctx = canvas.getContext('2d');
            ctx.drawImage(img, 0, 0);
            const data = ctx.getImageData(0, 0, img.width, img.height).data;
            const seen = new Set();
            for (let i = 0; i < data.length; i += 28)
                seen.add(data[i] << 16 | data[i + 1] << 8 | data[i + 2]);
            return seen.size;
        }""",
        png,
    )


def test_a_wrong_key_is_refused_on_the_login_screen(browser, console: Console) -> None:
    person = Page(browser, console, None)
    page = person.page
    page.locator("#api-key").fill("sp-not-a-key")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="refused").wait_for()
    assert page.locator(".who").count() == 0
    # the browser logs the 401 of the refused key itself; nothing else may be logged
    assert all("401" in e for e in person.errors), person.errors
    person.errors.clear()
    person.close()


def test_approve_by_keyboard_and_another_viewer_sees_it_go(browser, console: Console) -> None:
    approval_id = console.approvals["approve"]
    approver = Page(browser, console, KEYS["demo-approver"])
    watcher = Page(browser, console, KEYS["demo-viewer"])
    try:
        card = approver.card(approval_id)
        card.locator(".size-grid tbody td.total").first.wait_for()
        # a plan a person can judge: route, size grid, money, the rule that stopped it
        assert "DC-SHA" in card.locator(".route").inner_text()
        assert "SHA-S01" in card.locator(".route").inner_text()
        assert card.locator(".size-grid thead th").count() >= 3  # style, sizes…, total
        assert "Retail value" in card.locator(".numbers").inner_text()
        assert "Freight" in card.locator(".numbers").inner_text()
        assert "transfer.max_value_per_order" in card.locator(".policy").inner_text()
        assert "expires in" in card.locator(".expiry").inner_text()
        assert "asked by demo-ops" in card.inner_text()
        card.locator(".why .forecast").filter(has_text="Forecast at SHA-S01").wait_for()
        watcher.card(approval_id).wait_for()

        # keyboard only: Tab from the page's start reaches this card's Approve button
        approve = card.get_by_role("button", name="Approve")
        approver.page.locator("body").focus()
        for _ in range(200):
            approver.page.keyboard.press("Tab")
            if approve.evaluate("b => b === document.activeElement"):
                break
        else:
            pytest.fail("Tab never reached the card's Approve button")
        approver.page.keyboard.press("Enter")

        wait_for(
            "the approval to be decided",
            lambda: _approval(console, approval_id).status == "approved",
            timeout_s=60,
        )
        assert _approval(console, approval_id).decided_by == "demo-approver"
        # the other person's inbox drops the card by itself (polling)
        watcher.card(approval_id).wait_for(state="detached", timeout=15_000)
        approver.card(approval_id).wait_for(state="detached", timeout=15_000)
    finally:
        approver.close()
        watcher.close()


def test_four_eyes_needs_a_second_approver(browser, console: Console) -> None:
    approval_id = console.approvals["four_eyes"]
    first = Page(browser, console, KEYS["demo-approver"])
    second = Page(browser, console, KEYS["demo-approver-2"])
    try:
        card = first.card(approval_id)
        card.locator(".four-eyes").filter(has_text="0 of 2").wait_for()
        card.get_by_role("button", name="Approve").click()
        second.card(approval_id).locator(".four-eyes").filter(
            has_text="first approval by demo-approver"
        ).wait_for(timeout=15_000)
        assert _approval(console, approval_id).status == "pending"
        second.card(approval_id).get_by_role("button", name="Approve").click()
        second.card(approval_id).wait_for(state="detached", timeout=30_000)
        approval = _approval(console, approval_id)
        assert approval.status == "approved"
        assert (approval.decided_by, approval.second_approver) == (
            "demo-approver",
            "demo-approver-2",
        )
    finally:
        first.close()
        second.close()


def test_reject_needs_a_reason(browser, console: Console) -> None:
    approval_id = console.approvals["reject"]
    approver = Page(browser, console, KEYS["demo-approver"])
    try:
        card = approver.card(approval_id)
        card.get_by_role("button", name="Reject").click()
        reason = card.get_by_label("Reason for rejecting")
        assert reason.evaluate("el => el === document.activeElement")
        card.get_by_role("button", name="Send rejection").click()  # empty: refused by the page
        card.locator(".status").filter(has_text="Say why").wait_for()
        assert _approval(console, approval_id).status == "pending"
        reason.fill("too far from the rain")
        card.get_by_role("button", name="Send rejection").click()
        card.wait_for(state="detached", timeout=30_000)
        approval = _approval(console, approval_id)
        assert (approval.status, approval.comment) == ("rejected", "too far from the rain")
    finally:
        approver.close()


def test_edit_a_quantity_in_the_size_grid(browser, console: Console) -> None:
    approval_id = console.approvals["edit"]
    original = _approval(console, approval_id).subject_id
    approver = Page(browser, console, KEYS["demo-approver"])
    try:
        card = approver.card(approval_id)
        card.locator(".size-grid tbody td.total").first.wait_for()
        card.get_by_role("button", name="Edit quantities").click()
        cell = card.locator(".size-grid input").first
        assert cell.evaluate("el => el === document.activeElement")
        assert cell.get_attribute("aria-label").startswith("Units of ")
        cell.fill("1")
        card.get_by_role("button", name="Send edit").click()
        card.wait_for(state="detached", timeout=60_000)
        approver.page.locator(".outcome").filter(has_text="Edit sent").wait_for()
    finally:
        approver.close()
    with Session(console.engine) as session:
        assert session.get(TransferOrder, original).status == "rejected"
        (replacement,) = session.exec(
            select(TransferOrder).where(
                TransferOrder.reason == f"edit of {original} by demo-approver"
            )
        ).all()
        lines = session.exec(
            select(TransferLine.qty).where(TransferLine.order_id == replacement.id)
        ).all()
    assert lines == [1]  # the gate saw the edit: one unit is below every limit
    assert replacement.status in ("approved", "dispatched")


def test_a_viewer_cannot_decide(browser, console: Console) -> None:
    approval_id = console.approvals["zh"]
    viewer = Page(browser, console, KEYS["demo-viewer"])
    try:
        card = viewer.card(approval_id)
        card.locator(".size-grid").first.wait_for()
        for name in ("Approve", "Reject", "Edit quantities"):
            assert card.get_by_role("button", name=name).is_disabled()
        viewer.page.get_by_text("may read but not decide").first.wait_for()
        assert viewer.page.locator(".chat .note").inner_text().startswith("Chat needs")
    finally:
        viewer.close()
    # and the service says the same to the key itself, whatever a page shows
    refused = httpx.post(
        f"{console.url}/v1/approvals/{approval_id}/decision",
        json={"decision": "approve"},
        headers={"x-api-key": KEYS["demo-viewer"]},
    )
    assert refused.status_code == 403
    assert _approval(console, approval_id).status == "pending"


def test_map_chart_and_runs_are_drawn(browser, console: Console) -> None:
    person = Page(browser, console, KEYS["demo-viewer"])
    page = person.page
    try:
        page.get_by_role("tab", name="Network map").click()
        figure = page.locator("figure.map")
        figure.locator("svg .node").first.wait_for()
        page.locator("#map-city").select_option("Shanghai")
        page.locator("#map-category").select_option("rain_boots")
        page.locator('figure.map[aria-busy="false"] figcaption').filter(
            has_text="Shanghai"
        ).wait_for()
        figure.locator("svg line.transfer").first.wait_for()  # the pending transfers
        assert figure.locator("svg .node").count() >= 3
        assert figure.locator("svg .node rect").count() >= 1  # a DC
        assert page.locator("table.data tbody tr").count() >= 3
        assert _not_blank(page, figure.locator("svg")) > 4

        page.get_by_role("tab", name="Forecast").click()
        page.locator('.chart[aria-busy="false"] canvas').first.wait_for()
        page.locator(".chart .u-title").filter(has_text="history, forecast and rain").wait_for()
        assert _not_blank(page, page.locator(".chart")) > 4
        assert "Model:" in page.locator(".forecast-view figcaption").inner_text()
        page.locator("#fc-rain").fill("60")
        page.get_by_role("button", name="Show").click()
        page.locator('.chart[aria-busy="false"]').wait_for()
        assert "Rain uplift" in page.locator(".forecast-view figcaption").inner_text()

        page.get_by_role("tab", name="Runs & audit").click()
        page.locator(".timeline .stage").first.wait_for()
        assert page.locator(".timeline .stage").count() == 5
        assert page.locator("table.audit tbody tr").count() > 0
        page.locator(".eval-box").filter(has_text="No eval report found").wait_for()
    finally:
        person.close()


def test_a_city_chosen_while_a_view_opens_is_drawn_whole(browser, console: Console) -> None:
    """The map and the forecast fill their controls, look up the latest rain alert (they open
    on its city), then draw. A city picked before that lookup answers is drawn once the view is
    ready, with its category and the pending transfers: a draw started while the controls were
    still being filled asked for no category and no plan (a map without arrows)."""
    person = Page(browser, console, KEYS["demo-viewer"])
    page = person.page
    held: list = []  # the views' "latest alert" lookups, let through when the test says
    asked: list[str] = []  # every map and chart read the views send

    def hold(route) -> None:
        held.append(route)

    def record(request) -> None:
        if "/v1/network" in request.url or "/v1/sales-history" in request.url:
            asked.append(request.url)

    def is_lookup(url: str) -> bool:
        return url.endswith("/v1/alerts?limit=20")

    page.route(is_lookup, hold)
    page.on("request", record)

    def let_the_lookup_through() -> None:
        for _ in range(500):  # the lookup is sent as the view fills its controls
            if held:
                break
            page.wait_for_timeout(20)
        assert held, "the view did not look up the latest alert"
        held.pop().continue_()

    try:
        page.get_by_role("tab", name="Network map").click()
        page.locator("#map-city").select_option("Shanghai")  # while the lookup is held
        let_the_lookup_through()
        figure = page.locator('figure.map[aria-busy="false"]')
        figure.locator("figcaption").filter(has_text="Shanghai").wait_for()
        figure.locator("svg line.transfer").first.wait_for()  # the chat proposals' transfers

        page.get_by_role("tab", name="Forecast").click()
        page.locator("#fc-city").select_option("Shanghai")
        let_the_lookup_through()
        page.locator('.chart[aria-busy="false"] canvas').first.wait_for()
        assert "Shanghai" in (page.locator(".chart").get_attribute("aria-label") or "")
    finally:
        page.unroute(is_lookup, hold)  # the route as registered ("**/*" matches no predicate)
        person.close()
    # the draws' reads (the bare /v1/network is the place list the views fill their controls from)
    reads = [query for query in (parse_qs(urlsplit(url).query) for url in asked) if "city" in query]
    assert len(reads) >= 2, asked
    assert all(read.get("category", [""])[0] for read in reads), asked


def test_a_rain_alerts_transfers_are_decided_from_the_cards_and_the_map(
    browser, console: Console
) -> None:
    """The issue's "done": a rain alert's approvals, judged from the map and the size grid."""
    assert drain(console.engine, ["SHA-S01", "SHA-S02"], ["rain_boots", "umbrellas"]) > 0
    alert = {
        "type": "weather",
        "alert_id": "cma-sh-console-1",
        "city": "Shanghai",
        "precipitation_mm": 80,
        # Three wet days: a 24 h alert's trips do not clear the freight hurdle on the test world.
        "window_hours": 72,
        "issued_at": "2015-07-01T08:00:00+08:00",
    }
    body = json.dumps(alert).encode()
    viewer = {"x-api-key": KEYS["demo-viewer"]}
    with httpx.Client(base_url=console.url, timeout=60) as client:
        accepted = client.post(
            "/v1/alerts",
            content=body,
            headers=signed_headers("demo-weather", "demo-weather-secret", body),
        )
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]

        def pending() -> list[dict]:
            return client.get(
                "/v1/approvals", params={"status": "pending", "run_id": run_id}, headers=viewer
            ).json()["items"]

        def interrupted() -> bool:
            run = client.get(f"/v1/runs/{run_id}", headers=viewer).json()
            assert run["status"] not in ("failed", "succeeded"), run  # the low limits must ask
            return run["status"] == "interrupted"

        wait_for("the alert run to ask for a human", interrupted, timeout_s=180)
        asked = pending()
    assert asked
    approver = Page(browser, console, KEYS["demo-approver"])
    page = approver.page
    try:
        # the map: the rain band over Shanghai and the alert's transfers as arrows
        page.get_by_role("tab", name="Network map").click()
        page.locator("#map-city").select_option("Shanghai")
        page.locator('figure.map[aria-busy="false"] svg .node').first.wait_for()
        label = page.locator("svg .rain-label").text_content()
        assert "Rain band: 80 mm / 72 h (heavy rain)" in label
        # The arrows come with the draw for the chosen city; wait for them as a user would look.
        page.locator("svg line.transfer").nth(len(asked) - 1).wait_for()
        assert page.locator("svg line.transfer").count() >= len(asked)

        # the cards: rain, forecast with its uplift, size grid — then decide them all
        page.get_by_role("tab", name="Approvals").click()
        cards = [approver.card(a["id"]) for a in asked]
        for card in cards:
            card.locator(".why").filter(has_text="Rain: 80 mm in 72 h in Shanghai").wait_for()
            card.locator(".why .forecast").filter(has_text="rain uplift").wait_for(timeout=60_000)
            assert card.locator(".size-grid td.total").count() >= 1
            card.get_by_role("button", name="Approve").click()
        if len(asked) > 1:  # one interrupt asks about them together: one send for all
            group = page.locator(f'section.group[data-thread="{asked[0]["thread_id"]}"]')
            assert "proposals together" in group.locator(".group-note").inner_text()
            group.get_by_role("button", name=f"Send {len(asked)} decisions").click()
        for card, approval in zip(cards, asked, strict=True):
            needs_two = approval["payload"]["approvers_required"] == 2
            if not needs_two:
                card.wait_for(state="detached", timeout=60_000)
    finally:
        approver.close()
    for approval in asked:  # decided by the approver (four-eyes ones wait for a second)
        row = _approval(console, approval["id"])
        assert row.decided_by == "demo-approver", (row.status, row.comment)


def test_a_chat_proposal_shows_the_same_card(browser, console: Console) -> None:
    sku, qty = _shipment(console.engine, ASK_ABOVE, FOUR_EYES_ABOVE, console.skus)
    lead = Page(browser, console, EXTRA_KEYS["ops-lead"][0])  # may ask in chat and approve
    page = lead.page
    try:
        page.get_by_label("Message").fill(f"ship {qty} pairs of {sku} from DC-SHA to SHA-S01")
        page.get_by_role("button", name="Send", exact=True).click()
        card = page.locator(".chat article.card")
        card.locator(".size-grid td.total").first.wait_for(timeout=60_000)
        assert "transfer.max_value_per_order" in card.locator(".policy").inner_text()
        card.get_by_role("button", name="Approve").click()
        card.wait_for(state="detached", timeout=60_000)
        answer = page.locator(".chat .msg.assistant").last.inner_text()
        assert any(word in answer for word in ("queued", "dispatched", "approved")), answer
    finally:
        lead.close()


def test_chinese_console_and_chat(browser, console: Console) -> None:
    ops = Page(browser, console, None, lang="zh")
    page = ops.page
    try:
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        page.get_by_role("textbox", name="API 密钥").fill(KEYS["demo-ops"])
        page.get_by_role("button", name="登录").click()
        page.get_by_role("tab", name="待审批").wait_for()
        card = ops.card(console.approvals["zh"])
        card.get_by_role("button", name="批准").wait_for()
        assert "申请人 demo-ops" in card.inner_text()
        card.locator(".numbers").filter(has_text="零售价值").wait_for()

        # the chat answers in the language asked
        page.get_by_label("消息").fill("上海门店还有多少雨靴？")
        page.get_by_label("消息").press("Enter")
        page.locator(".chat .msg.assistant").filter(has_text="可售").wait_for(timeout=60_000)

        # and the switch goes back to English, keyboard reachable
        switch = page.get_by_role("button", name="切换到英文")
        switch.focus()
        page.keyboard.press("Enter")
        page.get_by_role("tab", name="Approvals").wait_for()
        assert page.locator("html").get_attribute("lang") == "en"
        # arrow keys move between the tabs
        page.get_by_role("tab", name="Approvals").focus()
        page.keyboard.press("ArrowRight")
        assert page.get_by_role("tab", name="Network map").get_attribute("aria-selected") == (
            "true"
        )
    finally:
        ops.close()
