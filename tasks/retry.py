"""Coarse Prefect retries: only for failures that a later attempt can fix.

The clients and senders already retried 429/5xx/timeouts inside their budget (the one retry policy of
``jtl_automator.resilience``); a task retry is the second line, for an outage longer than that budget.
Every such failure, whatever the system (FFN, Wawi, Sheets, SMTP, webhook), is a ``TransientFailure``;
auth errors, bad input and bad sheets never retry.
"""

from __future__ import annotations

from typing import Any

from jtl_automator.resilience import TransientFailure


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn``: retry only when the task failed on a transient error."""
    try:
        state.result()
    except TransientFailure:
        return True
    except Exception:
        return False
    return False
