"""Alerts and SLAs as code: the files in ``config/automations``, the SLA checks, the apply plan.

Prefect-free: :mod:`jtl_automator.alerts.config` reads and checks the files,
:mod:`jtl_automator.alerts.sla` decides whether an SLA is breached at a given moment, and
:mod:`jtl_automator.alerts.changes` compares the automations the files describe with the ones a server
has. The shell turns them into Prefect automations (``deployments/automations.py``), runs the SLA check
(``flows/sla_check.py``) and holds the notification blocks (``blocks/alerts.py``).
"""
