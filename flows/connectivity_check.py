"""Connectivity check: one cheap read through FFN, Wawi and (when set up) JTL-Shop."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import ON_RUNNING
from tasks.connectivity import ffn_check, shop_check, wawi_check


@flow(name="connectivity-check", on_running=ON_RUNNING)
def connectivity_check(
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    shop_block: str | None = None,
) -> dict[str, Any]:
    """Prove that the FFN, Wawi and shop credentials work (and show what the account sees).

    Args:
        ffn_block: Name of a JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: Name of a JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: Name of a StateDatabase block (default: JTL_DATABASE_URL).
        shop_block: Name of a JtlShopCredentials block (default: the JTL_SHOP_* environment; the
            shop is skipped when neither is set).
    """
    return {
        "ffn": ffn_check(ffn_block, database_block),
        "wawi": wawi_check(wawi_block),
        "shop": shop_check(shop_block),
    }
