"""The example retailer (examples/chengdu, not the demo world) from CSV files to transfers that
reached the WMS, through the running service, on SQLite and PostgreSQL.

The pool-reading checks share one import per backend (``imported``). The forecaster is fitted
once per session (a small configuration) on a SQLite import of the same files and the same date
shift, then stored for each test's pool: the history is identical, so the model is the one that
pool would fit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from api.signatures import signed_headers
from connectors.base import ConnectorSet
from forecasting.global_model import GlobalModelConfig
from inventory import schema
from inventory.clock import wall_clock
from inventory.db import make_engine
from inventory.models import DailySales, Sku, Style, TransferLine, TransferOrder, WeatherDaily
from inventory.vocabulary import UnknownTerm, vocabulary_of
from stockpilot_cli.example import (
    ALERT_SENDER,
    ExampleOutcome,
    example_settings,
    import_retailer,
    run_example,
)
from tools.forecast_demand.artefacts import (
    Artefact,
    pool_fingerprint,
    save_artefact,
)
from tools.forecast_demand.fitting import fit_pool_model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chengdu"
#: Small and single-threaded: this checks the path, not forecast accuracy.
SMALL_FIT = GlobalModelConfig(max_iter=30, origins=2, fit_threads=1)


def yesterday() -> dt.date:
    return wall_clock().date() - dt.timedelta(days=1)


@pytest.fixture(scope="session")
def example_model(tmp_path_factory: pytest.TempPathFactory) -> Artefact:
    """The size-level forecaster fitted once on the example's history (ending yesterday)."""
    folder = tmp_path_factory.mktemp("example-model")
    engine = make_engine(f"sqlite:///{folder / 'pool.sqlite'}")
    schema.upgrade(engine)
    import_retailer(engine, EXAMPLE, shift_to=yesterday())
    artefact = fit_pool_model(
        engine, wall_clock().date(), folder / "models", level="sku", config=SMALL_FIT
    )
    engine.dispose()
    return artefact


@pytest.fixture
def retailer(db_url: str, tmp_path: Path, example_model: Artefact) -> Iterator[tuple]:
    """A fresh pool on each backend with the example's settings and its forecaster in place."""
    engine = make_engine(db_url)
    schema.upgrade(engine)
    settings = example_settings(db_url, tmp_path / "data", EXAMPLE)
    meta = example_model.meta.model_copy(update={"pool": pool_fingerprint(engine)})
    save_artefact(settings.data_dir / "models", Artefact(meta=meta, fitted=example_model.fitted))
    yield engine, settings
    engine.dispose()


# The whole example (import, alert, approval, WMS): 5-15 s of CPU per backend. Marked slow so
# the scheduler hands it out first (tests/conftest.py) instead of last.
@pytest.mark.slow
def test_the_example_goes_from_csv_to_orders_at_the_wms(retailer: tuple) -> None:
    engine, settings = retailer
    outcome: ExampleOutcome = run_example(EXAMPLE, settings, engine, city="成都", fit=False)

    assert outcome.run_status == "succeeded"
    assert outcome.approved > 0, "the retailer's policy holds large transfers for a human"
    assert outcome.orders and all(o.wms_reference for o in outcome.orders)
    with ConnectorSet.from_settings(settings) as systems:
        at_wms = {r.order.order_id: r.reference for r in systems.wms.list_transfer_orders()}
    assert at_wms == {o.order_id: o.wms_reference for o in outcome.orders}  # exactly once each

    stores = {"JL-CXL", "JL-KZX", "JL-TFG", "JL-GXN", "JL-WHC", "JL-OUT"}
    assert {o.dest for o in outcome.orders} <= stores
    with Session(engine) as session:
        moved = session.exec(
            select(Style.category, func.sum(TransferLine.qty))
            .join(Sku, col(Sku.code) == TransferLine.sku_code)
            .join(Style, col(Style.code) == Sku.style_code)
            .join(TransferOrder, col(TransferOrder.id) == TransferLine.order_id)
            .where(col(TransferOrder.run_id) == outcome.run_id)
            .group_by(Style.category)
        ).all()
    # Only the categories this retailer marked rain-sensitive move (ponchos are its own word).
    assert moved and {category for category, _ in moved} <= {"rain_boots", "umbrellas", "ponchos"}
    assert all(o.units > 0 for o in outcome.orders)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def imported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The example's files imported (history ending yesterday) into a fresh pool, once on
    SQLite and once on PostgreSQL, for the module's tests that only read it."""
    from inventory.pool_copy import drop_postgres_database
    from tests.conftest import create_test_database

    admin_url = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('example-import') / 'pool.sqlite'}"
    else:
        admin_url = request.getfixturevalue("postgres_admin_url")
        url = create_test_database(admin_url)
    engine = make_engine(url)
    try:
        schema.upgrade(engine)
        import_retailer(engine, EXAMPLE, shift_to=yesterday())
        yield engine
    finally:
        engine.dispose()
        if admin_url is not None:
            drop_postgres_database(admin_url, url)


def test_the_imported_history_ends_yesterday_with_its_own_rain(imported: Engine) -> None:
    with Session(imported) as session:
        sales = session.exec(select(func.min(DailySales.date), func.max(DailySales.date))).one()
        weather = session.exec(
            select(func.min(WeatherDaily.date), func.max(WeatherDaily.date))
        ).one()
        wettest = session.exec(
            select(WeatherDaily.date).order_by(col(WeatherDaily.precipitation_mm).desc())
        ).first()
    assert tuple(sales) == tuple(weather)
    assert sales[1] == yesterday() and (sales[1] - sales[0]).days == 89
    # 2015-08-17 (100.8 mm, 暴雨) is the file's wettest day; it keeps its place in the block.
    assert wettest == yesterday() - dt.timedelta(days=12)


def test_the_pool_speaks_the_retailers_vocabulary(imported: Engine) -> None:
    terms = vocabulary_of(imported)
    assert terms.resolve_city("成都") == "Chengdu"
    assert terms.cities["Chengdu"].region == "Sichuan" and terms.region_zh("Sichuan") == "川渝"
    assert terms.rain_categories == {"rain_boots", "umbrellas", "ponchos"}
    assert terms.resolve_category("雨披") == "ponchos"
    with pytest.raises(UnknownTerm, match="known cities: Chengdu"):
        terms.resolve_city("Shanghai")  # a demo city, but not this retailer's


def test_the_webhook_refuses_a_city_outside_the_pool(imported: Engine, tmp_path: Path) -> None:
    from api.app import create_app

    url = imported.url.render_as_string(hide_password=False)
    settings = example_settings(url, tmp_path / "data", EXAMPLE)
    body = json.dumps(
        {
            "type": "weather",
            "alert_id": "sh-1",
            "city": "Shanghai",
            "precipitation_mm": 60,
            "window_hours": 24,
            "issued_at": wall_clock().isoformat(),
        }
    ).encode()
    secret = settings.alert_secrets[ALERT_SENDER]
    with TestClient(create_app(settings, engine=imported)) as client:
        refused = client.post(
            "/v1/alerts", content=body, headers=signed_headers(ALERT_SENDER, secret, body)
        )
    assert refused.status_code == 422, refused.text
    assert "unknown city 'Shanghai'; known cities: Chengdu (成都)" in refused.text


def test_the_offline_planner_reads_the_retailers_words(imported: Engine) -> None:
    """City names, category words and store codes come from the pool, not the demo world."""
    from agents.llm.offline_parse import parse_request

    terms = vocabulary_of(imported)
    zh = parse_request("成都 JL-CXL 还有多少雨披?", terms)
    assert (zh.city, zh.category, zh.location, zh.intent) == (
        "Chengdu",
        "ponchos",
        "JL-CXL",
        "stock",
    )
    en = parse_request("ship 12 units of ponchos from JL-DC01 to JL-KZX", terms)
    assert (en.source, en.dest, en.qty, en.category) == ("JL-DC01", "JL-KZX", 12, "ponchos")
    assert parse_request("wellies in Chengdu?", terms).category == "rain_boots"


def test_tools_take_the_retailers_category_words(imported: Engine) -> None:
    """A category typed in Chinese or by a synonym selects the pool's category (no demo word)."""
    from tools.forecast_demand.models import ForecastInput
    from tools.forecast_demand.selection import select_series

    with Session(imported) as session:
        by_chinese = select_series(session, ForecastInput(category="雨披", city="成都"))
        by_code = select_series(session, ForecastInput(category="ponchos", city="Chengdu"))
    assert len(by_chinese) == len(by_code) == 6 * 3  # six stores × three poncho sizes


def test_the_forecaster_fits_the_same_on_each_backend(
    imported: Engine, example_model: Artefact, tmp_path: Path
) -> None:
    """``stockpilot example`` fits on the pool it imported: the same history read from
    PostgreSQL gives the model fitted on the SQLite import (same series, dates and errors)."""
    artefact = fit_pool_model(
        imported, wall_clock().date(), tmp_path / "models", level="sku", config=SMALL_FIT
    )
    assert artefact.meta.pool == pool_fingerprint(imported)
    fitted, reference = artefact.meta, example_model.meta
    assert (fitted.series, fitted.data_start, fitted.data_end) == (
        reference.series,
        reference.data_start,
        reference.data_end,
    )
    assert fitted.backtest.keys() == reference.backtest.keys()
    for name, value in reference.backtest.items():
        assert fitted.backtest[name] == pytest.approx(value, rel=1e-6), name
