"""The set of enterprise-system clients the executor talks to, wherever the systems live."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from connectors.client import RetryPolicy
from connectors.notify import NotifyClient
from connectors.oms import OmsClient
from connectors.pricing import PricingClient
from connectors.simulated.server import SimulatedServer, shared_server
from connectors.wms import WmsClient
from inventory.config import Settings

SIMULATED_STATE_FILE = "simulated_systems.sqlite"

__all__ = ["ConnectorSet", "RetryPolicy"]


@dataclass(frozen=True)
class ConnectorSet:
    """WMS, OMS, pricing and notification clients; ``simulated`` when we serve them ourselves."""

    wms: WmsClient
    oms: OmsClient
    pricing: PricingClient
    notify: NotifyClient
    simulated_server: SimulatedServer | None = None
    _owns_server: bool = field(default=False, repr=False)

    @classmethod
    def at(cls, base_url: str, *, retry: RetryPolicy | None = None) -> ConnectorSet:
        """Every client against one server that speaks all four APIs (the simulated app)."""
        return cls(
            wms=WmsClient(base_url, retry=retry),
            oms=OmsClient(base_url, retry=retry),
            pricing=PricingClient(base_url, retry=retry),
            notify=NotifyClient(base_url, retry=retry),
        )

    @classmethod
    def simulated(
        cls, state_path: Path | str | None = None, *, retry: RetryPolicy | None = None
    ) -> ConnectorSet:
        """The simulated systems served in this process.

        Args:
            state_path: a SQLite file shared with other processes and later runs, or ``None`` for
                a private in-memory state that ends with this set (``close()``).
        """
        key = str(Path(state_path).resolve()) if state_path is not None else None
        server = shared_server(key)
        connectors = cls.at(server.url, retry=retry)
        return cls(
            wms=connectors.wms,
            oms=connectors.oms,
            pricing=connectors.pricing,
            notify=connectors.notify,
            simulated_server=server,
            _owns_server=key is None,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, retry: RetryPolicy | None = None) -> ConnectorSet:
        """Configured URLs where set; the embedded simulated systems for the rest."""
        urls = {
            "wms": settings.wms_url,
            "oms": settings.oms_url,
            "pricing": settings.pricing_url,
            "notify": settings.notify_url,
        }
        server: SimulatedServer | None = None
        if not all(urls.values()):
            state_path = Path(settings.data_dir) / SIMULATED_STATE_FILE
            server = shared_server(str(state_path.resolve()))
        simulated_url = server.url if server is not None else ""
        base = {name: url or simulated_url for name, url in urls.items()}
        return cls(
            wms=WmsClient(base["wms"], retry=retry),
            oms=OmsClient(base["oms"], retry=retry),
            pricing=PricingClient(base["pricing"], retry=retry),
            notify=NotifyClient(base["notify"], retry=retry),
            simulated_server=server,
        )

    def close(self) -> None:
        for client in (self.wms, self.oms, self.pricing, self.notify):
            client.close()
        if self._owns_server and self.simulated_server is not None:
            self.simulated_server.stop()
            self.simulated_server.state.close()

    def __enter__(self) -> ConnectorSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
