"""One cheap read per external system, to prove credentials and network before real work."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from jtl_automator.settings import get_settings
from tasks.resources import correlated, ffn_client, shop_client, state_store, wawi_client


@task(name="ffn-check", cache_policy=NO_CACHE)
def ffn_check(ffn_block: str | None, database_block: str | None) -> dict[str, Any]:
    """Current user, warehouses and one product (proves read scope on the catalogue)."""
    with correlated(), ffn_client(state_store(database_block), ffn_block) as ffn:
        user = ffn.users.current()
        warehouses = [w.warehouse_id for w in ffn.warehouses.list()]
        first_page = next(iter(ffn.products.iter_pages(top=1)), [])
    result = {
        "user": user.user_id,
        "warehouses": warehouses,
        "sample_product": first_page[0].get("merchantSku") if first_page else None,
        "requests": ffn.stats.requests,
    }
    get_run_logger().info("FFN reachable: %s", result)
    return result


@task(name="wawi-check", cache_policy=NO_CACHE)
def wawi_check(wawi_block: str | None) -> dict[str, Any]:
    """Warehouses and the size of the sales order list."""
    with correlated(), wawi_client(wawi_block) as wawi:
        warehouses = [w.name for w in wawi.warehouses.list()]
        first_page = next(iter(wawi.sales_orders.iter_pages(page_size=1)), [])
    result = {
        "warehouses": warehouses,
        "sample_order": first_page[0].get("Number") if first_page else None,
        "requests": wawi.stats.requests,
    }
    get_run_logger().info("Wawi reachable: %s", result)
    return result


@task(name="shop-check", cache_policy=NO_CACHE)
def shop_check(shop_block: str | None) -> dict[str, Any]:
    """Customer groups and the first product of JTL-Shop; ``configured: False`` when none is set up.

    The shop is optional: without a block name and without ``JTL_SHOP_URL`` there is nothing to check.
    """
    settings = get_settings()
    if shop_block is None and not settings.shop_url:
        return {"configured": False}
    with correlated(), shop_client(shop_block) as shop:
        groups = [g.name for g in shop.check()]
        first = next(shop.iter_products(page_size=1), None)
    result = {
        "configured": True,
        "customer_groups": groups,
        "sample_product": first.sku if first else None,
        "requests": shop.stats.requests,
    }
    get_run_logger().info("JTL-Shop reachable: %s", result)
    return result
