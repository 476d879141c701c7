"""Every plan's hedge against the forecast's own error (``PlanTransfersInput.level_backtest``,
on by default: alert and chat plans alike): each city × channel × category level is corrected by
the stored forecaster's backtest on the windows before the clock. It may read only what was known
at the clock: sales after the clock leave it unchanged; more sales of a category before the clock
raise that category's level; a refit of the forecaster is backtested anew."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from inventory.models import DailySales, Location, Sku, Style
from tools.context import ToolContext
from tools.forecast_demand.artefacts import Artefact, load_artefact, pool_fingerprint, save_artefact
from tools.forecast_demand.models import RainScenario
from tools.plan_transfers import pool as plan_pool
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.tool import plan_transfers

RAIN_CATEGORIES = ["rain_boots", "rain_jackets", "shoe_covers", "umbrellas", "waterproof_shoes"]


@pytest.fixture
def ctx(fitted_ctx: ToolContext) -> ToolContext:
    return fitted_ctx


def _request(ctx: ToolContext) -> PlanTransfersInput:
    rain = RainScenario(city="Shanghai", start=ctx.today, days=2, precipitation_mm_per_day=60.0)
    return PlanTransfersInput(
        city="Shanghai",
        categories=RAIN_CATEGORIES,
        window_days=3,
        rain=[rain],
    )


def _grid(ctx: ToolContext) -> np.ndarray:
    request = _request(ctx)
    plan_pool._LEVEL_GRIDS.clear()  # read the pool again, as a new process would
    grid = plan_pool.backtest_level_grid(ctx, plan_pool.read_pool(ctx, request), request)
    assert grid is not None, "the small world's stored forecaster should be backtested"
    return grid


def _shanghai_skus(session: Session, category: str) -> list[tuple[str, str]]:
    stores = session.exec(
        select(Location.code).where(Location.city == "Shanghai", Location.kind == "store")
    ).all()
    skus = session.exec(
        select(Sku.code).join(Style, Style.code == Sku.style_code).where(Style.category == category)
    ).all()
    return [(loc, sku) for loc in stores for sku in skus]


def test_sales_after_the_clock_do_not_change_the_hedge(ctx: ToolContext) -> None:
    before = _grid(ctx)
    assert (before != 1.0).any(), "the backtest should correct some level on this world"
    with Session(ctx.engine) as session:
        for offset in range(5):
            day = ctx.today + dt.timedelta(days=offset)
            for loc, sku in _shanghai_skus(session, "umbrellas")[:40]:
                session.merge(
                    DailySales(
                        location_code=loc, sku_code=sku, date=day, units=50, price=99.0, promo=False
                    )
                )
        session.commit()
    np.testing.assert_array_equal(_grid(ctx), before)


def test_more_sales_of_a_category_before_the_clock_raise_its_level(ctx: ToolContext) -> None:
    request = _request(ctx)
    pool = plan_pool.read_pool(ctx, request)
    category = {sku.code: sku.category for sku in pool.skus}
    umbrellas = np.array([category[sku.code] == "umbrellas" for sku in pool.skus])
    stores = np.array([loc.city == "Shanghai" and loc.kind == "store" for loc in pool.locations])
    before = _grid(ctx)
    # Triple the umbrella sales of the last window before the clock (after the last origin).
    with Session(ctx.engine) as session:
        session.execute(
            update(DailySales)
            .where(
                DailySales.date >= ctx.today - dt.timedelta(days=3),  # type: ignore[operator]
                DailySales.date < ctx.today,  # type: ignore[operator]
                DailySales.sku_code.in_(  # type: ignore[attr-defined]
                    [
                        sku.code
                        for sku, is_umbrella in zip(pool.skus, umbrellas, strict=True)
                        if is_umbrella
                    ]
                ),
            )
            .values(units=DailySales.units * 3 + 1)
        )
        session.commit()
    after = _grid(ctx)
    cell = np.ix_(stores, umbrellas)
    forecast = before[cell] != 1.0  # positions the forecast covers (the rest stay at 1)
    assert forecast.any()
    assert (after[cell][forecast] > before[cell][forecast]).all()
    other = np.ix_(stores, ~umbrellas)
    np.testing.assert_array_equal(after[other], before[other])


def test_a_chat_plan_corrects_its_level_as_the_alert_plan_does(ctx: ToolContext) -> None:
    """One plan path: a plan asked without rain (as chat asks) is hedged by default too."""
    plain = PlanTransfersInput(city="Shanghai", categories=RAIN_CATEGORIES, window_days=3)
    assert plain.level_backtest
    plan_pool._LEVEL_GRIDS.clear()
    notes = plan_transfers(ctx, plain).notes
    assert any("forecast level corrected by its backtest" in note for note in notes), notes
    as_given = plan_transfers(ctx, plain.model_copy(update={"level_backtest": False})).notes
    assert not any("forecast level corrected" in note for note in as_given), as_given


def test_a_refit_at_the_same_clock_is_backtested_anew(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private copy of the models: the session's fitted forecasters are shared by every test.
    models = ctx.settings.data_dir / "models"
    shared = models.resolve()
    models.unlink()
    shutil.copytree(shared, models)
    calls: list[int] = []
    real = plan_pool.backtest

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_pool, "backtest", counted)
    request = _request(ctx)
    pool = plan_pool.read_pool(ctx, request)
    plan_pool._LEVEL_GRIDS.clear()
    plan_pool.backtest_level_grid(ctx, pool, request)
    plan_pool.backtest_level_grid(ctx, pool, request)
    assert len(calls) == 1, "the same forecaster at the same clock is backtested once"
    refit = _stored(models, ctx)
    stamp = dt.datetime.fromisoformat(refit.meta.created_at) + dt.timedelta(seconds=1)
    refit.meta = refit.meta.model_copy(update={"created_at": stamp.isoformat()})
    save_artefact(models, refit)
    plan_pool.backtest_level_grid(ctx, pool, request)
    assert len(calls) == 2, "a refit forecaster must not reuse the old one's correction"


def _stored(models: Path, ctx: ToolContext) -> Artefact:
    artefact = load_artefact(models, pool_fingerprint(ctx.engine), "sku")
    assert artefact is not None
    return artefact
