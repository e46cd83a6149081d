"""Plan execution without Prefect: the real clients over HTTP against the sandbox, a real SQLite ledger and
a real SMTP server. Each side effect (purchase order record, supplier e-mail, FFN inbound) exactly once."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.notify.mail import EmailSender
from jtl_automator.plans import LineStatus, NewLine, Plan, PlanScope, PlanStatus, PlanStore
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.sandbox.smtp import SmtpTestServer
from jtl_automator.services import plan_execution as svc
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from tests.services.test_plan_execution_document import read_xlsx_lines

TODAY = date(2026, 11, 26)
INBOUNDS = "^/api/v1/merchant/inbounds$"


@dataclass
class World:
    state: Any
    store: StateStore
    ffn: FfnClient
    wawi: WawiClient
    smtp: SmtpTestServer
    mailer: EmailSender
    base_url: str

    @property
    def data(self) -> Any:
        return self.state.data

    @property
    def plans(self) -> PlanStore:
        return PlanStore(self.store)

    def run(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("mailer", self.mailer)
        kwargs.setdefault("today", TODAY)
        return svc.run_plan_execution(self.store, self.ffn, self.wawi, kwargs.pop("params", None), **kwargs)

    def warehouses(self) -> list[str]:
        return sorted(self.data.ffn.warehouses)

    def skus(self, n: int) -> list[str]:
        return sorted(p["merchantSku"] for p in self.data.ffn.products.values())[:n]

    def inbounds_by_number(self) -> Counter[str]:
        return Counter(str(i["merchantInboundNumber"]) for i in self.data.ffn.inbounds.values())

    def inbound(self, number: str) -> dict[str, Any]:
        (found,) = [i for i in self.data.ffn.inbounds.values() if i["merchantInboundNumber"] == number]
        return dict(found)

    def messages(self) -> list[EmailMessage]:
        out = []
        for received in self.smtp.state.messages:
            msg = email.message_from_bytes(received.data.replace(b"\r\n", b"\n"), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out

    def approved_plan(
        self, supplier: str, lines: list[tuple[str, str, int]], period: str = "2026-W48", **details: Any
    ) -> Plan:
        warehouses = tuple(sorted({w for _, w, _ in lines}))
        opened = self.plans.create_or_get(
            "restock", PlanScope(warehouses=warehouses, supplier=supplier), period
        )
        self.plans.add_lines(
            opened.plan.id,
            [NewLine(sku=s, warehouse=w, quantity=q, details=details or None) for s, w, q in lines],
        )
        return self.plans.approve(opened.plan.id, "buyer")


def _world(tmp: Path, config: SandboxConfig) -> Iterator[World]:
    app = create_app(generate(seed=7, skus=30, orders=5, customers=5, suppliers=3), config)
    with serve_in_thread(app) as server, SmtpTestServer() as smtp:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp / 'state.db'}")
        mailer = EmailSender(
            "127.0.0.1",
            smtp.port,
            "ops@example.com",
            SecretStr(smtp.state.password),
            sender="Einkauf <ops@example.com>",
            starttls=False,
            allow_plaintext_login=True,
            timeout=5.0,
            retry=RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01),
        )
        with FfnClient.from_settings(conf, store) as ffn, WawiClient.from_settings(conf) as wawi:
            yield World(app.state.sandbox, store, ffn, wawi, smtp, mailer, server.base_url)
        store.dispose()


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


@pytest.fixture(params=["lenient", pytest.param("strict", marks=pytest.mark.slow)])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Lenient and SandboxConfig.strictest(): eq-only $filter (the client falls back by itself)."""
    config = SandboxConfig() if request.param == "lenient" else SandboxConfig.strictest()
    yield from _world(tmp_path, config)


def _two_warehouse_plan(world: World) -> Plan:
    w1, w2 = world.warehouses()[:2]
    a, b, c = world.skus(3)
    return world.approved_plan("L10001", [(a, w1, 10), (b, w1, 4), (c, w2, 7)], lead_time_days=10)


# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_approved_plan_becomes_one_order_one_email_and_one_inbound_per_warehouse(world: World) -> None:
    plan = _two_warehouse_plan(world)
    w1, w2 = world.warehouses()[:2]
    a, b, c = world.skus(3)
    announced_before = {
        (s["merchantSku"], row["warehouseId"]): row.get("stockLevelAnnounced", 0)
        for s in world.data.ffn.stocks.values()
        for row in s["warehouses"]
    }

    result = world.run()

    number = f"PO-{plan.id}-L10001"
    assert result["counts"] == {"executed": 3} and result["purchase_orders"] == [number]
    assert world.inbounds_by_number() >= Counter({f"{number}-{w1}": 1, f"{number}-{w2}": 1})
    first = world.inbound(f"{number}-{w1}")
    jfsku = {p["merchantSku"]: p["jfsku"] for p in world.data.ffn.products.values()}
    assert first["purchaseOrderNumber"] == number and first["warehouseId"] == w1
    assert sorted((i["jfsku"], i["quantity"]) for i in first["items"]) == sorted(
        [(jfsku[a], 10), (jfsku[b], 4)]
    )
    assert {"key": "expectedDeliveryDate", "value": "2026-12-06", "attributeType": "String"} in first[
        "attributes"
    ]
    assert first["supplier"]["merchantSupplierNumber"] == "L10001"
    after = {
        (s["merchantSku"], row["warehouseId"]): row.get("stockLevelAnnounced", 0)
        for s in world.data.ffn.stocks.values()
        for row in s["warehouses"]
    }
    assert after[(c, w2)] - announced_before.get((c, w2), 0) == 7

    done = world.plans.get(plan.id)
    assert done.status is PlanStatus.DONE
    refs = {line.sku: line.execution for line in done.lines}
    assert all(line.status is LineStatus.EXECUTED for line in done.lines)
    assert refs[c] is not None and refs[c].purchase_order_number == number
    assert refs[c].inbound_id == world.inbound(f"{number}-{w2}")["inboundId"]
    assert refs[a] is not None and (refs[a].extra or {})["expected_delivery_date"] == "2026-12-06"

    (msg,) = world.messages()
    supplier = world.data.wawi.suppliers[1]
    assert msg["To"] == supplier["Email"] and msg["Subject"] == f"Bestellung {number}"
    attachment, pdf = list(msg.iter_attachments())
    assert attachment.get_filename() == f"Bestellung {number}.xlsx"
    assert sorted(read_xlsx_lines(attachment.get_content())) == sorted([(a, 10), (b, 4), (c, 7)])
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF-")
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "2026-12-06" in body.get_content() and "Sehr geehrte" in body.get_content()

    again = world.run()
    assert again["counts"] == {} and again["plans"] == []
    assert len(world.messages()) == 1
    assert world.inbounds_by_number()[f"{number}-{w1}"] == 1


@pytest.mark.slow
def test_one_warehouse_uses_the_purchase_order_number_itself(world: World) -> None:
    w1 = world.warehouses()[0]
    (a,) = world.skus(1)
    plan = world.approved_plan("L10002", [(a, w1, 3)])
    world.run()
    number = f"PO-{plan.id}-L10002"
    assert world.inbound(number)["items"][0]["quantity"] == 3
    assert world.plans.get(plan.id).status is PlanStatus.DONE


@pytest.mark.slow
def test_lost_create_answers_are_found_by_number_never_a_second_inbound(both: World) -> None:
    """FFN makes every inbound but the answer never arrives: the lookup by merchantInboundNumber adopts it."""
    world = both
    plan = _two_warehouse_plan(world)
    rule = FaultRule(fault="drop", route=INBOUNDS, methods=("POST",), after_response=True)
    set_profile(world.state, FaultProfile(name="lost-inbound-answers", rules=(rule,)))
    result = world.run()
    assert world.state.runtime["faults"]["drop"] == 2
    assert result["counts"] == {"executed": 3}
    number = f"PO-{plan.id}-L10001"
    counts = world.inbounds_by_number()
    assert [counts[f"{number}-{w}"] for w in world.warehouses()[:2]] == [1, 1]
    assert world.plans.get(plan.id).status is PlanStatus.DONE

    set_profile(world.state, "none")
    assert world.run()["counts"] == {}
    assert world.inbounds_by_number() == counts and len(world.messages()) == 1


@pytest.mark.slow
def test_requests_lost_before_ffn_saw_them_fail_the_plan_and_the_next_run_creates_them(world: World) -> None:
    plan = _two_warehouse_plan(world)
    rule = FaultRule(fault="drop", route=INBOUNDS, methods=("POST",))
    set_profile(world.state, FaultProfile(name="lost-requests", rules=(rule,)))
    first = world.run()
    assert first["counts"] == {"failed": 3}
    failed = world.plans.get(plan.id)
    assert failed.status is PlanStatus.APPROVED and failed.note
    assert len(world.messages()) == 1  # the supplier has the order; only FFN was not told yet

    set_profile(world.state, "none")
    second = world.run()
    assert second["counts"] == {"executed": 3}
    number = f"PO-{plan.id}-L10001"
    assert [world.inbounds_by_number()[f"{number}-{w}"] for w in world.warehouses()[:2]] == [1, 1]
    assert len(world.messages()) == 1


@pytest.mark.slow
def test_a_run_killed_between_the_post_and_the_record_is_taken_over_without_doubles(
    both: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = both
    plan = _two_warehouse_plan(world)
    real_complete = world.store.complete

    def crash(key: str, result: Any = None) -> None:
        if key.startswith("ffn-inbound:"):
            raise SystemExit("killed after the POST, before the record")
        real_complete(key, result)

    monkeypatch.setattr(world.store, "complete", crash)
    with pytest.raises(SystemExit):
        world.run(run_id="dead-run")
    monkeypatch.setattr(world.store, "complete", real_complete)
    assert world.plans.get(plan.id).status is PlanStatus.EXECUTING
    number = f"PO-{plan.id}-L10001"
    assert sum(world.inbounds_by_number()[f"{number}-{w}"] for w in world.warehouses()[:2]) == 1

    result = world.run(run_id="next-run")
    assert result["counts"] == {"executed": 3}
    taken = world.plans.get(plan.id)
    assert taken.status is PlanStatus.DONE
    assert [world.inbounds_by_number()[f"{number}-{w}"] for w in world.warehouses()[:2]] == [1, 1]
    assert len(world.messages()) == 1  # the e-mail was in the ledger before the crash
    pending = world.store.side_effect(f"ffn-inbound:{number}-{world.warehouses()[0]}")
    assert pending is not None and (pending.result or {}).get("adopted") is True


@pytest.mark.slow
def test_a_supplier_without_email_waits_with_a_reason_and_the_batch_goes_on(world: World) -> None:
    w1 = world.warehouses()[0]
    a, b = world.skus(2)
    world.data.wawi.suppliers[2]["Email"] = None
    silent = world.approved_plan("L10002", [(a, w1, 5)], period="2026-W48")
    fine = world.approved_plan("L10003", [(b, w1, 6)], period="2026-W49")

    result = world.run()

    rows = {r["plan"]: r for r in result["lines"]}
    assert rows[silent.id]["status"] == "waiting"
    assert "has no e-mail address in Wawi" in rows[silent.id]["reason"]
    assert rows[fine.id]["status"] == "executed"
    kept = world.plans.get(silent.id)
    assert kept.status is PlanStatus.APPROVED and "no e-mail address" in (kept.note or "")
    assert kept.lines[0].status is LineStatus.APPROVED  # nothing lost: the next run tries again
    assert f"PO-{silent.id}-L10002" not in world.inbounds_by_number()
    assert world.store.side_effect(f"purchase-order:PO-{silent.id}-L10002") is None

    world.data.wawi.suppliers[2]["Email"] = "orders@supplier.example"
    again = svc.run_plan_execution(world.store, world.ffn, world.wawi, mailer=world.mailer, today=TODAY)
    assert again["counts"] == {"executed": 1}
    assert world.plans.get(silent.id).status is PlanStatus.DONE


@pytest.mark.slow
def test_an_sku_ffn_does_not_know_holds_its_whole_order_with_reasons(world: World) -> None:
    w1 = world.warehouses()[0]
    (a,) = world.skus(1)
    plan = world.approved_plan("L10001", [(a, w1, 5), ("NOT-IN-FFN", w1, 2)])
    result = world.run()
    reasons = {r["sku"]: r["reason"] for r in result["lines"]}
    assert "is not an FFN product" in reasons["NOT-IN-FFN"]
    assert reasons[a].startswith("waits for other lines")
    assert world.plans.get(plan.id).status is PlanStatus.APPROVED
    assert not world.messages()


@pytest.mark.slow
def test_dry_run_says_what_it_would_do_and_changes_nothing(world: World) -> None:
    plan = _two_warehouse_plan(world)
    before = dict(world.inbounds_by_number())
    result = world.run(dry_run=True)
    assert result["counts"] == {"would_execute": 3}
    assert result["purchase_orders"] == [f"PO-{plan.id}-L10001"]
    assert dict(world.inbounds_by_number()) == before and not world.messages()
    assert world.plans.get(plan.id).status is PlanStatus.APPROVED
    assert world.store.side_effect(f"purchase-order:PO-{plan.id}-L10001") is None


@pytest.mark.slow
def test_a_held_lease_skips_the_run(world: World) -> None:
    _two_warehouse_plan(world)
    from datetime import timedelta

    assert world.store.acquire_lease(svc.LEASE_NAME, "other-run", timedelta(minutes=5))
    result = world.run()
    assert "other-run" in result["skipped"] and not world.messages()


@pytest.mark.slow
def test_an_english_supplier_gets_an_english_document(world: World) -> None:
    world.data.wawi.suppliers[3]["LanguageISO"] = "EN"
    w1 = world.warehouses()[0]
    (a,) = world.skus(1)
    plan = world.approved_plan("L10003", [(a, w1, 2)])
    world.run()
    (msg,) = world.messages()
    assert msg["Subject"] == f"Purchase order PO-{plan.id}-L10003"
    attachment, pdf = list(msg.iter_attachments())
    assert attachment.get_filename() == f"Purchase order PO-{plan.id}-L10003.xlsx"
    assert pdf.get_filename() == f"Purchase order PO-{plan.id}-L10003.pdf"
    assert read_xlsx_lines(attachment.get_content()) == [(a, 2)]


@pytest.mark.slow
def test_the_strict_sandbox_takes_a_second_inbound_under_a_used_number(tmp_path: Path) -> None:
    """Guards the strict runs above: there, only the ledger and the lookup keep inbounds single."""
    from jtl_automator.sandbox.ffn import create_inbound

    for world in _world(tmp_path, SandboxConfig.strictest()):
        first = next(iter(world.data.ffn.inbounds.values()))
        body = {k: v for k, v in first.items() if k not in ("inboundId", "status", "modificationInfo")}
        create_inbound(world.state, body)
        assert world.inbounds_by_number()[first["merchantInboundNumber"]] == 2


WAWI_V2 = svc.PlanExecutionParams(wawi_purchase_orders=True)


def _wawi_orders(world: World, number: str) -> list[dict[str, Any]]:
    return [po for po in world.data.wawi.purchase_orders.values() if po["Number"] == number]


@pytest.fixture
def lenient(tmp_path: Path) -> Iterator[World]:
    """The lenient sandbox whatever ``--sandbox`` says: its app may create purchase orders (v2)."""
    yield from _world(tmp_path, SandboxConfig())


@pytest.mark.slow
def test_where_configured_the_order_is_also_created_in_wawi_v2_once(lenient: World) -> None:
    world = lenient
    plan = _two_warehouse_plan(world)
    number = f"PO-{plan.id}-L10001"
    result = world.run(params=WAWI_V2)
    assert result["counts"] == {"executed": 3}
    (po,) = _wawi_orders(world, number)
    assert po["SupplierId"] == 1 and po["Status"] == "Open"
    assert sorted((li["SKU"], li["Quantity"]) for li in po["LineItems"]) == sorted(
        (sku, q) for sku, q in zip(world.skus(3), (10, 4, 7), strict=True)
    )
    assert str(po["ExpectedDeliveryDate"]).startswith("2026-12-06")
    record = world.store.side_effect(f"purchase-order:{number}")
    assert record is not None and (record.result or {})["wawi_id"] == po["Id"]
    assert world.run(params=WAWI_V2)["counts"] == {}
    assert len(_wawi_orders(world, number)) == 1


@pytest.mark.slow
def test_a_lost_wawi_answer_is_found_by_number_not_posted_again(lenient: World) -> None:
    world = lenient
    plan = _two_warehouse_plan(world)
    rule = FaultRule(fault="drop", route="^.*/v2/purchase-orders$", methods=("POST",), after_response=True)
    set_profile(world.state, FaultProfile(name="lost-wawi-answers", rules=(rule,)))
    result = world.run(params=WAWI_V2)
    assert world.state.runtime["faults"]["drop"] == 1
    assert result["counts"] == {"executed": 3}
    assert len(_wawi_orders(world, f"PO-{plan.id}-L10001")) == 1


@pytest.mark.slow
def test_a_stale_copy_of_a_plan_is_started_as_it_is_now(world: World) -> None:
    """A task retry may hold the plan as selected (executing, taken over since): it is read again."""
    plan = _two_warehouse_plan(world)
    stale = world.plans.mark_executing(plan.id)  # a run died here
    world.plans.mark_failed(plan.id, "taken over")  # another attempt already put it back
    params = svc.PlanExecutionParams()
    ctx = svc.ExecutionContext(world.store, world.ffn, world.wawi, params, "retry", world.mailer)
    outcomes = svc.execute_plan(ctx, stale)
    assert [o.status for o in outcomes] == ["executed"] * 3
    assert world.plans.get(plan.id).status is PlanStatus.DONE


@pytest.mark.slow
def test_without_the_wawi_scope_the_run_stops_before_anything_is_sent(tmp_path: Path) -> None:
    """The strict sandbox grants exactly WAWI_APP_SCOPES, which do not include creating purchase orders."""
    for world in _world(tmp_path, SandboxConfig.strictest()):
        plan = _two_warehouse_plan(world)
        number = f"PO-{plan.id}-L10001"
        with pytest.raises(svc.MissingWawiScope) as refused:
            world.run(params=WAWI_V2)
        assert str(refused.value) == (
            f"Wawi refused to create purchase order {number} (403): the app lacks the scope "
            "purchaseorder.createpurchaseorder, which wawi_purchase_orders needs; register the app again "
            "with `jtl-automator auth wawi --purchase-orders` (Wawi fixes an app's scopes at registration), "
            "or turn wawi_purchase_orders off"
        )
        kept = world.plans.get(plan.id)
        assert kept.status is PlanStatus.APPROVED and "purchaseorder.createpurchaseorder" in (kept.note or "")
        assert not world.messages() and f"{number}-{world.warehouses()[0]}" not in world.inbounds_by_number()
        assert not _wawi_orders(world, number)


@pytest.mark.slow
def test_an_app_registered_for_purchase_orders_creates_them(tmp_path: Path) -> None:
    """The strict sandbox gives every registration a key with exactly the scopes it asked for."""
    from jtl_automator.auth_commands import register_wawi, scopes_to_register
    from jtl_automator.sandbox.wawi.guard import set_registration_window

    config = SandboxConfig.strictest()
    for world in _world(tmp_path, config):
        env = credentials_env(world.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        settings = Settings(_env_file=None, **values)
        set_registration_window(world.state, True)  # a Wawi user opened Admin > App-Registrierung
        granted = register_wawi(
            settings, scopes=scopes_to_register(True, None), poll_interval=0.01, timeout=5
        )
        assert "purchaseorder.createpurchaseorder" in granted.granted_scopes
        plan = _two_warehouse_plan(world)
        with WawiClient.from_settings(settings.model_copy(update={"wawi_api_key": granted.api_key})) as wawi:
            result = replace(world, wawi=wawi).run(params=WAWI_V2)
        assert result["counts"] == {"executed": 3}
        assert len(_wawi_orders(world, f"PO-{plan.id}-L10001")) == 1
