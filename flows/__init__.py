"""Prefect flows, one module per workflow category; flow bodies only wire tasks.

Every flow's process imports this package first, so it starts with the runtime's settings
(``jtl_automator.runtime``: the garbage collector's threshold).
"""

from jtl_automator.runtime import tune_gc

tune_gc()
