"""The weather part of a forecast in words and numbers, so a human can judge it.

"baseline 1.20/day × rain uplift ×3.10 on 2 大雨 days (alert), from 46 past 大雨 days of
rain_boots in Shanghai stores" — plus, per band, the uplift, its support (past days) and how far
it was pooled towards the other cities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.model import ProbabilisticForecast
from forecasting.panel import Panel
from forecasting.rain import BANDS, RainUplift, band_label, series_channels
from inventory.vocabulary import RAIN_BAND_ZH


def horizon_weather(
    panel: Panel,
    origin: int,
    horizon: int,
    assumed: dict[tuple[str, pd.Timestamp], float],
) -> list[dict[str, object]]:
    """Per city × horizon day: where its weather came from (alert/forecast input or climatology)."""
    probability = panel.band_probability
    out = []
    for i, city in enumerate(panel.cities):
        for h in range(horizon):
            day = panel.dates[origin + h]
            mm = assumed.get((city, day))
            chance = (
                probability[i, origin + h]
                if probability is not None
                else np.eye(len(BANDS))[0].astype(np.float32)
            )
            out.append(
                {
                    "city": city,
                    "date": day.date(),
                    "source": "scenario" if mm is not None else "climatology",
                    "precipitation_mm": None if mm is None else round(float(mm), 1),
                    "band": str(BANDS[int(np.argmax(chance))]) if mm is not None else None,
                    "band_probability": {
                        str(b): round(float(p), 3) for b, p in zip(BANDS, chance, strict=True)
                    },
                }
            )
    return out


def series_rain(
    forecast: ProbabilisticForecast,
    panel: Panel,
    uplift: RainUplift,
    origin: int,
    assumed: dict[tuple[str, pd.Timestamp], float],
) -> list[dict[str, object]]:
    """Per series: baseline, uplift, the per-band table it used and a one-line explanation."""
    assert forecast.baseline is not None and forecast.rain_uplift is not None
    horizon = forecast.mean.shape[1]
    keys = pd.DataFrame(
        {
            "city": panel.series["city"].astype(str).to_numpy(),
            "category": panel.series["category"].astype(str).to_numpy(),
            "channel": series_channels(panel),
        }
    )
    support: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    rows: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    days = panel.dates[origin : origin + horizon]
    base_total = forecast.baseline.sum(axis=1)
    out = []
    for i, row in enumerate(keys.itertuples(index=False)):
        key = (row.city, row.category, row.channel)
        if key not in support:
            support[key] = [uplift.support(*key, b) for b in range(1, len(BANDS))]
            rows[key] = [_band_row(b) for b in support[key]]
        bands = support[key]
        alert_days = [assumed.get((row.city, d)) for d in days]
        baseline_day = float(base_total[i]) / horizon
        factor = float(forecast.total_mean[i] / base_total[i]) if base_total[i] > 0 else 1.0
        sentence = _sentence(row, baseline_day, factor, alert_days, bands)
        exposure = _exposure(uplift, panel) if row.channel == "online" else {}
        if exposure:
            sentence = _online_sentence(baseline_day, factor, exposure, assumed, days, row)
        out.append(
            {
                "baseline_mean": round(float(base_total[i]), 3),
                "rain_uplift": round(factor, 3),
                "rain": {
                    "city": row.city,
                    "category": row.category,
                    "channel": row.channel,
                    "bands": rows[key],
                    "explanation": sentence,
                    **({"exposure": exposure} if exposure else {}),
                },
            }
        )
    return out


def _exposure(uplift: RainUplift, panel: Panel) -> dict[str, float]:
    """City → weight of the online rain exposure, over the cities this panel has weather for."""
    weights = {c: w for c, w in uplift.exposure.items() if c in panel.cities and w > 0}
    total = sum(weights.values())
    return {c: round(w / total, 3) for c, w in sorted(weights.items())} if total > 0 else {}


def _online_sentence(
    baseline_day: float,
    factor: float,
    exposure: dict[str, float],
    assumed: dict[tuple[str, pd.Timestamp], float],
    days: pd.DatetimeIndex,
    row: object,
) -> str:
    category = row.category  # type: ignore[attr-defined]
    mix = ", ".join(
        f"{city} {weight:.0%}"
        for city, weight in sorted(exposure.items(), key=lambda item: -item[1])
    )
    alerted = sorted({city for (city, day) in assumed if city in exposure and day in days})
    given = f"; alert/forecast rain in {', '.join(alerted)}" if alerted else ""
    return (
        f"baseline {baseline_day:.2f}/day, rain uplift ×{factor:.2f} for {category} online: "
        f"the rain where its customers are ({mix}, from the pool's store sales by city), each "
        f"city's band from climatology{given}"
    )


def _band_row(entry: dict[str, object]) -> dict[str, object]:
    band = int(entry.get("band", 0) or 0)
    return {
        "band": str(BANDS[band]),
        "band_zh": RAIN_BAND_ZH[BANDS[band]],
        "uplift": round(float(entry.get("uplift", 1.0)), 3),
        "days": int(entry.get("days", 0) or 0),
        "own_weight": round(float(entry.get("weight", 0.0) or 0.0), 3),
        "pooled_uplift": round(float(entry.get("pooled", entry.get("uplift", 1.0))), 3),
        "pooled_days": int(entry.get("pooled_days", entry.get("days", 0)) or 0),
        "level": str(entry.get("level")),
    }


def _sentence(
    row: object,
    baseline_day: float,
    factor: float,
    alert_days: list[float | None],
    bands: list[dict[str, object]],
) -> str:
    city, category, channel = row.city, row.category, row.channel  # type: ignore[attr-defined]
    where = f"{category} in {city} {'stores' if channel == 'store' else 'online'}"
    head = f"baseline {baseline_day:.2f}/day, rain uplift ×{factor:.2f}"
    assumed = [mm for mm in alert_days if mm is not None]
    if not assumed:
        return f"{head} expected over {city}'s climatology for these dates (no rain alert given)"
    from forecasting.rain import band_codes

    band = int(band_codes(np.array([max(assumed)]))[0])
    if band == 0:
        return f"{head}: {len(assumed)} day(s) assumed dry; other days from climatology"
    entry = bands[band - 1]
    days = int(entry.get("days", 0) or 0)
    own = float(entry.get("weight", 0.0) or 0.0)
    if days == 0:
        pooled_days = int(entry.get("pooled_days", 0) or 0)
        return (
            f"{head}; ×{float(entry.get('uplift', 1.0)):.2f} on {len(assumed)} "
            f"{band_label(band)} day(s): no past {RAIN_BAND_ZH[BANDS[band]]} day of {where}, "
            f"so the value pooled across cities ({pooled_days} city-days"
            + (", extrapolated from the milder bands" if pooled_days == 0 else "")
            + ")"
        )
    text = (
        f"{head}; ×{float(entry.get('uplift', 1.0)):.2f} on {len(assumed)} {band_label(band)} "
        f"day(s) from {days} past {RAIN_BAND_ZH[BANDS[band]]} days of {where}"
    )
    if entry.get("level") != "city" or own < 0.95:
        text += (
            f" ({own:.0%} own data, pooled towards ×{float(entry.get('pooled', 1.0)):.2f} from "
            f"{int(entry.get('pooled_days', 0) or 0)} city-days across cities)"
        )
    return text
