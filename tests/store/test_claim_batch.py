"""Claims of a chunk in one transaction: the same answers as one claim each, settled together.

On SQLite and PostgreSQL (``store_url``): ``claim_many``/``settle_claims`` in the store, and
``ClaimBatch``, through which a chunk of orders claims its outbounds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jtl_automator.services.ffn_once import ClaimBatch
from jtl_automator.store import ClaimState, StateStore


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    opened = StateStore(store_url)
    yield opened
    opened.dispose()


def test_claim_many_answers_as_one_claim_each_would(store: StateStore) -> None:
    store.claim("done", "x", "r0")
    store.complete("done", {"id": 7})
    store.claim("pending", "x", "r0")
    store.claim("failed", "x", "r0")
    store.fail("failed", "boom")
    claims = store.claim_many(["new", "done", "pending", "failed", "new"], "x", "r1")
    assert list(claims) == ["new", "done", "pending", "failed"]
    assert claims["new"].state is ClaimState.NEW and claims["new"].attempts == 1
    assert claims["done"].state is ClaimState.DONE and claims["done"].result == {"id": 7}
    assert (claims["pending"].state, claims["pending"].attempts) == (ClaimState.PENDING, 2)
    assert (claims["failed"].state, claims["failed"].attempts) == (ClaimState.FAILED, 2)
    assert store.claim("new", "x", "r2").state is ClaimState.PENDING  # claimed, never completed
    assert store.claim_many([], "x") == {}


def test_settle_claims_completes_fails_and_releases_in_one_go(store: StateStore) -> None:
    store.claim("old", "x", "r0")  # pending since an earlier run
    store.claim_many(["a", "b", "c", "old"], "x", "r1")
    store.settle_claims({"a": {"id": 1}}, {"b": "refused"}, released=["c", "old"])
    assert store.claim("a", "x").state is ClaimState.DONE
    assert store.claim("b", "x").state is ClaimState.FAILED
    assert store.claim("c", "x").state is ClaimState.NEW  # released: as if never claimed
    assert store.claim("old", "x").state is ClaimState.PENDING  # an older claim is never released
    with pytest.raises(KeyError, match="never claimed"):
        store.settle_claims({"nobody": None}, {})


def test_claim_batch_claims_the_chunk_once_and_writes_at_settle(store: StateStore) -> None:
    store.claim("k2", "ffn_outbound", "r0")
    store.complete("k2", {"outboundId": "O2"})
    batch = ClaimBatch(store, ["k1", "k2", "k3"], "ffn_outbound", "r1")
    first = batch.claim("k1", "ffn_outbound", "r1")
    assert first.state is ClaimState.NEW
    assert store.claim("k3", "probe").state is ClaimState.PENDING  # the chunk was claimed at once
    assert batch.claim("k2", "ffn_outbound", "r1").state is ClaimState.DONE
    batch.complete("k1", {"outboundId": "O1"})
    assert store.claim("k1", "probe").state is ClaimState.PENDING  # nothing written before settle
    other = ClaimBatch(store, ["m1", "m2"], "ffn_outbound", "r1")
    other.claim("m1", "ffn_outbound")
    other.fail("m1", "refused")
    other.settle()
    assert store.claim("m1", "probe").state is ClaimState.FAILED
    assert store.claim("m2", "probe").state is ClaimState.NEW  # claimed as new, never used: released
    batch.settle()
    assert store.claim("k1", "probe").state is ClaimState.DONE
    # a key outside the chunk, or with an intent, is claimed on its own
    assert batch.claim("elsewhere", "ffn_outbound").state is ClaimState.NEW
