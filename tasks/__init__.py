"""Prefect tasks: thin wrappers over jtl_automator (logging, coarse retries, artifacts)."""
