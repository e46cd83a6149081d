"""The event gateway: signed events from outside (a shop, a CRM, Wawi's Web-Request action) into Prefect.

Senders ``POST /events/{source}`` with an HMAC signature; accepted events land in a durable outbox in the
state database before the answer, and a drainer delivers them to Prefect in order. See docs/gateway.md.
"""

from jtl_automator.gateway.app import create_app
from jtl_automator.gateway.config import Gateway, GatewayConfig, Source, SourceConfig, load_gateway
from jtl_automator.gateway.drain import (
    Backoff,
    DrainReport,
    Emitter,
    EmitterUnavailable,
    FakeEmitter,
    drain,
    drain_loop,
    event_name,
    prefect_event_fields,
    resource_id,
)
from jtl_automator.gateway.outbox import Appended, GatewayEvent, Outbox, OutboxCounts
from jtl_automator.gateway.ratelimit import RateLimiter, SharedRateLimiter, prune_rate_counts
from jtl_automator.gateway.signature import Refusal, sign

__all__ = [
    "Appended",
    "Backoff",
    "DrainReport",
    "Emitter",
    "EmitterUnavailable",
    "FakeEmitter",
    "Gateway",
    "GatewayConfig",
    "GatewayEvent",
    "Outbox",
    "OutboxCounts",
    "RateLimiter",
    "Refusal",
    "SharedRateLimiter",
    "Source",
    "SourceConfig",
    "create_app",
    "drain",
    "drain_loop",
    "event_name",
    "load_gateway",
    "prefect_event_fields",
    "prune_rate_counts",
    "resource_id",
    "sign",
]
