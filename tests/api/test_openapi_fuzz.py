"""A bounded schemathesis run over the whole OpenAPI spec: no input may produce a 5xx.

Runs with an admin key (so requests get past auth into validation and the handlers) on the
small demo world with the test graphs; each operation gets a handful of generated cases.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from tests.api.conftest import KEYS

ADMIN = {"x-api-key": KEYS["demo-admin"]}


@pytest.fixture
def api_schema(world_app: FastAPI):
    return schemathesis.openapi.from_asgi("/openapi.json", world_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case) -> None:
    response = case.call(headers=ADMIN)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["status"] == response.status_code and error["message"]
