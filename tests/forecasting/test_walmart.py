"""Real-data check (issue 3 §5): does weather help on real Walmart sales? The figures recorded
here are the ones in the note; a model change that moves them must update both."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecasting.walmart import WALMART_FILE, weather_check
from inventory.config import PROJECT_ROOT, get_settings

#: Measured 2026-12-06 (second pass: no day-of-year feature, sell-out excess): 10 folds × 14
#: days, global model with vs without weather features (2026-11-24: 1.053 and 0.860).
RECORDED_RMSSE_RATIO = 0.984  # with ÷ without weather, all days: within noise of no help
RECORDED_WET_RMSSE_RATIO = 0.654  # on the 5 wet days (≥ 10 mm) scored: too few to conclude


def _external_data() -> Path:
    """STOCKPILOT_SHARED_DATA_DIR, else the development machines' sibling data folder (the
    product itself never looks outside the repository)."""
    return get_settings().shared_data_dir or PROJECT_ROOT.parent / "shared" / "data"


@pytest.mark.slow
def test_weather_on_real_walmart_sales_is_recorded_honestly() -> None:
    data = _external_data()
    if not (data / WALMART_FILE).exists():
        pytest.skip(
            f"optional external check: the Walmart file is not at {data / WALMART_FILE} "
            "(point STOCKPILOT_SHARED_DATA_DIR at a folder holding walmart-stormy/)"
        )
    check = weather_check(data)
    assert check.days == 1035 and check.wet_days_scored == 5
    assert check.rmsse_ratio == pytest.approx(RECORDED_RMSSE_RATIO, abs=0.03)
    assert check.wet_rmsse_ratio == pytest.approx(RECORDED_WET_RMSSE_RATIO, abs=0.05)
    # Both global models must at least beat the seasonal naive on real data.
    assert check.rmsse_with_weather < check.rmsse_seasonal_naive
    assert check.rmsse_without_weather < check.rmsse_seasonal_naive


def test_rain_uplift_per_band_on_real_walmart_sales() -> None:
    """The rain layer on real data (measured 2026-12-02): item 9 barely reacts to rain, and the
    layer says so — ×0.94 for every band (monotone pooling of light 144 days, 中雨 38, 大雨 3,
    暴雨 1) vs ×1.00 (72 days) and ×0.74 (17 days) observed in the hold-out year."""
    from forecasting.walmart import band_uplift_check

    data = _external_data()
    if not (data / WALMART_FILE).exists():
        pytest.skip(f"real data not present at {data / WALMART_FILE}")
    rows = {row.band: row for row in band_uplift_check(data)}
    assert list(rows) == ["light", "moderate", "heavy", "rainstorm"]
    assert rows["light"].estimated_days > 100 and rows["moderate"].estimated_days > 20
    # No strong rain effect on this item: common bands within ±25 % of no change.
    for band in ("light", "moderate"):
        assert 0.75 < rows[band].estimated < 1.25, rows[band]
        assert rows[band].observed is not None and 0.6 < rows[band].observed < 1.4
