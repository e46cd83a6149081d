"""Blocks against a real Prefect API: saved, loaded with secrets intact, created from the environment."""

from __future__ import annotations

import json

import pytest
from prefect.client.orchestration import get_client
from pydantic import SecretStr

from blocks import InboundControlSheet, JtlFfnCredentials, SmtpServer, StateDatabase
from deployments.blocks import create_blocks
from jtl_automator.settings import get_settings
from tests.flows.conftest import FlowSandbox

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server


def test_save_and_load_keeps_secrets_but_the_api_masks_them() -> None:
    JtlFfnCredentials(
        client_id="cid", client_secret=SecretStr("s3cret"), refresh_token=SecretStr("r3f")
    ).save("ffn-roundtrip", overwrite=True)
    loaded = JtlFfnCredentials.load("ffn-roundtrip")
    assert loaded.client_secret.get_secret_value() == "s3cret"

    import anyio

    async def stored() -> str:
        async with get_client() as client:
            document = await client.read_block_document_by_name(
                "ffn-roundtrip", "jtl-ffn-credentials", include_secrets=False
            )
            return json.dumps(document.data, default=str)

    assert "s3cret" not in anyio.run(stored) and "r3f" not in anyio.run(stored)


def test_blocks_command_creates_working_blocks_from_the_sandbox_environment(
    flow_sandbox: FlowSandbox,
) -> None:
    from jtl_automator.sandbox.smtp import SmtpTestServer

    with SmtpTestServer() as smtp:
        smtp_env = {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "smtp_allow_plaintext_login": True,  # the test server speaks no TLS
            "smtp_username": smtp.state.username,
            "smtp_password": SecretStr(smtp.state.password),
            "smtp_sender": "einkauf@example.invalid",
        }
        settings = get_settings().model_copy(update={"inbound_sheet": "inbound-control-demo", **smtp_env})
        outcome = create_blocks(settings)
        assert all(v.startswith("saved") for v in outcome.values()), outcome
        assert outcome["smtp"] == "saved (SMTP Server)"
        assert smtp.state.password not in json.dumps(outcome)
        assert InboundControlSheet.load("inbound-control").sheet == "inbound-control-demo"
        store = StateDatabase.load("state-database").get_client()
        ffn = JtlFfnCredentials.load("ffn").get_client(store)
        assert ffn.users.current().user_id
        # the block the plan-execution deployment names (email_block: smtp) sends through the server
        mail = SmtpServer.load("smtp").get_client()
        mail.send("lieferant@example.invalid", "Bestellung", "Test", format="markdown", idempotency_key="k-1")
        assert len(smtp.state.messages) == 1


def test_missing_settings_are_skipped_with_the_reason() -> None:
    get_settings.cache_clear()
    outcome = create_blocks(get_settings())
    assert outcome["ffn"].startswith("skipped: set JTL_FFN_CLIENT_ID")
    assert outcome["smtp"].startswith("skipped: set JTL_SMTP_HOST and JTL_SMTP_SENDER")
    assert outcome["state-database"].startswith("saved")
