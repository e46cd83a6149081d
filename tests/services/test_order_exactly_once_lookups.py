"""Exactly one outbound per order through the ledger and lookups alone (issue 8).

FFN documents no uniqueness of merchantOutboundNumber, so these sandboxes take a second outbound with a
used number; and they run the lookups in both forms the client knows: ``or`` chains, and one ``eq``
filter per number after FFN refused ``or`` (``ffn_filter_operators={"eq", "and"}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.clients.ffn.client import OR_FILTERS, Outbounds
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.ffn.common import runtime as ffn_runtime
from jtl_automator.sandbox.ffn.outbounds import create_outbound
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE
from jtl_automator.sandbox.odata import DOCUMENTED_FFN_OPERATORS
from tests.services.test_order_processing_service import PARAMS, World, _world

# Whole order runs under fault profiles, twice each: the full suite and the strict run have them.
pytestmark = pytest.mark.slow

LOOKUPS: dict[str, frozenset[str] | None] = {"or-chains": None, "eq-only": DOCUMENTED_FFN_OPERATORS}


@pytest.fixture(params=sorted(LOOKUPS))
def world(request: pytest.FixtureRequest, tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    """The service world without server-side uniqueness, in one of the two lookup forms."""
    config = sandbox_config(
        ffn_filter_operators=LOOKUPS[request.param], ffn_unique_merchant_outbound_number=False
    )
    yield from _world(tmp_path, config)


def _eq_only(world: World) -> bool:
    operators = world.state.config.ffn_filter_operators
    return operators is not None and "or" not in operators


def _assert_one_outbound_per_order(world: World) -> None:
    """One outbound per number in FFN, and the ledger names exactly that one for each created order."""
    per_number = world.outbounds_per_number()
    assert per_number and set(per_number.values()) == {1}
    ledger = world.store.orders(list(per_number))
    recorded = {n: r.outbound_id for n, r in ledger.items() if r.outbound_id is not None}
    assert recorded
    stored = {o["merchantOutboundNumber"]: o["outboundId"] for o in world.outbounds}
    assert all(stored[number] == outbound_id for number, outbound_id in recorded.items())


def _assert_the_lookup_form(world: World) -> None:
    """The batch lookup ran as the parameter says: one refused chain and eq filters, or chains only."""
    refusals = ffn_runtime(world.state).filter_refusals
    assert OR_FILTERS.refused is _eq_only(world)
    assert refusals == (1 if _eq_only(world) else 0)
    # Any other 400 is a page size a strict sandbox refused (and the client halved), never a create.
    page_sizes = world.ffn.page_size.refusals + world.wawi.page_size.refusals
    assert world.state.runtime["requests"]["by_status"].get("400", 0) == refusals + page_sizes


def _assert_the_sandbox_would_take_a_duplicate(world: World) -> None:
    """Guards the assertions above: a second POST of a used number does make a second outbound here."""
    first = world.outbounds[0]
    body = {k: v for k, v in first.items() if k not in ("outboundId", "status")}
    create_outbound(world.state, body, oversale=True)
    assert world.outbounds_per_number()[first["merchantOutboundNumber"]] == 2


def test_lost_create_answers_are_found_by_lookup_not_created_again(world: World) -> None:
    """FFN creates each outbound but the answer is lost: the retry finds it by number instead of posting."""
    rule = FaultRule(
        fault="drop", route="^/api/v1/merchant/outbounds$", methods=("POST",), after_response=True
    )
    set_profile(world.state, FaultProfile(name="lost-answers", rules=(rule,)))
    result = world.run(since=DEFAULT_BASE_DATE - timedelta(hours=20))
    assert result["counts"]["created"] >= 2 and world.state.runtime["faults"]["drop"] >= 2
    assert result["counts"]["failed"] == 0
    _assert_one_outbound_per_order(world)
    _assert_the_lookup_form(world)

    set_profile(world.state, "none")
    before = world.outbounds_per_number()
    again = world.run(since=None)  # every open order once more: the ledger and lookup say "exists"
    assert again["counts"]["created"] == 0
    assert world.outbounds_per_number() == before
    _assert_the_lookup_form(world)  # still the one refusal: the process remembered it
    _assert_the_sandbox_would_take_a_duplicate(world)


def test_a_crash_between_post_and_ledger_is_adopted_by_the_batch_lookup(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger never heard of the outbound: only the lookup before creating can keep it single."""
    original = Outbounds.create
    created: list[str] = []

    def create_then_crash(self: Outbounds, outbound: Any, **kwargs: Any) -> Any:
        result = original(self, outbound, **kwargs)
        created.append(result.outbound_id)
        raise KeyboardInterrupt("process killed right after the POST")

    monkeypatch.setattr(Outbounds, "create", create_then_crash)
    with pytest.raises(KeyboardInterrupt):
        world.run(params=PARAMS.model_copy(update={"workers": 1, "chunk_size": 100}))
    (outbound_id,) = created
    number = world.state.data.ffn.outbounds[outbound_id]["merchantOutboundNumber"]
    assert world.store.orders([number])[number].outbound_id is None
    monkeypatch.setattr(Outbounds, "create", original)

    result = world.run()
    assert result["counts"]["failed"] == 0 and result["counts"]["created"] > 0
    assert world.outbounds_per_number()[number] == 1
    assert world.store.orders([number])[number].outbound_id == outbound_id  # adopted
    _assert_one_outbound_per_order(world)
    _assert_the_lookup_form(world)
    _assert_the_sandbox_would_take_a_duplicate(world)
