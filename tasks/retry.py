"""Coarse Prefect retries: only for failures that a later attempt can fix.

The clients already retried 429/5xx inside their budget; a task retry is the second line, for an
outage longer than that budget. Auth errors, bad input and bad sheets never retry.
"""

from __future__ import annotations

from typing import Any

from jtl_automator.clients.errors import RetryableError


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn``: retry only when the task failed on a retryable API error."""
    try:
        state.result()
    except RetryableError:
        return True
    except Exception:
        return False
    return False
