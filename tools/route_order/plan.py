"""Score the ways to ship an order and pick the best: whole-order nodes, and a greedy split.

Every option is a set of parcels; its score (CNY, lowest wins) is the sum of the parcels'
delivery cost, late penalty and stock-health credit, plus the split penalty per extra parcel.
Options are every node that can ship the whole order alone, and one split plan built line by
line from the cheapest marginal node (the fixed parcel costs are paid once per node). The
decision keeps the two runners-up with their score parts, so a human can see why.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tools.route_order.models import Parcel, ParcelLine, RoutingOption, ScoreParts
from tools.route_order.pool import Candidate, SkuFacts
from tools.route_order.settings import RoutingSettings

#: Ties (equal scores) go to DCs, then the online pool, then stores: a store's shelf serves
#: walk-in customers too, so it ships only when it is worth something.
KIND_RANK = {"dc": 0, "online": 1, "store": 2}
#: Stock sitting at these kinds is there to be shipped: no stock-health credit or charge.
NEUTRAL_KINDS = frozenset({"dc", "online"})


@dataclass(frozen=True)
class Line:
    line_no: int
    sku: str
    qty: int


@dataclass(frozen=True)
class Scorer:
    settings: RoutingSettings
    now: dt.datetime
    promised_by: dt.datetime
    skus: dict[str, SkuFacts]

    def lead_hours(self, cand: Candidate) -> float:
        return self.settings.handling_hours.of(cand.node.kind) + cand.figures.lead_time_hours

    def fixed_cost(self, cand: Candidate) -> float:
        return self.settings.pick_pack_cost.of(cand.node.kind) + cand.figures.parcel_cost

    def late_penalty(self, cand: Candidate) -> float:
        eta = self.now + dt.timedelta(hours=self.lead_hours(cand))
        late_h = max(0.0, (eta - self.promised_by).total_seconds() / 3600)
        return late_h * self.settings.late_penalty_per_hour

    def health_per_unit(self, cand: Candidate, sku: str) -> float:
        """Negative (a credit) for stock above the target cover, positive below it; DCs and the
        online pool 0 (the pool was charged as a lean store before, pushing orders off it)."""
        if cand.node.kind in NEUTRAL_KINDS:
            return 0.0
        health = self.settings.stock_health
        rate = cand.rate.get(sku, 0.0)
        atp = cand.atp.get(sku, 0)
        cover = atp / rate if rate > 0 else float("inf")
        excess = (cover - health.target_cover_days) / health.target_cover_days
        excess = max(-1.0, min(1.0, excess))
        return -health.value_share * self.skus[sku].price * excess

    def capped(self, health: float) -> float:
        """A parcel's stock health within ± ``stock_health.max_per_parcel``."""
        cap = self.settings.stock_health.max_per_parcel
        return max(-cap, min(cap, health))

    def marginal_unit(self, cand: Candidate, sku: str) -> float:
        return cand.figures.cost_per_unit + self.capped(self.health_per_unit(cand, sku))

    def parcel(self, cand: Candidate, lines: Sequence[Line]) -> tuple[Parcel, float, float]:
        """The parcel, its late penalty and its stock-health score."""
        units = sum(line.qty for line in lines)
        lead = self.lead_hours(cand)
        eta = self.now + dt.timedelta(hours=lead)
        cost = self.fixed_cost(cand) + cand.figures.cost_per_unit * units
        health = self.capped(sum(self.health_per_unit(cand, x.sku) * x.qty for x in lines))
        parcel = Parcel(
            node=cand.node.code,
            node_kind=cand.node.kind,  # type: ignore[arg-type]
            node_name=cand.node.name_en,
            node_city=cand.node.city,
            lines=[ParcelLine(line_no=x.line_no, sku=x.sku, qty=x.qty) for x in lines],
            lead_time_hours=round(lead, 1),
            eta=eta,
            on_time=eta <= self.promised_by,
            cost=round(cost, 2),
            stock_health=round(health, 2),
            figures_basis=cand.figures.basis,
        )
        return parcel, self.late_penalty(cand), health

    def option(
        self, allocation: dict[str, list[Line]], by_code: dict[str, Candidate]
    ) -> RoutingOption:
        parcels, late, health = [], 0.0, 0.0
        for code in sorted(allocation):
            parcel, parcel_late, parcel_health = self.parcel(by_code[code], allocation[code])
            parcels.append(parcel)
            late += parcel_late
            health += parcel_health
        delivery = sum(p.cost for p in parcels)
        split = self.settings.split_penalty * (len(parcels) - 1)
        total = delivery + late + health + split
        parts = ScoreParts(
            delivery_cost=round(delivery, 2),
            late_penalty=round(late, 2),
            stock_health=round(health, 2),
            split_penalty=round(split, 2),
            total=round(total, 2),
        )
        return RoutingOption(nodes=sorted(allocation), parcels=parcels, parts=parts)


def whole_order_options(
    scorer: Scorer, lines: Sequence[Line], candidates: Sequence[Candidate]
) -> list[RoutingOption]:
    needed = Counter()
    for line in lines:
        needed[line.sku] += line.qty
    by_code = {c.node.code: c for c in candidates}
    return [
        scorer.option({cand.node.code: list(lines)}, by_code)
        for cand in candidates
        if all(cand.giveable.get(sku, 0) >= qty for sku, qty in needed.items())
    ]


def split_option(
    scorer: Scorer, lines: Sequence[Line], candidates: Sequence[Candidate]
) -> tuple[RoutingOption | None, str | None]:
    """Greedy: each line (largest first) from the node with the lowest marginal score; a node
    already shipping a parcel costs only its per-unit terms. None and why, when stock is short."""
    left = {c.node.code: dict(c.giveable) for c in candidates}
    by_code = {c.node.code: c for c in candidates}
    allocation: dict[str, list[Line]] = {}
    for line in sorted(lines, key=lambda x: (-x.qty, x.line_no)):
        remaining = line.qty
        while remaining > 0:
            best: tuple[float, int, str] | None = None
            for cand in candidates:
                code = cand.node.code
                if left[code].get(line.sku, 0) <= 0:
                    continue
                score = scorer.marginal_unit(cand, line.sku) * min(remaining, left[code][line.sku])
                if code not in allocation:
                    score += scorer.fixed_cost(cand) + scorer.late_penalty(cand)
                    score += scorer.settings.split_penalty if allocation else 0.0
                per_unit = score / min(remaining, left[code][line.sku])
                key = (round(per_unit, 6), KIND_RANK.get(cand.node.kind, 3), code)
                if best is None or key < best:
                    best = key
            if best is None:
                have = sum(c.giveable.get(line.sku, 0) for c in candidates)
                return None, (
                    f"line {line.line_no}: {line.qty} × {line.sku} asked, "
                    f"{have} available to ship at the eligible nodes"
                )
            code = best[2]
            take = min(remaining, left[code][line.sku])
            left[code][line.sku] -= take
            allocation.setdefault(code, []).append(Line(line.line_no, line.sku, take))
            remaining -= take
    return scorer.option(allocation, by_code), None


def rank_options(
    scorer: Scorer, lines: Sequence[Line], candidates: Sequence[Candidate]
) -> tuple[list[RoutingOption], str | None]:
    """Every option, best first (ties: DCs before the online pool before stores, fewer parcels,
    then node codes; before, codes alone let ``BEI-S01`` win a tie against ``DC-BEI``), and why
    none when there is none."""
    options = whole_order_options(scorer, lines, candidates)
    split, why = split_option(scorer, lines, candidates)
    seen = {tuple(o.nodes) for o in options}
    if split is not None and (len(split.nodes) > 1 or tuple(split.nodes) not in seen):
        options.append(split)
    options.sort(key=_rank_key)
    return options, (None if options else why)


def _rank_key(option: RoutingOption) -> tuple[float, int, int, list[str]]:
    kinds = max(KIND_RANK.get(p.node_kind, 3) for p in option.parcels)
    return (round(option.parts.total, 2), kinds, len(option.parcels), option.nodes)
