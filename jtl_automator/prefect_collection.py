"""Prefect collection entry point: makes the project's block classes known to any Prefect process.

A Prefect process that meets a block document by its type slug (the server running an automation's
``send-notification`` action with an ``EmailAlert``, a worker loading a block generically) looks the
class up in its registry. Prefect imports every ``prefect.collections`` entry point first, and
``pyproject.toml`` declares this module as one, so installing jtl-automator where the server runs is
enough. The block classes live in the project folder's ``blocks`` package (not installed, see
:mod:`jtl_automator.project`): the folder is found as the command line finds it (``JTL_AUTOMATOR_HOME``,
the working directory, or an editable install's checkout). If it is not found, Prefect prints one
warning naming this entry point and the reason, and every other block still works.
"""

from jtl_automator.project import use_project_shell

use_project_shell()

import blocks  # noqa: E402,F401  (importing registers the block classes with Prefect)
