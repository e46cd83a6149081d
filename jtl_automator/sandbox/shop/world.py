"""The sandbox's JTL-Shop, mirrored from its JTL-Wawi as Wawi's shop sync (dbeS) would have left it.

:func:`build_shop` derives every table from the Wawi world and the config, deterministically (drift draws
come from ``random.Random(f"{seed}:shop")``, nothing from the Wawi generator's stream), so adding the shop
moved no byte of the generated Wawi and FFN world. What the mirror is:

- **Products**: one per active Wawi item, ``id`` = the Wawi item Id (dbeS keeps Wawi's kArtikel), ``sku`` =
  the Wawi SKU. ``trackStock`` is ``StorageOptions.InventoryManagementActive``, ``stockMayBeSmallerThanZero``
  ``AllowNegativeStock``, ``standardPriceNet`` the base price ``ItemPriceData.SalesPriceNet``.
- **Stock**: the shop's warehouses are Wawi warehouses (``shop_warehouse_ids``; by default all but the
  Standardlager, Id 1) with the same Ids. A product's row in one of them holds what Wawi has available
  there: ``max(0, Σ QuantityTotal − QuantityLockedForShipment − QuantityLockedForAvailability −
  QuantityInPickingLists)`` over the warehouse's stock rows of the item; ``stockQty`` is the sum of the
  product's rows.
- **Prices**: one price per product and customer group (the Wawi customer groups, same Ids), net. The base
  tier (``amountFrom`` 0) is the Wawi sales-channel price of the Onlineshop channel (``SHOP_CHANNEL``) for
  the group, else the one for all groups (``CustomerGroupId`` 0), else the item's base price; a relative
  channel price is the base price reduced by its percentage. Channel prices with ``FromQuantity`` above 0
  add tiers from that quantity on. Amounts are rounded to 4 decimals.
- **Orders**: one per Wawi sales order, ``orderNO`` = its ``ExternalNumber``, ``created`` its
  ``SalesOrderDate``, ``fetched`` "Y" (Wawi has it). State: cancelled → ``-1``, delivered completely
  (``DeliveryCompleteStatus`` 2) → ``4``, partly delivered → ``5``, paid (``PaymentStatus`` 2) → ``3``,
  else ``1``. Order ids count from 1001 and cart ids from 2001 in order of ``created`` (the shop numbers
  its own orders, unlike products). Each cart has one product line (``posType`` 1) per Wawi line and a
  shipping line (``posType`` 2).
- **Categories, customers, customer groups**: the Wawi ones with their Ids.

Drift (``SandboxConfig.shop_*``; an int is a count, a float a share of the candidates), recorded in
``ShopData.drift``: orders only the shop has (``fetched`` "N", new ``SHOP-`` numbers, ages from
``shop_missing_order_ages_minutes`` before the base date), open Wawi orders cancelled in the shop, products
whose shop stock is above (``stock_over``) or below (``stock_under``) Wawi's, and base tiers that differ
from Wawi's price (``price_drift``).
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from jtl_automator.sandbox.data import JsonObject, ShopData, WawiData
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, SHOP_CHANNEL
from jtl_automator.sandbox.shop.encoding import php_datetime, plain_date, plain_datetime

#: The merchant's own warehouse in the generated Wawi world (returns and samples): not fed to the shop.
LOCAL_WAREHOUSE_ID = 1
FIRST_ORDER_ID = 1001
FIRST_CART_ID = 2001
LANGUAGE_ID = 1  # German
CURRENCY_ID = 1  # EUR
#: ``posType`` of cart lines (``C_WARENKORBPOS_TYP_*``).
POS_PRODUCT = 1
POS_SHIPPING = 2
#: The child relations each model's ``fill()`` loads per row (the strict cost model counts them).
RELATIONS = {
    "product": 13,
    "category": 6,
    "order": 1,
    "cart": 1,
    "cartitem": 1,
    "price": 1,
    "customerGroup": 2,
    "customer": 0,
    "stock": 0,
}
#: The (dead) XTEA key stand-in: what ``GET /customer/{id}`` answers instead of the decrypted fields.
_ENCRYPTED_FIELDS = ("surname", "company", "additional", "street")


def _wawi_moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=DEFAULT_BASE_DATE.tzinfo)


def _slug(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
    return re.sub(r"[^a-z0-9]+", "-", text.translate(table).lower()).strip("-")


def _yes_no(flag: Any) -> str:
    return "Y" if flag else "N"


def _count(setting: int | float, candidates: int) -> int:
    """A drift setting as a number of cases: an int as given, a float as a share of the candidates."""
    if isinstance(setting, float):
        return max(0, min(candidates, round(setting * candidates)))
    return max(0, min(candidates, int(setting)))


def encrypted(text: str | None) -> str | None:
    """What the shop stores for an encrypted customer field (XTEA, base64): opaque, deterministic here."""
    if not text:
        return text
    digest = hashlib.sha256(text.encode()).digest()[:8]
    return base64.b64encode(digest + text.encode()[::-1]).decode()


def shop_warehouses(wawi: WawiData, configured: tuple[int, ...] | None) -> list[int]:
    """The Wawi warehouse Ids the shop is fed from (see the module docstring)."""
    if configured is not None:
        return sorted(configured)
    fed = [wid for wid in sorted(wawi.warehouses) if wid != LOCAL_WAREHOUSE_ID]
    return fed or sorted(wawi.warehouses)


def wawi_available(wawi: WawiData, warehouse_ids: list[int]) -> dict[tuple[int, int], float]:
    """(item Id, warehouse Id) → what Wawi has available there, never below 0 (the shop's stock rows)."""
    wanted = set(warehouse_ids)
    totals: dict[tuple[int, int], float] = defaultdict(float)
    for row in wawi.stocks:
        warehouse_id = row.get("WarehouseId")
        if warehouse_id not in wanted:
            continue
        available = (
            float(row.get("QuantityTotal") or 0)
            - float(row.get("QuantityLockedForShipment") or 0)
            - float(row.get("QuantityLockedForAvailability") or 0)
            - float(row.get("QuantityInPickingLists") or 0)
        )
        totals[(int(row["ItemId"]), int(warehouse_id))] += available
    return {key: max(0.0, value) for key, value in totals.items()}


def wawi_group_prices(wawi: WawiData, item: JsonObject, group_id: int) -> list[tuple[int, float]]:
    """The net tiers (amountFrom, netPrice) the shop should have for one item and customer group."""
    base = float((item.get("ItemPriceData") or {}).get("SalesPriceNet") or 0.0)
    rows = [
        row
        for row in wawi.sales_channel_prices.get(int(item["Id"]), [])
        if row.get("SalesChannelId") == SHOP_CHANNEL and row.get("CustomerGroupId") in (group_id, 0)
    ]

    def value(row: JsonObject) -> float:
        reduce_by = float(row.get("ReduceStandardPriceByPercent") or 0.0)
        return base * (1 - reduce_by / 100) if reduce_by else float(row.get("NetPrice") or 0.0)

    tiers: dict[int, float] = {0: base}
    for wanted_group in (0, group_id):  # the group's own price wins over the all-groups one
        for row in rows:
            if row.get("CustomerGroupId") == wanted_group:
                tiers[int(row.get("FromQuantity") or 0)] = value(row)
    return [(amount, round(price, 4)) for amount, price in sorted(tiers.items())]


def wawi_order_state(order: JsonObject, lines: list[JsonObject]) -> str:
    """The ``BESTELLUNG_STATUS_*`` string Wawi's sync leaves on the shop order of a sales order."""
    if order.get("IsCancelled"):
        return "-1"
    shipping = order.get("SalesOrderShippingDetail") or {}
    if shipping.get("DeliveryCompleteStatus") == 2:
        return "4"
    if any(float(line.get("QuantityDelivered") or 0) > 0 for line in lines):
        return "5"
    if (order.get("SalesOrderPaymentDetails") or {}).get("PaymentStatus") == 2:
        return "3"
    return "1"


def _split_street(street: str | None) -> tuple[str, str]:
    match = re.match(r"^(.*?)\s+(\d+\s*[a-zA-Z]?)$", street or "")
    return (match.group(1), match.group(2)) if match else (street or "", "")


class _Builder:
    def __init__(self, wawi: WawiData, config: Any) -> None:
        self.wawi = wawi
        self.config = config
        self.rng = random.Random(f"{config.seed}:shop")
        self.base: datetime = config.shop_base_date or DEFAULT_BASE_DATE
        self.shop = ShopData(warehouse_ids=shop_warehouses(wawi, config.shop_warehouse_ids))
        self.shop.drift = {
            "missing_orders": [],
            "cancelled_orders": [],
            "stock_over": [],
            "stock_under": [],
            "price_drift": [],
        }
        self.tax_rate = {1: 19.0, 2: 7.0}
        for rate in wawi.tax_rates:
            if rate.get("ShipmentCountryISO") == "DE":
                self.tax_rate[int(rate["TaxClassId"])] = float(rate["Rate"])

    # -- master data ----------------------------------------------------------------------------------

    def customer_groups(self) -> None:
        groups = self.wawi.customer_groups or {
            1: {"Id": 1, "Name": "Endkunden", "IsDefault": True, "Discount": 0.0, "IsNetPrice": False}
        }
        for group_id, group in sorted(groups.items()):
            self.shop.customer_groups[group_id] = {
                "id": group_id,
                "name": group.get("Name"),
                "discount": float(group.get("Discount") or 0.0),
                "default": _yes_no(group.get("IsDefault")),
                "shopLogin": "N",
                "net": 1 if group.get("IsNetPrice") else 0,
            }

    def categories(self) -> None:
        cats = self.wawi.categories
        children: dict[int, list[int]] = defaultdict(list)
        for cat_id, cat in sorted(cats.items()):
            parent = int(cat.get("ParentCategoryId") or 0)
            children[parent if parent in cats else 0].append(cat_id)
        bounds: dict[int, tuple[int, int]] = {}
        counter = 0

        def visit(cat_id: int) -> None:
            nonlocal counter
            counter += 1
            left = counter
            for child in children.get(cat_id, []):
                visit(child)
            counter += 1
            bounds[cat_id] = (left, counter)

        for root in children.get(0, []):
            visit(root)
        modified = php_datetime(self.base - timedelta(days=30))
        for cat_id, cat in sorted(cats.items()):
            left, right = bounds.get(cat_id, (0, 0))
            self.shop.categories[cat_id] = {
                "id": cat_id,
                "parentID": int(cat.get("ParentCategoryId") or 0),
                "name": cat.get("Name"),
                "slug": _slug(str(cat.get("Name") or cat_id)),
                "description": cat.get("Description") or "",
                "sort": int(cat.get("SortNumber") or 0),
                "lft": left,
                "rght": right,
                "level": int(cat.get("Level") or 1),
                "lastModified": modified,
            }

    def customers(self) -> None:
        modified = php_datetime(self.base - timedelta(days=2))
        for customer_id, customer in sorted(self.wawi.customers.items()):
            address = customer.get("BillingAddress") or {}
            street, number = _split_street(address.get("Street"))
            since = _wawi_moment(customer.get("CustomerSince"))
            birthday = _wawi_moment(customer.get("Birthday"))
            self.shop.customers[customer_id] = {
                "id": customer_id,
                "customerGroupID": int(customer.get("CustomerGroupId") or 1),
                "languageID": LANGUAGE_ID,
                "customerNO": customer.get("Number"),
                "password": "$2y$10$" + hashlib.sha256(f"pw{customer_id}".encode()).hexdigest()[:53],
                "salutation": address.get("FormOfAddress") or "",
                "title": address.get("Title") or "",
                "firstname": address.get("FirstName") or "",
                "surname": address.get("LastName") or "",
                "company": address.get("Company") or "",
                "additional": address.get("Address2") or "",
                "street": street,
                "streetNO": number,
                "additionalAddress": "",
                "zip": address.get("PostalCode") or "",
                "city": address.get("City") or "",
                "state": address.get("State") or "",
                "country": address.get("CountryIso") or "DE",
                "tel": address.get("PhoneNumber") or "",
                "mobile": address.get("MobilePhoneNumber") or "",
                "fax": address.get("Fax") or "",
                "mail": address.get("EmailAddress") or "",
                "ustidnr": address.get("VatID") or "",
                "www": customer.get("Website") or "",
                "locked": _yes_no(customer.get("IsLocked")),
                "balance": 0.0,
                "newsletter": "N",
                "discount": 0.0,
                "origin": "",
                "active": "Y",
                "fetched": "Y",
                "registered": 1,
                "loginAttempts": 0,
                "birthday": php_datetime(birthday, date_only=True),
                "created": php_datetime(since, date_only=True),
                "modified": modified,
            }

    # -- catalogue ------------------------------------------------------------------------------------

    def products(self) -> None:
        available = wawi_available(self.wawi, self.shop.warehouse_ids)
        by_item: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for (item_id, warehouse_id), quantity in sorted(available.items()):
            by_item[item_id].append((warehouse_id, quantity))
        link_id = 0
        price_id = 0
        detail_id = 0
        groups = sorted(self.shop.customer_groups)
        for item_id, item in sorted(self.wawi.items.items()):
            if item.get("IsActive") is False:
                continue
            rows = by_item.get(item_id, [])
            for warehouse_id, quantity in rows:
                self.shop.stock[(item_id, warehouse_id)] = {
                    "productID": item_id,
                    "warehouseID": warehouse_id,
                    "stock": float(quantity),
                    "procured": 0.0,
                    "procuredDate": None,
                }
            self.shop.products[item_id] = self._product(item, sum(q for _w, q in rows))
            for category in item.get("Categories") or []:
                category_id = int(category.get("CategoryId") or 0)
                if category_id in self.shop.categories:
                    link_id += 1
                    self.shop.category_links[link_id] = {
                        "id": link_id,
                        "productID": item_id,
                        "categoryID": category_id,
                    }
            for group_id in groups:
                price_id += 1
                self.shop.prices[price_id] = {
                    "id": price_id,
                    "productID": item_id,
                    "customerGroupID": group_id,
                    "customerID": 0,
                }
                tiers = []
                for amount, net in wawi_group_prices(self.wawi, item, group_id):
                    detail_id += 1
                    tiers.append(
                        {"id": detail_id, "priceID": price_id, "amountFrom": amount, "netPrice": net}
                    )
                self.shop.price_details[price_id] = tiers

    def _product(self, item: JsonObject, stock_qty: float) -> JsonObject:
        item_id = int(item["Id"])
        prices = item.get("ItemPriceData") or {}
        options = item.get("StorageOptions") or {}
        identifiers = item.get("Identifiers") or {}
        dimensions = item.get("Dimensions") or {}
        weights = item.get("Weights") or {}
        quantities = item.get("Quantities") or {}
        goods = item.get("DangerousGoods") or {}
        added = _wawi_moment(item.get("Added"))
        changed = _wawi_moment(item.get("Changed")) or added
        released = _wawi_moment(item.get("ReleasedOnDate"))
        tax_class = int(item.get("TaxClassId") or 1)
        name = str(item.get("Name") or "")
        return {
            "id": item_id,
            "parentID": int(item.get("ParentItemId") or 0),
            "manufacturerID": int(item.get("ManufacturerId") or 0),
            "taxClassID": tax_class,
            "unitID": 0,
            "shippingClassID": int(item.get("ShippingClassId") or 0),
            "partlistID": 0,
            "commodityGroupID": int(item.get("ProductGroupId") or 0),
            "deliveryStatus": int(item.get("AvailabilityId") or 0),
            "basePriceUnitID": 0,
            "propertyCombinationID": 0,
            "packagingUnitID": 0,
            "measurementUnitID": 0,
            "sku": item.get("SKU"),
            "name": name,
            "slug": _slug(name) or str(item_id),
            "description": item.get("Description") or "",
            "shortDescription": item.get("ShortDescription") or "",
            "comment": item.get("Annotation") or "",
            "searchTerms": item.get("SearchTerms") or "",
            "series": "",
            "isbn": identifiers.get("ISBN") or "",
            "asin": "",
            "han": identifiers.get("ManufacturerNumber") or "",
            "barcode": identifiers.get("Gtin") or "",
            "upc": identifiers.get("UPC") or "",
            "epid": "",
            "originCountry": item.get("CountryOfOrigin") or "",
            "unNumber": goods.get("UnNumber") or "",
            "hazardIdentificationNumber": goods.get("HazardNo") or "",
            "taricCode": item.get("Taric") or "",
            "packagingUnitName": "",
            "stockQty": float(stock_qty),
            "trackStock": _yes_no(options.get("InventoryManagementActive", True)),
            "stockMayBeSmallerThanZero": _yes_no(item.get("AllowNegativeStock")),
            "trackStocksOfVariations": "N",
            "awaitedDelivery": 0.0,
            "dateOfAwaitedDelivery": None,
            "supplierStocks": 0.0,
            "deliveryDaysWhenSoldOut": 0,
            "taxRate": self.tax_rate.get(tax_class, 19.0),
            "msrp": float(prices.get("SuggestedRetailPrice") or 0.0),
            "standardPriceNet": float(prices.get("SalesPriceNet") or 0.0),
            "minOrderQty": float(quantities.get("MinimumOrderQuantity") or 0.0),
            "permissibleOrderQty": float(quantities.get("PermissibleOrderQuantity") or 0.0),
            "packagingUnit": 1.0,
            "packagingUnitAmount": 0.0,
            "weight": float(weights.get("ShippingWeight") or 0.0),
            "productWeight": float(weights.get("ItemWeigth") or 0.0),
            "width": float(dimensions.get("Width") or 0.0),
            "height": float(dimensions.get("Height") or 0.0),
            "length": float(dimensions.get("Length") or 0.0),
            "measurementAmount": 0.0,
            "basePriceAmount": 0.0,
            "deliveryTime": 0.0,
            "sort": int(item.get("SortNumber") or 0),
            "isParent": 1 if item.get("ChildItems") else 0,
            "autoDeliveryCalculation": 1,
            "handlingTime": int(options.get("AdditionalHandlingTime") or 0),
            "topProduct": "N",
            "new": "N",
            "divisible": _yes_no(options.get("SplitQuantity")),
            "hasPackagingUnit": "N",
            "created": plain_date(added),
            "release": plain_date(released),
            "lastModified": plain_datetime(changed),
            "shelflifeExpirationDate": None,
        }

    # -- orders ---------------------------------------------------------------------------------------

    def orders(self) -> None:
        wawi = self.wawi
        payment_names = {int(m["Id"]): m.get("Name") for m in wawi.payment_methods}
        shipping = {int(m["Id"]): m for m in wawi.shipping_methods}
        entries: list[tuple[datetime, int, JsonObject]] = []
        for order_id, order in sorted(wawi.sales_orders.items()):
            if not order.get("ExternalNumber"):
                continue  # not a shop order
            lines = wawi.line_items.get(order_id, [])
            created = _wawi_moment(order.get("SalesOrderDate")) or self.base
            payment = order.get("SalesOrderPaymentDetails") or {}
            detail = order.get("SalesOrderShippingDetail") or {}
            ship_id = int(detail.get("ShippingMethodId") or 0)
            method = shipping.get(ship_id, {})
            entry = {
                "orderNO": order["ExternalNumber"],
                "customerID": int(order.get("CustomerId") or 0),
                "billingAddressID": int((order.get("BillingAddress") or {}).get("Id") or 0),
                "deliveryAddressID": int((order.get("Shipmentaddress") or {}).get("Id") or 0),
                "paymentMethodID": int(payment.get("PaymentMethodId") or 0),
                "paymentMethodName": payment_names.get(int(payment.get("PaymentMethodId") or 0), ""),
                "shippingMethodID": ship_id,
                "shippingMethodName": method.get("Name", ""),
                "shippingFee": float(method.get("GrossPrice") or 0.0),
                "total": float(payment.get("TotalGrossAmount") or 0.0),
                "state": wawi_order_state(order, lines),
                "fetched": "Y",
                "comment": order.get("CustomerComment") or "",
                "paymentDate": _wawi_moment(payment.get("DateOfPayment")),
                "shippingDate": _wawi_moment(detail.get("ShippingDate")),
                "lines": [
                    {
                        "productID": int(line["ItemId"]) if int(line.get("ItemId") or 0) in wawi.items else 0,
                        "sku": line.get("SKU") or "",
                        "name": line.get("Name") or "",
                        "qty": float(line.get("Quantity") or 0.0),
                        "net": float(line.get("SalesPriceNet") or 0.0),
                        "tax": float(line.get("TaxRate") or 0.0),
                        "unit": line.get("SalesUnit") or "",
                    }
                    for line in lines
                    if int(line.get("Type") or 1) == 1
                ],
            }
            entries.append((created, order_id, entry))
        entries.extend(self._missing_orders(entries))
        self._cancel_in_shop(entries)
        entries.sort(key=lambda e: (e[0], e[1]))
        position_id = 0
        for index, (created, _key, entry) in enumerate(entries):
            order_id, cart_id = FIRST_ORDER_ID + index, FIRST_CART_ID + index
            self.shop.orders[order_id] = {
                "id": order_id,
                "cartID": cart_id,
                "customerID": entry["customerID"],
                "deliveryAddressID": entry["deliveryAddressID"],
                "billingAddressID": entry["billingAddressID"],
                "paymentMethodID": entry["paymentMethodID"],
                "shippingMethodID": entry["shippingMethodID"],
                "languageID": LANGUAGE_ID,
                "currencyID": CURRENCY_ID,
                "orderNO": entry["orderNO"],
                "shippingMethodName": entry["shippingMethodName"],
                "paymentMethodName": entry["paymentMethodName"],
                "sessionID": hashlib.md5(entry["orderNO"].encode(), usedforsecurity=False).hexdigest(),
                "shippingInfo": "",
                "trackingID": "",
                "trackingURL": "",
                "logistics": "",
                "comment": entry["comment"],
                "ipAddress": "",
                "puidPaymentData": "",
                "fetched": entry["fetched"],
                "state": entry["state"],
                "total": entry["total"],
                "balance": 0.0,
                "currencyConversionFactor": 1.0,
                "longestMinDelivery": 1,
                "longestMaxDelivery": 3,
                "created": php_datetime(created),
                "reviewReminder": None,
                "shippingDate": php_datetime(entry["shippingDate"], date_only=True),
                "paymentDate": php_datetime(entry["paymentDate"], date_only=True),
            }
            self.shop.order_attributes[order_id] = []
            self.shop.carts[cart_id] = {
                "id": cart_id,
                "customerID": entry["customerID"],
                "deliveryAddressID": entry["deliveryAddressID"],
                "paymentInfoID": 0,
            }
            lines = [*entry["lines"]]
            if entry["shippingFee"]:
                net = round(entry["shippingFee"] / 1.19, 4)
                lines.append(
                    {"productID": 0, "sku": "", "name": entry["shippingMethodName"], "qty": 1.0, "net": net}
                    | {"tax": 19.0, "unit": "", "posType": POS_SHIPPING}
                )
            for line in lines:
                position_id += 1
                self.shop.cart_items[position_id] = {
                    "id": position_id,
                    "cartID": cart_id,
                    "productID": line["productID"],
                    "posType": line.get("posType", POS_PRODUCT),
                    "configItemID": 0,
                    "orderItemID": 0,
                    "sku": line["sku"],
                    "name": line["name"],
                    "unit": line["unit"],
                    "deliveryState": "",
                    "notice": "",
                    "unique": "",
                    "responsibility": "core",
                    "qty": line["qty"],
                    "netSinglePrice": line["net"],
                    "price": line["net"],
                    "taxPercent": line["tax"],
                    "stockBefore": 0.0,
                    "attributes": [],
                }

    def _missing_orders(self, entries: list[tuple[datetime, int, JsonObject]]) -> list[Any]:
        """Orders the shop took that Wawi has not fetched (yet): new numbers, fetched "N"."""
        products = sorted(self.shop.products)
        customers = sorted(self.shop.customers) or [0]
        wanted = _count(self.config.shop_orders_missing_in_wawi, max(1, len(entries)))
        ages = self.config.shop_missing_order_ages_minutes or (60,)
        if not products or not wanted:
            return []
        numbers = [int(m.group(1)) for _c, _k, e in entries if (m := re.search(r"(\d+)$", e["orderNO"]))]
        next_number = max(numbers, default=700000)
        prefix = "SHOP-"
        found = []
        for k in range(wanted):
            next_number += 3
            created = self.base - timedelta(minutes=ages[k % len(ages)])
            picked = self.rng.sample(products, k=min(len(products), self.rng.choice((1, 1, 2, 3))))
            lines = []
            for product_id in picked:
                product = self.shop.products[product_id]
                net = self.shop.price_details[self._base_price_id(product_id)][0]["netPrice"]
                qty = float(self.rng.choice((1, 1, 2, 3)))
                tax = float(product["taxRate"])
                lines.append(
                    {"productID": product_id, "sku": product["sku"], "name": product["name"], "qty": qty}
                    | {"net": net, "tax": tax, "unit": "Stk"}
                )
            total = round(sum(x["net"] * x["qty"] * (1 + x["tax"] / 100) for x in lines) + 4.9, 2)
            paid = self.rng.random() < 0.6
            number = f"{prefix}{next_number}"
            entry = {
                "orderNO": number,
                "customerID": customers[self.rng.randrange(len(customers))],
                "billingAddressID": 0,
                "deliveryAddressID": 0,
                "paymentMethodID": 1 if paid else 3,
                "paymentMethodName": "PayPal" if paid else "Rechnung",
                "shippingMethodID": 1,
                "shippingMethodName": "DHL Paket",
                "shippingFee": 4.9,
                "total": total,
                "state": "3" if paid else "1",
                "fetched": "N",
                "comment": "",
                "paymentDate": created if paid else None,
                "shippingDate": None,
                "lines": lines,
            }
            self.shop.drift["missing_orders"].append(
                {"orderNO": number, "created": created.isoformat(), "age_minutes": ages[k % len(ages)]}
            )
            found.append((created, 10**9 + k, entry))
        return found

    def _cancel_in_shop(self, entries: list[tuple[datetime, int, JsonObject]]) -> None:
        """Open Wawi orders (not cancelled, nothing delivered) cancelled in the shop."""
        candidates = [e for _c, _k, e in entries if e["fetched"] == "Y" and e["state"] in ("1", "3")]
        wanted = _count(self.config.shop_orders_cancelled_in_shop, len(candidates))
        for entry in self.rng.sample(candidates, k=wanted):
            entry["state"] = "-1"
            self.shop.drift["cancelled_orders"].append({"orderNO": entry["orderNO"]})
        self.shop.drift["cancelled_orders"].sort(key=lambda case: str(case["orderNO"]))

    def _base_price_id(self, product_id: int) -> int:
        default = next(
            (g for g, row in self.shop.customer_groups.items() if row["default"] == "Y"),
            min(self.shop.customer_groups),
        )
        for price_id, price in self.shop.prices.items():
            if price["productID"] == product_id and price["customerGroupID"] == default:
                return price_id
        raise KeyError(product_id)

    # -- drift ----------------------------------------------------------------------------------------

    def stock_drift(self) -> None:
        """Stale stock: the shop shows more (oversell risk) or less than Wawi has available."""
        managed = [
            pid
            for pid, product in sorted(self.shop.products.items())
            if product["trackStock"] == "Y" and any(key[0] == pid for key in self._stock_keys(pid))
        ]
        over_n = _count(self.config.shop_stock_over, len(managed))
        over = self.rng.sample(managed, k=over_n)
        rest = [pid for pid in managed if pid not in set(over) and self.shop.products[pid]["stockQty"] >= 2]
        under = self.rng.sample(rest, k=_count(self.config.shop_stock_under, len(rest)))
        for kind, picked in (("stock_over", over), ("stock_under", under)):
            for product_id in sorted(picked):
                product = self.shop.products[product_id]
                wawi_qty = float(product["stockQty"])
                if kind == "stock_over":
                    delta = float(self.rng.choice((3, 5, 8, 12)))
                else:
                    delta = -float(self.rng.randint(1, min(6, int(wawi_qty))))
                keys = self._stock_keys(product_id)
                row = self.shop.stock[max(keys, key=lambda k: (self.shop.stock[k]["stock"], -k[1]))]
                row["stock"] = max(0.0, float(row["stock"]) + delta)
                product["stockQty"] = float(sum(self.shop.stock[k]["stock"] for k in keys))
                self.shop.drift[kind].append(
                    {
                        "sku": product["sku"],
                        "productID": product_id,
                        "shop": product["stockQty"],
                        "wawi": wawi_qty,
                    }
                )

    def _stock_keys(self, product_id: int) -> list[tuple[int, int]]:
        return [(product_id, w) for w in self.shop.warehouse_ids if (product_id, w) in self.shop.stock]

    def price_drift(self) -> None:
        """Base tiers that differ from Wawi's price for the group."""
        candidates = sorted(self.shop.prices)
        wanted = _count(self.config.shop_price_drift, len(candidates))
        for price_id in sorted(self.rng.sample(candidates, k=wanted)):
            price = self.shop.prices[price_id]
            tier = self.shop.price_details[price_id][0]
            wawi_net = float(tier["netPrice"])
            factor = self.rng.choice((0.9, 0.95, 1.05, 1.1))
            tier["netPrice"] = round(wawi_net * factor, 2)
            self.shop.drift["price_drift"].append(
                {
                    "sku": self.shop.products[price["productID"]]["sku"],
                    "productID": price["productID"],
                    "customerGroupID": price["customerGroupID"],
                    "shop": tier["netPrice"],
                    "wawi": wawi_net,
                }
            )


def build_shop(wawi: WawiData, config: Any) -> ShopData:
    """The shop mirrored from ``wawi`` with the drift ``config`` asks for (see the module docstring)."""
    builder = _Builder(wawi, config)
    builder.customer_groups()
    builder.categories()
    builder.customers()
    builder.products()
    builder.orders()
    builder.stock_drift()
    builder.price_drift()
    return builder.shop


def hidden_fields(customer: JsonObject) -> JsonObject:
    """A customer as ``GET /customer/{id}`` answers: the encrypted fields still encrypted."""
    return {key: encrypted(value) if key in _ENCRYPTED_FIELDS else value for key, value in customer.items()}
