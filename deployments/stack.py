"""``jtl-automator stack setup``: one idempotent step that readies a Prefect server for this project.

The same step on bare metal, in the compose file's one-shot ``setup`` service and in a Kubernetes job:
check that the API answers and refuses anonymous calls, migrate the state database, create the work
pools ``prefect.yaml`` names, save the blocks from the ``JTL_*`` environment (the only place the secrets
pass through; the workers never see them) and register the deployments with the real ``prefect deploy``.
Running it again changes nothing that is already right; new deployments and rotated secrets are applied.
See docs/production.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from jtl_automator.project import HOME_VARIABLE, project_root

#: How long ``setup`` waits for a server that is still starting (compose starts everything at once).
API_WAIT_SECONDS = 120.0


class StackError(RuntimeError):
    """A setup step failed; the message is one line naming what to fix (never a secret)."""


@dataclass
class SetupReport:
    """What ``setup`` found and did, in the order it did it."""

    api_url: str
    anonymous_refused: bool
    state_database: str = ""
    work_pools: dict[str, str] = field(default_factory=dict)
    blocks: dict[str, str] = field(default_factory=dict)
    deployments: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as the command prints it."""
        auth = (
            "refuses calls without credentials" if self.anonymous_refused else "ANSWERS WITHOUT CREDENTIALS"
        )
        out = [f"prefect api      {self.api_url} ({auth})"]
        if self.state_database:
            out.append(f"state database   {self.state_database} (migrated)")
        out += [f"work pool        {name}: {what}" for name, what in self.work_pools.items()]
        out += [f"block            {name}: {what}" for name, what in self.blocks.items()]
        out += [f"deployment       {name}" for name in self.deployments]
        return out


def prefect_yaml(root: Path | None = None) -> dict[str, Any]:
    """The project's ``prefect.yaml`` as data."""
    path = (root or project_root()) / "prefect.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def deployment_names(config: dict[str, Any]) -> list[str]:
    """Every deployment name in ``prefect.yaml``, in file order."""
    return [str(d["name"]) for d in config.get("deployments") or []]


def work_pools_of(config: dict[str, Any], names: Sequence[str]) -> dict[str, str]:
    """Pool name -> type for the named deployments (``process`` unless the YAML says otherwise)."""
    pools: dict[str, str] = {}
    for deployment in config.get("deployments") or []:
        pool = deployment.get("work_pool") or {}
        if deployment["name"] in names and pool.get("name"):
            pools[str(pool["name"])] = str(pool.get("type") or "process")
    return pools


def _api_settings() -> tuple[str, str | None]:
    from prefect.settings import get_current_settings

    api = get_current_settings().api
    url = api.url
    if not url:
        raise StackError(
            "PREFECT_API_URL is not set: point it at the Prefect server's API, e.g. http://127.0.0.1:4200/api"
        )
    secret = api.auth_string
    return str(url).rstrip("/"), secret.get_secret_value() if secret is not None else None


def check_api(url: str, auth_string: str | None, wait_seconds: float = API_WAIT_SECONDS) -> bool:
    """Wait until the API answers; True when it refuses anonymous calls, StackError when it refuses ours.

    ``/health`` stays open with auth on (load balancers probe it), so the anonymous probe reads work pools.
    """
    import time

    deadline = time.monotonic() + wait_seconds
    with httpx.Client(timeout=10) as http:
        while True:
            try:
                if http.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise StackError(f"the Prefect API at {url} did not answer within {wait_seconds:.0f} s")
            time.sleep(1.0)
        probe = f"{url}/work_pools/filter"
        anonymous = http.post(probe, json={"limit": 1})
        if auth_string is None:
            if anonymous.status_code == 401:
                raise StackError(
                    f"the Prefect API at {url} wants credentials: set PREFECT_API_AUTH_STRING to the "
                    "server's PREFECT_SERVER_API_AUTH_STRING (user:password)"
                )
            return False
        user, _, password = auth_string.partition(":")
        ours = http.post(probe, json={"limit": 1}, auth=(user, password))
        if ours.status_code == 401:
            raise StackError(
                f"the Prefect API at {url} refused PREFECT_API_AUTH_STRING: it must equal the server's "
                "PREFECT_SERVER_API_AUTH_STRING"
            )
        ours.raise_for_status()
        return anonymous.status_code == 401


def ensure_work_pools(pools: dict[str, str]) -> dict[str, str]:
    """Create the pools that are missing; a pool of another type is an error (workers would not fit)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    outcome: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        for name, pool_type in pools.items():
            try:
                pool = client.read_work_pool(name)
            except ObjectNotFound:
                try:
                    client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))
                    outcome[name] = f"created ({pool_type})"
                    continue
                except ObjectAlreadyExists:  # a worker starting at the same moment created it
                    pool = client.read_work_pool(name)
            if pool.type != pool_type:
                raise StackError(
                    f"work pool {name} exists with type {pool.type}, prefect.yaml needs {pool_type}: "
                    "delete it or rename the pool in prefect.yaml"
                )
            outcome[name] = f"exists ({pool_type})"
    return outcome


def migrate_state_database() -> str:
    """Bring the state database (``JTL_DATABASE_URL``) to the code's schema; its URL without password."""
    from sqlalchemy.engine import make_url

    from jtl_automator.settings import get_settings
    from jtl_automator.store import open_store

    url = get_settings().database_url
    open_store(url).dispose()  # opening migrates; a schema newer than the code refuses (SchemaTooNew)
    return make_url(url).render_as_string(hide_password=True)


def deploy(root: Path, names: Sequence[str]) -> list[str]:
    """``prefect --no-prompt deploy --name …`` in the project folder (its pull step is this folder)."""
    command = [sys.executable, "-m", "prefect", "--no-prompt", "deploy"]
    for name in names:
        command += ["--name", name]
    env = {**os.environ, HOME_VARIABLE: os.environ.get(HOME_VARIABLE) or str(root)}
    done = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        command, cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        tail = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()][-3:]
        raise StackError(f"prefect deploy failed ({done.returncode}): {' | '.join(tail)}")
    return list(names)


def setup(
    deployments: Sequence[str] | None = None,
    *,
    blocks: bool = True,
    wait_seconds: float = API_WAIT_SECONDS,
) -> SetupReport:
    """Check the API, migrate, create the pools, save the blocks, deploy; see the module docstring."""
    root = project_root()
    config = prefect_yaml(root)
    known = deployment_names(config)
    chosen = list(deployments) if deployments else known
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise StackError(
            f"no deployment named {', '.join(unknown)} in prefect.yaml (known: {', '.join(known)})"
        )
    url, auth_string = _api_settings()
    report = SetupReport(url, check_api(url, auth_string, wait_seconds))
    report.state_database = migrate_state_database()
    report.work_pools = ensure_work_pools(work_pools_of(config, chosen))
    if blocks:
        from deployments.blocks import create_blocks

        report.blocks = create_blocks()
    report.deployments = deploy(root, chosen)
    return report
