"""Declarative workflows: the merchant's own automations, written as YAML instead of Python.

Layers, each its own module so they can be read (and tested) alone:

- ``definition`` / ``loader``: the YAML document as pydantic models; every error names file, line, field.
- ``store``: workflows, their versions and statuses, runs and steps in the state database.
- ``templates``: the sandboxed engine that fills ``{{ trigger.sku }}`` from the trigger and earlier steps.
- ``actions``: what a node does (plans, webhooks, e-mail), registered by name with its parameter model.
- the runner and the trigger evaluation wire those into Prefect flow runs (a run) and task runs (a step).

The inbound event gateway (``jtl_automator.gateway``) turns outside events into triggers.
"""
