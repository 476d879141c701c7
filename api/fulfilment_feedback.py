"""Close the loop in the demo: the embedded simulated WMS and OMS report to this service.

When the service uses the embedded simulated systems and a fulfilment secret is configured for
a simulated system's sender (``demo-wms``, ``demo-oms``; demo mode sets their published ones),
the service registers its own ``/v1/fulfilment/events`` with that system:

- the WMS, with the pool's lanes as its plan: every transfer it receives is reported back
  (shipped, picked short, delivered, cost);
- the OMS, with routing's parcel figures (node → each city's delivery zone) as its plan: every
  online parcel it accepts is reported back the same way, which books the parcel's held stock
  and teaches routing the realised parcel lead times and costs.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from api.state import AppState
from connectors.simulated.feedback import FeedbackSubscription, LanePlan
from inventory.config import DEMO_OMS_SENDER, DEMO_WMS_SENDER
from inventory.models import Lane
from tools.route_order.figures import parcel_plans
from tools.route_order.settings import load_routing_settings

log = logging.getLogger(__name__)


def _simulated_server(state: AppState, configured_url: str | None) -> object | None:
    runtime = getattr(state.runner.catalog, "runtime", None) if state.runner else None
    server = getattr(getattr(runtime, "connectors", None), "simulated_server", None)
    return None if server is None or configured_url else server


def _receiver(state: AppState) -> str:
    host = "127.0.0.1" if state.settings.host in ("0.0.0.0", "::", "") else state.settings.host
    return f"http://{host}:{state.settings.port}/v1/fulfilment/events"


def subscribe_simulated_wms(state: AppState) -> bool:
    """Register the service with the embedded simulated WMS; False when there is none to
    register with, or no secret for its sender."""
    server = _simulated_server(state, state.settings.wms_url)
    if server is None:
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
    url = _receiver(state)
    server.state.subscribe(  # type: ignore[attr-defined]
        FeedbackSubscription(url=url, sender=DEMO_WMS_SENDER, secret=secret, lanes=lanes), "wms"
    )
    log.info("the simulated WMS reports fulfilment to %s (%d lanes planned)", url, len(lanes))
    return True


def subscribe_simulated_oms(state: AppState) -> bool:
    """Register the service with the embedded simulated OMS for its online parcels' events."""
    server = _simulated_server(state, state.settings.oms_url)
    if server is None:
        return False
    secret = state.settings.fulfilment_secrets.get(DEMO_OMS_SENDER)
    if secret is None:
        log.info("the simulated OMS will not report parcels: no secret for %r", DEMO_OMS_SENDER)
        return False
    settings = load_routing_settings(state.settings.routing_file)
    with Session(state.engine) as session:
        plans = parcel_plans(session, settings.parcel_share_of_trip)
    url = _receiver(state)
    server.state.subscribe(  # type: ignore[attr-defined]
        FeedbackSubscription(url=url, sender=DEMO_OMS_SENDER, secret=secret, lanes=plans), "oms"
    )
    log.info("the simulated OMS reports parcels to %s (%d node-zone plans)", url, len(plans))
    return True
