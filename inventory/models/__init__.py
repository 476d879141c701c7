"""The one pool's tables (DESIGN §2). Importing this package registers every table."""

from inventory.models.catalog import Sku, Style
from inventory.models.decisions import (
    AlertRecord,
    ApiKey,
    Approval,
    AuditEvent,
    OutboxMessage,
    PromoProposal,
    Run,
)
from inventory.models.enums import (
    ApprovalStatus,
    Channel,
    LocationKind,
    MovementKind,
    OrderStatus,
    OutboxStatus,
    PromoStatus,
    RunStatus,
    Tier,
)
from inventory.models.fulfilment import FulfilmentEvent, FulfilmentOutcome
from inventory.models.history import DailySales, FutureDemand, WeatherDaily, WeatherHourly
from inventory.models.jobs import JobRecord
from inventory.models.locations import ChannelEntitlement, Lane, Location
from inventory.models.meta import WorldMeta
from inventory.models.network import Category, City, Region
from inventory.models.online_orders import (
    OnlineNodeLoad,
    OnlineOrder,
    OnlineOrderLine,
    OnlineOrderStatus,
)
from inventory.models.orders import TransferLine, TransferOrder
from inventory.models.promo_plan import PromoPlan
from inventory.models.reservations import ChannelReservation, ReservationStatus
from inventory.models.stock import StockMovement, StockPosition
from inventory.models.threads import AgentThread

__all__ = [
    "AgentThread",
    "AlertRecord",
    "ApiKey",
    "Approval",
    "ApprovalStatus",
    "AuditEvent",
    "Category",
    "Channel",
    "ChannelEntitlement",
    "ChannelReservation",
    "City",
    "DailySales",
    "FulfilmentEvent",
    "FulfilmentOutcome",
    "FutureDemand",
    "JobRecord",
    "Lane",
    "Location",
    "LocationKind",
    "MovementKind",
    "OnlineNodeLoad",
    "OnlineOrder",
    "OnlineOrderLine",
    "OnlineOrderStatus",
    "OrderStatus",
    "OutboxMessage",
    "OutboxStatus",
    "PromoPlan",
    "PromoProposal",
    "PromoStatus",
    "Region",
    "ReservationStatus",
    "Run",
    "RunStatus",
    "Sku",
    "StockMovement",
    "StockPosition",
    "Style",
    "Tier",
    "TransferLine",
    "TransferOrder",
    "WeatherDaily",
    "WeatherHourly",
    "WorldMeta",
]
