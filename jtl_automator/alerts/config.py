"""The alert files (``config/automations/*.yaml``): channels, business hours and alerts, checked whole.

Each file may declare ``channels`` (where an alert goes: an e-mail list through an SmtpServer block, a
WebhookEndpoint block), ``business_hours`` (at most once in the folder) and ``alerts``. Four kinds:

* ``run-failed``: a run of a project deployment ended Failed or Crashed;
* ``run-late``: a scheduled run has not started ``late_by`` after Prefect marked it Late;
* ``no-success``: no Completed run of a deployment for ``window`` (only within business hours);
* ``done-by``: no Completed run of a deployment today by ``deadline`` (local time).

Every mistake names its file, line and field, through the reader the project's rule files share
(:mod:`jtl_automator.yaml_config`); deployment names are checked against ``prefect.yaml``; names used
across files (channels, alerts) must be unique and references must resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from jtl_automator.yaml_config import ConfigFileError, line_of, parse_yaml_model

#: The file names of the folder's alert files.
SUFFIXES = (".yaml", ".yml")
#: Prefect refuses proactive triggers (the late alert) with a shorter window.
MIN_PROACTIVE = timedelta(seconds=10)
#: Names end up in automation names and event resource ids (``jtl-automator.sla.<name>``): keep them plain.
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: Any) -> timedelta:
    """``15m``, ``90s``, ``1h30m``, ``2d`` as a timedelta; a bare number is refused (which unit?)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("a duration is a number with a unit: 30s, 15m, 1h30m, 2d")
    if isinstance(value, int | float):
        raise ValueError(f"{value} has no unit: write {value}m (minutes), {value}s or {value}h")
    text = value.strip().replace(" ", "")
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"{value!r} is not a duration: write a number with s, m, h or d (30s, 15m, 1h30m)")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The short form the files use (``1h30m``, ``0s``)."""
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts) or "0s"


def parse_clock(value: Any) -> time:
    """``"09:00"`` as a time; an unquoted ``10:30`` (YAML 1.1 reads it as the number 630) is refused."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f'write the time in quotes ("{value // 60:02d}:{value % 60:02d}"): unquoted, YAML reads '
            f"{value // 60}:{value % 60:02d} as the number {value}"
        )
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ValueError(f'{value!r} is not a time of day: write it as "HH:MM" ("09:00")')
    hours, minutes = (int(part) for part in value.strip().split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{value!r} is not a time of day (00:00 to 23:59)")
    return time(hours, minutes)


def parse_days(value: Any) -> tuple[int, ...]:
    """Weekdays (0 = Monday) from ``mon-fri``, ``mon,wed,fri``, ``daily`` or a list of day names."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("daily", "every day"):
            return tuple(range(7))
        items: list[Any] = [part.strip() for part in text.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError("days are day names: mon-fri, mon,wed,fri, daily or a list like [mon, tue]")
    days: set[int] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(DAY_NAMES):
            days.add(item)  # already a weekday number (0 = Monday), as the code builds them
            continue
        if not isinstance(item, str):
            raise ValueError(f"{item!r} is not a day: use {', '.join(DAY_NAMES)}")
        first, _, last = item.strip().lower().partition("-")
        for name in (first, last or first):
            if name not in DAY_NAMES:
                raise ValueError(f"{item!r} is not a day or a range of days: use {', '.join(DAY_NAMES)}")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        if end < start:
            raise ValueError(f"{item!r} runs backwards: write the days from Monday on (fri-sun, mon)")
        days.update(range(start, end + 1))
    if not days:
        raise ValueError("name at least one day")
    return tuple(sorted(days))


def _check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{value!r}: use lowercase letters, digits and dashes (at most 63)")
    return value


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a time zone (like Europe/Berlin)") from None
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Clock = Annotated[time, BeforeValidator(parse_clock)]
Days = Annotated[tuple[int, ...], BeforeValidator(parse_days)]
Name = Annotated[str, BeforeValidator(lambda v: _check_name(v) if isinstance(v, str) else v)]
Zone = Annotated[str, BeforeValidator(lambda v: _check_zone(v) if isinstance(v, str) else v)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailChannel(_Strict):
    """E-mail to a list of addresses through an SmtpServer block (the server and its login stay there)."""

    type: Literal["email"]
    smtp_block: str = Field(default="smtp", min_length=1)
    to: list[str] = Field(min_length=1)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c in address for c in "\r\n ,;"):
                raise ValueError(f"{address!r} is not one e-mail address")
        return value


class WebhookChannel(_Strict):
    """A call to a WebhookEndpoint block (its URL, token or signing key stay in the block)."""

    type: Literal["webhook"]
    webhook_block: str = Field(min_length=1)


Channel = Annotated[EmailChannel | WebhookChannel, Field(discriminator="type")]


class BusinessHours(_Strict):
    """When the shop is staffed: the ``no-success`` alerts count only these hours."""

    timezone: Zone = "Europe/Berlin"
    days: Days = (0, 1, 2, 3, 4)
    start: Clock = time(8, 0)
    end: Clock = time(18, 0)

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("end must be after start (business hours over midnight are not supported)")
        return self


class _Alert(_Strict):
    name: Name
    description: str = ""
    enabled: bool = True
    notify: list[str] = Field(min_length=1, description="Channel names.")


RunEndState = Literal["Failed", "Crashed", "TimedOut"]


class RunFailedAlert(_Alert):
    """A run of a listed deployment ended Failed or Crashed."""

    kind: Literal["run-failed"]
    deployments: Literal["all"] | list[str] = "all"
    states: tuple[RunEndState, ...] = Field(default=("Failed", "Crashed"), min_length=1)
    #: 0: every failed run; more: at most one alert per deployment in that time.
    repeat_after: Duration = timedelta(0)


class RunLateAlert(_Alert):
    """A scheduled run of a listed deployment has not started ``late_by`` after Prefect marked it Late."""

    kind: Literal["run-late"]
    deployments: Literal["all"] | list[str] = "all"
    late_by: Duration = timedelta(minutes=15)
    #: deployment: one alert per deployment whose runs stay late (workers down: one per deployment, not
    #: one per minute of an every-minute schedule); run: one per late run.
    per: Literal["deployment", "run"] = "deployment"

    @field_validator("late_by")
    @classmethod
    def _long_enough(cls, value: timedelta) -> timedelta:
        if value < MIN_PROACTIVE:
            raise ValueError("must be at least 10s (Prefect's shortest window for a missing event)")
        return value


class NoSuccessAlert(_Alert):
    """No Completed run of ``deployment`` for ``window``, counted within business hours only."""

    kind: Literal["no-success"]
    deployment: str
    window: Duration = timedelta(minutes=30)
    business_hours_only: bool = True
    repeat_after: Duration = timedelta(hours=1)

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value


class DoneByAlert(_Alert):
    """No Completed run of ``deployment`` today by ``deadline`` (on ``days``, in ``timezone``)."""

    kind: Literal["done-by"]
    deployment: str
    deadline: Clock
    days: Days = (0, 1, 2, 3, 4)
    timezone: Zone = "Europe/Berlin"
    repeat_after: Duration = timedelta(hours=4)


Alert = Annotated[RunFailedAlert | RunLateAlert | NoSuccessAlert | DoneByAlert, Field(discriminator="kind")]
SlaAlert = NoSuccessAlert | DoneByAlert


class AlertsFile(_Strict):
    """One file of the folder."""

    channels: dict[str, Channel] = Field(default_factory=dict)
    business_hours: BusinessHours | None = None
    alerts: list[Alert] = Field(default_factory=list)

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            _check_name(name)
        return value


@dataclass(frozen=True)
class AlertsConfig:
    """The folder read whole: channels, business hours and alerts, each alert with its file."""

    channels: dict[str, EmailChannel | WebhookChannel]
    business_hours: BusinessHours | None
    alerts: list[RunFailedAlert | RunLateAlert | NoSuccessAlert | DoneByAlert]
    files: dict[str, Path] = field(default_factory=dict)

    def sla_alerts(self) -> list[SlaAlert]:
        """The alerts the scheduled SLA check evaluates (the others are Prefect's own events)."""
        return [a for a in self.alerts if isinstance(a, NoSuccessAlert | DoneByAlert)]


def deployment_names(prefect_yaml: Path) -> list[str]:
    """The deployment names ``prefect.yaml`` declares (the alerts may name only these)."""
    try:
        # libyaml's loader when present: prefect.yaml is long, and only the names are read from it
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(prefect_yaml.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigFileError(str(prefect_yaml), [f"{prefect_yaml}: cannot be read: {exc}"]) from None
    return [str(d["name"]) for d in data.get("deployments") or [] if isinstance(d, dict) and "name" in d]


def _deployment_checks(known: Sequence[str]) -> Any:
    """The ``check`` of :func:`parse_yaml_model`: every named deployment is one of ``known``."""

    def unknown(name: str) -> str:
        return f"unknown deployment {name!r}; prefect.yaml has: {', '.join(known)}"

    def check(parsed: AlertsFile) -> Iterable[tuple[Sequence[int | str], str]]:
        for index, alert in enumerate(parsed.alerts):
            if isinstance(alert, RunFailedAlert | RunLateAlert) and isinstance(alert.deployments, list):
                for position, name in enumerate(alert.deployments):
                    if name not in known:
                        yield ["alerts", index, "deployments", position], unknown(name)
            elif isinstance(alert, NoSuccessAlert | DoneByAlert) and alert.deployment not in known:
                yield ["alerts", index, "deployment"], unknown(alert.deployment)

    return check


def parse_alerts_file(text: str, deployments: Sequence[str], *, source: str = "<text>") -> AlertsFile:
    """One file's text, checked on its own (names across files are checked by :func:`load_alerts`)."""
    return parse_yaml_model(
        text, AlertsFile, source=source, check=_deployment_checks(deployments), allowed_keys=True
    )


def alert_files(folder: Path) -> list[Path]:
    """The folder's alert files, by name (files starting with . are skipped)."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith(".")
    )


def load_alerts(folder: Path, deployments: Sequence[str]) -> AlertsConfig:
    """Every file of ``folder``; all mistakes of all files come together in one :class:`ConfigFileError`."""
    if not folder.is_dir():
        raise ConfigFileError(str(folder), [f"{folder}: no such folder (the alert files live there)"])
    files = alert_files(folder)
    if not files:
        raise ConfigFileError(str(folder), [f"{folder}: no alert files (*.yaml) in it"])
    problems: list[str] = []
    parsed: list[tuple[Path, str, AlertsFile]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be read: {getattr(exc, 'strerror', None) or exc}")
            continue
        try:
            parsed.append((path, text, parse_alerts_file(text, deployments, source=str(path))))
        except ConfigFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigFileError(str(folder), problems)
    return _merge(folder, parsed)


def _merge(folder: Path, parsed: list[tuple[Path, str, AlertsFile]]) -> AlertsConfig:
    """One configuration of the files; names unique across them, references resolved."""
    problems: list[str] = []

    def where(path: Path, text: str, location: Sequence[int | str]) -> str:
        return f"{path}:{line_of(text, location) or 1}"

    channels: dict[str, EmailChannel | WebhookChannel] = {}
    channel_file: dict[str, Path] = {}
    hours: BusinessHours | None = None
    hours_file: Path | None = None
    for path, text, item in parsed:
        for name, channel in item.channels.items():
            if name in channels:
                problems.append(
                    f"{where(path, text, ['channels', name])}: channels.{name}: channel {name!r} is "
                    f"already defined in {channel_file[name]}"
                )
                continue
            channels[name], channel_file[name] = channel, path
        if item.business_hours is not None:
            if hours is not None:
                problems.append(
                    f"{where(path, text, ['business_hours'])}: business_hours: already defined in "
                    f"{hours_file}; the folder has one set of business hours"
                )
            else:
                hours, hours_file = item.business_hours, path
    alerts: list[RunFailedAlert | RunLateAlert | NoSuccessAlert | DoneByAlert] = []
    alert_file: dict[str, Path] = {}
    for path, text, item in parsed:
        for index, alert in enumerate(item.alerts):
            if alert.name in alert_file:
                problems.append(
                    f"{where(path, text, ['alerts', index, 'name'])}: alerts[{index}].name: alert "
                    f"{alert.name!r} is already defined in {alert_file[alert.name]}"
                )
                continue
            for position, channel_name in enumerate(alert.notify):
                if channel_name not in channels:
                    known = ", ".join(sorted(channels)) or "none is defined"
                    problems.append(
                        f"{where(path, text, ['alerts', index, 'notify', position])}: "
                        f"alerts[{index}].notify[{position}]: unknown channel {channel_name!r} "
                        f"(channels: {known})"
                    )
            if isinstance(alert, NoSuccessAlert) and alert.business_hours_only and hours is None:
                problems.append(
                    f"{where(path, text, ['alerts', index, 'business_hours_only'])}: "
                    f"alerts[{index}]: counts business hours only, but no file defines business_hours "
                    "(add them, or set business_hours_only: false)"
                )
            alert_file[alert.name] = path
            alerts.append(alert)
    if problems:
        raise ConfigFileError(str(folder), problems)
    return AlertsConfig(channels=channels, business_hours=hours, alerts=alerts, files=alert_file)


#: Where the alert files live in the project folder.
DEFAULT_FOLDER = Path("config/automations")


def load_project_alerts(root: Path, folder: Path | None = None) -> AlertsConfig:
    """The project's alert files (default ``config/automations``), checked against its prefect.yaml."""
    return load_alerts(
        folder if folder is not None else root / DEFAULT_FOLDER, deployment_names(root / "prefect.yaml")
    )
