"""API payload -> frame boundary, including the malformed payloads an API can send."""

from __future__ import annotations

import pandera.errors
import pytest

from jtl_automator.transforms.ffn_frames import inbound_items_frame, products_frame, stocks_frame


def test_products_frame_skips_products_without_merchant_sku() -> None:
    frame = products_frame(
        [{"jfsku": "MERCA", "merchantSku": "00123"}, {"jfsku": "MERCB", "merchantSku": None}]
    )
    assert frame.to_dict("records") == [{"merchant_sku": "00123", "jfsku": "MERCA"}]


def test_products_frame_rejects_duplicate_jfsku() -> None:
    with pytest.raises(pandera.errors.SchemaError, match="duplicate"):
        products_frame([{"jfsku": "MERCA", "merchantSku": "a"}, {"jfsku": "MERCA", "merchantSku": "b"}])


def test_inbound_items_frame_flattens_items() -> None:
    inbounds = [
        {
            "inboundId": "IN-1",
            "merchantInboundNumber": "PO-1",
            "warehouseId": "WH",
            "status": "Receipted",
            "items": [
                {"jfsku": "MERCA", "quantity": 10, "quantityOpen": 2},
                {"jfsku": "MERCB", "quantity": 1},
            ],
        },
        {"inboundId": "IN-2", "status": "Preparation", "items": None},
    ]
    frame = inbound_items_frame(inbounds)
    assert frame[["inbound_id", "jfsku", "quantity", "quantity_open"]].values.tolist() == [
        ["IN-1", "MERCA", 10, 2],
        ["IN-1", "MERCB", 1, 0],
    ]


@pytest.mark.parametrize(
    ("inbounds", "error"),
    [
        pytest.param([{"status": "Pending", "items": [{"jfsku": "A"}]}], KeyError, id="no-inbound-id"),
        pytest.param([{"inboundId": "I", "items": [{"quantity": 1}]}], KeyError, id="item-without-jfsku"),
        pytest.param(
            [{"inboundId": "I", "items": [{"jfsku": "A", "quantity": "zehn"}]}], ValueError, id="text-qty"
        ),
        pytest.param(
            [{"inboundId": "I", "items": [{"jfsku": "A", "quantity": -1}]}],
            pandera.errors.SchemaError,
            id="neg",
        ),
    ],
)
def test_inbound_items_frame_malformed(inbounds: list[dict], error: type[Exception]) -> None:
    with pytest.raises(error):
        inbound_items_frame(inbounds)


def test_stocks_frame_uses_warehouse_breakdown_when_present() -> None:
    stocks = [
        {
            "jfsku": "A",
            "stockLevel": 9,
            "warehouses": [
                {"warehouseId": "W1", "stockLevel": 4},
                {"warehouseId": "W2", "stockLevel": 5, "stockLevelAnnounced": 3},
            ],
        },
        {"jfsku": "B", "stockLevel": 2, "stockLevelAnnounced": 1},
    ]
    assert stocks_frame(stocks).values.tolist() == [["A", "W1", 4, 0], ["A", "W2", 5, 3], ["B", "", 2, 1]]
