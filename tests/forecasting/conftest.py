"""Small synthetic panels and a fast global-model config shared by the forecasting tests."""

from __future__ import annotations

import pytest

from forecasting.global_model import GlobalModelConfig
from forecasting.panel import Panel
from forecasting.synthetic import SyntheticSpec, synthetic_panel

#: Few trees and rows: the tests check behaviour, not the last percent of accuracy.
FAST = GlobalModelConfig(max_horizon=14, max_iter=40, max_train_rows=60_000, fit_threads=1)


@pytest.fixture(scope="session")
def panel() -> Panel:
    """1,200 series × 300 days, seeded."""
    return synthetic_panel(SyntheticSpec(series=1_200, days=300, seed=11))


@pytest.fixture(scope="session")
def fast_config() -> GlobalModelConfig:
    return FAST
