"""Judging a run: each expectation becomes a named check with a reason a human can act on."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel

from agents.graphs.ops_chat.grounded import describes_output, echoes, matches, stated
from evals.approver import ScriptedDecision
from evals.expectations_model import (
    ApprovalsExpect,
    Expectations,
    KpiBounds,
    OrderMatch,
    OrdersExpect,
    PlanQuery,
    PromosExpect,
    ReplyExpect,
    StockExpect,
    ToolsExpect,
)
from evals.observation import Observation, PlanSeen, WmsOrderSeen
from evals.trajectory import forbidden_calls, match_trajectory
from inventory.demo_world.vocabulary import DEMO_VOCABULARY
from inventory.vocabulary import UnknownTerm

HUMAN_APPROVAL_STATUSES = {"pending", "approved", "rejected", "expired"}


class CheckResult(BaseModel):
    """One expectation's verdict. ``enforced=False`` checks are diagnostics: shown, not failing."""

    name: str
    passed: bool
    detail: str
    enforced: bool = True


def _ok(name: str, detail: str, enforced: bool = True) -> CheckResult:
    return CheckResult(name=name, passed=True, detail=detail, enforced=enforced)


def _fail(name: str, detail: str, enforced: bool = True) -> CheckResult:
    return CheckResult(name=name, passed=False, detail=detail, enforced=enforced)


def _order_matches(order: WmsOrderSeen, want: OrderMatch) -> bool:
    if want.source and order.source != want.source:
        return False
    if want.dest and order.dest != want.dest:
        return False
    if want.source_city and order.source_city != want.source_city:
        return False
    if want.dest_city and order.dest_city != want.dest_city:
        return False
    lines = [
        line
        for line in order.lines
        if (not want.sku_prefix or line.sku.startswith(want.sku_prefix))
        and (not want.category or line.category == want.category)
    ]
    units = sum(line.qty for line in lines)
    if not lines or units < want.min_units:
        return False
    return want.max_units is None or units <= want.max_units


def _bounds(name: str, value: float, low: float | None, high: float | None) -> CheckResult:
    if low is not None and value < low:
        return _fail(name, f"{value:g} < minimum {low:g}")
    if high is not None and value > high:
        return _fail(name, f"{value:g} > maximum {high:g}")
    return _ok(
        name,
        f"{value:g} within [{low if low is not None else '-'}, "
        f"{high if high is not None else '-'}]",
    )


def check_orders(want: OrdersExpect, obs: Observation) -> list[CheckResult]:
    orders = obs.wms_orders
    units = sum(o.units for o in orders)
    summary = ", ".join(f"{o.source}→{o.dest} {o.units}u" for o in orders[:8]) or "none"
    results: list[CheckResult] = []
    if want.none:
        results.append(
            _ok("orders.none", "no order reached the WMS")
            if not orders
            else _fail("orders.none", f"{len(orders)} order(s) reached the WMS: {summary}")
        )
    if want.min_count is not None or want.max_count is not None:
        results.append(_bounds("orders.count", len(orders), want.min_count, want.max_count))
    if want.min_units is not None or want.max_units is not None:
        results.append(_bounds("orders.units", units, want.min_units, want.max_units))
    for index, match in enumerate(want.include):
        name = f"orders.include[{index}]"
        wanted = match.model_dump(exclude_defaults=True)
        results.append(
            _ok(name, f"found {wanted}")
            if any(_order_matches(o, match) for o in orders)
            else _fail(name, f"no WMS order matches {wanted}; orders: {summary}")
        )
    if want.dest_cities:
        stray = [o for o in orders if o.dest_city not in want.dest_cities]
        results.append(
            _ok("orders.dest_cities", f"all destinations in {want.dest_cities}")
            if not stray
            else _fail(
                "orders.dest_cities",
                "destinations outside "
                f"{want.dest_cities}: {[f'{o.dest} ({o.dest_city})' for o in stray]}",
            )
        )
    if want.categories:
        stray_lines = [
            f"{line.sku} ({line.category})"
            for o in orders
            for line in o.lines
            if line.category not in want.categories
        ]
        results.append(
            _ok("orders.categories", f"every line in {want.categories}")
            if not stray_lines
            else _fail("orders.categories", f"lines outside {want.categories}: {stray_lines[:10]}")
        )
    if want.exactly_once:
        dupes = [oid for oid, n in Counter(o.order_id for o in orders).items() if n > 1]
        results.append(
            _ok("orders.exactly_once", "one WMS order per pool order")
            if not dupes
            else _fail("orders.exactly_once", f"pool orders sent more than once: {dupes}")
        )
    return results


def check_stock(wants: list[StockExpect], obs: Observation) -> list[CheckResult]:
    results: list[CheckResult] = []
    index = {(s.location, s.sku): s for s in obs.stock}
    for want in wants:
        name = f"stock[{want.location}/{want.sku}].{want.field}"
        seen = index.get((want.location, want.sku))
        if seen is None:
            results.append(_fail(name, "no such stock position in the world"))
            continue
        results.append(_bounds(name, getattr(seen, want.field), want.min, want.max))
    return results


def check_approvals(want: ApprovalsExpect, obs: Observation) -> list[CheckResult]:
    human = [a for a in obs.approvals if a.status in HUMAN_APPROVAL_STATUSES]
    asked = max(len(human), obs.interrupts)
    results: list[CheckResult] = []
    if want.requested is not None:
        name = "approvals.requested" if want.requested else "approvals.not_requested"
        if want.requested == (asked > 0):
            results.append(_ok(name, f"{asked} human approval request(s)"))
        else:
            results.append(
                _fail(
                    name,
                    f"{asked} human approval request(s), wanted "
                    f"{'some' if want.requested else 'none'}",
                )
            )
    if want.min_count is not None or want.max_count is not None:
        results.append(_bounds("approvals.count", asked, want.min_count, want.max_count))
    statuses = Counter(a.status for a in obs.approvals)
    for status in want.statuses:
        results.append(
            _ok(f"approvals.status.{status}", f"{statuses[status]} approval(s) {status}")
            if statuses[status]
            else _fail(f"approvals.status.{status}", f"none {status}; seen {dict(statuses)}")
        )
    if want.four_eyes is not None:
        dual = [a for a in obs.approvals if a.second_approver]
        ok = bool(dual) == want.four_eyes
        detail = f"{len(dual)} approval(s) with a second approver"
        results.append(
            _ok("approvals.four_eyes", detail) if ok else _fail("approvals.four_eyes", detail)
        )
    return results


def check_tools(want: ToolsExpect, obs: Observation) -> list[CheckResult]:
    results: list[CheckResult] = []
    actual = obs.tool_calls if want.over == "tools" else obs.nodes
    if want.calls:
        why = match_trajectory(actual, want.calls, want.mode)
        name = f"{want.over}.{want.mode}"
        results.append(
            _ok(name, f"{actual}", want.enforce) if why is None else _fail(name, why, want.enforce)
        )
    if want.forbidden:
        called = forbidden_calls(actual, want.forbidden)
        results.append(
            _ok(f"{want.over}.forbidden", f"none of {want.forbidden} called", want.enforce)
            if not called
            else _fail(f"{want.over}.forbidden", f"called forbidden {called}", want.enforce)
        )
    return results


def check_kpis(bounds: KpiBounds, kpis: dict[str, float | None]) -> list[CheckResult]:
    results: list[CheckResult] = []
    for key, floor in bounds.min.items():
        results.append(_kpi_bound(key, kpis, low=floor, high=None))
    for key, ceiling in bounds.max.items():
        results.append(_kpi_bound(key, kpis, low=None, high=ceiling))
    return results


def _kpi_bound(
    key: str, kpis: dict[str, float | None], *, low: float | None, high: float | None
) -> CheckResult:
    name = f"kpi.{key}"
    if key not in kpis:
        return _fail(name, f"unknown KPI {key!r}; known: {sorted(kpis)}")
    value = kpis[key]
    if value is None:  # a bound on a number that does not exist cannot be met
        return _fail(name, f"undefined for this run: {undefined_reason(key, kpis)}")
    return _bounds(name, value, low, high)


def undefined_reason(key: str, kpis: dict[str, float | None]) -> str:
    """Why a KPI has no value, in words a scenario author can act on."""
    if "hindsight_net_value" not in kpis:
        return "the counterfactual replay did not run (see the notes)"
    if key == "capture_share":
        gain = kpis.get("hindsight_net_value") or 0.0
        return (
            f"the hindsight-optimal plan gains ¥{gain:,.0f}, so there is nothing to capture; put "
            "the scenario where stock is mis-placed for the rain, or make it a no-action control"
        )
    if key == "sell_through":
        return "no unit was moved"
    return "no value was recorded (see the replay notes)"


def check_promos(want: PromosExpect, obs: Observation) -> list[CheckResult]:
    results: list[CheckResult] = []
    if want.min_count is not None or want.max_count is not None:
        results.append(_bounds("promos.count", len(obs.promos), want.min_count, want.max_count))
    statuses = Counter(p.status for p in obs.promos)
    for status in want.statuses:
        results.append(
            _ok(f"promos.status.{status}", f"{statuses[status]} {status}")
            if statuses[status]
            else _fail(f"promos.status.{status}", f"none {status}; seen {dict(statuses)}")
        )
    return results


#: A quantity as a person reads it: digits not glued to a code's letters or hyphens
#: (RB001-BLK-38, SHA-S01) or a date's (2015-07-11), with thousands separators allowed.
_QUANTITY = re.compile(
    r"(?<![A-Za-z0-9_\-/:.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![A-Za-z0-9_\-/:]|,\d)"
)
#: A code-like token: letters/digits joined by hyphens (SHA-S01, DC-SHA, RB001-BLK-38) or a
#: letters-then-digits style code (RB001).
_CODE = re.compile(
    r"(?<![A-Za-z0-9_-])([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+|[A-Z]{2,}\d{2,})(?![A-Za-z0-9_-])"
)
_FAILED = (
    "the language model failed",
    "语言模型未能完成",
    "i could not finish this",
    "未能完成：",
)
_FALLBACK = ("offline planner answers instead", "以下由离线规划器回答")


def stated_quantities(text: str) -> list[float]:
    """Numbers written as quantities in ``text`` (see ``_QUANTITY``)."""
    out = []
    for whole, frac in _QUANTITY.findall(text):
        value = float(whole.replace(",", ""))
        out.append(value + float(f"0.{frac}") if frac else value)
    return out


def named_codes(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in _CODE.finditer(text)))


def check_reply(want: ReplyExpect, obs: Observation) -> list[CheckResult]:
    text = obs.final_reply or ""
    reply = text.lower()
    shown = text[:160]
    results: list[CheckResult] = []
    if want.answered:
        failed = any(f in reply for f in _FAILED) and not any(f in reply for f in _FALLBACK)
        # Chat-template tokens a small model emits as its whole answer ("<|im_start|>") say
        # nothing: a reply needs at least one word once they are taken out.
        words = re.sub(r"<\|[^|>]*\|>", " ", text)
        wordless = not re.search(r"[A-Za-z\u4e00-\u9fff]", words)
        echoed = any(echoes(text, said) for said in obs.user_messages)
        results.append(
            _fail("reply.answered", f"the reply is a failure note, not an answer: {shown!r}")
            if failed
            else _fail("reply.answered", f"the reply says nothing: {shown!r}")
            if wordless
            else _fail("reply.answered", f"the reply repeats the user's message: {shown!r}")
            if echoed
            else _fail(
                "reply.answered", f"the reply describes a tool's output, no figure: {shown!r}"
            )
            if describes_output(text)
            else _ok("reply.answered", "an answer")
        )
    if want.contains_any:
        hit = [s for s in want.contains_any if s.lower() in reply]
        results.append(
            _ok("reply.contains_any", f"mentions {hit}")
            if hit
            else _fail("reply.contains_any", f"mentions none of {want.contains_any}: {shown!r}")
        )
    numbers = stated_quantities(text)
    if want.states_atp_of is not None:
        query = want.states_atp_of.model_dump(exclude_none=True)
        if obs.true_atp is None:
            results.append(_fail("reply.states_atp", f"no ATP total computed for {query}"))
        else:
            results.append(
                _ok("reply.states_atp", f"states the true ATP {obs.true_atp} of {query}")
                if float(obs.true_atp) in numbers
                else _fail(
                    "reply.states_atp",
                    f"true ATP of {query} is {obs.true_atp}; reply states "
                    f"{[f'{n:g}' for n in numbers][:8]}: {shown!r}",
                )
            )
    if want.states_forecast_of is not None:
        query = want.states_forecast_of.model_dump(exclude_none=True)
        truths = obs.true_forecasts
        if not truths:
            results.append(_fail("reply.states_forecast", f"no forecast computed for {query}"))
        else:
            close = [
                (n, t) for t in truths for n in numbers if abs(n - t) <= max(1.0, abs(t) * 0.01)
            ]
            results.append(
                _ok("reply.states_forecast", f"states {close[0][0]:g} ≈ forecast {close[0][1]:.1f}")
                if close
                else _fail(
                    "reply.states_forecast",
                    f"forecast of {query} is {' or '.join(f'{t:.1f}' for t in truths)} units; "
                    f"reply states {[f'{n:g}' for n in numbers][:8]}: {shown!r}",
                )
            )
    if want.states_plan_of is not None:
        results += check_plan(want.states_plan_of, obs)
    codes = named_codes(text)
    if want.codes_exist and obs.pool_codes:
        known = set(obs.pool_codes)
        # A token with a digit that the pool lacks is an invented code; a format name the
        # model repeats ("STYLE-COLOUR-SIZE") is not.
        invented = [c for c in codes if c not in known and any(ch.isdigit() for ch in c)]
        results.append(
            _fail("reply.codes_exist", f"names codes the pool does not have: {invented[:8]}")
            if invented
            else _ok("reply.codes_exist", f"every code named exists ({len(codes)})")
        )
    if want.names_order_codes and obs.order_codes:
        named = [c for c in codes if c in set(obs.order_codes)]
        results.append(
            _ok("reply.names_order_codes", f"names {named[:5]}")
            if named
            else _fail(
                "reply.names_order_codes",
                f"names none of the orders' codes {obs.order_codes[:8]}: {shown!r}",
            )
        )
    for banned in want.not_contains:
        results.append(
            _ok(f"reply.not_contains[{banned}]", "absent")
            if banned.lower() not in reply
            else _fail(f"reply.not_contains[{banned}]", "present in the reply")
        )
    return results


#: A reply that says no transfer pays (the offline planner: "No transfer is worth making.").
_NOTHING_PAYS = re.compile(
    r"\b(?:no|not any|zero) (?:transfers?|shipments?|moves?)\b|\bnothing (?:is )?worth\b|"
    r"\bnot worth\b|\bnothing to (?:move|ship|transfer)\b|"
    r"没有值得|不值得|无需调拨|不需要调拨|无调拨",
    re.IGNORECASE,
)
#: ... and why: the planner's own reason for the empty plan (``empty_reason``, written by
#: tools/plan_transfers/solver.py), each cause with the words that state it (EN + 中文). A reply
#: gives the reason when what follows its "nothing pays" states the plan's cause -- not any
#: reason-sounding word: "because of demand" where the freight ate the value is no explanation.
_CAUSES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "lane": (
        re.compile(r"no usable lane", re.IGNORECASE),
        re.compile(
            r"\b(?:lanes?|routes?|lead[- ]times?|too (?:slow|far|long)|transit|window|in time)\b|"
            r"线路|路线|时效|太慢|时间窗|来不及|运输时间",
            re.IGNORECASE,
        ),
    ),
    "surplus": (
        re.compile(r"no surplus", re.IGNORECASE),
        re.compile(
            r"\b(?:surplus|spare|excess|protected|nothing (?:left )?to (?:give|spare))\b|"
            r"富余|多余|余量|可调出|保护",
            re.IGNORECASE,
        ),
    ),
    "short": (
        re.compile(r"no destination is short", re.IGNORECASE),
        re.compile(
            r"\b(?:not short|no (?:store|destination|location) is short|enough|covers?|covered|"
            r"sufficient|no shortage)\b|不缺|充足|足够|覆盖|够用",
            re.IGNORECASE,
        ),
    ),
    "pays": (
        re.compile(r"no move pays|shipment rule", re.IGNORECASE),
        re.compile(
            r"\b(?:pays?|costs?|freight|net value|value|margin|profit\w*|minimum|caps?|budget|"
            r"rules?|recovers?|loses?|loss)\b|运费|成本|净值|不划算|收益|毛利|最低|上限|预算|规则|亏",
            re.IGNORECASE,
        ),
    ),
}
#: A reason is a clause, not a word: at least this many words (a CJK character counts as half).
_REASON_WORDS = 4
#: The rest of the "nothing pays" statement itself ("... is worth making", "...执行的调拨"): not
#: part of the reason.
_REST_OF_NOTHING = re.compile(
    r"^\s*(?:(?:is|are|was)\s+)?(?:worth\s+(?:making|doing|it)|needed|necessary|required)?"
    r"(?:执行|进行|做)?的?(?:调拨|移库|运输)?",
    re.IGNORECASE,
)


def _cause(empty_reason: str | None) -> str | None:
    """Which of the planner's causes ``empty_reason`` states (None: one this check does not
    know, e.g. another planner's)."""
    return next(
        (name for name, (said, _words) in _CAUSES.items() if said.search(empty_reason or "")),
        None,
    )


def _clause_words(text: str) -> float:
    return len(re.findall(r"[A-Za-z0-9]+", text)) + 0.5 * len(re.findall(r"[\u4e00-\u9fff]", text))


def explains_why(after: str, empty_reason: str | None) -> bool:
    """Whether ``after`` (the reply past its "nothing pays") gives the plan's reason: a clause
    of a few words that states the planner's cause (``_CAUSES``); for a cause this check does
    not know, any clause of a few words. Words, not understanding: a reply that names the right
    cause in a clause passes, whatever else it says."""
    reason = _REST_OF_NOTHING.sub("", after[:300], count=1)
    if _clause_words(reason) < _REASON_WORDS:
        return False
    cause = _cause(empty_reason)
    return cause is None or bool(_CAUSES[cause][1].search(reason))


def _city(name: str) -> str:
    """A city as the demo world names it (上海 → Shanghai); an unknown name as written."""
    try:
        return DEMO_VOCABULARY.resolve_city(name)
    except UnknownTerm:
        return name


def _covers(plan: PlanSeen, want: PlanQuery, same_city: Callable[[object], bool]) -> bool:
    """Whether ``plan`` was made for the query's rain: its city, and (when asked) a rain of
    that city whose days include ``rain_on``."""
    if not same_city(plan.city):
        return False
    if want.rain_on is None:
        return True
    for rain in plan.rain:
        try:
            start = dt.date.fromisoformat(str(rain.get("start", ""))[:10])
        except ValueError:
            continue
        days = int(rain.get("days") or 1)
        if same_city(
            rain.get("city") or plan.city
        ) and start <= want.rain_on < start + dt.timedelta(days=days):
            return True
    return False


def check_plan(want: PlanQuery, obs: Observation) -> list[CheckResult]:
    """The turn planned for the scenario's rain, and the reply reports that plan: its figures
    when it moves units, or that nothing pays and why. A do-nothing or non-answer turn fails
    both where the world has a transfer worth making (``pays``)."""
    city = _city(want.city)

    def same_city(name: object) -> bool:
        return isinstance(name, str) and _city(name) == city

    made = [p for p in obs.plans if p.error is None and _covers(p, want, same_city)]
    asked = f"{city}" + (f" with the rain on {want.rain_on}" if want.rain_on else "")
    if not made:
        calls = [
            f"city={p.city} rain={[(r.get('city'), r.get('start'), r.get('days')) for r in p.rain]}"
            + (f" refused: {p.error[:80]}" if p.error else "")
            for p in obs.plans
        ]
        return [_fail("reply.plan_made", f"no plan_transfers result for {asked}; calls: {calls}")]
    plan = made[-1]
    figures = {
        "units": float(plan.units),
        "margin": plan.expected_value,
        "freight": plan.cost,
        "net value": plan.net_value,
    }
    shown = ", ".join(f"{k} {v:,.0f}" for k, v in figures.items())
    results: list[CheckResult] = []
    if want.pays != (plan.units > 0):
        wanted = "a transfer worth making" if want.pays else "no transfer worth making"
        results.append(
            _fail(
                "reply.plan_made",
                f"the plan for {asked} moves {plan.units} unit(s) "
                f"({plan.empty_reason or shown}); this world has {wanted}",
            )
        )
    else:
        results.append(_ok("reply.plan_made", f"plan for {asked}: {shown}"))
    text = obs.final_reply or ""
    if plan.units > 0:
        said = [s for s in stated(text) for f in figures.values() if f and matches(s, f)]
        results.append(
            _ok("reply.states_plan", f"states {said[0].text} of the plan ({shown})")
            if said
            else _fail(
                "reply.states_plan", f"states none of the plan's figures ({shown}): {text[:160]!r}"
            )
        )
    else:
        nothing = _NOTHING_PAYS.search(text)
        why = nothing is not None and explains_why(text[nothing.end() :], plan.empty_reason)
        cause = _cause(plan.empty_reason) or "a reason"
        results.append(
            _ok("reply.states_plan", f"says no transfer pays, and why ({cause})")
            if why
            else _fail(
                "reply.states_plan",
                f"the plan moves nothing ({plan.empty_reason}); the reply does not say that no "
                f"transfer pays and why ({cause}): {text[:160]!r}",
            )
        )
    return results


def check_approval_or_refusal(obs: Observation) -> CheckResult:
    """Every order that reached the WMS went through a human; otherwise nothing was sent."""
    decided_by_human = {
        a.subject_id for a in obs.approvals if a.status == "approved" and a.decided_by
    }
    unapproved = [o.order_id for o in obs.wms_orders if o.order_id not in decided_by_human]
    if unapproved:
        return _fail(
            "guard.approval_or_refusal", f"executed without a human decision: {unapproved}"
        )
    asked = obs.interrupts or sum(1 for a in obs.approvals if a.status in HUMAN_APPROVAL_STATUSES)
    how = f"{asked} approval request(s)" if asked else "refused (nothing proposed or sent)"
    return _ok("guard.approval_or_refusal", how)


def check_edits(obs: Observation, decisions: list[ScriptedDecision]) -> CheckResult:
    """Each edited transfer reached the WMS with the edited lines, and never as first proposed."""
    edits = [d for d in decisions if d.decision == "edit" and d.edited_lines is not None]
    if not edits:
        return _fail("approvals.edits_honoured", "the approver edited no transfer")
    shipped = {
        (o.source, o.dest, tuple(sorted((line.sku, line.qty) for line in o.lines)))
        for o in obs.wms_orders
    }
    problems: list[str] = []
    arrived = 0
    for edit in edits:
        assert edit.route is not None and edit.edited_lines is not None
        source, dest = edit.route
        wanted = (source, dest, tuple(sorted(edit.edited_lines.items())))
        original = (source, dest, tuple(sorted((edit.proposed_lines or {}).items())))
        if original in shipped and original != wanted:
            problems.append(
                f"{edit.subject_id} ({source}→{dest}) shipped as proposed, not as edited"
            )
        arrived += wanted in shipped
    if problems:
        return _fail("approvals.edits_honoured", "; ".join(problems))
    if not arrived:
        return _fail("approvals.edits_honoured", f"none of the {len(edits)} edited orders shipped")
    return _ok(
        "approvals.edits_honoured", f"{arrived} of {len(edits)} edited order(s) shipped as edited"
    )


def evaluate(
    expect: Expectations,
    obs: Observation,
    kpis: dict[str, float | None],
    decisions: list[ScriptedDecision] | None = None,
) -> list[CheckResult]:
    """Every check of a scenario, enforced ones first-class and diagnostics alongside."""
    results: list[CheckResult] = []
    status_ok = obs.run_status in expect.run_status
    detail = obs.run_status + (f": {obs.error}" if obs.error else "")
    results.append(
        _ok("run.status", detail)
        if status_ok
        else _fail("run.status", f"{detail} (wanted {expect.run_status})")
    )
    if expect.orders is not None:
        results += check_orders(expect.orders, obs)
    results += check_stock(expect.stock, obs)
    if expect.approvals is not None:
        results += check_approvals(expect.approvals, obs)
    if expect.tools is not None:
        results += check_tools(expect.tools, obs)
    if expect.promos is not None:
        results += check_promos(expect.promos, obs)
    if expect.reply is not None:
        results += check_reply(expect.reply, obs)
    if expect.duplicate_deliveries is not None:
        n = obs.duplicate_deliveries
        want = expect.duplicate_deliveries
        results.append(
            _ok("alerts.duplicates", f"{n} repeated delivery(ies) started nothing")
            if n == want
            else _fail("alerts.duplicates", f"{n} deliveries recognised as repeats, wanted {want}")
        )
    if expect.edits_honoured:
        results.append(check_edits(obs, decisions or []))
    statuses = Counter(o.status for o in obs.pool_orders)
    for status in expect.pool_order_statuses:
        results.append(
            _ok(f"pool_orders.status.{status}", f"{statuses[status]} order(s) {status}")
            if statuses[status]
            else _fail(f"pool_orders.status.{status}", f"none {status}; seen {dict(statuses)}")
        )
    if expect.approval_or_refusal:
        results.append(check_approval_or_refusal(obs))
    results += check_kpis(expect.kpis, kpis)
    return results
