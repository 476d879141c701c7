"""The ``/v1`` domain routers, one module per resource."""

from fastapi import APIRouter

from api.routes import (
    alerts,
    approvals,
    audit,
    availability,
    evals,
    forecasts,
    fulfilment,
    jobs,
    me,
    network,
    orders,
    outbox,
    policy,
    promo_proposals,
    promo_recommendations,
    reservations,
    runs,
    stock,
    transfer_orders,
    transfer_plans,
)

V1_ROUTERS: list[APIRouter] = [
    stock.router,
    forecasts.router,
    transfer_plans.router,
    transfer_orders.router,
    promo_recommendations.router,
    promo_proposals.router,
    approvals.router,
    alerts.router,
    runs.router,
    audit.router,
    outbox.router,
    policy.router,
    jobs.router,
    availability.router,
    reservations.router,
    orders.router,
    fulfilment.router,
    network.router,
    me.router,
    evals.router,
]

__all__ = ["V1_ROUTERS"]
