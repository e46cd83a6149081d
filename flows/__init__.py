"""Prefect flows, one module per workflow category; flow bodies only wire tasks.

Every flow's process imports this package first, so it starts with the runtime's settings
(``jtl_automator.runtime``: the garbage collector's threshold, pandera's backends registered).
"""

from jtl_automator.runtime import prepare_process

prepare_process()
