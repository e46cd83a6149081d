"""jtl-automator: the Prefect-free core (clients, transforms, state store, settings) and the sandbox."""

__version__ = "0.1.0"
