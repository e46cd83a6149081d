"""The JTL-Shop credentials block: the key stays secret, the client it builds uses only the block's values."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from blocks import JtlShopCredentials
from jtl_automator.settings import Settings

KEY = "shop-block-key-s3cret"


def test_the_block_masks_the_key_and_builds_a_read_only_client() -> None:
    block = JtlShopCredentials(shop_url="https://shop.example/", api_key=SecretStr(KEY), page_size=250)
    assert KEY not in repr(block) and KEY not in block.model_dump_json()
    assert block.shop_url == "https://shop.example"
    shop = block.get_client()
    try:
        assert shop.core.base_url == "https://shop.example/api/v1"
        assert shop.page_size == 250 and shop.core.http.timeout.read == 60.0
        assert shop.core.auth.headers() == {"X-API-KEY": KEY}
        assert KEY not in repr(shop) and KEY not in repr(shop.core.auth)
    finally:
        shop.close()


def test_the_block_needs_an_http_url_and_a_key() -> None:
    with pytest.raises(ValidationError, match="http"):
        JtlShopCredentials(shop_url="shop.example", api_key=SecretStr(KEY))
    with pytest.raises(ValidationError, match="api_key"):
        JtlShopCredentials(shop_url="https://shop.example")  # type: ignore[call-arg]


def test_from_settings_reads_jtl_shop_url_and_key_and_ignores_the_retry_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JTL_SHOP_URL", raising=False)
    monkeypatch.delenv("JTL_SHOP_API_KEY", raising=False)
    with pytest.raises(ValueError, match="JTL_SHOP_URL and JTL_SHOP_API_KEY"):
        JtlShopCredentials.from_settings(Settings())
    monkeypatch.setenv("JTL_SHOP_URL", "http://127.0.0.1:9/shop")
    monkeypatch.setenv("JTL_SHOP_API_KEY", KEY)
    monkeypatch.setenv("JTL_SHOP_PAGE_SIZE", "400")
    monkeypatch.setenv("JTL_SHOP_TIMEOUT_SECONDS", "90")
    monkeypatch.setenv("JTL_RETRY_MAX_ATTEMPTS", "3")
    block = JtlShopCredentials.from_settings(Settings())
    assert (block.shop_url, block.api_key.get_secret_value(), block.page_size) == (
        "http://127.0.0.1:9/shop",
        KEY,
        400,
    )
    assert (block.timeout_seconds, block.retry_max_attempts) == (90.0, 3)
    monkeypatch.setenv("JTL_RETRY_MAX_ATTEMPTS", "1")  # the block's values count, not the environment's
    shop = block.get_client()
    try:
        assert shop.core.retry.max_attempts == 3 and shop.core.http.timeout.read == 90.0
    finally:
        shop.close()


def test_the_block_carries_the_shops_in_flight_limit_to_its_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """A merchant on small shared hosting lowers it in the block; the environment then does not count."""
    monkeypatch.setenv("JTL_SHOP_MAX_IN_FLIGHT", "9")
    block = JtlShopCredentials(shop_url="https://shop.example/", api_key=SecretStr(KEY), max_in_flight=2)
    shop = block.get_client()
    try:
        assert shop.core.in_flight is not None and shop.core.in_flight.limit == 2
    finally:
        shop.close()
    assert JtlShopCredentials(shop_url="https://shop.example/", api_key=SecretStr(KEY)).max_in_flight == 4
    with pytest.raises(ValidationError, match="max_in_flight"):
        JtlShopCredentials(shop_url="https://shop.example/", api_key=SecretStr(KEY), max_in_flight=0)
    monkeypatch.setenv("JTL_SHOP_URL", "http://127.0.0.1:9/shop")
    monkeypatch.setenv("JTL_SHOP_API_KEY", KEY)
    assert JtlShopCredentials.from_settings(Settings()).max_in_flight == 9
