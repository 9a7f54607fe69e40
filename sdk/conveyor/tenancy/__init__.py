"""Many tenants: routing to shuffle-sharded and pool lanes, back-pressure at admission,
heavy-tenant supervision and lane leases in the dispatcher. Adapters over ``policy``."""

from .cache import CachedControl
from .edge import TenantEdge
from .gate import AdmissionGate
from .leaser import LaneLeaser
from .router import LaneRouter
from .supervisor import TenantSupervisor

__all__ = [
    "AdmissionGate",
    "CachedControl",
    "LaneLeaser",
    "LaneRouter",
    "TenantEdge",
    "TenantSupervisor",
]
