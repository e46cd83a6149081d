"""The installed distribution holds only ``jtl_automator``; the shell is found in the project folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jtl_automator.cli import app
from jtl_automator.project import HOME_VARIABLE, ProjectNotFound, project_root, use_project_shell

ROOT = Path(__file__).resolve().parent.parent


def test_the_project_is_found_from_its_folder_or_from_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HOME_VARIABLE, raising=False)
    monkeypatch.chdir(ROOT)
    assert project_root() == ROOT
    monkeypatch.chdir(tmp_path)  # elsewhere: the checkout this package runs from
    assert project_root() == ROOT
    monkeypatch.setenv(HOME_VARIABLE, str(ROOT))
    assert project_root() == ROOT


def test_a_wrong_home_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_VARIABLE, str(tmp_path))
    with pytest.raises(ProjectNotFound, match=f"{HOME_VARIABLE}=.*prefect.yaml.*point it at your checkout"):
        project_root()
    result = CliRunner().invoke(app, ["run", "connectivity-check"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("Error: JTL_AUTOMATOR_HOME=")


def test_the_shell_comes_first_on_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_VARIABLE, str(ROOT))
    monkeypatch.setattr(sys, "path", ["/elsewhere", *sys.path])
    assert use_project_shell() == ROOT and sys.path[0] == str(ROOT)


@pytest.mark.slow
def test_the_wheel_ships_only_the_core_with_its_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("jtl_automator-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"jtl_automator", wheel.name.split("-py")[0] + ".dist-info"}
    assert any(n.startswith("jtl_automator/store/migrations/versions/") for n in names)
    assert any(n.startswith("jtl_automator/sandbox/specs/") for n in names)
