"""Seeded demo world for the sandbox: a German online merchant whose goods sit in JTL-FFN warehouses.

Everything comes from ``random.Random(seed)`` and a fixed base date, so one seed always gives the same
world (byte for byte once serialised) and tests can rely on it. Objects have the exact shapes the APIs
return (FFN camelCase, Wawi v1 PascalCase), so routers hand them out unchanged.

How the world hangs together:

- Every SKU exists twice: as Wawi ``Item`` (``SKU``) and FFN ``Product`` (``merchantSku``); every seventh
  merchant SKU is purely numeric with leading zeros (``"00008"``) to catch code that turns SKUs into ints.
- FFN ``Stock`` totals are the sums of the per-warehouse rows. ``stockLevel`` counts the units on the
  shelf including reserved ones (free to sell = ``stockLevel - stockLevelReserved``, as the FFN emulator
  computes it), ``stockLevelReserved`` is the open quantity of in-progress outbounds,
  ``stockLevelAnnounced`` the open quantity (``quantityOpen``) of inbounds in
  :data:`ANNOUNCING_INBOUND_STATUSES`; blocked units come on top of ``stockLevel``.
- Wawi has a local warehouse ("Standardlager", Id 1) plus one warehouse per FFN warehouse (Id 2, 3, ...,
  ``Code`` = the FFN ``warehouseId``). Wawi stock rows of the FFN warehouses copy FFN's physical stock,
  except roughly every 25th row, which drifts by a few units so an inventory sync has something to do.
- Sales orders are spread over the :data:`ORDER_SPREAD_DAYS` days before the base date. Valid orders older
  than five days were already fulfilled (FFN outbound ``Shipped`` with a shipping notification, Wawi
  ``DeliveryCompleteStatus`` 2), those between three and five days old have an FFN outbound in progress
  (``Acknowledged``/``Pickprocess``, reserving stock), the rest have no outbound yet.

Deliberately invalid sales orders (about 5%). Orders are numbered in date order, index ``i`` = 0, 1, ...
(``Id = i + 1``, ``Number = f"AU{100001 + i}"``). Order ``i`` is invalid when ``i % 20 == 7``; the reason is
``INVALID_ORDER_REASONS[(i // 20) % 5]``:

0. ``missing_street``: ``Shipmentaddress.Street`` is an empty string.
1. ``bad_postcode``: the shipment postcode does not fit the country (``"1234"`` for DE, ``"12345"`` for
   AT/CH/NL).
2. ``unknown_sku``: one line item has SKU ``"UNBEKANNT-<i>"`` and an ``ItemId`` no item has.
3. ``zero_quantity``: one line item has ``Quantity`` 0.
4. ``unpaid_prepayment``: paid by prepayment (Vorkasse, ``PaymentMethodId`` 2) with ``PaymentStatus`` 0.

Besides, order ``i`` with ``i % 50 == 23`` (valid, not yet fulfilled) is on hold (``OnHoldReasonId`` 3,
"Kundenrückfrage"), and every 20th order counted from the newest (the 4th, 24th, … newest; valid, new, not
on hold) was partly delivered already: ``DeliveryCompleteStatus`` 0 with ``QuantityDelivered`` on its first
line (the whole line when there are several, else all but one unit; single-unit orders stay undelivered).
Orders paid by invoice (Rechnung, ``PaymentMethodId`` 3) are legitimately unpaid (``PaymentStatus`` 0).

Returns (Wawi ``/returns``): about one fulfilled order in twenty comes back (a draw of 5 % per fulfilled
order, minus those whose return would lie after the base date), one to four days after it shipped, with
one line per returned position (usually one, the whole quantity or part of it), a reason from
:data:`RETURN_REASONS` (by weight) and ``Origin`` 5 (FFN: it arrived at the fulfiller). The order's line
gets the returned units in ``QuantityReturned``. Returns are drawn last, from a generator of their own
seeded from the seed, so adding them moved no other object.

The "Inbound Control" spreadsheet (id :data:`INBOUND_CONTROL_SPREADSHEET_ID`, tab "Wareneingang"; made when
there are inbounds in every status, which the default of at least five inbounds guarantees) has two
title rows, then the header row ``SKU | Units | Inbound | Status | Note | Lieferant | Datum | Bearbeiter``.
The ``Inbound`` column holds the FFN ``merchantInboundNumber``; ``Units`` are what the team sent. The rows
(in order) are meant to verify as: MATCH (receipted inbound, exact units), MATCH (units written ``"1.234"``,
German thousands separator, inbound item quantity 1234), MISMATCH (receipted, units + 3), MISMATCH (closed
inbound that was short-received), PENDING (pending inbound), MISMATCH (partially receipted, item still open:
the note says the inbound is PartiallyReceipted),
UNKNOWN_SKU (SKU in no product), INBOUND_NOT_FOUND (inbound number that does not exist), INVALID_ROW (empty
SKU), INVALID_ROW (units ``"abc"``), INVALID_ROW (units ``"-5"``), a blank row, a duplicate of the first
row (SKU + inbound again: both copies are flagged as duplicates), and a MATCH with units as a number
rather than a string.
"""

from __future__ import annotations

import gc
import random
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from jtl_automator.sandbox.data import (
    FfnData,
    JsonObject,
    SandboxData,
    Spreadsheet,
    WawiData,
    Worksheet,
)
from jtl_automator.sandbox.wordlists import (
    AT_CH_STREETS,
    AT_CITIES,
    CATALOG,
    CH_CITIES,
    DE_CITIES,
    DE_STREETS,
    EMAIL_TLDS,
    FFN_WAREHOUSE_SITES,
    FIRST_NAMES,
    INITIAL_CONTACTS,
    LAST_NAMES,
    LEGAL_FORMS,
    NL_CITIES,
    NL_POSTCODE_LETTERS,
    NL_STREETS,
    ON_HOLD_REASONS,
    PAYMENT_METHODS,
    SALUTATIONS,
    SHIPPING_METHODS,
    SUPPLIER_STEMS,
)

DEFAULT_BASE_DATE = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
ORDER_SPREAD_DAYS = 10
INBOUND_CONTROL_SPREADSHEET_ID = "inbound-control-demo"
INBOUND_STATUSES = ("Preparation", "Pending", "PartiallyReceipted", "Receipted", "Closed")
# As in the FFN emulator, an inbound announces its open quantities from creation on (also while in
# Preparation); Receipted and Closed inbounds expect nothing more.
ANNOUNCING_INBOUND_STATUSES = frozenset({"Preparation", "Pending", "PartiallyReceipted"})
INVALID_ORDER_REASONS = (
    "missing_street",
    "bad_postcode",
    "unknown_sku",
    "zero_quantity",
    "unpaid_prepayment",
)
PREPAYMENT_METHOD_ID = 2
INVOICE_METHOD_ID = 3
ON_HOLD_CUSTOMER_QUESTION = 3

_ALNUM = string.ascii_uppercase + string.digits
#: Wawi return reasons: Id, German and English name, weight of the draw.
RETURN_REASONS = (
    (1, "Widerruf ohne Angabe von Gründen", "Withdrawal without reason", 5),
    (2, "Artikel gefällt nicht", "Item not as expected", 3),
    (3, "Größe passt nicht", "Wrong size", 2),
    (4, "Artikel defekt", "Item defective", 1),
    (5, "Falscher Artikel geliefert", "Wrong item delivered", 1),
)
#: Wawi return states: Id, German and English name.
RETURN_STATES = (
    (1, "Angelegt", "Created"),
    (2, "Eingetroffen", "Received"),
    (3, "Abgeschlossen", "Completed"),
)
RETURN_SHARE = 0.05


def invalid_order_reason(index: int) -> str | None:
    """Why the order at 0-based position ``index`` is invalid on purpose (None if it is meant to be valid)."""
    if index % 20 != 7:
        return None
    return INVALID_ORDER_REASONS[(index // 20) % len(INVALID_ORDER_REASONS)]


def ean13(first12: str) -> str:
    """Append the GS1 check digit, so EANs pass the validation real shops and fulfillers apply."""
    total = sum(map(int, first12[0::2])) + 3 * sum(map(int, first12[1::2]))
    return first12 + str((10 - total % 10) % 10)


def _deliver_in_part(lines: list[JsonObject]) -> None:
    """Units Wawi already delivered another way (the shop's own shelf), DeliveryCompleteStatus staying 0.

    The first line whole when there are several, else all but one unit of a multi-unit line.
    """
    if len(lines) >= 2:
        lines[0]["QuantityDelivered"] = lines[0]["Quantity"]
    elif lines and lines[0]["Quantity"] >= 2:
        lines[0]["QuantityDelivered"] = lines[0]["Quantity"] - 1


class _Clock:
    """Pre-formatted timestamps relative to the base date (formatting is the slow part at 100k SKUs)."""

    def __init__(self, base: datetime) -> None:
        self.base = base

    def at(self, delta: timedelta) -> datetime:
        return self.base + delta

    @staticmethod
    def ffn(moment: datetime) -> str:
        return moment.isoformat(timespec="milliseconds")

    @staticmethod
    def wawi(moment: datetime) -> str:
        return moment.isoformat(timespec="seconds")


def _mod_info(created: str, updated: str | None) -> JsonObject:
    return {"createdAt": created, "updatedAt": updated, "state": "Modified" if updated else "New"}


def _ffn_address(
    *,
    company: str | None,
    first: str | None,
    last: str | None,
    street: str,
    zip_code: str,
    city: str,
    country: str,
    email: str | None = None,
    phone: str | None = None,
) -> JsonObject:
    return {
        "salutation": None,
        "firstname": first,
        "lastname": last,
        "company": company,
        "street": street,
        "extraLine": None,
        "extraAddressLine": None,
        "zip": zip_code,
        "city": city,
        "state": None,
        "country": country,
        "email": email,
        "phone": phone,
        "mobile": None,
        "fax": None,
    }


def _wawi_address(
    address_id: int,
    *,
    company: str | None,
    first: str | None,
    last: str | None,
    street: str,
    postcode: str,
    city: str,
    country: str,
    email: str | None = None,
    phone: str | None = None,
    state: str | None = None,
    form: str | None = None,
) -> JsonObject:
    return {
        "Id": address_id,
        "Company": company,
        "Company2": None,
        "FormOfAddress": form,
        "Title": None,
        "FirstName": first,
        "LastName": last,
        "Street": street,
        "Address2": None,
        "PostalCode": postcode,
        "City": city,
        "State": state,
        "CountryIso": country,
        "VatID": None,
        "PhoneNumber": phone,
        "MobilePhoneNumber": None,
        "EmailAddress": email,
        "Fax": None,
    }


def _ascii(text: str) -> str:
    for src, dst in (
        ("ä", "ae"),
        ("ö", "oe"),
        ("ü", "ue"),
        ("ß", "ss"),
        ("Ä", "Ae"),
        ("Ö", "Oe"),
        ("Ü", "Ue"),
        ("Ç", "C"),
        ("ç", "c"),
        (" ", ""),
    ):
        text = text.replace(src, dst)
    return text.lower()


#: The sandbox's sales channels (``GET /salesChannels``): Wawi itself, the online shop, eBay and Amazon.
#: Amazon's prices come from its own repricing (``ItemCapabilities.Prices`` false), eBay takes prices but
#: no special prices; Wawi and the shop take both.
SALES_CHANNELS: tuple[tuple[str, int, str, bool, bool], ...] = (
    ("1-1-0", 0, "JTL-Wawi", True, True),
    ("1-2-1", 1, "Onlineshop (shop.example.de)", True, True),
    ("2-3-1", 3, "eBay.de", True, False),
    ("3-9-1", 9, "amazon.de", False, False),
)
SHOP_CHANNEL = "1-2-1"
EBAY_CHANNEL = "2-3-1"
#: Customer groups: end customers (the default) and resellers, who see net prices.
CUSTOMER_GROUPS: tuple[tuple[int, str, bool, float, bool], ...] = (
    (1, "Endkunden", True, 0.0, False),
    (2, "Händler", False, 5.0, True),
)
#: VAT per shipment country and tax class (1: standard rate, 2: reduced rate), departing from Germany.
TAX_RATES: dict[str, tuple[float, float]] = {"DE": (19.0, 7.0), "AT": (20.0, 10.0), "NL": (21.0, 9.0)}


def _custom_field(field_id: int, group: str, name: str, kind: int, values: list[str]) -> JsonObject:
    """A ``CustomField`` definition (``Type``: 3 text, 4 checkbox, 5 list with ``PossibleValues``)."""
    return {
        "CustomFieldId": field_id,
        "GroupName": group,
        "Name": name,
        "Type": kind,
        "PossibleValues": values,
    }


def _round_price(value: float) -> float:
    """Shop-like price endings (.49/.90/.95/.99)."""
    whole = int(value)
    return round(whole + (0.49, 0.90, 0.95, 0.99)[whole % 4], 2)


class _Generator:
    def __init__(self, seed: int, base: datetime) -> None:
        self.rng = random.Random(seed)
        self.clock = _Clock(base)
        self.base = base
        self.ffn = FfnData()
        self.wawi = WawiData()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self._jfskus: set[str] = set()
        self._address_id = 0
        # built along the way
        self.skus: list[str] = []
        self.jfsku_of: dict[str, str] = {}
        self.sku_of: dict[str, str] = {}
        self.item_id_of: dict[str, int] = {}
        self.tax_of: dict[str, float] = {}
        self.price_of: dict[str, float] = {}
        self.name_of: dict[str, str] = {}
        self.ffn_warehouse_ids: list[str] = []
        self.wawi_warehouse_of: dict[str, int] = {}
        # (jfsku, warehouseId) -> mutable per-warehouse counters, filled by inbounds/outbounds
        self.physical: dict[tuple[str, str], int] = {}
        self.reserved: dict[tuple[str, str], list[JsonObject]] = {}
        self.announced: dict[tuple[str, str], list[JsonObject]] = {}

    # --- ids ---------------------------------------------------------------------------------------------
    def new_jfsku(self) -> str:
        rand = self.rng.random
        while True:
            candidate = self.ffn.merchant_id + "".join([_ALNUM[int(rand() * 36)] for _ in range(7)])
            if candidate not in self._jfskus:
                self._jfskus.add(candidate)
                return candidate

    def new_address_id(self) -> int:
        self._address_id += 1
        return self._address_id

    def ffn_time(self, days_back: float) -> str:
        return self.clock.ffn(self.base - timedelta(days=days_back))

    # --- master data -------------------------------------------------------------------------------------
    def warehouses(self, count: int) -> None:
        fid = self.ffn.fulfiller_id
        created = self.ffn_time(400)
        for method in SHIPPING_METHODS:
            suffix, name, ship_type, carrier_code, carrier_name, url, _wawi_id, _price = method
            method_id = f"{fid}0A{suffix}"
            self.ffn.shipping_methods[method_id] = {
                "shippingMethodId": method_id,
                "fulfillerId": fid,
                "name": name,
                "shippingType": ship_type,
                "trackingUrlSchema": url,
                "carrierCode": carrier_code,
                "carrierName": carrier_name,
                "cutoffTime": "14:00:00",
                "note": None,
                "fulfillerShippingMethodNumber": f"VS-{suffix}",
                "modificationInfo": _mod_info(created, None),
            }
        method_ids = list(self.ffn.shipping_methods)
        self.wawi.warehouses[1] = {
            "Id": 1,
            "Name": "Standardlager",
            "Address": _wawi_address(
                self.new_address_id(),
                company="Demo Handels GmbH",
                first=None,
                last=None,
                street="Gewerbestraße 7",
                postcode="34117",
                city="Kassel",
                country="DE",
            ),
            "Code": "STD",
            "Type": {
                "Id": "00000000-0000-0000-0000-000000000001",
                "Name": "Standard",
                "Description": "Eigenes Lager",
                "Scope": [],
            },
            "Description": "Eigenes Lager (Retouren, Muster)",
            "Priority": 2,
            "CompanyId": 1,
            "LockForShipment": False,
            "LockForAvailability": False,
            "IsActive": True,
        }
        for k in range(count):
            zip_code, city, name, street = FFN_WAREHOUSE_SITES[k % len(FFN_WAREHOUSE_SITES)]
            if k >= len(FFN_WAREHOUSE_SITES):
                name = f"{name} {k // len(FFN_WAREHOUSE_SITES) + 1}"
            warehouse_id = f"{fid}04XX-{zip_code}-{k + 1:04d}"
            self.ffn_warehouse_ids.append(warehouse_id)
            self.ffn.warehouses[warehouse_id] = {
                "warehouseId": warehouse_id,
                "fulfillerId": fid,
                "name": name,
                "address": _ffn_address(
                    company="JTL-Fulfillment Partner",
                    first=None,
                    last=None,
                    street=street,
                    zip_code=zip_code,
                    city=city,
                    country="DE",
                ),
                "shippingMethodIds": method_ids[: 3 + k % 3],
                "modificationInfo": _mod_info(created, None),
            }
            wawi_id = k + 2
            self.wawi_warehouse_of[warehouse_id] = wawi_id
            self.wawi.warehouses[wawi_id] = {
                "Id": wawi_id,
                "Name": f"JTL-Fulfillment {city}",
                "Address": _wawi_address(
                    self.new_address_id(),
                    company="JTL-Fulfillment Partner",
                    first=None,
                    last=None,
                    street=street,
                    postcode=zip_code,
                    city=city,
                    country="DE",
                ),
                "Code": warehouse_id,
                "Type": {
                    "Id": "00000000-0000-0000-0000-000000000004",
                    "Name": "Fulfillment",
                    "Description": "JTL-Fulfillment Network",
                    "Scope": ["Fulfillment"],
                },
                "Description": f"FFN-Lager {warehouse_id}",
                "Priority": 1,
                "CompanyId": 1,
                "LockForShipment": False,
                "LockForAvailability": False,
                "IsActive": True,
            }
        for spec in SHIPPING_METHODS:
            self.wawi.shipping_methods.append(
                {
                    "Id": spec.wawi_id,
                    "Name": spec.name,
                    "Priority": spec.wawi_id,
                    "GrossPrice": spec.wawi_gross_price,
                    "ExtraWeight": 0.0,
                    "IsAmazonPrime": False,
                }
            )
        for pm_id, name, standard in PAYMENT_METHODS:
            self.wawi.payment_methods.append(
                {"Id": pm_id, "Name": name, "IsStandard": standard, "IsActive": True}
            )
        for reason_id, name in ON_HOLD_REASONS:
            self.wawi.on_hold_reasons.append(
                {
                    "Id": reason_id,
                    "Name": name,
                    "IsMergeable": reason_id != 2,
                    "ItemsNotUsedForPurchaseList": reason_id == 1,
                }
            )

    def categories(self) -> dict[str, tuple[int, str]]:
        """Top-level category per area, one subcategory per catalog line; returns code -> (id, name)."""
        by_code: dict[str, tuple[int, str]] = {}
        top_ids: dict[str, int] = {}
        next_id = 1
        for code, top, sub, *_rest in CATALOG:
            if top not in top_ids:
                top_ids[top] = next_id
                self.wawi.categories[next_id] = {
                    "Id": next_id,
                    "Name": top,
                    "Description": f"Alles rund um {top}",
                    "ParentCategoryId": 0,
                    "Level": 1,
                    "SortNumber": next_id,
                    "ActiveSalesChannels": "Onlineshop",
                }
                next_id += 1
            self.wawi.categories[next_id] = {
                "Id": next_id,
                "Name": sub,
                "Description": f"{sub} ({top})",
                "ParentCategoryId": top_ids[top],
                "Level": 2,
                "SortNumber": next_id,
                "ActiveSalesChannels": "Onlineshop",
            }
            by_code[code] = (next_id, sub)
            next_id += 1
        return by_code

    def item_suppliers(self) -> None:
        """Each item's ``GET /items/{id}/suppliers``: a standard supplier with delivery time and order rules.

        Derived from the item's position alone (no draw from ``rng``), so adding it moved no other object
        of a seeded world. Every 7th item has a second, non-standard supplier; every 23rd has none, so the
        replenishment meets an item it cannot order.
        """
        supplier_ids = sorted(self.wawi.suppliers)
        if not supplier_ids:
            return
        for n, item_id in enumerate(sorted(self.wawi.items)):
            item = self.wawi.items[item_id]
            if n % 23 == 22:
                continue  # served as an empty array
            purchase = float((item.get("ItemPriceData") or {}).get("PurchasePriceNet") or 0.0)
            pack = (1, 1, 6, 12, 1, 4)[n % 6]
            rows = [
                self._item_supplier(
                    item, supplier_ids[n % len(supplier_ids)], n, purchase, pack, standard=True
                )
            ]
            if n % 7 == 3 and len(supplier_ids) > 1:
                other = supplier_ids[(n + 1) % len(supplier_ids)]
                rows.append(self._item_supplier(item, other, n + 5, purchase * 1.08, 1, standard=False))
            self.wawi.item_suppliers[item_id] = rows

    def item_images(self) -> None:
        """Each item's ``GET /items/{id}/images``: one to three JPEGs, none for every 9th item.

        Derived from the item's position alone (no draw from ``rng``): no other object of a seeded world
        moves. The items without an image are what the quality report's ``missing_images`` finds.
        """
        image_id = 0
        for n, item_id in enumerate(sorted(self.wawi.items)):
            if n % 9 == 4:
                continue
            sku = self.wawi.items[item_id].get("SKU") or str(item_id)
            rows = []
            for sort in range(1, 2 + n % 3):
                image_id += 1
                rows.append(
                    {
                        "ItemId": item_id,
                        "ImageId": image_id,
                        "Filename": f"{sku}-{sort}.jpg",
                        "ImageDataType": "JPEG",
                        "SalesChannelId": "1-1-1",
                        "EbayUserName": "",
                        "SortNumber": sort,
                        "Size": 40_000 + 997 * (n % 50),
                        "Width": 1200,
                        "Height": 1200,
                    }
                )
            self.wawi.item_images[item_id] = rows

    def custom_fields(self) -> None:
        """Custom fields (Eigene Felder) of items and sales orders, and their values on a share of each.

        Derived from positions alone (no draw from ``rng``): no other object of a seeded world moves.
        Items: ``Saisonartikel`` (checkbox) on every 4th item, ``Lieferantenstatus`` (list) on every 3rd;
        sales orders: ``Geschenkverpackung`` (checkbox) on every 5th, ``Kundenhinweis`` (text) on every 7th.
        """
        statuses = ["aktiv", "auslaufend", "gesperrt"]
        item_fields = [
            _custom_field(1, "Artikel", "Saisonartikel", 4, []),
            _custom_field(2, "Einkauf", "Lieferantenstatus", 5, statuses),
            _custom_field(3, "Artikel", "Pflegehinweis", 3, []),
        ]
        self.wawi.item_custom_fields = {f["CustomFieldId"]: f for f in item_fields}
        for n, item_id in enumerate(sorted(self.wawi.items)):
            rows: list[JsonObject] = []
            if n % 4 == 1:
                rows.append({"CustomFieldId": 1, "Value": n % 8 == 1})
            if n % 3 == 2:
                rows.append({"CustomFieldId": 2, "Value": statuses[n % len(statuses)]})
            if rows:
                self.wawi.item_custom_field_values[item_id] = rows
        order_fields = [
            _custom_field(11, "Auftrag", "Geschenkverpackung", 4, []),
            _custom_field(12, "Auftrag", "Kundenhinweis", 3, []),
        ]
        self.wawi.sales_order_custom_fields = {f["CustomFieldId"]: f for f in order_fields}
        for n, order_id in enumerate(sorted(self.wawi.sales_orders)):
            rows = []
            if n % 5 == 0:
                rows.append({"CustomFieldId": 11, "Value": True})
            if n % 7 == 3:
                rows.append({"CustomFieldId": 12, "Value": "bitte klingeln"})
            if rows:
                self.wawi.sales_order_custom_field_values[order_id] = rows

    def _item_supplier(
        self, item: JsonObject, supplier_id: int, n: int, purchase: float, pack: int, *, standard: bool
    ) -> JsonObject:
        """One ItemSupplier row (the Wawi 1.0 schema's required fields, nothing invented beyond them)."""
        return {
            "ItemId": item["Id"],
            "SupplierId": supplier_id,
            "Sku": f"L-{item['SKU']}",
            "ItemName": item.get("Name") or "",
            "IsStandard": standard,
            "PurchasePriceNet": round(purchase, 2),
            "TaxRate": 19.0,
            "MinimumPurchaseQuantity": float((1, 1, 5, 10, 24)[n % 5]),
            "PermissibleOrderQuantity": float((1, 1, 2, 5)[n % 4]),
            "DeliveryTime": 2 + (n * 5) % 19,
            "UseSupplierDeliveryTime": True,
            "Stocklevel": float(50 * (n % 9)),
            "IsDropshipping": False,
            "MergeStockLevel": False,
            "Comment": "",
            "PackagingUnit": "Karton" if pack > 1 else "Stück",
            "AmountPackagingUnit": float(pack),
            "PackagingUnitPurchasePriceNet": round(purchase * pack, 2),
            "ScalePrices": [],
        }

    def manufacturers(self) -> None:
        """``GET /manufacturers``: every maker of the catalogue, with the Id its items carry (no rng draw)."""
        for name in MANUFACTURERS:
            mid = manufacturer_id(name)
            slug = _ascii(name.split()[0]).lower()
            self.wawi.manufacturers[mid] = {
                "Id": mid,
                "Name": name,
                "Description": f"{name}, Hersteller",
                "Homepage": f"https://www.{slug}.example.de",
                "SortNumber": mid,
                "MetaTitle": name,
                "MetaKeywords": name,
                "MetaDescription": name,
            }

    def price_master_data(self) -> None:
        """The company, tax classes and rates, sales channels and customer groups prices need (no draw)."""
        self.wawi.companies[1] = {"Id": 1, "Name": "Beispielhandel GmbH"}
        self.wawi.tax_classes[1] = {"Id": 1, "Name": "Normaler Steuersatz", "IsDefault": True, "Type": 4}
        self.wawi.tax_classes[2] = {"Id": 2, "Name": "Ermäßigter Steuersatz", "IsDefault": False, "Type": 3}
        for country, rates in TAX_RATES.items():
            for tax_class_id, rate in zip((1, 2), rates, strict=True):
                self.wawi.tax_rates.append(
                    {
                        "Rate": rate,
                        "TaxClassId": tax_class_id,
                        "DepartureCountryISO": "DE",
                        "ShipmentCountryISO": country,
                    }
                )
        for channel_id, kind, name, prices, specials in SALES_CHANNELS:
            self.wawi.sales_channels.append(
                {
                    "Id": channel_id,
                    "Type": kind,
                    "Name": name,
                    "ItemCapabilities": {
                        "Descriptions": kind in (0, 1),
                        "OnlineShopActivation": kind == 1,
                        "Prices": prices,
                        "SpecialPrices": specials,
                        "Images": kind in (0, 1),
                    },
                    "CategoryCapabilities": {"Descriptions": kind == 1, "OnlineShopActivation": kind == 1},
                    "DocumentationUrl": "https://developer.jtl-software.com/products/erp",
                }
            )
        for group_id, name, default, discount, net in CUSTOMER_GROUPS:
            self.wawi.customer_groups[group_id] = {
                "Id": group_id,
                "Name": name,
                "IsDefault": default,
                "Discount": discount,
                "IsNetPrice": net,
            }

    def item_prices(self) -> None:
        """Sales-channel prices of some items, derived from their position alone (no draw).

        Every 4th item has a shop price for all customer groups (3% under the base price), every 6th an
        eBay price for end customers (5% over it), every 9th a reseller scale price from 10 units on the
        shop; every 20th shop price is relative (``ReduceStandardPriceByPercent``), which pricing leaves
        alone. Special prices start empty.
        """
        for n, item_id in enumerate(sorted(self.wawi.items)):
            net = float(self.wawi.items[item_id]["ItemPriceData"]["SalesPriceNet"])
            rows: list[JsonObject] = []
            if n % 4 == 1:
                relative = n % 20 == 1
                rows.append(
                    self._channel_price(item_id, SHOP_CHANNEL, 0, 0, net * 0.97, 3.0 if relative else 0)
                )
            if n % 6 == 2:
                rows.append(self._channel_price(item_id, EBAY_CHANNEL, 1, 0, net * 1.05, 0))
            if n % 9 == 4:
                rows.append(self._channel_price(item_id, SHOP_CHANNEL, 2, 10, net * 0.9, 0))
            if rows:
                self.wawi.sales_channel_prices[item_id] = rows

    @staticmethod
    def _channel_price(
        item_id: int, channel: str, group: int, from_quantity: int, net: float, reduce_by: float
    ) -> JsonObject:
        return {
            "ItemId": item_id,
            "SalesChannelId": channel,
            "CustomerGroupId": group,
            "FromQuantity": from_quantity,
            "NetPrice": 0 if reduce_by else round(net, 4),
            "ReduceStandardPriceByPercent": reduce_by,
        }

    def suppliers(self, count: int) -> None:
        rng = self.rng
        for sid in range(1, count + 1):
            stem = SUPPLIER_STEMS[(sid - 1) % len(SUPPLIER_STEMS)]
            if sid > len(SUPPLIER_STEMS):
                stem = f"{stem} {sid // len(SUPPLIER_STEMS) + 1}"
            company = f"{stem} {LEGAL_FORMS[(sid * 7) % len(LEGAL_FORMS)]}"
            prefix, city, _state = DE_CITIES[rng.randrange(len(DE_CITIES))]
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            self.wawi.suppliers[sid] = {
                "Id": sid,
                "Name": company,
                "Type": "Lieferant",
                "SupplierNo": f"L{10000 + sid}",
                "InternalCustomerId": f"KD-{rng.randint(1000, 99999)}",
                "LanguageISO": "DE",
                "FormOfAddress": "Firma",
                "FirstName": first,
                "LastName": last,
                "Company": company,
                "Company2": None,
                "Contact": f"{first} {last}",
                "Street": f"{rng.choice(DE_STREETS)} {rng.randint(1, 120)}",
                "Address2": None,
                "PostalCode": f"{prefix}{rng.randint(100, 999)}",
                "City": city,
                "State": None,
                "CountryIso": "DE",
                "Phone": f"+49 {rng.randint(30, 999)} {rng.randint(100000, 9999999)}",
                "PhoneExtension": None,
                "Fax": None,
                "Email": f"einkauf@{_ascii(stem.split()[0])}.example.de",
                "Website": f"https://www.{_ascii(stem.split()[0])}.example.de",
                "Comment": None,
                "VatID": f"DE{rng.randint(100000000, 999999999)}",
                "Status": "Aktiv",
            }

    def products(self, count: int, categories: dict[str, tuple[int, str]]) -> None:
        rng = self.rng
        rand = rng.random
        merchant = self.ffn.merchant_id
        created_pool = [self.ffn_time(30 + d * 1.7) for d in range(400)]
        updated_pool = [self.ffn_time(d * 0.9) for d in range(30)]
        wawi_added_pool = [self.clock.wawi(self.base - timedelta(days=30 + d * 1.7)) for d in range(400)]
        catalog = CATALOG
        for i in range(count):
            code, _top, sub, bases, variants, sizes, (p_lo, p_hi), (w_lo, w_hi), tax, makers = catalog[
                int(rand() * len(catalog))
            ]
            base_name = bases[int(rand() * len(bases))]
            name = f"{base_name} {variants[int(rand() * len(variants))]} {sizes[int(rand() * len(sizes))]}"
            sku = f"{i + 1:05d}" if i % 7 == 0 else f"{code}-{10000 + i}"
            jfsku = self.new_jfsku()
            item_id = i + 1
            net = _round_price(p_lo + (p_hi - p_lo) * rand())
            purchase = round(net * (0.35 + 0.25 * rand()), 2)
            weight = round(w_lo + (w_hi - w_lo) * rand(), 3)
            length, width, height = (round(0.05 + 0.45 * rand(), 2) for _ in range(3))
            ean = ean13(f"4{int(rand() * 10**11):011d}")
            maker = makers[int(rand() * len(makers))]
            part_number = f"{code}{int(rand() * 100000):05d}"
            created_idx = int(rand() * 400)
            updated = updated_pool[int(rand() * 30)] if rand() < 0.3 else None
            self.skus.append(sku)
            self.jfsku_of[sku] = jfsku
            self.sku_of[jfsku] = sku
            self.item_id_of[sku] = item_id
            self.tax_of[sku] = tax
            self.price_of[sku] = net
            self.name_of[sku] = name
            self.ffn.products[jfsku] = {
                "jfsku": jfsku,
                "merchantId": merchant,
                "merchantSku": sku,
                "name": name,
                "productGroup": sub,
                "originCountry": "DE" if rand() < 0.7 else "CN",
                "manufacturer": maker,
                "weight": weight,
                "netWeight": round(weight * 0.9, 3),
                "note": None,
                "identifier": {
                    "mpn": {"manufacturer": maker, "partNumber": part_number},
                    "ean": ean,
                    "isbn": None,
                    "upc": None,
                    "asin": None,
                },
                "specifications": {
                    "unNumber": None,
                    "hazardIdentifier": None,
                    "taric": None,
                    "fnsku": None,
                    "isBatch": False,
                    "isDivisible": False,
                    "isBestBefore": code == "KAF",
                    "isSerialNumber": False,
                    "isBillOfMaterials": False,
                    "billOfMaterialsComponents": [],
                    "isPackaging": False,
                },
                "dimensions": {"length": length, "width": width, "height": height},
                "attributes": [{"key": "Kategorie", "value": sub, "attributeType": "String"}],
                "netRetailPrice": {"amount": net, "currency": "EUR"},
                "bundles": [{"name": "Karton", "quantity": 12, "ean": None, "upc": None}]
                if i % 11 == 0
                else [],
                "relatedProducts": [],
                "condition": "Default",
                "pictures": [],
                "modificationInfo": _mod_info(created_pool[created_idx], updated),
            }
            category_id, category_name = categories[code]
            self.wawi.items[item_id] = {
                "Id": item_id,
                "SKU": sku,
                "ManufacturerId": manufacturer_id(maker),
                "ResponsiblePersonId": 1,
                "IsActive": True,
                "Categories": [{"CategoryId": category_id, "Name": category_name}],
                "Name": name,
                "Description": f"<p>{name} – {sub} von {maker}.</p>",
                "ShortDescription": base_name,
                "Identifiers": {
                    "Gtin": ean,
                    "ManufacturerNumber": part_number,
                    "ISBN": None,
                    "UPC": None,
                    "AmazonFnsku": None,
                    "Asins": [],
                    "OwnIdentifier": None,
                },
                "Components": [],
                "ChildItems": [],
                "ParentItemId": None,
                "ItemPriceData": {
                    "SalesPriceNet": net,
                    "SuggestedRetailPrice": round(net * (1 + tax / 100) * 1.1, 2),
                    "PurchasePriceNet": purchase,
                    "EbayPrice": round(net * (1 + tax / 100), 2),
                    "AmazonPrice": round(net * (1 + tax / 100), 2),
                },
                "ActiveSalesChannels": "Onlineshop",
                "SortNumber": 0,
                "Annotation": None,
                "Added": wawi_added_pool[created_idx],
                "Changed": None,
                "ReleasedOnDate": None,
                "StorageOptions": {
                    "InventoryManagementActive": True,
                    "SplitQuantity": False,
                    "GlobalMinimumStockLevel": float(5 * (1 + i % 4)),
                    "Buffer": 0,
                    "SerialNumberItem": False,
                    "SerialNumberTracking": False,
                    "SubjectToShelfLifeExpirationDate": code == "KAF",
                    "SubjectToBatchItem": False,
                    "ProcurementTime": 3 + i % 12,
                    "DetermineProcurementTimeAutomatically": False,
                    "AdditionalHandlingTime": 0,
                },
                "CountryOfOrigin": "DE",
                "ConditionId": 1,
                "ShippingClassId": 1,
                "ProductGroupId": 1,
                "TaxClassId": 2 if tax == 7.0 else 1,
                "Dimensions": {
                    "Length": round(length * 100, 1),
                    "Width": round(width * 100, 1),
                    "Height": round(height * 100, 1),
                },
                "Weights": {"ItemWeigth": round(weight * 0.9, 3), "ShippingWeight": weight},
                "AllowNegativeStock": False,
                "Quantities": {
                    "MinimumOrderQuantity": 1.0,
                    "MinimumPurchaseQuantityForCustomerGroup": [],
                    "PermissibleOrderQuantity": 1.0,
                },
                "DangerousGoods": {"UnNumber": None, "HazardNo": None},
                "Taric": None,
                "SearchTerms": base_name,
                "PriceListActive": False,
                "IgnoreDiscounts": False,
                "AvailabilityId": 1,
            }
            # physical stock per FFN warehouse: most SKUs in the first, some in both, some out of stock
            roll = rand()
            for w_index, warehouse_id in enumerate(self.ffn_warehouse_ids):
                if roll < 0.05:
                    quantity = 0
                elif w_index == 0:
                    quantity = int(rand() * 180)
                elif rand() < 0.35:
                    quantity = int(rand() * 60)
                else:
                    continue
                self.physical[(jfsku, warehouse_id)] = quantity

    def customers(self, count: int) -> None:
        rng = self.rng
        for cid in range(1, count + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            roll = rng.random()
            state: str | None = None
            if roll < 0.04:
                country, (postcode, city) = "AT", rng.choice(AT_CITIES)
                street = f"{rng.choice(AT_CH_STREETS)} {rng.randint(1, 60)}"
            elif roll < 0.07:
                country, (postcode, city) = "CH", rng.choice(CH_CITIES)
                street = f"{rng.choice(AT_CH_STREETS)} {rng.randint(1, 60)}"
            elif roll < 0.09:
                country, (digits, city) = "NL", rng.choice(NL_CITIES)
                postcode = f"{digits} {rng.choice(NL_POSTCODE_LETTERS)}{rng.choice(NL_POSTCODE_LETTERS)}"
                street = f"{rng.choice(NL_STREETS)} {rng.randint(1, 200)}"
            else:
                country = "DE"
                prefix, city, state = DE_CITIES[rng.randrange(len(DE_CITIES))]
                postcode = f"{prefix}{rng.randint(100, 999)}"
                street = f"{rng.choice(DE_STREETS)} {rng.randint(1, 150)}{rng.choice(('', '', '', 'a', 'b'))}"
            company = f"{last} {rng.choice(LEGAL_FORMS)}" if rng.random() < 0.12 else None
            email = f"{_ascii(first)}.{_ascii(last)}{cid}@example.{rng.choice(EMAIL_TLDS)}"
            phone = (
                f"+49 {rng.randint(151, 179)} {rng.randint(1000000, 99999999)}"
                if rng.random() < 0.6
                else None
            )
            billing = _wawi_address(
                self.new_address_id(),
                company=company,
                first=first,
                last=last,
                street=street,
                postcode=postcode,
                city=city,
                country=country,
                email=email,
                phone=phone,
                state=state,
                form=rng.choice(SALUTATIONS),
            )
            self.wawi.customers[cid] = {
                "Id": cid,
                "Number": f"K{10000 + cid}",
                "CustomerGroupId": 2 if company else 1,
                "BillingAddress": billing,
                "Shipmentaddress": dict(billing, Id=self.new_address_id()),
                "CustomAddress": None,
                "OtherAddresses": {
                    "OtherBillingAddresses": [],
                    "OtherShippingAddresses": [],
                    "OtherCustomerAddresses": [],
                },
                "PaymentSettings": {
                    "PaymentMethodId": rng.choice((1, 1, 2, 3, 4)),
                    "Discount": 0.0,
                    "PaymentTarget": 14,
                    "CreditLimit": 0,
                    "StopPaymentRequest": False,
                },
                "CustomerSince": self.clock.wawi(self.base - timedelta(days=rng.randint(20, 1500))),
                "LanguageIso": "NL" if country == "NL" else "DE",
                "InternalCompanyId": 1,
                "CustomerCategoryId": None,
                "TaxIdentificationNumber": None,
                "AccountsReceivableNumber": 10000 + cid,
                "CommercialRegisterNumber": None,
                "Website": None,
                "InitialContact": rng.choice(INITIAL_CONTACTS),
                "EbayUsername": None,
                "Birthday": None,
                "IsLocked": False,
                "IsCashRegisterBased": False,
            }

    # --- movements ---------------------------------------------------------------------------------------
    def inbounds(self, count: int) -> list[JsonObject]:
        """Inbounds in every status; stock already holds what receipted inbounds delivered."""
        rng = self.rng
        merchant = self.ffn.merchant_id
        supplier_ids = sorted(self.wawi.suppliers)
        skus = self.skus
        result: list[JsonObject] = []
        used_ids: set[str] = set()
        for n in range(count):
            status = INBOUND_STATUSES[n % len(INBOUND_STATUSES)] if n < 10 else rng.choice(INBOUND_STATUSES)
            while True:
                inbound_id = f"{merchant}03{''.join(rng.choices(_ALNUM, k=7))}"
                if inbound_id not in used_ids:
                    used_ids.add(inbound_id)
                    break
            warehouse_id = self.ffn_warehouse_ids[n % len(self.ffn_warehouse_ids)]
            supplier = self.wawi.suppliers[supplier_ids[n % len(supplier_ids)]] if supplier_ids else None
            days_back = 2 + (count - n) * 0.7
            created = self.ffn_time(days_back)
            picked = rng.sample(range(len(skus)), k=min(len(skus), rng.randint(2, 12)))
            items: list[JsonObject] = []
            for line, sku_index in enumerate(picked, start=1):
                sku = skus[sku_index]
                quantity = rng.choice((6, 10, 12, 20, 24, 36, 48, 50, 100, 120))
                if status in ("Preparation", "Pending"):
                    open_qty = quantity
                elif status == "PartiallyReceipted":
                    open_qty = (quantity, quantity // 2, 0)[line % 3]
                elif status == "Closed":
                    open_qty = quantity // 4 if line == 1 else 0  # closed early: the first line came short
                else:
                    open_qty = 0
                items.append(
                    {
                        "inboundItemId": str(line),
                        "jfsku": self.jfsku_of[sku],
                        "quantity": quantity,
                        "quantityOpen": open_qty,
                        "supplierSku": f"L-{sku}",
                        "supplierProductName": self.name_of[sku],
                        "note": None,
                    }
                )
            inbound = {
                "inboundId": inbound_id,
                "merchantId": merchant,
                "merchantInboundNumber": f"ANL-2026-{n + 1:04d}",
                "warehouseId": warehouse_id,
                "status": status,
                "note": None,
                "purchaseOrderNumber": f"B{20000 + n + 1}",
                "externalInboundNumber": None,
                "supplier": {
                    "merchantSupplierNumber": supplier["SupplierNo"],
                    "merchantSupplierName": supplier["Name"],
                }
                if supplier
                else None,
                "attributes": [],
                "modificationInfo": _mod_info(
                    created, None if status == "Preparation" else self.ffn_time(max(0.1, days_back - 1.5))
                ),
                "items": items,
            }
            self.ffn.inbounds[inbound_id] = inbound
            result.append(inbound)
            for item in items:
                key = (item["jfsku"], warehouse_id)
                if status in ANNOUNCING_INBOUND_STATUSES and item["quantityOpen"] > 0:
                    self.announced.setdefault(key, []).append(
                        {
                            "inboundId": inbound_id,
                            "inboundItemId": item["inboundItemId"],
                            "quantityAnnounced": item["quantityOpen"],
                        }
                    )
                self.physical.setdefault(key, 0)
        return result

    def purchase_orders(self, inbounds: list[JsonObject]) -> None:
        """One Wawi purchase order per inbound (its ``purchaseOrderNumber``), lines mirroring the items."""
        supplier_by_no = {s["SupplierNo"]: s["Id"] for s in self.wawi.suppliers.values()}
        line_id = 0
        for po_id, inbound in enumerate(inbounds, start=1):
            supplier = inbound["supplier"] or {}
            lines = []
            for item in inbound["items"]:
                line_id += 1
                sku = self.sku_of[item["jfsku"]]
                lines.append(
                    {
                        "Id": line_id,
                        "PurchaseOrderId": po_id,
                        "ItemId": self.item_id_of[sku],
                        "SKU": sku,
                        "Name": self.name_of[sku],
                        "Quantity": item["quantity"],
                        "QuantityDelivered": item["quantity"] - item["quantityOpen"],
                        "PurchasePriceNet": self.wawi.items[self.item_id_of[sku]]["ItemPriceData"][
                            "PurchasePriceNet"
                        ],
                    }
                )
            status = {
                "Preparation": "Open",
                "Pending": "Released",
                "PartiallyReceipted": "PartiallyDelivered",
                "Receipted": "Delivered",
                "Closed": "Completed",
            }[inbound["status"]]
            created = inbound["modificationInfo"]["createdAt"]
            self.wawi.purchase_orders[po_id] = {
                "Id": po_id,
                "Number": inbound["purchaseOrderNumber"],
                "SupplierId": supplier_by_no.get(supplier.get("merchantSupplierNumber", "")),
                "WarehouseId": self.wawi_warehouse_of[inbound["warehouseId"]],
                "Status": status,
                "OrderDate": created[:19] + "+00:00",
                "CurrencyIso": "EUR",
                "TotalNet": round(sum(x["Quantity"] * x["PurchasePriceNet"] for x in lines), 2),
                "Comment": f"FFN-Anlieferung {inbound['merchantInboundNumber']}",
                "LineItems": lines,
            }

    def sales_orders(self, count: int) -> None:
        rng = self.rng
        customers = self.wawi.customers
        if not customers or not self.skus:
            return
        customer_ids = sorted(customers)
        moments = sorted(
            self.base - timedelta(seconds=rng.randint(600, ORDER_SPREAD_DAYS * 86400)) for _ in range(count)
        )
        line_id = 0
        method_by_wawi = {m.wawi_id: m for m in SHIPPING_METHODS}
        fid = self.ffn.fulfiller_id
        outbound_ids: set[str] = set()
        for i, moment in enumerate(moments):
            order_id = i + 1
            reason = invalid_order_reason(i)
            customer = customers[customer_ids[rng.randrange(len(customer_ids))]]
            billing = dict(customer["BillingAddress"], Id=self.new_address_id())
            shipment = dict(customer["Shipmentaddress"], Id=self.new_address_id())
            if reason == "missing_street":
                shipment["Street"] = ""
            elif reason == "bad_postcode":
                shipment["PostalCode"] = "1234" if shipment["CountryIso"] == "DE" else "12345"
            n_lines = rng.choice((1, 1, 1, 2, 2, 3, 4))
            picked = rng.sample(range(len(self.skus)), k=min(n_lines, len(self.skus)))
            lines: list[JsonObject] = []
            for pos, sku_index in enumerate(picked):
                sku = self.skus[sku_index]
                line_id += 1
                tax = self.tax_of[sku]
                net = self.price_of[sku]
                quantity = rng.choice((1, 1, 1, 1, 2, 2, 3, 5))
                item_id = self.item_id_of[sku]
                name = self.name_of[sku]
                if pos == 0 and reason == "zero_quantity":
                    quantity = 0
                if pos == 0 and reason == "unknown_sku":
                    sku, item_id, name = f"UNBEKANNT-{i}", 900_000_000 + i, "Artikel nicht mehr im Sortiment"
                lines.append(
                    {
                        "Id": line_id,
                        "SalesOrderId": order_id,
                        "ItemId": item_id,
                        "Name": name,
                        "SKU": sku,
                        "Type": 1,
                        "Quantity": float(quantity),
                        "QuantityDelivered": 0.0,
                        "QuantityReturned": 0.0,
                        "SalesUnit": "Stk",
                        "SalesPriceNet": net,
                        "SalesPriceGross": round(net * (1 + tax / 100), 2),
                        "Discount": 0.0,
                        "PurchasePriceNet": self.wawi.items[self.item_id_of[self.skus[sku_index]]][
                            "ItemPriceData"
                        ]["PurchasePriceNet"],
                        "TaxRate": tax,
                        "Notice": None,
                    }
                )
            ship_wawi_id = rng.choice((1, 1, 1, 1, 3, 4, 5, 2))
            shipping_fee = method_by_wawi[ship_wawi_id].wawi_gross_price
            total = round(sum(x["SalesPriceGross"] * x["Quantity"] for x in lines) + shipping_fee, 2)
            payment_method = rng.choice((1, 1, 1, 2, 3, 4, 5, 6))
            if reason == "unpaid_prepayment":
                payment_method = PREPAYMENT_METHOD_ID
            paid = payment_method != INVOICE_METHOD_ID and reason != "unpaid_prepayment"
            age_days = (self.base - moment).total_seconds() / 86400
            stage = "new"
            if reason is None and age_days > 5:
                stage = "shipped"
            elif reason is None and age_days > 3:
                stage = "in_progress"
            on_hold = (
                ON_HOLD_CUSTOMER_QUESTION if (reason is None and i % 50 == 23 and stage == "new") else None
            )
            if reason is None and stage == "new" and on_hold is None and (count - 1 - i) % 20 == 3:
                _deliver_in_part(lines)
            order_date = self.clock.wawi(moment)
            ship_date = self.clock.wawi(moment + timedelta(days=1, hours=3)) if stage == "shipped" else None
            self.wawi.sales_orders[order_id] = {
                "Id": order_id,
                "Number": f"AU{100001 + i}",
                "ExternalNumber": f"SHOP-{700000 + i * 3}",
                "BillingNumber": None,
                "CompanyId": 1,
                "DepartureCountry": {
                    "CountryISO": "DE",
                    "State": None,
                    "CurrencyIso": "EUR",
                    "CurrencyFactor": 1.0,
                },
                "CustomerId": customer["Id"],
                "CustomerVatID": None,
                "MerchantVatID": "DE123456789",
                "BillingAddress": billing,
                "Shipmentaddress": shipment,
                "SalesOrderDate": order_date,
                "SalesOrderPaymentDetails": {
                    "PaymentMethodId": payment_method,
                    "PaymentStatus": 2 if paid else 0,
                    "TotalGrossAmount": total,
                    "CurrencyIso": "EUR",
                    "CurrencyFactor": 1.0,
                    "DateOfPayment": order_date if paid else None,
                    "StillToPay": 0.0 if paid else total,
                    "PaymentTarget": 14 if payment_method == INVOICE_METHOD_ID else 0,
                    "CashDiscount": 0.0,
                    "CashDiscountDays": 0,
                },
                "SalesOrderShippingDetail": {
                    "ShippingMethodId": ship_wawi_id,
                    "DeliveryCompleteStatus": 2 if stage == "shipped" else 0,
                    "ShippingPriority": 1,
                    "ShippingDate": ship_date,
                    "EstimatedDeliveryDate": self.clock.wawi(moment + timedelta(days=3))[:10]
                    + "T00:00:00+00:00",
                    "DeliveredDate": ship_date,
                    "OnHoldReasonId": on_hold,
                    "ExtraWeight": 0.0,
                },
                "ColorcodeId": None,
                "IsExternalInvoice": False,
                "Comment": None,
                "CustomerComment": "Bitte beim Nachbarn abgeben." if i % 13 == 5 else None,
                "IsCancelled": False,
                "LanguageIso": customer["LanguageIso"],
                "CancellationDetails": None,
                "SalesChannelId": "1-1-1",
                "UserCreatedId": 1,
                "UserId": 1,
            }
            self.wawi.line_items[order_id] = lines
            if stage != "new":
                self._outbound(
                    order_id,
                    lines,
                    stage,
                    moment,
                    ship_wawi_id,
                    method_by_wawi,
                    fid,
                    outbound_ids,
                    shipping_fee,
                    total,
                )

    def returns(self, seed: int) -> None:
        """Returns of fulfilled orders (see the module docstring), from a generator of their own."""
        rng = random.Random(f"returns-{seed}")
        wawi = self.wawi
        wawi.return_reasons = [
            {
                "Id": rid,
                "Translations": [{"LanguageIso": "DE", "Name": de}, {"LanguageIso": "EN", "Name": en}],
            }
            for rid, de, en, _weight in RETURN_REASONS
        ]
        wawi.return_states = [
            {
                "Id": sid,
                "IsActive": True,
                "Translations": [{"LanguageIso": "DE", "Name": de}, {"LanguageIso": "EN", "Name": en}],
            }
            for sid, de, en in RETURN_STATES
        ]
        reasons = [r[0] for r in RETURN_REASONS]
        weights = [r[3] for r in RETURN_REASONS]
        warehouse = self.wawi_warehouse_of.get(self.ffn_warehouse_ids[0], 1) if self.ffn_warehouse_ids else 1
        line_id = 0
        for order_id in sorted(wawi.sales_orders):
            order = wawi.sales_orders[order_id]
            shipped = order["SalesOrderShippingDetail"].get("ShippingDate")
            if order["SalesOrderShippingDetail"]["DeliveryCompleteStatus"] != 2 or not shipped:
                continue
            if rng.random() >= RETURN_SHARE:
                continue
            returned_at = datetime.fromisoformat(shipped) + timedelta(seconds=rng.randint(86400, 4 * 86400))
            if returned_at > self.base - timedelta(minutes=10):
                continue
            return_id = len(wawi.returns) + 1
            lines = [ln for ln in wawi.line_items[order_id] if ln["Quantity"] > 0]
            picked = rng.sample(lines, k=1 if len(lines) == 1 or rng.random() < 0.8 else 2)
            age_days = (self.base - returned_at).total_seconds() / 86400
            state = 1 if age_days < 1 else 2 if age_days < 3 else 3
            rows = []
            for line in sorted(picked, key=lambda ln: ln["Id"]):
                line_id += 1
                quantity = (
                    line["Quantity"] if rng.random() < 0.7 else float(rng.randint(1, int(line["Quantity"])))
                )
                line["QuantityReturned"] = quantity
                rows.append(
                    {
                        "Id": line_id,
                        "ReturnId": return_id,
                        "StateId": state,
                        "ItemId": line["ItemId"],
                        "Name": line["Name"],
                        "SKU": line["SKU"],
                        "Quantity": quantity,
                        "ReturnReasonId": rng.choices(reasons, weights)[0],
                        "ReturnReasonComment": "",
                        "ConditionId": 1,
                        "ConditionComment": "",
                        "SalesOrderId": order_id,
                        "SalesOrderLineItemId": line["Id"],
                        "DeliveryNoteLineItemId": 0,
                    }
                )
            wawi.returns[return_id] = {
                "Id": return_id,
                "Number": f"RE{200000 + return_id}",
                "ReturnDate": self.clock.wawi(returned_at),
                "CustomerId": order["CustomerId"],
                "ExternalNumber": "",
                "Origin": 5,
                "CompanyId": order["CompanyId"],
                "SalesOrderId": order_id,
                "StateId": state,
                "WarehouseId": warehouse,
                "ExternalComment": "",
                "InternalComment": "",
                "Contact": "",
            }
            wawi.return_line_items[return_id] = rows

    def _outbound(
        self,
        order_id: int,
        lines: list[JsonObject],
        stage: str,
        moment: datetime,
        ship_wawi_id: int,
        method_by_wawi: dict[int, Any],
        fid: str,
        outbound_ids: set[str],
        shipping_fee: float,
        total: float,
    ) -> None:
        rng = self.rng
        order = self.wawi.sales_orders[order_id]
        while True:
            outbound_id = f"{self.ffn.merchant_id}02{''.join(rng.choices(_ALNUM, k=6))}"
            if outbound_id not in outbound_ids:
                outbound_ids.add(outbound_id)
                break
        warehouse_id = self.ffn_warehouse_ids[0]
        shipped = stage == "shipped"
        status = "Shipped" if shipped else rng.choice(("Acknowledged", "Pickprocess"))
        address = order["Shipmentaddress"]
        created = self.clock.ffn(moment + timedelta(minutes=10))
        items = []
        for n, line in enumerate(lines, start=1):
            quantity = int(line["Quantity"])
            jfsku = self.jfsku_of[line["SKU"]]
            items.append(
                {
                    "outboundItemId": str(n),
                    "jfsku": jfsku,
                    "merchantSku": line["SKU"],
                    "itemType": "Product",
                    "name": line["Name"],
                    "quantity": quantity,
                    "quantityOpen": 0 if shipped else quantity,
                    "externalNumber": str(line["Id"]),
                    "price": line["SalesPriceGross"],
                    "vat": line["TaxRate"],
                    "billOfMaterialsId": None,
                    "note": None,
                }
            )
            if not shipped:
                self.reserved.setdefault((jfsku, warehouse_id), []).append(
                    {"outboundId": outbound_id, "outboundItemId": str(n), "quantityReserved": quantity}
                )
                self.physical.setdefault((jfsku, warehouse_id), 0)
        acknowledged = self.clock.ffn(moment + timedelta(hours=1))
        shipped_at = self.clock.ffn(moment + timedelta(days=1, hours=3)) if shipped else None
        method = method_by_wawi[ship_wawi_id]
        self.ffn.outbounds[outbound_id] = {
            "outboundId": outbound_id,
            "merchantId": self.ffn.merchant_id,
            "merchantOutboundNumber": order["Number"],
            "externalNumber": order["ExternalNumber"],
            "status": status,
            "priority": 0,
            "warehouseId": warehouse_id,
            "currency": "EUR",
            "internalNote": None,
            "externalNote": None,
            "premiumType": None,
            "salesChannel": "Onlineshop",
            "desiredDeliveryDate": None,
            # shippingType and shippingMethodId are exclusive; ShippingType is not nullable: left out.
            "shippingMethodId": f"{fid}0A{method[0]}",
            "shippingAddress": _ffn_address(
                company=address["Company"],
                first=address["FirstName"],
                last=address["LastName"],
                street=address["Street"],
                zip_code=address["PostalCode"],
                city=address["City"],
                country=address["CountryIso"],
                email=address["EmailAddress"],
                phone=address["PhoneNumber"],
            ),
            "senderAddress": None,
            "cancelReasonCode": None,
            "cancelReason": None,
            "shippingFee": shipping_fee,
            "orderValue": total,
            "items": items,
            "attributes": [],
            "attachments": [],
            "relatedReturns": [],
            "statusTimestamp": {
                "pending": created,
                "preparation": None,
                "acknowledged": acknowledged,
                "locked": None,
                "pickprocess": acknowledged if status != "Acknowledged" else None,
                "shipped": shipped_at,
                "partiallyShipped": None,
                "canceled": None,
                "partiallyCanceled": None,
            },
            "modificationInfo": _mod_info(created, shipped_at or acknowledged),
        }
        if shipped and shipped_at is not None:
            tracking = f"00340434{rng.randrange(10**12):012d}"
            self.ffn.shipping_notifications[outbound_id] = [
                {
                    "outboundId": outbound_id,
                    "merchantId": self.ffn.merchant_id,
                    "fulfillerId": fid,
                    "merchantOutboundNumber": order["Number"],
                    "outboundShippingNotificationId": f"{fid}06{''.join(rng.choices(_ALNUM, k=10))}",
                    "fulfillerShippingNotificationNumber": f"LS-{order_id:06d}",
                    "outboundStatus": "Shipped",
                    "note": None,
                    "items": [
                        {
                            "outboundShippingNotificationItemId": item["outboundItemId"],
                            "jfsku": item["jfsku"],
                            "quantity": item["quantity"],
                            "batch": None,
                            "bestBefore": None,
                            "serialnumbers": [],
                        }
                        for item in items
                    ],
                    "packages": [
                        {
                            "freightOption": "Parcel",
                            "identifier": [{"value": tracking, "identifierType": "TrackingId", "name": None}],
                            "shippingDate": shipped_at,
                            "shippingMethodId": f"{fid}0A{method[0]}",
                            "trackingUrl": method[5].replace("{TrackingId}", tracking) if method[5] else None,
                            "estimatedDeliveryDate": None,
                            "weight": 1.2,
                            "dimensions": None,
                            "note": None,
                        }
                    ],
                    "modificationInfo": _mod_info(shipped_at, None),
                }
            ]

    # --- stock -------------------------------------------------------------------------------------------
    def stocks(self) -> None:
        """Assemble FFN Stock objects (totals = sums of warehouse rows) and the Wawi stock rows."""
        rng = self.rng
        physical = self.physical
        reserved = self.reserved
        announced = self.announced
        warehouse_ids = self.ffn_warehouse_ids
        wawi_rows = self.wawi.stocks
        stamp = self.ffn_time(0.05)
        for sku in self.skus:
            jfsku = self.jfsku_of[sku]
            rows: list[JsonObject] = []
            totals = [0, 0, 0, 0]
            level_details: list[JsonObject] = []
            reserved_details: list[JsonObject] = []
            announced_details: list[JsonObject] = []
            for warehouse_id in warehouse_ids:
                key = (jfsku, warehouse_id)
                if key not in physical:
                    continue
                res = reserved.get(key, [])
                ann = announced.get(key, [])
                res_qty = sum([r["quantityReserved"] for r in res]) if res else 0
                ann_qty = sum([a["quantityAnnounced"] for a in ann]) if ann else 0
                free = physical[key]
                available = free + res_qty  # stockLevel counts reserved units too (free = level - reserved)
                blocked = 2 if free > 20 and rng.random() < 0.04 else 0
                w_level_details = (
                    [
                        {
                            "batch": None,
                            "bestBefore": None,
                            "stockLevel": available,
                            "stockLevelBlocked": blocked,
                        }
                    ]
                    if available or blocked
                    else []
                )
                rows.append(
                    {
                        "jfsku": jfsku,
                        "warehouseId": warehouse_id,
                        "merchantSku": sku,
                        "stockLevel": available,
                        "stockLevelReserved": res_qty,
                        "stockLevelBlocked": blocked,
                        "stockLevelAnnounced": ann_qty,
                        "stockLevelDetails": w_level_details,
                        "stockReservedDetails": [dict(r) for r in res],
                        "stockAnnouncedDetails": [dict(a) for a in ann],
                        "fulfillerTimestamp": stamp,
                    }
                )
                totals[0] += available
                totals[1] += res_qty
                totals[2] += blocked
                totals[3] += ann_qty
                level_details.extend(dict(d) for d in w_level_details)
                reserved_details.extend(dict(r) for r in res)
                announced_details.extend(dict(a) for a in ann)
                total = available + blocked
                drift = rng.choice((-3, -1, 2, 4)) if rng.random() < 0.04 else 0
                wawi_rows.append(
                    {
                        "WarehouseId": self.wawi_warehouse_of[warehouse_id],
                        "StorageLocationId": None,
                        "StorageLocationName": None,
                        "ItemId": self.item_id_of[sku],
                        "ShelfLifeExpirationDate": None,
                        "BatchNumber": None,
                        "QuantityTotal": float(max(0, total + drift)),
                        "QuantityLockedForShipment": float(res_qty),
                        "QuantityLockedForAvailability": float(blocked),
                        "QuantityInPickingLists": 0.0,
                    }
                )
            self.ffn.stocks[jfsku] = {
                "jfsku": jfsku,
                "merchantSku": sku,
                "stockLevel": totals[0],
                "stockLevelReserved": totals[1],
                "stockLevelBlocked": totals[2],
                "stockLevelAnnounced": totals[3],
                "stockLevelDetails": level_details,
                "stockReservedDetails": reserved_details,
                "stockAnnouncedDetails": announced_details,
                "warehouses": rows,
                "fulfillerTimestamp": stamp,
            }
            if rng.random() < 0.1:  # a few returns and samples in the merchant's own warehouse
                wawi_rows.append(
                    {
                        "WarehouseId": 1,
                        "StorageLocationId": 1,
                        "StorageLocationName": "Regal A-01",
                        "ItemId": self.item_id_of[sku],
                        "ShelfLifeExpirationDate": None,
                        "BatchNumber": None,
                        "QuantityTotal": float(rng.randint(1, 8)),
                        "QuantityLockedForShipment": 0.0,
                        "QuantityLockedForAvailability": 0.0,
                        "QuantityInPickingLists": 0.0,
                    }
                )

    # --- spreadsheet -------------------------------------------------------------------------------------
    def inbound_control(self, inbounds: list[JsonObject]) -> None:
        """The team's "Inbound Control" sheet; see the module docstring for the status each row should get."""
        by_status: dict[str, list[JsonObject]] = {s: [] for s in INBOUND_STATUSES}
        for inbound in inbounds:
            by_status[inbound["status"]].append(inbound)
        if not all(by_status[s] for s in ("Pending", "PartiallyReceipted", "Receipted", "Closed")):
            return
        receipted = by_status["Receipted"][0]
        closed = by_status["Closed"][0]
        pending = by_status["Pending"][0]
        partial = by_status["PartiallyReceipted"][0]
        # the "1.234" row needs an item of 1234 units: make the receipted inbound's last line that big
        big = receipted["items"][-1]
        big_old = big["quantity"]
        big["quantity"] = 1234
        self._sync_po_line(receipted, big, big_old)
        first = receipted["items"][0]
        second = receipted["items"][1] if len(receipted["items"]) > 1 else receipted["items"][0]
        # the numeric-units MATCH row needs a SKU no other row uses (a repeat would be a duplicate row)
        third = next((x for x in receipted["items"][2:-1]), None) or closed["items"][-1]
        third_inbound = receipted if third in receipted["items"] else closed
        short = closed["items"][0]
        open_partial = next(x for x in partial["items"] if x["quantityOpen"] > 0)
        sku_of = self.sku_of
        supplier = (receipted["supplier"] or {}).get("merchantSupplierName", "")
        date = self.clock.wawi(self.base - timedelta(days=3))[:10]
        date_de = f"{date[8:10]}.{date[5:7]}.{date[0:4]}"

        def row(sku: str, units: Any, inbound: str, note: str = "") -> list[Any]:
            return [sku, units, inbound, "", note, supplier, date_de, "mk"]

        values: list[list[Any]] = [
            ["Inbound Control – Anlieferungen an JTL-Fulfillment", "", "", "", "", "", "", ""],
            [
                f"Stand: {date_de}",
                "Bitte nur Spalten A–C pflegen; Status und Note schreibt der Abgleich.",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            ["SKU", "Units", "Inbound", "Status", "Note", "Lieferant", "Datum", "Bearbeiter"],
            row(sku_of[first["jfsku"]], str(first["quantity"]), receipted["merchantInboundNumber"]),
            row(sku_of[big["jfsku"]], "1.234", receipted["merchantInboundNumber"]),
            row(sku_of[second["jfsku"]], str(second["quantity"] + 3), receipted["merchantInboundNumber"]),
            row(sku_of[short["jfsku"]], str(short["quantity"]), closed["merchantInboundNumber"]),
            row(
                sku_of[pending["items"][0]["jfsku"]],
                str(pending["items"][0]["quantity"]),
                pending["merchantInboundNumber"],
            ),
            row(
                sku_of[open_partial["jfsku"]], str(open_partial["quantity"]), partial["merchantInboundNumber"]
            ),
            row("ZZ-99999", "10", receipted["merchantInboundNumber"]),
            row(sku_of[first["jfsku"]], "5", "ANL-1999-9999"),
            row("", "12", receipted["merchantInboundNumber"]),
            row(sku_of[first["jfsku"]], "abc", receipted["merchantInboundNumber"]),
            row(sku_of[first["jfsku"]], "-5", receipted["merchantInboundNumber"]),
            ["", "", "", "", "", "", "", ""],
            row(sku_of[first["jfsku"]], str(first["quantity"]), receipted["merchantInboundNumber"]),
            row(
                sku_of[third["jfsku"]],
                third["quantity"] - third["quantityOpen"],
                third_inbound["merchantInboundNumber"],
            ),
        ]
        self.spreadsheets[INBOUND_CONTROL_SPREADSHEET_ID] = Spreadsheet(
            spreadsheet_id=INBOUND_CONTROL_SPREADSHEET_ID,
            title="Inbound Control",
            worksheets=[
                Worksheet(title="Wareneingang", sheet_id=0, values=values),
                Worksheet(title="Archiv", sheet_id=1, values=[["SKU", "Units", "Inbound", "Status", "Note"]]),
            ],
        )

    def _sync_po_line(self, inbound: JsonObject, item: JsonObject, old_quantity: int) -> None:
        for po in self.wawi.purchase_orders.values():
            if po["Number"] == inbound["purchaseOrderNumber"]:
                for line in po["LineItems"]:
                    if line["SKU"] == self.sku_of[item["jfsku"]] and line["Quantity"] == old_quantity:
                        line["Quantity"] = item["quantity"]
                        line["QuantityDelivered"] = item["quantity"] - item["quantityOpen"]


#: Every maker of the catalogue once, sorted: a Wawi item's ``ManufacturerId`` is its position + 1.
MANUFACTURERS: tuple[str, ...] = tuple(sorted({maker for line in CATALOG for maker in line[-1]}))
_MANUFACTURER_IDS = {name: index + 1 for index, name in enumerate(MANUFACTURERS)}


def manufacturer_id(name: str) -> int:
    """The Wawi manufacturer Id of a catalogue maker."""
    return _MANUFACTURER_IDS[name]


def generate(
    seed: int = 42,
    skus: int = 500,
    orders: int = 200,
    warehouses: int = 2,
    customers: int = 100,
    suppliers: int = 10,
    inbounds: int | None = None,
    base_date: datetime = DEFAULT_BASE_DATE,
) -> SandboxData:
    """Build a complete, self-consistent sandbox world; the same arguments always give the same world."""
    if min(skus, orders, customers, suppliers) < 0 or warehouses < 1:
        raise ValueError("counts must be >= 0 and warehouses >= 1")
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of acyclic dicts: collection passes would double the run time for nothing
    try:
        return _generate(seed, skus, orders, warehouses, customers, suppliers, inbounds, base_date)
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(
    seed: int,
    skus: int,
    orders: int,
    warehouses: int,
    customers: int,
    suppliers: int,
    inbounds: int | None,
    base_date: datetime,
) -> SandboxData:
    gen = _Generator(seed, base_date)
    gen.warehouses(warehouses)
    gen.suppliers(suppliers)
    gen.products(skus, gen.categories())
    gen.customers(customers)
    inbound_count = max(5, skus // 25) if inbounds is None else inbounds
    created_inbounds = gen.inbounds(inbound_count) if skus else []
    gen.purchase_orders(created_inbounds)
    gen.sales_orders(orders)
    gen.inbound_control(created_inbounds)
    gen.stocks()
    gen.item_suppliers()
    gen.manufacturers()
    gen.item_images()
    gen.price_master_data()
    gen.item_prices()
    gen.returns(seed)
    gen.custom_fields()
    return SandboxData(ffn=gen.ffn, wawi=gen.wawi, spreadsheets=gen.spreadsheets)
