"""A bounded schemathesis run over the whole OpenAPI spec: no input may produce a 5xx.

Runs with an admin key (so requests get past auth into validation and the handlers) on the
small demo world with the test graphs; each operation gets 50 generated cases of each kind,
valid and invalid. The operations are driven from Hypothesis directly because schemathesis'
pytest plugin does not load under pytest 9.

The four compute operations (forecasts, transfer plans, markdown recommendations, forecaster
fits) run against a tiny world (2 Shanghai stores, 3 styles, 60 days of history) instead: their
cost grows with the SKU × location series they compute, and what is fuzzed here is that every
input, valid or not, gets an answer rather than a 5xx; their limits (422 above ``limit_series``,
409 for a refit right after a fit) are tested in test_compute_limits.py. 60 days are too few
to fit a forecaster, so the fit jobs the fuzzing queues fail in a second (a sku-level fit of
even this world costs ~90 s of CPU, which would more than double this test).

The operations are split over ``SHARDS`` tests; each asserts that the whole spec still lists
every operation, and fuzzes its share of them.

Cost (measured once, 2026-12-06): 56 operations × 2 modes × 50 cases took 72 s of CPU (306 s
of wall time at load average 26 on the shared 2-core machine). The app is started once (the
ASGI lifespan is shared by every call); a profile of one operation puts ~60 % of the time in
Hypothesis / schemathesis generating the case, ~25 % in the request itself.

With the four compute operations on the tiny world (measured once, 2026-12-06, `/usr/bin/time`
on the whole pytest process, CPU = user + sys): at load ~1–5, 99 s of CPU and 2 min 18 s of
wall time, against 102 s and 1 min 43 s for the run without them just after (at load ~10–15:
109 s against 89 s); the run-to-run noise is as large as the difference. Their 400 requests cost
~14 s of CPU (answers: forecasts 29 × 200 and 69 × 422 of 100; plans 35 × 200; markdowns
20 × 200; fits 78 × 202, a second fit request while one is queued or running gets that job).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from api.auth import seed_demo_keys
from inventory.config import Settings
from tests.api.conftest import KEYS, tiny_catalog

ADMIN = {"x-api-key": KEYS["demo-admin"]}
EXAMPLES_PER_OPERATION = 50
#: The operations are fuzzed in this many tests (every SHARDS-th operation in path order), so
#: two test workers share the run instead of one worker taking all of it. Each test builds both
#: apps and loads the spec again (measured 2026-12-06 at load ~20: four shards took 135 s of CPU
#: against ~100 s for one test), so more shards than workers only cost.
SHARDS = 2
#: Valid bodies here start real forecasting / optimisation (and schemathesis' "negative" cases
#: may still carry a valid body) or a background forecaster fit, so they run on the tiny world.
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


@pytest.fixture
def tiny_world_app(api_settings: Settings, tmp_path: Path) -> Iterator[FastAPI]:
    """The app on a tiny demo world (built once, cached under var/worlds/), with the test graphs."""
    from inventory.db import make_engine
    from inventory.demo_world import WorldSpec, copy_world, world_template

    spec = WorldSpec(seed=7, stores=2, styles=3, history_days=60, cities=("Shanghai",))
    path = copy_world(world_template(spec), tmp_path / "tiny-world.sqlite")
    engine = make_engine(f"sqlite:///{path}")
    seed_demo_keys(engine)
    settings = api_settings.model_copy(
        update={"clock": "world", "data_dir": tmp_path / "tiny-data"}
    )
    app = create_app(settings, engine=engine, catalog=tiny_catalog(engine))
    yield app
    engine.dispose()


def _operations(app: FastAPI, paths) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if paths(operation.path)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_server_errors_on_any_operation(
    shard: int, world_app: FastAPI, tiny_world_app: FastAPI
) -> None:
    operations = sorted(
        [
            *_operations(world_app, lambda path: path not in COMPUTE_PATHS),
            *_operations(tiny_world_app, lambda path: path in COMPUTE_PATHS),
        ],
        key=lambda operation: (operation.path, operation.method),
    )
    assert len(operations) >= 25
    assert {op.path for op in operations} >= COMPUTE_PATHS
    failures = [
        failure
        for operation in operations[shard::SHARDS]
        for mode in GenerationMode
        for failure in _server_errors(operation, mode)
    ]
    # Let the fits the fuzzing queued finish here rather than in later tests' time.
    jobs = tiny_world_app.state.stockpilot.jobs
    for job in jobs.list():
        if not job.done and job.kind == "forecast_fit":
            jobs.wait(job.id, timeout=600)
    assert not failures, "\n".join(failures[:20])
