"""The alert files: a good folder loads; every mistake is named with its file, line and field."""

from __future__ import annotations

import textwrap
from datetime import time, timedelta
from pathlib import Path

import pytest

from jtl_automator.alerts.config import (
    DoneByAlert,
    NoSuccessAlert,
    RunFailedAlert,
    RunLateAlert,
    deployment_names,
    load_alerts,
    load_project_alerts,
    parse_alerts_file,
    parse_clock,
    parse_days,
    parse_duration,
)
from jtl_automator.yaml_config import ConfigFileError

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = ["order-processing", "inbound-verification-daily", "stock-sync", "sla-check"]

GOOD = """\
channels:
  ops-email: {type: email, smtp_block: smtp, to: [ops@shop.example]}
  ops-webhook: {type: webhook, webhook_block: alerts-webhook}
business_hours:
  timezone: Europe/Berlin
  days: mon-fri
  start: "08:00"
  end: "18:00"
alerts:
  - name: run-failed
    kind: run-failed
    deployments: all
    repeat_after: 30m
    notify: [ops-email, ops-webhook]
  - name: run-late
    kind: run-late
    deployments: [order-processing, stock-sync]
    late_by: 15m
    notify: [ops-email]
  - name: order-processing-stale
    kind: no-success
    deployment: order-processing
    window: 30m
    notify: [ops-webhook]
  - name: inbound-verification-overdue
    kind: done-by
    deployment: inbound-verification-daily
    deadline: "09:00"
    notify: [ops-email]
"""


def _problems(text: str, source: str = "alerts.yaml") -> list[str]:
    with pytest.raises(ConfigFileError) as caught:
        parse_alerts_file(text, DEPLOYMENTS, source=source)
    return caught.value.problems


def _folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def test_a_good_file_gives_every_kind_with_its_values() -> None:
    parsed = parse_alerts_file(GOOD, DEPLOYMENTS, source="alerts.yaml")
    failed, late, stale, overdue = parsed.alerts
    assert isinstance(failed, RunFailedAlert) and failed.deployments == "all"
    assert failed.repeat_after == timedelta(minutes=30) and failed.states == ("Failed", "Crashed")
    assert isinstance(late, RunLateAlert) and late.late_by == timedelta(minutes=15)
    assert (
        isinstance(stale, NoSuccessAlert)
        and stale.window == timedelta(minutes=30)
        and stale.business_hours_only
    )
    assert (
        isinstance(overdue, DoneByAlert)
        and overdue.deadline == time(9, 0)
        and overdue.days == (0, 1, 2, 3, 4)
    )
    assert parsed.business_hours is not None and parsed.business_hours.end == time(18, 0)


def test_the_shipped_files_are_valid_against_the_projects_prefect_yaml() -> None:
    config = load_project_alerts(ROOT)
    kinds = {a.kind for a in config.alerts}
    assert kinds == {"run-failed", "run-late", "no-success", "done-by"}
    assert {a.name for a in config.sla_alerts()} == {"order-processing-stale", "inbound-verification-overdue"}
    assert "sla-check" in deployment_names(ROOT / "prefect.yaml")


def test_malformed_yaml_is_named_with_its_line() -> None:
    broken = GOOD.replace("    late_by: 15m\n", "    late_by: [15m\n")
    problems = _problems(broken)
    assert len(problems) == 1 and problems[0].startswith("alerts.yaml:19: not valid YAML")


def test_an_unknown_deployment_is_named_with_its_line_and_the_known_ones() -> None:
    text = GOOD.replace("[order-processing, stock-sync]", "[order-processing, stock-synk]").replace(
        "deployment: inbound-verification-daily", "deployment: inbound-check"
    )
    assert _problems(text) == [
        "alerts.yaml:17: alerts[1].deployments[1]: unknown deployment 'stock-synk'; prefect.yaml has: "
        "order-processing, inbound-verification-daily, stock-sync, sla-check",
        "alerts.yaml:27: alerts[3].deployment: unknown deployment 'inbound-check'; prefect.yaml has: "
        "order-processing, inbound-verification-daily, stock-sync, sla-check",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("15", "15 has no unit: write 15m (minutes), 15s or 15h"),
        ("15 minutes", "'15 minutes' is not a duration"),
        ("m", "'m' is not a duration"),
        ("-5m", "'-5m' is not a duration"),
        ("5s", "must be at least 10s"),
    ],
)
def test_a_bad_duration_is_named_with_its_line(value: str, message: str) -> None:
    problems = _problems(GOOD.replace("late_by: 15m", f"late_by: {value}"))
    assert len(problems) == 1 and problems[0].startswith("alerts.yaml:18: alerts[1].late_by: ")
    assert message in problems[0]


def test_durations_times_and_days_read_as_people_write_them() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90) and parse_duration("2d") == timedelta(days=2)
    assert parse_duration(" 45 s ") == timedelta(seconds=45) and parse_duration("0s") == timedelta(0)
    assert parse_clock("9:05") == time(9, 5)
    assert parse_days("mon-wed, fri") == (0, 1, 2, 4) and parse_days(["sat", "sun"]) == (5, 6)
    assert parse_days("daily") == tuple(range(7))
    for bad in ("fri-mon", "weekdays", ""):
        with pytest.raises(ValueError):
            parse_days(bad)
    for bad_time in ("24:00", "9", "09:60"):
        with pytest.raises(ValueError):
            parse_clock(bad_time)


def test_an_unquoted_time_says_to_quote_it() -> None:
    problems = _problems(GOOD.replace('deadline: "09:00"', "deadline: 10:30"))
    assert problems == [
        'alerts.yaml:28: alerts[3].deadline: Value error, write the time in quotes ("10:30"): unquoted, '
        "YAML reads 10:30 as the number 630"
    ]


def test_business_hours_must_end_after_they_start_and_name_a_real_zone() -> None:
    problems = _problems(GOOD.replace("Europe/Berlin", "Europe/Bielefeld"))
    assert problems == [
        "alerts.yaml:5: business_hours.timezone: Value error, 'Europe/Bielefeld' is not a time zone "
        "(like Europe/Berlin)"
    ]
    problems = _problems(GOOD.replace('end: "18:00"', 'end: "07:00"'))
    assert problems == [
        "alerts.yaml:5: business_hours: Value error, end must be after start (business hours over midnight "
        "are not supported)"
    ]


def test_an_unknown_key_and_kind_say_what_is_allowed() -> None:
    problems = _problems(GOOD.replace("    window: 30m\n", "    windw: 30m\n"))
    assert problems == [
        "alerts.yaml:23: alerts[2].windw: Extra inputs are not permitted; allowed here: name, description, "
        "enabled, notify, kind, deployment, window, business_hours_only, repeat_after"
    ]
    problems = _problems(GOOD.replace("kind: done-by", "kind: done-before"))
    assert len(problems) == 1
    assert problems[0].startswith("alerts.yaml:25: alerts[3]: Input tag 'done-before' found using 'kind'")


def test_a_bad_channel_and_a_bad_name_are_refused() -> None:
    text = GOOD.replace("to: [ops@shop.example]", "to: [ops at shop]").replace(
        "name: run-late", "name: Run Late"
    )
    problems = _problems(text)
    assert problems == [
        "alerts.yaml:2: channels.ops-email.to: Value error, 'ops at shop' is not one e-mail address",
        "alerts.yaml:15: alerts[1].name: Value error, 'Run Late': use lowercase letters, digits and dashes "
        "(at most 63)",
    ]


def test_a_folder_reads_all_files_and_checks_names_across_them(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        **{
            "a.yaml": GOOD,
            "b.yaml": """\
                channels:
                  ops-email: {type: email, to: [x@shop.example]}
                business_hours: {days: mon-sat}
                alerts:
                  - {name: run-late, kind: run-late, notify: [ops-email]}
                  - {name: stock-failed, kind: run-failed, deployments: [stock-sync], notify: [pager]}
            """,
        },
    )
    with pytest.raises(ConfigFileError) as caught:
        load_alerts(folder, DEPLOYMENTS)
    b = folder / "b.yaml"
    assert caught.value.problems == [
        f"{b}:2: channels.ops-email: channel 'ops-email' is already defined in {folder / 'a.yaml'}",
        f"{b}:3: business_hours: already defined in {folder / 'a.yaml'}; the folder has one set of "
        "business hours",
        f"{b}:5: alerts[0].name: alert 'run-late' is already defined in {folder / 'a.yaml'}",
        f"{b}:6: alerts[1].notify[0]: unknown channel 'pager' (channels: ops-email, ops-webhook)",
    ]


def test_a_folder_splits_channels_and_alerts_over_files(tmp_path: Path) -> None:
    channels, _, alerts = GOOD.partition("alerts:\n")
    folder = _folder(tmp_path, **{"00-channels.yaml": channels, "10-alerts.yml": "alerts:\n" + alerts})
    (tmp_path / ".draft.yaml").write_text("not: [valid")
    config = load_alerts(folder, DEPLOYMENTS)
    assert [a.name for a in config.alerts][:2] == ["run-failed", "run-late"]
    assert config.files["run-late"] == folder / "10-alerts.yml" and set(config.channels) == {
        "ops-email",
        "ops-webhook",
    }


def test_business_hours_only_needs_business_hours_and_an_empty_folder_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        'business_hours:\n  timezone: Europe/Berlin\n  days: mon-fri\n  start: "08:00"\n  end: "18:00"\n', ""
    )
    (tmp_path / "one").mkdir()
    folder = _folder(tmp_path / "one", **{"alerts.yaml": text})
    with pytest.raises(ConfigFileError) as caught:
        load_alerts(folder, DEPLOYMENTS)
    assert caught.value.problems == [
        f"{folder / 'alerts.yaml'}:15: alerts[2]: counts business hours only, but no file defines "
        "business_hours (add them, or set business_hours_only: false)"
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigFileError, match="no alert files"):
        load_alerts(tmp_path / "empty", DEPLOYMENTS)
    with pytest.raises(ConfigFileError, match="no such folder"):
        load_alerts(tmp_path / "missing", DEPLOYMENTS)
