"""Prefect flows, one module per workflow category; flow bodies only wire tasks.

Every flow's process imports this package first, so it starts with the runtime's settings
(``jtl_automator.runtime``: the garbage collector's threshold, pandera's backends registered). Every
flow's run starts with :data:`ON_RUNNING`: what the process's imports made is frozen out of the
collector's scans (``jtl_automator.runtime.freeze_startup_objects``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jtl_automator.runtime import freeze_startup_objects, prepare_process

if TYPE_CHECKING:
    from prefect.flows import FlowStateHook

prepare_process()


def freeze_startup_objects_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """A flow's ``on_running`` hook: its imports are done, its run starts now."""
    freeze_startup_objects()


#: Every flow's ``on_running`` hooks.
ON_RUNNING: list[FlowStateHook[..., Any]] = [freeze_startup_objects_hook]
