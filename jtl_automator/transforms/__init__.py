"""Pure transforms: ``f(frame, params) -> frame``, no I/O and no Prefect."""

from jtl_automator.transforms.allocation import (
    Allocation,
    AllocationParams,
    allocate_stock,
    available_stock,
    outcomes_frame,
)
from jtl_automator.transforms.orders import (
    OutboundPayloadError,
    orders_frame,
    outbound_payload,
    summarise,
)
from jtl_automator.transforms.orders_rules import FailureCode, ValidationParams, valid_orders, validate_orders

__all__ = [
    "Allocation",
    "AllocationParams",
    "FailureCode",
    "OutboundPayloadError",
    "ValidationParams",
    "allocate_stock",
    "available_stock",
    "orders_frame",
    "outbound_payload",
    "outcomes_frame",
    "summarise",
    "valid_orders",
    "validate_orders",
]
