"""The correlation id: the flow run id on every outgoing request and every log line of the core.

Tasks set it (``correlation_id.set(flow_run_id)``); outside a flow it is a per-process id. Loggers
from :func:`correlated_logger` put it at the start of each message and as ``record.correlation_id``,
so it shows whatever handler or format a deployment uses.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

T = TypeVar("T")

#: Every outgoing request (API call, webhook, e-mail) carries the id in this header.
CORRELATION_HEADER = "X-Correlation-ID"

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "jtl_automator_correlation_id", default=f"proc-{uuid.uuid4()}"
)


class CorrelatedLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes messages with ``[<correlation id>]`` and stamps the record with it."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        """Add the id (read at log time, so each thread/task logs its own run)."""
        cid = correlation_id.get()
        extra = dict(kwargs.get("extra") or {})
        extra.setdefault("correlation_id", cid)
        kwargs["extra"] = extra
        return f"[{cid}] {msg}", kwargs


def correlated_logger(name: str) -> CorrelatedLogger:
    """A logger whose every line names the current flow run."""
    return CorrelatedLogger(logging.getLogger(name), {})


def in_context(func: Callable[..., T]) -> Callable[..., T]:
    """``func`` run in a copy of the caller's context, so worker threads keep the correlation id."""
    context = contextvars.copy_context()

    def call(*args: Any, **kwargs: Any) -> T:
        return context.copy().run(func, *args, **kwargs)

    return call
