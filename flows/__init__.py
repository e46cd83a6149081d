"""Prefect flows, one module per workflow category; flow bodies only wire tasks."""
