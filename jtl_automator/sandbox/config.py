"""Knobs of the sandbox: credentials it accepts, token lifetimes, limits, page sizes and faults.

Where the reference documents a behaviour, the sandbox does just that. Where it is silent, the default
here is the lenient reading, and :meth:`SandboxConfig.strictest` switches every such knob to the
strictest plausible one (``jtl-automator sandbox serve --strict``): the flows must pass under both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from jtl_automator.sandbox.latency_model import Excess, LatencyProfile, profile_named
from jtl_automator.sandbox.odata import DOCUMENTED_FFN_OPERATORS
from jtl_automator.settings import WAWI_APP_SCOPES

#: League's default refresh-token lifetime (P1M); what ``strictest()`` gives FFN refresh tokens.
REFRESH_TOKEN_TTL_STRICT_SECONDS = 30 * 24 * 3600


@dataclass
class SandboxConfig:
    """Defaults mirror the real APIs where the reference documents them (e.g. 1800 s access tokens)."""

    # FFN OAuth2 client registered with the sandbox's authorization server.
    ffn_client_id: str = "sandbox-client"
    ffn_client_secret: str = field(default="sandbox-client-secret", repr=False)
    ffn_initial_refresh_token: str = field(default="def502sandbox-initial-refresh-token", repr=False)
    ffn_scopes: tuple[str, ...] = ("ffn.merchant.read", "ffn.merchant.write")
    access_token_ttl_seconds: int = 1800
    # The client's registered callback_uri: /authorize redirects nowhere else (documented, always on).
    ffn_redirect_uri: str = "http://127.0.0.1:8765/callback"
    # League's RefreshTokenGrant revokes the access token issued with the refresh token it spends.
    ffn_revoke_access_token_on_refresh: bool = False
    # Lifetime of a refresh token (None: until spent). League's default is one month.
    ffn_refresh_token_ttl_seconds: int | None = None
    ffn_default_top: int = 50
    ffn_max_top: int = 1000
    #: A ``$skip`` at or past ``count`` (the reference is silent): "empty" (an empty page, as ``count``
    #: suggests) or "refuse" (a 400 naming ``$skip``: the strictest reading).
    ffn_skip_past_end: Literal["empty", "refuse"] = "empty"
    ffn_updates_page_size: int = 50

    # Wawi on-premise app registration and API key.
    wawi_api_key: str = field(default="6f1c2d3e-0000-4000-8000-sandboxwawikey", repr=False)
    wawi_app_id: str = "jtl-automator/prefect/v1"
    wawi_app_version: str = "1.0.0"
    wawi_license_ok: bool = True
    wawi_registration_auto_accept: bool = True
    # Scopes of the pre-registered app (the key above, the Cloud client below); None: every scope.
    # Scopes are always enforced (403); strictest() grants only what jtl-automator registers for.
    wawi_app_scopes: tuple[str, ...] | None = None
    # The Admin > App-Registrierung listener: closed, POST /authentication answers 403 (as documented).
    wawi_registration_window_open: bool = True
    # Each accepted registration gets a key of its own (False: the key above, re-granted).
    wawi_registration_new_key: bool = False
    # X-AppID must name the app the key (or Cloud client) was registered for, else 401.
    wawi_check_app_id: bool = False

    # Wawi Cloud: OAuth2 client credentials (Bearer JWT) plus the tenant header, paths without /v1.
    wawi_cloud_client_id: str = "sandbox-cloud-client"
    wawi_cloud_client_secret: str = field(default="sandbox-cloud-client-secret", repr=False)
    wawi_cloud_tenant_id: str = "3f6c1e52-5a0b-4c1e-9d7a-5a4d0c1e0b7f"
    wawi_cloud_token_ttl_seconds: int = 3600
    # Every Cloud response carries X-RateLimit-*; past the limit a 429 without Retry-After.
    wawi_cloud_rate_limit: int = 600
    wawi_cloud_rate_interval_seconds: int = 60
    wawi_default_page_size: int = 100
    wawi_max_page_size: int = 1000
    #: A page past a list's last one (the reference is silent): "empty" (an empty page, as the paging
    #: envelope's fields suggest) or "refuse" (a 400 naming pageNumber: the strictest reading).
    wawi_page_past_end: Literal["empty", "refuse"] = "empty"

    # Google Sheets keeps two per-minute quotas per user, read requests and write requests (60 each by
    # default), each answered past its limit with 429 RESOURCE_EXHAUSTED naming its metric.
    sheets_read_requests_per_minute: int = 60
    sheets_write_requests_per_minute: int = 60
    # When set, both buckets use this limit instead (tests and benchmarks that need headroom or a tiny one).
    sheets_requests_per_minute: int | None = None
    # Google refuses a cell over 50,000 characters (400 INVALID_ARGUMENT, nothing of the request written).
    sheets_max_cell_chars: int = 50_000
    # Bytes of one request body before 400 "Request payload size exceeds the limit" (Google documents no
    # hard limit; 10 MiB is what it answers in practice). None: no limit; strictest: 10 MiB.
    sheets_max_request_bytes: int | None = None

    # Page-size maxima and FFN rate limits (issue 8). Neither API documents a maximum page size
    # (ffn_max_top and wawi_max_page_size above: a 400 in the API's own error body past them) nor FFN a
    # rate limit: with ffn_rate_limit set, every FFN API response carries X-RateLimit-Limit,
    # -Remaining and -Interval-Length-Seconds (a window per endpoint, as Cloud does) and past the limit
    # the answer is 429, with Retry-After only if ffn_rate_limit_retry_after. None: no limit, no headers.
    ffn_rate_limit: int | None = None
    ffn_rate_interval_seconds: int = 60
    ffn_rate_limit_retry_after: bool = True
    # FFN $filter and outbound numbers (issue 8). The reference documents only eq, and and nested paths
    # for $filter: None accepts every operator the parser knows (eq ne gt ge lt le and or not); strict
    # accepts only {"eq", "and"} and refuses the rest with Shared_ModelValidation naming the operator.
    ffn_filter_operators: frozenset[str] | None = None
    # Whether a second outbound with a used merchantOutboundNumber is refused (Shared_DuplicateKey). FFN
    # documents no such uniqueness; strict: not enforced, a second POST makes a duplicate outbound.
    ffn_unique_merchant_outbound_number: bool = True
    # The same for inbounds and merchantInboundNumber (plan execution); strict: not enforced either.
    ffn_unique_merchant_inbound_number: bool = True

    # FFN products (issue 12). merchantSku uniqueness is undocumented too: True refuses a second product
    # with a used merchantSku (Shared_DuplicateKey); strict: not enforced, a second POST makes a duplicate.
    ffn_unique_merchant_sku: bool = True
    # What the Product schema leaves open, at its strictest: negative weights, dimensions or prices, an
    # empty bundle, netWeight above weight and an EAN without a valid GTIN check digit are refused (400).
    ffn_product_value_checks: bool = False
    # Whether a nested object in a PATCH (identifier, dimensions, ...) replaces the stored one instead of
    # merging into it (undocumented; strict: replaces, so a partial nested object loses the rest).
    ffn_patch_replaces_nested_objects: bool = False
    # Whether authorising a product for a fulfiller that already has it is refused (Shared_DuplicateKey)
    # instead of answered 201 again (the reference names the endpoint, not its answers).
    ffn_authorization_duplicate_refused: bool = False
    # Product enrichment (issue 12). Whether POST /categories/{id}/items takes an item already in that
    # category is not documented: leniently it does (a no-op); strict refuses it with a 400 naming the item.
    wawi_category_items_refuse_assigned: bool = False
    # Whether a group object in PATCH /items (Identifiers, Weights, Dimensions, ItemPriceData, ...) is
    # merged member by member or replaces the stored group: the spec does not say. Leniently merged; strict
    # replaces it, so a member the body leaves out is emptied (a client must send whole groups).
    wawi_item_patch_replaces_groups: bool = False
    # Item prices (issue 12). The reference is silent on what an item without any sales-channel prices or
    # special price answers (the spec's only 404 text is "No fields could be found."): lenient an empty
    # array and an inactive special price, strict that 404.
    wawi_price_lists_404_when_empty: bool = False
    # A POST of a sales-channel price whose channel, customer group and FromQuantity already have one:
    # lenient it replaces that price (201), strict 400 "already exists" (PATCH is the way to change it).
    wawi_unique_sales_channel_price: bool = False
    # A negative net price (base, channel or special price): lenient stored, strict 400 naming the field.
    wawi_refuse_negative_prices: bool = False
    # A special price whose EndDate is not after its StartDate: lenient stored, strict 400.
    wawi_special_price_dates_checked: bool = False

    # Returns (issue 13). GET /returns documents returnNumber, customerId, salesOrderId and returnStateId
    # as filters and no date filter and no order. Leniently the list is in Id order and a query parameter
    # the spec does not list is ignored (as ASP.NET binding does); strict lists the newest Id first (a
    # client may not stop early on dates) and refuses an unlisted parameter (say returnDateFrom) with a
    # 400 naming it, so the period is filtered by the client.
    wawi_returns_newest_first: bool = False
    wawi_returns_refuse_unknown_parameters: bool = False
    # GET /returns/{id}/lineitems of a return without lines: lenient [], strict the spec's only 404 text
    # ("No fields could be found.").
    wawi_return_lines_404_when_empty: bool = False
    # GET /items/{id}/customfields and /salesOrders/{id}/customfields of an object without values: lenient
    # [], strict the spec's 404 text ("No fields could be found.") as for an unknown id.
    wawi_custom_fields_404_when_empty: bool = False

    # JTL-Shop 5.4 REST API (issue 16), under /shop (its storefront) and /shop/api/v1, read-only as 5.4.0
    # is: every create, update and delete answers 501 []. No write-enabled mode (it would be an invention).
    # The key (X-API-KEY) and its permission bitmask (GET 1, POST 2, PUT 4, DELETE 8); strict: GET only.
    shop_api_key: str = field(default="sandbox-shop-api-key-5f0c2a", repr=False)
    shop_api_key_permissions: int = 15
    # What an unknown route, a trailing slash or an unsupported method answers: the storefront's HTML page
    # (the reference names no status). Lenient 404; strict 200, so only the Content-Type tells.
    shop_unrouted_status: int = 404
    # Shop::run() boots the storefront for every API call [I]: strict sets its session cookie each time.
    shop_session_cookie: bool = False
    # The cost of an answer, which the reference leaves open [I]: a fixed part per request (the storefront
    # bootstrap), a part per row and one per child relation each row loads (DataModel::fill() loads every
    # child collection eagerly: 13 for a product), slept before answering. Past shop_max_execution_seconds
    # (PHP's max_execution_time) the answer is a 500 HTML fatal-error page instead. Lenient: free and
    # unbounded; strict: 50 ms + 0.5 ms per row + 0.3 ms per relation (a product row 4.4 ms), 30 s cap.
    shop_request_cost_seconds: float = 0.0
    shop_row_cost_seconds: float = 0.0
    shop_relation_cost_seconds: float = 0.0
    shop_max_execution_seconds: float | None = None
    # The Wawi warehouses (Ids) the shop is fed from; None: every one but the merchant's own Standardlager
    # (Id 1, returns and samples), or all of them if that leaves none.
    shop_warehouse_ids: tuple[int, ...] | None = None
    # "Now" of the shop world (the ages of orders missing in Wawi count back from it); None: the
    # generator's base date.
    shop_base_date: datetime | None = None
    # Drift of the mirrored shop against Wawi, deterministic by seed: an int is a count, a float a share of
    # the candidates. Orders in the shop that Wawi has not fetched (their ages in minutes, cycled), orders
    # cancelled in the shop but open in Wawi, products whose shop stock is above or below what Wawi has,
    # and (product, customer group) prices that differ from Wawi's.
    shop_orders_missing_in_wawi: int | float = 3
    shop_missing_order_ages_minutes: tuple[int, ...] = (10, 95, 1500)
    shop_orders_cancelled_in_shop: int | float = 2
    shop_stock_over: int | float = 4
    shop_stock_under: int | float = 2
    shop_price_drift: int | float = 3

    # Latency (issue 17, docs/latency.md). A profile from latency_model.LATENCY_PROFILES by name (or one
    # built in a test): service times per API; "none" answers as fast as the sandbox computes. Use
    # with_latency() to also set the limits the profile implies (the two fields below, FFN, Sheets).
    latency: str | LatencyProfile = "none"
    # Every latency, stall and rate-limit window is divided by this: a profile run 20x faster keeps its
    # shape (and its throughput bound, in scaled seconds). Clients must then be 20x faster too.
    time_scale: float = 1.0
    # Requests the on-premise Wawi serves at once (None: unlimited), and what happens to more. The
    # reference documents no limit, only slow answers (clients wait up to 90 s for one): so they queue
    # for a free worker; strict refuses them at once with 503 (a client must never send more).
    wawi_onprem_concurrency: int | None = None
    wawi_onprem_excess: Excess = "queue"

    # True when built by strictest(): every behaviour the reference leaves open is at its strictest.
    strict: bool = False

    # Name of a fault profile from jtl_automator.sandbox.faults.PROFILES (or "none").
    faults: str = "none"
    seed: int = 42
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")

    def scaled(self, seconds: float) -> float:
        """``seconds`` of the real API in the sandbox's time (see ``time_scale``)."""
        return seconds / self.time_scale

    def latency_profile(self) -> LatencyProfile:
        """The active latency profile (``latency`` resolved by name)."""
        return profile_named(self.latency)

    def with_latency(
        self, profile: str | LatencyProfile, *, time_scale: float | None = None
    ) -> SandboxConfig:
        """This config with ``profile``'s service times and the limits it implies.

        The limits are the Wawi concurrency, FFN's rate limit and the Sheets quotas; the strictness
        knobs stay as they are.
        """
        chosen = profile_named(profile)
        scale = self.time_scale if time_scale is None else time_scale
        limits: dict[str, Any] = dict(chosen.limits())
        return replace(self, latency=chosen, time_scale=scale, **limits)

    def sheets_quota(self, kind: str) -> int:
        """Requests per minute of the ``read`` or ``write`` bucket."""
        if self.sheets_requests_per_minute is not None:
            return self.sheets_requests_per_minute
        return (
            self.sheets_read_requests_per_minute if kind == "read" else self.sheets_write_requests_per_minute
        )

    @classmethod
    def strictest(cls, **overrides: Any) -> SandboxConfig:
        """Every knob the reference leaves open at its strictest plausible setting (then ``overrides``)."""
        return replace(
            cls(),
            **{
                "strict": True,
                **_STRICT_AUTH,
                **_STRICT_SHEETS,
                **_STRICT_PAGING,
                **_STRICT_FFN_FILTER,
                **_STRICT_FFN_PRODUCTS,
                **_STRICT_CATALOGUE,
                **_STRICT_PRICES,
                **_STRICT_RETURNS,
                **_STRICT_SHOP,
                **_STRICT_LATENCY,
                **overrides,
            },
        )


#: OAuth and Wawi knobs at their strictest (``strictest()``); each is still its own field.
_STRICT_AUTH: dict[str, Any] = {
    "ffn_revoke_access_token_on_refresh": True,
    "ffn_refresh_token_ttl_seconds": REFRESH_TOKEN_TTL_STRICT_SECONDS,
    "wawi_app_scopes": WAWI_APP_SCOPES,
    "wawi_registration_window_open": False,
    "wawi_registration_new_key": True,
    "wawi_check_app_id": True,
}

#: Page sizes and FFN rate limits at their strictest: small maxima (the clients halve their page size
#: until it passes) and FFN X-RateLimit-* headers with a 429 that names no wait, at a limit the flows
#: stay under (per endpoint and minute; a flow run's busiest FFN endpoint takes well under a hundred).
_STRICT_PAGING: dict[str, Any] = {
    "ffn_max_top": 100,
    "wawi_max_page_size": 100,
    "wawi_page_past_end": "refuse",
    "ffn_skip_past_end": "refuse",
    "ffn_rate_limit": 300,
    "ffn_rate_interval_seconds": 60,
    "ffn_rate_limit_retry_after": False,
}

#: What Google answers "Request payload size exceeds the limit: 10485760 bytes" past.
SHEETS_REQUEST_LIMIT_BYTES = 10_485_760
#: Sheets knobs at their strictest.
_STRICT_SHEETS: dict[str, Any] = {"sheets_max_request_bytes": SHEETS_REQUEST_LIMIT_BYTES}

#: FFN ``$filter`` and number knobs at their strictest: only the documented operators, and no
#: uniqueness of merchantOutboundNumber or merchantInboundNumber the client could lean on.
_STRICT_FFN_FILTER: dict[str, Any] = {
    "ffn_filter_operators": DOCUMENTED_FFN_OPERATORS,
    "ffn_unique_merchant_outbound_number": False,
    "ffn_unique_merchant_inbound_number": False,
}

#: FFN product knobs at their strictest (issue 12): no merchantSku uniqueness to lean on, value checks on,
#: nested objects replaced by a PATCH, a repeated authorisation refused.
_STRICT_FFN_PRODUCTS: dict[str, Any] = {
    "ffn_unique_merchant_sku": False,
    "ffn_product_value_checks": True,
    "ffn_patch_replaces_nested_objects": True,
    "ffn_authorization_duplicate_refused": True,
}
#: Wawi catalogue writes at their strictest: no second assignment of an item to a category, and a PATCH
#: group replaces the stored one whole.
_STRICT_CATALOGUE: dict[str, Any] = {
    "wawi_category_items_refuse_assigned": True,
    "wawi_item_patch_replaces_groups": True,
}
#: Wawi item price knobs at their strictest: empty price lists are a 404, a second POST of one channel
#: price, negative prices and special prices that end before they start are refused.
_STRICT_PRICES: dict[str, Any] = {
    "wawi_price_lists_404_when_empty": True,
    "wawi_unique_sales_channel_price": True,
    "wawi_refuse_negative_prices": True,
    "wawi_special_price_dates_checked": True,
}
#: Wawi returns at their strictest: no order to lean on, no filter the spec does not list, a 404 for no lines.
_STRICT_RETURNS: dict[str, Any] = {
    "wawi_returns_newest_first": True,
    "wawi_returns_refuse_unknown_parameters": True,
    "wawi_return_lines_404_when_empty": True,
    "wawi_custom_fields_404_when_empty": True,
}
#: JTL-Shop at its strictest (issue 16): a GET-only key, HTML pages answered 200, a session cookie on every
#: answer, and answers that cost time per row and per child relation, capped like PHP's execution time.
_STRICT_SHOP: dict[str, Any] = {
    "shop_api_key_permissions": 1,
    "shop_unrouted_status": 200,
    "shop_session_cookie": True,
    "shop_request_cost_seconds": 0.05,
    "shop_row_cost_seconds": 0.0005,
    "shop_relation_cost_seconds": 0.0003,
    "shop_max_execution_seconds": 30.0,
}

#: The on-premise Wawi at its strictest: a request past its concurrency is refused (503), not queued.
_STRICT_LATENCY: dict[str, Any] = {"wawi_onprem_excess": "refuse"}
