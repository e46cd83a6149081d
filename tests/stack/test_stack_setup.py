"""``stack setup`` refuses what it cannot do in one line before it touches anything (no server needed).

The checks against a real server (wrong password, anonymous calls refused, the whole setup) are in
test_production_stack.py.
"""

from __future__ import annotations

import socket

import pytest

from deployments.stack import StackError, check_api, deployment_names, prefect_yaml, setup, work_pools_of


def test_every_deployment_of_prefect_yaml_is_known_with_its_pool() -> None:
    config = prefect_yaml()
    names = deployment_names(config)
    assert {"order-processing", "gateway-drain", "housekeeping"} <= set(names)
    assert work_pools_of(config, names) == {"jtl-process": "process"}
    assert work_pools_of(config, []) == {}


def test_an_unknown_deployment_is_named_with_the_known_ones() -> None:
    with pytest.raises(
        StackError, match=r"no deployment named order-procesing in prefect.yaml \(known: .*order-processing"
    ):
        setup(["order-procesing"])


def test_without_an_api_url_it_says_which_variable() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Unset even inside a session whose flow tests started the Prefect test harness.
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(StackError) as raised:
        setup(["order-processing"])
    assert str(raised.value) == (
        "PREFECT_API_URL is not set: point it at the Prefect server's API, e.g. http://127.0.0.1:4200/api"
    )


def test_an_api_that_does_not_answer_is_one_line() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    with pytest.raises(StackError, match=rf"^the Prefect API at {url} did not answer within 0 s$"):
        check_api(url, "admin:x", wait_seconds=0)
