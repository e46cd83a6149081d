"""``jtl-automator blocks``: block documents from the ``JTL_*`` environment.

The names match the parameters in ``prefect.yaml`` (ffn, wawi, google-sheets, state-database,
inbound-control, smtp, reports, shop), so
``jtl-automator sandbox serve --credentials-out`` + this command gives deployments that work.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect.blocks.core import Block

from blocks import (
    GoogleSheetsCredentials,
    InboundControlSheet,
    JtlFfnCredentials,
    JtlShopCredentials,
    JtlWawiCredentials,
    ReportDelivery,
    SmtpServer,
    StateDatabase,
)
from jtl_automator.settings import Settings, get_settings

BLOCK_NAMES: dict[str, Callable[[Settings], Block]] = {
    "state-database": StateDatabase.from_settings,
    "ffn": JtlFfnCredentials.from_settings,
    "wawi": JtlWawiCredentials.from_settings,
    "google-sheets": GoogleSheetsCredentials.from_settings,
    "inbound-control": InboundControlSheet.from_settings,
    "smtp": SmtpServer.from_settings,
    "reports": ReportDelivery.from_settings,
    "shop": JtlShopCredentials.from_settings,
}


def create_blocks(settings: Settings | None = None, *, overwrite: bool = True) -> dict[str, str]:
    """Save every block the environment fully describes; returns name -> "saved" or why it was skipped."""
    settings = settings or get_settings()
    outcome: dict[str, str] = {}
    for name, build in BLOCK_NAMES.items():
        try:
            block = build(settings)
        except ValueError as exc:
            outcome[name] = f"skipped: {str(exc).splitlines()[0]}"
            continue
        block.save(name, overwrite=overwrite)
        outcome[name] = f"saved ({block.get_block_type_name()})"
    return outcome
