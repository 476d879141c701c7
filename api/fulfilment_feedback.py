"""Close the loop in the demo: the embedded simulated WMS reports to this service.

When the service uses the embedded simulated systems and a fulfilment secret is configured for
the simulated WMS's sender (``demo-wms``; demo mode sets its published one), the service
registers its own ``/v1/fulfilment/events`` with the simulated WMS, with the pool's lanes as
the WMS's plan. From then on every transfer the WMS receives is reported back (shipped, picked
short, delivered, cost), and the lane figures planning reads learn from it.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from api.state import AppState
from connectors.simulated.feedback import FeedbackSubscription, LanePlan
from inventory.config import DEMO_WMS_SENDER
from inventory.models import Lane

log = logging.getLogger(__name__)


def subscribe_simulated_wms(state: AppState) -> bool:
    """Register the service with the embedded simulated WMS; False when there is none to
    register with, or no secret for its sender."""
    runtime = getattr(state.runner.catalog, "runtime", None) if state.runner else None
    server = getattr(getattr(runtime, "connectors", None), "simulated_server", None)
    if server is None or state.settings.wms_url:
        return False
    secret = state.settings.fulfilment_secrets.get(DEMO_WMS_SENDER)
    if secret is None:
        log.info("the simulated WMS will not report fulfilment: no secret for %r", DEMO_WMS_SENDER)
        return False
    with Session(state.engine) as session:
        lanes = [
            LanePlan(
                source=lane.source_code,
                dest=lane.dest_code,
                lead_time_hours=lane.lead_time_hours,
                cost_per_unit=lane.cost_per_unit,
                cost_per_shipment=lane.cost_per_shipment,
            )
            for lane in session.exec(select(Lane))
        ]
    host = "127.0.0.1" if state.settings.host in ("0.0.0.0", "::", "") else state.settings.host
    url = f"http://{host}:{state.settings.port}/v1/fulfilment/events"
    server.state.subscribe(
        FeedbackSubscription(url=url, sender=DEMO_WMS_SENDER, secret=secret, lanes=lanes)
    )
    log.info("the simulated WMS reports fulfilment to %s (%d lanes planned)", url, len(lanes))
    return True
