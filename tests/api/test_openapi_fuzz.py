"""A bounded schemathesis run over the whole OpenAPI spec: no input may produce a 5xx.

Runs with an admin key (so requests get past auth into validation and the handlers) on the
small demo world with the test graphs; each operation gets 50 generated cases of each kind,
valid and invalid. The operations are driven from Hypothesis directly because schemathesis'
pytest plugin does not load under pytest 9.

Cost (measured once, 2026-12-06): 56 operations × 2 modes × 50 cases took 72 s of CPU (306 s
of wall time at load average 26 on the shared 2-core machine). The app is started once (the
ASGI lifespan is shared by every call); a profile of one operation puts ~60 % of the time in
Hypothesis / schemathesis generating the case, ~25 % in the request itself.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.api.conftest import KEYS

ADMIN = {"x-api-key": KEYS["demo-admin"]}
EXAMPLES_PER_OPERATION = 50
#: Valid bodies here start real forecasting / optimisation (seconds each, and schemathesis'
#: "negative" cases may still carry a valid body) or a background forecaster fit (minutes), so
#: they are left out here; their validation and valid paths are tested in test_domain_reads and
#: test_serve.
COMPUTE_PATHS = {
    "/v1/forecasts",
    "/v1/transfer-plans",
    "/v1/promo-recommendations",
    "/v1/jobs/forecast-fit",
}


def _server_errors(operation, mode: GenerationMode) -> list[str]:
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        case.headers = {**(case.headers or {}), **ADMIN}  # a generated key would only be 401
        response = case.call()
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} body={case.body!r} "
                f"query={case.query!r} → {response.status_code} {response.text[:300]}"
            )
        elif response.status_code >= 400:
            error = response.json()["error"]
            assert error["status"] == response.status_code and error["message"]

    try:
        check()
    except Unsatisfiable:  # no invalid input exists for an operation without parameters
        assert mode == GenerationMode.NEGATIVE
    return failures


@pytest.mark.slow
def test_no_server_errors_on_any_operation(world_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures = [
        failure
        for operation in operations
        for mode in GenerationMode
        if operation.path not in COMPUTE_PATHS
        for failure in _server_errors(operation, mode)
    ]
    assert not failures, "\n".join(failures[:20])
