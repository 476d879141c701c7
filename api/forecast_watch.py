"""Keeps the pool's forecasters as fresh as its sales, without anyone asking.

A live pool takes in a day of sales every day. The stored forecaster keeps answering between
fits (its baseline reads the newest days through its features), but its rain uplift per band
and its quantile spread are statistics of the history it was fitted on: the wet days since
then teach it nothing. So the service looks every ``settings.forecast_check_s`` and queues a
fit as a background job (``/v1/jobs``) for each level whose forecaster is missing — sales were
imported after the start, which had nothing to fit — or has not seen
``settings.forecast_refit_days`` days of the pool's sales (``tools.forecast_demand.tool
.refit_due``). Until the job has stored the new model, the old one answers; a level with a
fit queued or running (here or in another process of the pool) is left alone.

The one time no model answers is the pool's first fit: a new alert run then waits for it (at
most ``FIRST_FIT_WAIT``) rather than plan on the stand-in baseline, which does not see the rain.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING

from api.jobs import JobView
from inventory.clock import wall_clock

if TYPE_CHECKING:
    from api.state import AppState

log = logging.getLogger(__name__)

#: The forecasters the service keeps: per size for alerts and plans, per style for chat.
LEVELS = ("sku", "style")
#: The level an alert's plan forecasts at.
ALERT_LEVEL = "sku"
#: Longest a new alert waits for the pool's first size-level fit (a 24 h warning can spare it;
#: the demo world's 30,880 series fit in about 35 s on an idle core).
FIRST_FIT_WAIT = dt.timedelta(minutes=15)


def due_fits(state: AppState) -> dict[str, str]:
    """Each level that needs a fit now, with why."""
    from tools.context import ToolError
    from tools.forecast_demand.fitting import check_fit_history
    from tools.forecast_demand.tool import refit_due, stored_model

    ctx = state.tool_context()
    due: dict[str, str] = {}
    for level in LEVELS:
        stored = stored_model(ctx, level)
        if stored is not None:
            reason = refit_due(ctx, stored)
            if reason is not None:
                due[level] = reason
            continue
        try:
            days = check_fit_history(ctx.engine, ctx.today, level=level)
        except ToolError as refused:  # no sales yet, or too few days: nothing to fit yet
            log.debug("no %s-level fit yet: %s", level, refused)
            continue
        due[level] = f"no {level}-level forecaster is stored and the pool has {days} days of sales"
    return due


def submit_due_fits(state: AppState) -> list[JobView]:
    """The fit job of every level that needs one: queued now, or the one already queued or
    running (``submit_forecast_fit`` never queues a level twice)."""
    from api.startup import submit_forecast_fit

    jobs = []
    for level, reason in due_fits(state).items():
        log.info("a %s-level fit is due: %s", level, reason)
        jobs.append(submit_forecast_fit(state, level))
    return jobs


def alerts_wait_for_first_fit(state: AppState) -> str | None:
    """Why a new alert run should not start yet: the pool's first size-level forecaster is
    being fitted (queued or running in this service, for less than ``FIRST_FIT_WAIT``), and
    until it is stored the plan would come from the stand-in baseline, which does not see the
    rain (a rainstorm read as "no shortage, no action"). The alert is recorded and admitted
    (202) meanwhile; it starts when the model is stored or the wait is over. Refits never hold
    alerts: the stored model answers during them."""
    from api.startup import pending_fit
    from tools.forecast_demand.tool import stored_model

    fitting = pending_fit(state, ALERT_LEVEL)
    if fitting is None or wall_clock() - fitting.created_at > FIRST_FIT_WAIT:
        return None
    if stored_model(state.tool_context(), ALERT_LEVEL) is not None:
        return None
    return (
        f"the pool's first {ALERT_LEVEL}-level forecaster is being fitted ({fitting.id}, "
        f"{fitting.progress:.0%}); the stand-in baseline would not see the rain"
    )


class ForecastWatch:
    """A daemon thread that runs ``submit_due_fits`` every ``interval_s``."""

    def __init__(self, state: AppState, interval_s: float) -> None:
        self.state = state
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="stockpilot-forecast-watch", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                submit_due_fits(self.state)
            except Exception:  # the next look tries again; the service keeps serving
                log.exception("looking for due forecaster fits failed")
