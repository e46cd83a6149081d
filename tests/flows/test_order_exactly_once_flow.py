"""The order processing flow keeps one outbound per order when FFN would take a second one (issue 8).

The sandbox here enforces no uniqueness of merchantOutboundNumber and loses every create answer; the
flow runs with both lookup forms the client knows (``or`` chains, and ``eq`` per number after FFN
refused ``or``), so only its ledger and lookups stand between a retry and a duplicate.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from flows.order_processing import order_processing
from jtl_automator.clients.ffn.client import OR_FILTERS
from jtl_automator.sandbox.faults import FaultProfile, FaultRule
from jtl_automator.sandbox.ffn.common import runtime as ffn_runtime
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, INVOICE_METHOD_ID
from jtl_automator.sandbox.odata import DOCUMENTED_FFN_OPERATORS
from jtl_automator.services.order_processing import OrderProcessingParams
from jtl_automator.settings import get_settings
from jtl_automator.store import StateStore
from jtl_automator.transforms import ValidationParams
from tests.flows.conftest import FlowSandbox

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

PARAMS = OrderProcessingParams(
    chunk_size=4, validation=ValidationParams(invoice_payment_method_ids=frozenset({INVOICE_METHOD_ID}))
)
NOT_UNIQUE = {"ffn_unique_merchant_outbound_number": False}
FORMS = [
    pytest.param({**NOT_UNIQUE, "ffn_filter_operators": None}, id="or-chains"),
    pytest.param({**NOT_UNIQUE, "ffn_filter_operators": DOCUMENTED_FFN_OPERATORS}, id="eq-only"),
]


def per_number(sandbox: FlowSandbox) -> Counter[str]:
    return Counter(o["merchantOutboundNumber"] for o in sandbox.state.data.ffn.outbounds.values())


@pytest.mark.parametrize("flow_sandbox", FORMS, indirect=True)
def test_lost_create_answers_make_no_second_outbound_in_either_lookup_form(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JTL_FFN_RATE_PER_SECOND", "500")
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    sandbox = flow_sandbox
    assert not sandbox.state.config.ffn_unique_merchant_outbound_number
    rule = FaultRule(
        fault="drop", route="^/api/v1/merchant/outbounds$", methods=("POST",), after_response=True
    )
    sandbox.set_faults(FaultProfile(name="lost-answers", rules=(rule,)))

    result = order_processing(since=DEFAULT_BASE_DATE - timedelta(hours=20), params=PARAMS)
    assert result["counts"]["created"] >= 2 and result["counts"]["failed"] == 0
    assert sandbox.state.runtime["faults"]["drop"] >= 2
    assert set(per_number(sandbox).values()) == {1}
    operators = sandbox.state.config.ffn_filter_operators
    eq_only = operators is not None and "or" not in operators
    assert OR_FILTERS.refused is eq_only
    # One refused 'or' chain at most (other 400s a strict sandbox gives are page sizes the clients halve).
    assert ffn_runtime(sandbox.state).filter_refusals == (1 if eq_only else 0)

    sandbox.set_faults("none")
    again = order_processing(params=PARAMS)
    assert again["counts"]["created"] == 0 and set(per_number(sandbox).values()) == {1}
    store = StateStore(f"sqlite:///{sandbox.tmp / 'state.db'}")
    stored = {o["merchantOutboundNumber"]: o["outboundId"] for o in sandbox.state.data.ffn.outbounds.values()}
    ledger = store.orders(list(stored))
    created = {n: r.outbound_id for n, r in ledger.items() if r.status == "outbound_created"}
    assert len(created) >= 2 and all(stored[n] == outbound_id for n, outbound_id in created.items())
    store.dispose()
