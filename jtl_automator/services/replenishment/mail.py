"""The Bestellvorschlag to purchasing: the workbook e-mailed once per week and version of the proposal.

A daily run that proposes the same plans as yesterday sends nothing; one that changes them (new lines,
other quantities, another low-stock count) sends the new workbook once. The key is the ISO week plus a
hash of what the proposal says, not of the file's bytes (a workbook carries its write time). The send
goes through the state store's ``run_once`` and the Message-ID derives from the key, so a crash between
the SMTP answer and the record makes at most a repeat the mail server can recognise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jtl_automator.notify.mail import Attachment, AttachmentMailer, markdown_text
from jtl_automator.store import StateStore

KIND = "replenishment-mail"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def proposal_version(result: Mapping[str, Any]) -> str:
    """A short hash of what the proposal says: its plans, their lines and units, the statuses."""
    basis = {
        "plans": sorted((p["plan_id"], p["lines"], p["units"]) for p in result["plans"]),
        "statuses": result["statuses"],
        "low_stock": result["low_stock"],
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()[:16]


def mail_key(result: Mapping[str, Any]) -> str:
    """The ledger key of this proposal's e-mail: the week and the proposal's version."""
    return f"replenishment:{result['period']}:mail:{proposal_version(result)}"


def purchasing_markdown(result: Mapping[str, Any]) -> str:
    """A few lines for purchasing: what runs out, what each supplier's draft holds, how to approve."""
    lines = [
        f"Bestellvorschlag **{markdown_text(str(result['period']))}**: {result['low_stock']} SKUs run out "
        "before a delivery can arrive (the *Low stock* tab comes first).",
        "",
    ]
    if result["plans"]:
        lines += ["| supplier | plan | lines | units |", "|---|---:|---:|---:|"]
        lines += [
            f"| {markdown_text(str(p['supplier_name']))} | {p['plan_id']} | {p['lines']} | {p['units']} |"
            for p in result["plans"]
        ]
        lines.append("")
    lines.append(
        "Mark the lines to order in *Freigabe (x)* and run `jtl-automator plans approve-from <file>`; "
        "approved plans are ordered and announced to FFN by the next plan execution."
    )
    return "\n".join(lines)


def mail_purchasing(
    store: StateStore, mailer: AttachmentMailer, to: str, result: Mapping[str, Any], *, run_id: str
) -> dict[str, Any]:
    """Send the workbook to ``to`` unless this version of the proposal went out already."""
    if result["dry_run"] or not result.get("workbook"):
        return {"sent": False, "reason": "dry run: no plans, nothing to approve"}
    path = Path(str(result["workbook"]))
    key = mail_key(result)
    data = path.read_bytes()

    def send() -> Mapping[str, Any]:
        sent = mailer.send(
            to,
            f"Bestellvorschlag {result['period']}",
            purchasing_markdown(result),
            format="markdown",
            idempotency_key=key,
            attachments=[Attachment(path.name, data, XLSX_TYPE)],
        )
        return {"message_id": str(getattr(sent, "message_id", "")), "to": to}

    if store.run_once(key, KIND, send, run_id=run_id):
        return {"sent": True, "key": key}
    return {"sent": False, "key": key, "reason": "this version of the proposal was sent before"}
