"""The customer messages: what customers and fulfillers wrote is shown as text, never as markup or links."""

from __future__ import annotations

from jtl_automator.notify.mail import render_markdown
from jtl_automator.services.order_processing.fulfilment import confirmation_markdown
from jtl_automator.services.order_processing.planning import Action
from jtl_automator.services.order_processing.shipping import shipped_markdown

HOSTILE = (
    '<a href="https://evil.example">Pay</a> [Pay now](https://evil.example) <img src=x onerror=alert(1)>'
)


def test_the_confirmation_escapes_the_customer_and_item_names() -> None:
    action = Action(
        "create",
        "AU-1",
        1,
        customer=HOSTILE,
        payload={"items": [{"quantity": 1, "name": HOSTILE}]},
    )
    html = render_markdown(confirmation_markdown(action))
    assert "<a " not in html and "<img" not in html and "[Pay now](https://evil.example)" in html


def test_the_shipping_notice_links_only_plain_web_addresses() -> None:
    markdown = shipped_markdown(
        "AU-1", HOSTILE, ["00340434\n# heading"], ["https://track.example/123", "javascript:alert(1)"]
    )
    html = render_markdown(markdown)
    assert html.count("<a ") == 1 and 'href="https://track.example/123"' in html
    assert "javascript:alert(1)" in html and "<h1>" not in html
