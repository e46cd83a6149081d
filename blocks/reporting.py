"""Where the reports go: the workbooks' folder, the Google spreadsheet of their tabs, the recipients."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, field_validator

from jtl_automator.settings import Settings, get_settings

_DOCS = "https://github.com/jtl-automator/jtl-automator/blob/main/docs/reporting.md"


class ReportDelivery(Block):
    """Where a report goes (no secrets: the SMTP and Google credentials are blocks of their own).

    Example:
        ```python
        from blocks import ReportDelivery
        delivery = ReportDelivery.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "Report Delivery"
    _block_type_slug = "jtl-report-delivery"
    _description = "Folder, Google spreadsheet and e-mail recipients of the scheduled KPI reports."
    _documentation_url = _DOCS  # type: ignore[assignment]

    output_dir: str = Field(
        default="reports", description="Folder of the workbooks: <output_dir>/<report>/<period>.xlsx."
    )
    spreadsheet_id: str | None = Field(
        default=None, description="Google spreadsheet the reports write one tab each into (none: no sheet)."
    )
    recipients: list[str] = Field(
        default_factory=list, description="E-mail addresses the headline figures and the workbook go to."
    )
    email_block: str | None = Field(
        default=None, description="SmtpServer block the e-mails go through (none: no e-mail)."
    )
    sheets_block: str | None = Field(
        default=None, description="GoogleSheetsCredentials block (none: the JTL_GOOGLE_* environment)."
    )
    storage_block: str | None = Field(
        default=None,
        description="A Prefect file system block as slug/name (local-file-system/reports, "
        "remote-file-system/…) the workbook is also written to, as <report>/<period>.xlsx.",
    )

    @field_validator("recipients", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """A comma-separated string is a list of addresses."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **fields: Any) -> ReportDelivery:
        """Block from ``JTL_REPORTS_DIR``, ``JTL_REPORTS_SHEET`` and ``JTL_REPORTS_RECIPIENTS``.

        Recipients without an SMTP server to send through are kept, with ``email_block`` "smtp" (the block
        ``jtl-automator blocks`` saves from ``JTL_SMTP_*``).
        """
        s = settings or get_settings()
        values: dict[str, Any] = {
            "output_dir": s.reports_dir,
            "spreadsheet_id": s.reports_sheet,
            "recipients": s.reports_recipients or [],
            "email_block": "smtp" if s.reports_recipients else None,
            "sheets_block": "google-sheets" if s.reports_sheet else None,
        }
        return cls(**{**values, **fields})
