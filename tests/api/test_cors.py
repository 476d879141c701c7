"""``STOCKPILOT_CORS_ORIGINS``: which browser origins may call the API.

SQLite only: CORS is answered by middleware before any handler reads the pool, so the database
plays no part (preflights on the served app on both databases: test_sdk_contract.py)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.cors import origin_regex
from inventory.config import Settings
from tests.api.conftest import tiny_catalog


@pytest.mark.parametrize(
    ("setting", "allowed", "refused"),
    [
        (
            Settings().cors_origins,
            ["http://localhost:3000", "http://127.0.0.1"],
            ["http://evil.io"],
        ),
        ("https://ui.example.com", ["https://ui.example.com"], ["https://ui.example.com.evil.io"]),
        ("https://*.example.com", ["https://ops.example.com"], ["https://example.com.evil.io/x"]),
        ("*", ["https://anything.example"], []),
    ],
)
def test_origin_patterns(setting: str, allowed: list[str], refused: list[str]) -> None:
    pattern = re.compile(origin_regex(setting) or "$^")
    assert all(pattern.fullmatch(o) for o in allowed)
    assert not any(pattern.fullmatch(o) for o in refused)


def test_no_origins_means_no_cors(sqlite_engine: Engine, api_settings: Settings) -> None:
    assert origin_regex(" , ") is None
    settings = api_settings.model_copy(update={"cors_origins": ""})
    app = create_app(settings, engine=sqlite_engine, catalog=tiny_catalog(sqlite_engine))
    with TestClient(app) as client:
        response = client.options(
            "/info",
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
        )
    assert "access-control-allow-origin" not in response.headers


def test_a_configured_origin_only(sqlite_engine: Engine, api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"cors_origins": "https://ui.example.com"})
    app = create_app(settings, engine=sqlite_engine, catalog=tiny_catalog(sqlite_engine))
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key",
    }
    with TestClient(app) as client:
        ok = client.options(
            "/threads/search", headers={"Origin": "https://ui.example.com", **preflight}
        )
        other = client.options(
            "/threads/search", headers={"Origin": "http://localhost:3000", **preflight}
        )
    assert (
        ok.status_code == 200
        and ok.headers["access-control-allow-origin"] == "https://ui.example.com"
    )
    assert "access-control-allow-origin" not in other.headers
