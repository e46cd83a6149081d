"""Helpers shared by every test folder: one fake clock, one set of OpenAPI validators, the import graph."""
