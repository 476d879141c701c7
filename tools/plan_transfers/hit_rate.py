"""How often a rain alert verifies: the probability that the warned rain actually falls.

An alert is a forecast. Planning as if it were certain moved stock on dry-day alerts that then
sat unsold (false-alarm-shanghai lost ¥744 with sizes pooled). The planner therefore values a
move as p · value_if_rain + (1 − p) · value_if_dry − freight (``problem.TransferProblem``), with p
estimated here from what the pool knows at the clock: its own past rain alerts
(``AlertRecord``), each checked against the weather observed in its window (``WeatherDaily``),
only for windows that ended before today — never an observation after the clock.

An alert **verifies** when some day of its window reaches the band below the warned one, and at
least 中雨 (moderate): a 暴雨 warning that brings 大雨 still fills the stores with wet shoppers, a
大雨 warning that brings a drizzle does not. Per band of the warning, the record is shrunk to the
configured prior (``value_terms.yaml: alert_verification``) with ``prior_alerts`` pseudo-alerts,
so a pool with no alert history plans at the prior and one with hundreds at its own rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from inventory.models import AlertRecord, WeatherDaily
from inventory.vocabulary import RainBand, UnknownTerm, load_vocabulary, rain_band
from tools.plan_transfers.value import AlertVerification

_ORDER = [RainBand.NONE, RainBand.LIGHT, RainBand.MODERATE, RainBand.HEAVY, RainBand.RAINSTORM]


@dataclass(frozen=True)
class HitRate:
    """The probability used, and where it came from (for the plan's notes)."""

    band: str
    probability: float
    alerts: int
    verified: int
    prior: float

    @property
    def note(self) -> str:
        record = (
            f"{self.verified} of {self.alerts} past {self.band} alerts verified"
            if self.alerts
            else f"no past {self.band} alert in the pool"
        )
        return (
            f"rain alert taken as verifying with p = {self.probability:.2f} ({record}; prior "
            f"{self.prior:.2f}): value = p·value if it rains + (1 − p)·value if it stays dry"
        )


def verifies(warned: RainBand, observed: list[RainBand]) -> bool:
    """Whether an alert of band ``warned`` verified on days observed as ``observed``."""
    need = max(_ORDER.index(warned) - 1, _ORDER.index(RainBand.MODERATE))
    return any(_ORDER.index(band) >= need for band in observed)


def _mm_per_day(payload: dict) -> float | None:
    try:
        mm = float(payload.get("mm", 0.0))
        hours = int(payload.get("hours", 24))
    except (TypeError, ValueError):
        return None
    return mm if hours <= 24 else mm * 24 / hours


def alert_record(conn: Connection, today: dt.date) -> list[tuple[RainBand, bool]]:
    """(warned band, verified) of every past rain alert whose window ended before ``today``."""
    rows = conn.execute(
        select(AlertRecord.payload, AlertRecord.received_at).where(
            AlertRecord.type == "rain",
            AlertRecord.received_at < dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC),
        )
    ).all()
    if not rows:
        return []
    vocabulary = load_vocabulary(conn)
    out: list[tuple[RainBand, bool]] = []
    for payload, received in rows:
        mm = _mm_per_day(payload or {})
        if mm is None or rain_band(mm) not in _ORDER[2:]:
            continue
        try:
            city = vocabulary.resolve_city(str(payload.get("city", "")))
            start = dt.date.fromisoformat(str(payload.get("start") or received.date()))
        except (UnknownTerm, ValueError):
            continue
        days = max(1, -(-int(payload.get("hours", 24)) // 24))
        end = start + dt.timedelta(days=days - 1)
        if end >= today:
            continue  # not over at the clock: its outcome is not known yet
        observed = conn.execute(
            select(WeatherDaily.rain_band).where(
                WeatherDaily.city == city, WeatherDaily.date >= start, WeatherDaily.date <= end
            )
        ).all()
        if not observed:
            continue
        bands = [RainBand(b) for (b,) in observed]
        out.append((rain_band(mm), verifies(rain_band(mm), bands)))
    return out


def alert_hit_rate(
    conn: Connection, mm_per_day: float, today: dt.date, terms: AlertVerification
) -> HitRate:
    """P(the warned rain falls) for an alert of ``mm_per_day``, from the pool's record shrunk to
    the prior."""
    band = rain_band(mm_per_day)
    record = [ok for warned, ok in alert_record(conn, today) if warned == band]
    n, hits = len(record), sum(record)
    k = terms.prior_alerts
    p = (hits + terms.prior_hit_rate * k) / (n + k) if n + k > 0 else terms.prior_hit_rate
    return HitRate(
        band=str(band), probability=p, alerts=n, verified=hits, prior=terms.prior_hit_rate
    )
