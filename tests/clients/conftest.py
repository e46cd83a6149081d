"""Shared helpers for client tests: the retry policy on fake time, and a recording transport."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from jtl_automator.resilience import RetryPolicy
from tests.support.clock import FakeClock, policy_on


@pytest.fixture
def policy(clock: FakeClock) -> RetryPolicy:
    """Real policy, fake time; jitter pinned to the ceiling so delays are predictable."""
    return policy_on(clock)


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """MockTransport handler replaying scripted answers (responses, exceptions, handlers); keeps requests."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def json_response(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)
