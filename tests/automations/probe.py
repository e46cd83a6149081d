"""The flow the alert tests deploy under the project's deployment names: it fails when told to."""

from __future__ import annotations

from prefect import flow


@flow(name="alert-probe")
def probe(fail: bool = True) -> str:
    """Fail on purpose (the alert tests' failing run), or succeed."""
    if fail:
        raise RuntimeError("boom: the probe failed on purpose")
    return "ok"
