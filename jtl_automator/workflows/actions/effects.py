"""The one way an action does its side effect: once per effect key, through the state store's ledger.

A step's effect key is stable for one step of one triggering change, so a retried task or a re-triggered
run finds the key ``done`` and hands back what the first run produced (its output, recorded in the
ledger) instead of doing it again. A key left ``claimed`` by a crash, or ``failed``, is done again: every
action here is safe to repeat under its key (a plan is create-or-get, plan lines are keyed by SKU and
warehouse, a webhook carries the key as ``Idempotency-Key``, an e-mail's Message-ID derives from it).

A simulation never comes here: it writes nothing, the ledger included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from jtl_automator.store import ClaimState
from jtl_automator.workflows.actions.base import ActionContext, StepResult


def json_ready(value: Any) -> Any:
    """``value`` as JSON would carry it (dates, decimals as text): what the ledger stores and reads back."""
    return json.loads(json.dumps(value, default=str))


def once(
    ctx: ActionContext,
    kind: str,
    do: Callable[[], tuple[dict[str, Any], str]],
    *,
    repeated_summary: Callable[[Mapping[str, Any]], str] | None = None,
) -> StepResult:
    """Run ``do`` (output, summary) once per ``ctx.effect_key``; a done key returns the stored output.

    ``do`` raising marks the key failed (a later run may try again) and the error propagates unchanged.
    """
    if ctx.simulate:
        raise RuntimeError("a simulation must not reach the side-effect ledger")
    key = ctx.effect_key
    claim = ctx.store.claim(key, kind, run_id=ctx.run_id)
    if claim.state is ClaimState.DONE:
        stored = dict(claim.result or {})
        output = dict(stored.get("output") or {})
        summary = str(stored.get("summary") or "")
        if repeated_summary is not None:
            summary = repeated_summary(output)
        return StepResult(output=output, repeated=(key,), summary=f"already done: {summary}".strip())
    try:
        output, summary = do()
    except Exception as exc:
        ctx.store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    output = json_ready(output)
    ctx.store.complete(key, {"output": output, "summary": summary})
    return StepResult(output=output, effects=(key,), summary=summary)
