"""Deployment helpers: the local demo runner and scripts around ``prefect.yaml``."""
