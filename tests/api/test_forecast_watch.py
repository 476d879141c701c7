"""A live pool's forecasters follow its sales: a fit reads history up to the newest recorded sale
(a day not imported yet is not a day that sold nothing), and once the pool holds
``forecast_refit_days`` days of sales a stored forecaster has not seen, the service refits it in
the background while the old one keeps answering. On SQLite and PostgreSQL, with the sales
brought in by the importer, as an operator's nightly feed does."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from api.auth import DEMO_KEYS, seed_demo_keys
from inventory.clock import read_world_clock, set_world_clock
from inventory.config import Settings
from inventory.importers import import_file
from inventory.models import DailySales
from tools.context import ToolContext
from tools.forecast_demand.artefacts import load_artefact, pool_fingerprint
from tools.forecast_demand.fitting import fit_pool_model
from tools.forecast_demand.pool_panel import sales_recorded_through
from tools.forecast_demand.tool import ensure_model, refit_due, stored_model

VIEWER = {"x-api-key": DEMO_KEYS["demo-viewer"][0]}
DAY = dt.timedelta(days=1)


@pytest.fixture
def private_data_dir(forecast_models_dir: Path, tmp_path: Path) -> Path:
    """The session's fitted forecasters, copied: these tests overwrite them with refits."""
    data_dir = tmp_path / "data"
    shutil.copytree(forecast_models_dir, data_dir / "models")
    return data_dir


def _settings(engine: Engine, data_dir: Path, **changes: object) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    return Settings(database_url=url, data_dir=data_dir, clock="world", **changes)


def last_sales_day(engine: Engine, today: dt.date) -> dt.date | None:
    with Session(engine) as session:
        return sales_recorded_through(session, today)


def _import_days(engine: Engine, first: dt.date, days: int, folder: Path) -> None:
    """Import ``days`` new days of sales from ``first`` on, through the sales importer: the
    pool's own last ``days`` days again, moved forward (a plausible feed for every series)."""
    source = first - days * DAY
    with Session(engine) as session:
        rows = session.exec(
            select(DailySales).where(col(DailySales.date) >= source, col(DailySales.date) < first)
        ).all()
    assert rows, "the world has sales to repeat"
    path = folder / f"sales-{first}-{days}.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["location", "sku", "date", "units", "price", "promo", "stockout"])
        for row in rows:
            moved = row.date + days * DAY
            out.writerow(
                [
                    row.location_code,
                    row.sku_code,
                    moved,
                    row.units,
                    row.price,
                    row.promo,
                    row.stockout,
                ]
            )
    report = import_file(engine, "sales", path)
    assert report.inserted == len(rows)


def test_a_fit_reads_up_to_the_last_sale_and_a_refit_waits_for_enough_new_days(
    any_world_engine: Engine, private_data_dir: Path, tmp_path: Path
) -> None:
    engine = any_world_engine
    clock = read_world_clock(engine)
    assert clock is not None
    today = clock.date()
    settings = _settings(engine, private_data_dir)
    stored = stored_model(ToolContext.for_world(engine, settings), "style")
    assert stored is not None and stored.meta.data_end == today - DAY

    # A week on the clock but no sales imported since: nothing new to learn, no refit; and a fit
    # asked for anyway ends at the last recorded sale, not on seven days of "zero sales".
    set_world_clock(engine, clock + 7 * DAY)
    later = ToolContext.for_world(engine, settings)
    assert last_sales_day(engine, later.today) == today - DAY
    assert refit_due(later, stored) is None
    assert ensure_model(later, "style") == (stored, False)
    scratch = fit_pool_model(engine, later.today, tmp_path / "scratch", level="style")
    assert scratch.meta.data_end == today - DAY

    # Three days imported: fresh enough under the default (refit every 7 days of new sales).
    _import_days(engine, today, 3, tmp_path)
    assert last_sales_day(engine, later.today) == today + 2 * DAY
    assert refit_due(later, stored) is None
    # Seven: due, and the fit job replaces it with one that has seen them.
    _import_days(engine, today + 3 * DAY, 4, tmp_path)
    due = refit_due(later, stored)
    assert due is not None and "last 7 days of sales" in due and stored.meta.label in due
    never = ToolContext.for_world(
        engine, _settings(engine, private_data_dir, forecast_refit_days=0)
    )
    assert refit_due(never, stored) is None  # 0: an operator who refits by hand
    refitted, fitted = ensure_model(later, "style")
    assert fitted and refitted.meta.data_end == today + 6 * DAY
    assert stored_model(later, "style") is refitted
    assert ensure_model(later, "style") == (refitted, False)


def _wait_for(predicate, timeout_s: float = 300.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the service did not get there in time")
        time.sleep(0.2)


def test_the_service_refits_in_the_background_once_new_sales_arrive(
    any_world_engine: Engine, private_data_dir: Path, tmp_path: Path
) -> None:
    from tests.api.conftest import tiny_catalog

    engine = any_world_engine
    seed_demo_keys(engine)
    clock = read_world_clock(engine)
    assert clock is not None
    today = clock.date()
    models = private_data_dir / "models"
    before = {
        level: load_artefact(models, pool_fingerprint(engine), level) for level in ("sku", "style")
    }
    assert all(a is not None and a.meta.data_end == today - DAY for a in before.values())
    settings = _settings(engine, private_data_dir, forecast_check_s=0.2)
    service = create_app(
        settings, engine=engine, catalog=tiny_catalog(engine), fit_forecasters=True
    )
    with TestClient(service) as client:

        def fits() -> list[dict]:
            jobs = client.get("/v1/jobs", headers=VIEWER).json()
            return [j for j in jobs if j["kind"] == "forecast_fit"]

        # The start-up fits find fresh forecasters and keep them; the watch queues nothing more.
        _wait_for(lambda: len(fits()) == 2 and all(j["status"] == "succeeded" for j in fits()))
        assert all(j["result"]["fitted"] is False for j in fits())
        set_world_clock(engine, clock + 7 * DAY)  # a week passes, the nightly feed stalls
        time.sleep(1.5)  # several looks of the watch (every 0.2 s; the clock is re-read each 1 s)
        assert len(fits()) == 2

        _import_days(engine, today, 7, tmp_path)  # the feed catches up: 7 days the fits lack
        _wait_for(lambda: sum(j["status"] == "succeeded" for j in fits()) == 4)
        refits = [j for j in fits() if j["result"] and j["result"]["fitted"]]
        assert sorted(j["result"]["level"] for j in refits) == ["sku", "style"]
        for job in refits:
            level = job["result"]["level"]
            assert job["result"]["replaced"] == before[level].meta.label
            after = load_artefact(models, pool_fingerprint(engine), level)
            assert after is not None and after.meta.data_end == today + 6 * DAY
            assert job["result"]["model"] == after.meta.label
        style_model = next(j["result"]["model"] for j in refits if j["result"]["level"] == "style")
        ask = {"city": "Shanghai", "category": "umbrellas", "horizon_days": 3, "level": "style"}
        answer = client.post("/v1/forecasts", json=ask, headers=VIEWER)
        assert answer.status_code == 200 and answer.json()["model"] == style_model
        assert answer.json()["sales_through"] == str(today + 6 * DAY)
        time.sleep(1.0)
        assert len(fits()) == 4  # fresh again: no further fit
