"""Workflows as plain functions over clients, transforms and the store: what the Prefect tasks call."""
