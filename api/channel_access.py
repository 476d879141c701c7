"""Who may act for which channel: a channel key for its own channel only, staff for any.

A channel key (role ``channel``) is bound to one channel code; asking for another channel, or
touching another channel's reservation, is a 403. Ops and admin act for any channel but must
say which one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from api.auth import Principal, Role
from api.deps import require_role
from api.errors import ApiError
from inventory.config import Settings
from inventory.refusals import PoolRefusal
from tools.route_order.pool import stores_not_shipping_online
from tools.route_order.settings import load_routing_settings

#: Availability: every role (viewers included) may read it.
AVAILABILITY_READERS: tuple[Role, ...] = tuple(Role)
#: Reservations: the channels themselves, and ops (admin always passes).
RESERVATION_CALLERS: tuple[Role, ...] = (Role.CHANNEL, Role.OPS)
ReservationCallerDep = Annotated[Principal, Depends(require_role(*RESERVATION_CALLERS))]

_STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "refused": 409}


def acting_channel(principal: Principal, asked: str | None) -> str:
    """The channel a request acts for, or 403 / 422 when the caller may not or did not say."""
    if principal.channel is not None:
        if asked is not None and asked != principal.channel:
            raise ApiError(
                403,
                f"{principal.name!r} acts for channel {principal.channel!r}, not {asked!r}",
                field="channel",
                value=asked,
            )
        return principal.channel
    if Role.CHANNEL in principal.roles:
        raise ApiError(403, f"{principal.name!r} has the channel role but no channel bound")
    if asked is None:
        raise ApiError(
            422, "channel is required for a staff key (e.g. channel=online)", field="channel"
        )
    return asked


def channel_scope(principal: Principal) -> str | None:
    """Whose reservations the caller may see and touch: its own channel's, or all (staff)."""
    if principal.channel is None and Role.CHANNEL in principal.roles:
        raise ApiError(403, f"{principal.name!r} has the channel role but no channel bound")
    return principal.channel


def as_api_error(error: PoolRefusal) -> ApiError:
    return ApiError(_STATUS[error.kind], error.message, field=error.field)


def closed_to_channel(
    settings: Settings, session: Session, channel: str, now: dt.datetime
) -> dict[str, str]:
    """The stores whose stock ``channel`` may neither be offered nor hold now (code → why):
    those routing would not ship an online order from (``stores_not_shipping_online``), on
    every channel but the in-store ones (``stores.in_store_channels``: a till sells its shelf).

    Availability and reservations both ask here, so a hold never lands where availability
    says 0."""
    routing = load_routing_settings(settings.routing_file)
    if channel in routing.stores.in_store_channels:
        return {}
    return stores_not_shipping_online(session, now, routing)
