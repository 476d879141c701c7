"""CMA rain bands and city names, the vocabulary every part shares."""

from __future__ import annotations

import pytest

from inventory.vocabulary import RainBand, rain_band, resolve_city


@pytest.mark.parametrize(
    ("mm", "band"),
    [
        (0.0, RainBand.NONE),
        (0.09, RainBand.NONE),
        (0.1, RainBand.LIGHT),
        (9.9, RainBand.LIGHT),
        (10.0, RainBand.MODERATE),
        (24.9, RainBand.MODERATE),
        (25.0, RainBand.HEAVY),
        (49.9, RainBand.HEAVY),
        (50.0, RainBand.RAINSTORM),
        (250.0, RainBand.RAINSTORM),
    ],
)
def test_rain_band_edges(mm: float, band: RainBand) -> None:
    assert rain_band(mm) is band


@pytest.mark.parametrize("name", ["Shanghai", "shanghai", " SHANGHAI ", "上海"])
def test_resolve_city_accepts_english_and_chinese(name: str) -> None:
    assert resolve_city(name) == "Shanghai"


def test_unknown_city_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown city 'Atlantis'.*Shanghai"):
        resolve_city("Atlantis")
