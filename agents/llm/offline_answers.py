"""The offline planner's words: answers rendered from tool results, in English or Chinese."""

from __future__ import annotations

import json
from typing import Any, Literal

from inventory.vocabulary import Vocabulary
from tools.plan_transfers.value import yuan

Lang = Literal["en", "zh"]

CAPABILITIES: dict[Lang, str] = {
    "en": (
        "I work offline (no language model configured), so I understand a fixed set of requests:\n"
        '- stock: "how many rain boots in Shanghai stores?"\n'
        '- forecasts: "forecast umbrellas in Guangzhou for the next 7 days"\n'
        '- transfers: "plan transfers for the rain in Guangzhou" (proposed, then checked by '
        "the policy gate; large ones wait for an approver)\n"
        '- a specific move: "ship 40 pairs of RB001-BLK-38 from DC-SHA to SHA-S01"\n'
        '- markdowns: "which styles in Chengdu need a markdown?"\n'
        '- "why this transfer?" explains the last plan.\n'
        '- online orders: "which stores can ship Shanghai online orders?", '
        '"why was order WEB-1 shipped from SHA-S01?"\n'
        "Approvals are given at the approval prompt, not by chat messages."
    ),
    "zh": (
        "当前未配置语言模型，我以离线方式工作，能处理以下请求：\n"
        "- 库存：“上海门店还有多少雨靴？”\n"
        "- 预测：“预测广州未来7天的雨伞需求”\n"
        "- 调拨：“为广州的降雨做调拨计划”（先提出建议，经策略审核；大额调拨需审批人批准）\n"
        "- 指定调拨：“从DC-SHA调拨40双RB001-BLK-38到SHA-S01”\n"
        "- 降价：“成都哪些款需要打折？”\n"
        "- “为什么要这样调拨？”解释最近一次计划。\n"
        "- 线上订单：“上海的线上订单能从哪些门店发货？”“订单WEB-1为什么从SHA-S01发货？”\n"
        "审批只能在审批提示中进行，不能通过聊天消息完成。"
    ),
}

NO_PENDING: dict[Lang, str] = {
    "en": (
        "Nothing in this conversation is waiting for a decision. When a proposal needs approval "
        "you will be asked at the approval prompt (approve / edit / reject), under your own name; "
        "a chat message cannot approve anything."
    ),
    "zh": "本对话中没有待审批的事项。需要审批时会在审批提示中询问您（批准/修改/拒绝），"
    "并记录您的身份；聊天消息本身不能批准任何操作。",
}

SHIP_QTY_NOT_POSITIVE: dict[Lang, str] = {
    "en": "Nothing proposed: a transfer quantity must be a positive number of units, not {}.",
    "zh": "未提出调拨：调拨数量必须是正整数，而不是 {}。",
}

SHIP_NEEDS_DETAILS: dict[Lang, str] = {
    "en": (
        "I cannot move stock on a chat instruction alone: every transfer is a proposal checked "
        "by the policy gate, and above its limits an approver decides — whoever asks, and "
        "whatever the message says about the policy. Tell me the SKU, the source and the "
        'destination (e.g. "ship 40 pairs of RB001-BLK-38 from DC-SHA to SHA-S01") and I will '
        "propose it for approval."
    ),
    "zh": "仅凭聊天指令不能直接调拨库存：每笔调拨都是一项建议，须经策略审核，"
    "超过限额需由审批人决定——"
    "无论请求者是谁、消息中如何描述策略。请告诉我SKU、调出地和调入地"
    "（例如“从DC-SHA调拨40双RB001-BLK-38到SHA-S01”），我会提交审批。",
}

NO_PLAN: dict[Lang, str] = {
    "en": "There is no transfer plan in this conversation yet; ask me to plan transfers first.",
    "zh": "本对话中还没有调拨计划，请先让我制定调拨计划。",
}


def _place(city: str | None, lang: Lang, words: Vocabulary) -> str:
    if city is None:
        return "全网" if lang == "zh" else "the network"
    return words.city_zh(city) if lang == "zh" else city


def _category(category: str | None, lang: Lang, words: Vocabulary) -> str:
    if category is None:
        return "所有品类" if lang == "zh" else "all categories"
    return words.category_zh(category) if lang == "zh" else words.category_en(category)


def _subject(args: dict[str, Any], lang: Lang, words: Vocabulary) -> str:
    """What was looked up: the SKU or style when one was asked for, else the category (an
    answer about one SKU must not read as the whole category's)."""
    code = args.get("sku") or args.get("style")
    skus = args.get("skus") or []
    if not code and len(skus) == 1:
        code = skus[0]
    return str(code) if code else _category(args.get("category"), lang, words)


def render_stock(out: dict[str, Any], args: dict[str, Any], lang: Lang, words: Vocabulary) -> str:
    totals = out["totals"]
    by_location: dict[str, int] = {}
    if out.get("by_location"):  # subtotals over every match, when the positions overflowed
        by_location = {sub["location"]: sub["atp"] for sub in out["by_location"]}
    else:
        for position in out["positions"]:
            by_location[position["location"]] = (
                by_location.get(position["location"], 0) + position["atp"]
            )
    top = sorted(by_location.items(), key=lambda kv: -kv[1])[:8]
    place = _place(args.get("city"), lang, words)
    cat = _subject(args, lang, words)
    if lang == "zh":
        head = (
            f"{place}{cat}：可售（ATP）{totals['atp']} 件，在手 {totals['on_hand']} 件，"
            f"在途调入 {totals['in_transit_in']} 件，共 {len(by_location)} 个地点。"
        )
        lines = [f"- {loc}: {atp}" for loc, atp in top]
    else:
        head = (
            f"{cat[:1].upper()}{cat[1:]} in {place}: {totals['atp']} available to promise "
            f"({totals['on_hand']} on hand, {totals['in_transit_in']} in transit in) across "
            f"{len(by_location)} locations."
        )
        lines = [f"- {loc}: {atp} ATP" for loc, atp in top]
    paged = "next" in (out.get("positions_page") or {})  # a summary showing the first rows
    if (out.get("truncated") or paged) and not out.get("by_location"):
        lines.append(
            "（以上地点仅来自列出的部分记录；总数涵盖全部匹配记录）"
            if lang == "zh"
            else "(locations above come from the positions listed; totals cover every match)"
        )
    return "\n".join([head, *lines])


def render_forecast(
    out: dict[str, Any], args: dict[str, Any], lang: Lang, words: Vocabulary
) -> str:
    # The totals over every series (a summary may show only the first series of a page).
    totals = out.get("totals") or {}
    by_location: dict[str, float] = {}
    if out.get("by_location"):
        by_location = {sub["location"]: sub["mean"] for sub in out["by_location"]}
    else:
        for series in out["series"]:
            by_location[series["location"]] = (
                by_location.get(series["location"], 0.0) + series["total_mean"]
            )
    total = totals.get("mean", sum(series["total_mean"] for series in out["series"]))
    top = sorted(by_location.items(), key=lambda kv: -kv[1])[:5]
    days = out["horizon_days"]
    place = _place(args.get("city"), lang, words)
    cat = _subject(args, lang, words)
    if lang == "zh":
        head = f"{place}{cat}未来 {days} 天预测需求 {total:.0f} 件（模型 {out['model']}）。"
        lines = [f"- {loc}: {units:.0f}" for loc, units in top]
    else:
        head = (
            f"Forecast demand for {cat} in {place} over the next {days} days: {total:.0f} units "
            f"(model {out['model']})."
        )
        lines = [f"- {loc}: {units:.0f} units" for loc, units in top]
    return "\n".join([head, *lines])


def render_plan(out: dict[str, Any], lang: Lang) -> str:
    totals = out["totals"]
    if not out["shipments"]:
        reason = out.get("empty_reason") or ""
        return (
            f"没有值得执行的调拨。{reason}"
            if lang == "zh"
            else f"No transfer is worth making. {reason}"
        )
    if_dry = totals.get("net_value_if_no_rain")
    if lang == "zh":
        return (
            f"调拨计划：{totals['shipments']} 票，共 {totals['units']} 件，预计挽回毛利 "
            f"¥{totals['expected_value']:,.0f}（已扣滞销风险），运费 ¥{totals['cost']:,.0f}，"
            f"预计净值 ¥{totals['net_value']:,.0f}。"
            + ("" if if_dry is None else f"若预警的雨没有下，净值 {yuan(if_dry)}。")
        )
    return (
        f"Transfer plan: {totals['shipments']} shipments, {totals['units']} units, expected margin "
        f"recovered ¥{totals['expected_value']:,.0f} (after the risk of units that do not sell) "
        f"for ¥{totals['cost']:,.0f} of freight: expected net value ¥{totals['net_value']:,.0f}."
        + ("" if if_dry is None else f" If the warned rain does not fall: {yuan(if_dry)}.")
    )


STATUS_ZH = {
    "auto_approved": "已按策略自动批准",
    "approved": "已批准",
    "dispatched": "已发送至仓库系统",
    "applied": "已生效",
    "queued": "已批准，等待发送",
    "rejected": "已拒绝",
    "refused": "被策略拒绝",
    "expired": "审批已过期",
    "failed": "执行失败",
    "edited": "已被修改替换",
    "pending": "等待审批",
}


def render_proposals(out: dict[str, Any], lang: Lang) -> str:
    lines = []
    for item in out.get("proposals", []):
        status = item["status"]
        ref = f" ({item['external_ref']})" if item.get("external_ref") else ""
        note = f" — {item['message']}" if item.get("message") else ""
        if lang == "zh":
            summary = summary_zh(item.get("facts") or {}) or item["summary"]
            lines.append(f"- {summary}：{STATUS_ZH.get(status, status)}{ref}{note}")
        else:
            lines.append(f"- {item['summary']}: {status.replace('_', ' ')}{ref}{note}")
    for error in out.get("errors", []):
        lines.append(f"- {error}")
    head = "建议处理结果：" if lang == "zh" else "Proposals:"
    return "\n".join([head, *lines])


def summary_zh(facts: dict[str, Any]) -> str | None:
    """A proposal in Chinese from its facts, or None when they are too thin to say it."""
    if facts.get("kind") == "transfer_order" and facts.get("source") and facts.get("dest"):
        text = (
            f"{facts['source']} → {facts['dest']}：{facts.get('units', 0)} 件，"
            f"零售额 ¥{facts.get('value', 0):,.0f}，运费 ¥{facts.get('cost', 0):,.0f}"
        )
        if facts.get("net_value") is not None:
            text += f"，预计净值 ¥{facts['net_value']:,.0f}"
        return text
    if facts.get("kind") == "promo_proposal" and facts.get("style") and facts.get("depth"):
        where = facts.get("location") or facts.get("city") or "全网"
        return f"{facts['style']} 在 {where} 降价 {facts['depth']:.0%}"
    return None


def render_explanation(plan: dict[str, Any], lang: Lang) -> str:
    parts = []
    for shipment in plan["shipments"][:3]:
        for line in sorted(shipment["lines"], key=lambda ln: -ln["reason"]["expected_value"])[:2]:
            reason = line["reason"]
            before = reason.get("dest_days_to_stockout_before")
            if lang == "zh":
                parts.append(
                    f"- {shipment['source']}→{shipment['dest']} {line['sku']} ×{line['qty']}："
                    f"预计多卖 {reason['expected_units_saved']:.1f} 件"
                    f"（毛利 ¥{reason['expected_value']:,.0f}），"
                    f"运费 ¥{reason['cost']:,.0f}；调入地断货天数 {before}，调出地剩余可售 "
                    f"{reason['source_atp_after']}。"
                )
            else:
                parts.append(
                    f"- {shipment['source']}→{shipment['dest']} {line['sku']} ×{line['qty']}: "
                    f"{reason['expected_units_saved']:.1f} more units sold "
                    f"(margin ¥{reason['expected_value']:,.0f}) for ¥{reason['cost']:,.0f} of "
                    "freight; destination "
                    f"runs out in {before} days without it; source keeps "
                    f"{reason['source_atp_after']} ATP."
                )
    head = (
        "这些调拨的理由（预计挽回毛利减去滞销风险和运费最大化）："
        if lang == "zh"
        else "Why these transfers (they maximise expected margin recovered minus the risk of "
        "units that do not sell minus freight):"
    )
    return "\n".join([head, *parts])


def render_error(tool: str, content: str, lang: Lang) -> str:
    return f"{tool} 出错：{content}" if lang == "zh" else f"{tool} failed: {content}"


def loads(content: str) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return None
    return value if isinstance(value, dict) else None
