"""Where the Prefect shell lives: the project folder with flows/, tasks/, blocks/ and deployments/.

The installed distribution holds only the ``jtl_automator`` package. The shell's folders keep the design
card's generic names in the repository, and installing packages called ``flows`` or ``tasks`` into
site-packages would clash with other projects; so they are loaded from the project folder, the way
Prefect itself loads a deployment's entrypoints from its working directory. The command line finds that
folder here: ``JTL_AUTOMATOR_HOME``, else the current directory, else the checkout this package was
installed from (an editable install).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SHELL_PACKAGES = ("flows", "tasks", "blocks", "deployments")
HOME_VARIABLE = "JTL_AUTOMATOR_HOME"


class ProjectNotFound(RuntimeError):
    """No folder with the Prefect shell was found; the message says where we looked and what to do."""


def _is_project(folder: Path) -> bool:
    return (folder / "prefect.yaml").is_file() and all(
        (folder / name / "__init__.py").is_file() for name in SHELL_PACKAGES
    )


def project_root() -> Path:
    """The project folder (see the module docstring for the order in which places are tried)."""
    home = os.environ.get(HOME_VARIABLE)
    if home:
        folder = Path(home).expanduser().resolve()
        if _is_project(folder):
            return folder
        raise ProjectNotFound(
            f"{HOME_VARIABLE}={home} is not a jtl-automator project folder (it needs prefect.yaml and "
            f"{', '.join(f'{n}/' for n in SHELL_PACKAGES)}); point it at your checkout"
        )
    candidates = [Path.cwd().resolve(), Path(__file__).resolve().parent.parent]
    for folder in candidates:
        if _is_project(folder):
            return folder
    raise ProjectNotFound(
        f"no jtl-automator project folder here ({Path.cwd()}): run the command in your checkout of "
        f"jtl-automator or set {HOME_VARIABLE} to it"
    )


def use_project_shell() -> Path:
    """Put the project folder first on ``sys.path`` so ``import flows`` finds the project's flows."""
    root = project_root()
    path = str(root)
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)
    for name in SHELL_PACKAGES:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module is not None else None
        if origin is not None and not Path(origin).resolve().is_relative_to(root):
            raise ProjectNotFound(
                f"a different package named {name!r} is already imported ({origin}); "
                f"run jtl-automator from its own environment"
            )
    return root
