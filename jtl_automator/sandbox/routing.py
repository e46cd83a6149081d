"""Routes declared beside their module-level handlers, mounted later on a router built for one state.

FastAPI's decorators need a router at import time, but each sandbox router is built per state: its route
class binds that state to every request (for :data:`~jtl_automator.sandbox.state.StateDep`) and runs the
API's own checks first. A :class:`RouteTable` records path, methods and handler in declaration order and
:meth:`RouteTable.mount` adds them to such a router, exactly as ``@router.get(...)`` would have.
Routers without checks of their own use :func:`bound_route_class`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from jtl_automator.sandbox.state import RouteHandler, SandboxState, bind

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class _Route:
    path: str
    endpoint: Callable[..., Any]
    methods: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


class RouteTable:
    """An ordered list of routes; the order matters where Starlette would match two of them."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def route(self, path: str, *methods: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Register the decorated handler for ``methods`` on ``path`` (options as for ``add_api_route``)."""

        def register(endpoint: Endpoint) -> Endpoint:
            self._routes.append(_Route(path, endpoint, methods, options))
            return endpoint

        return register

    def get(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """``@table.get(path)``, like ``@router.get(path)``."""
        return self.route(path, "GET", **options)

    def post(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """``@table.post(path)``, like ``@router.post(path)``."""
        return self.route(path, "POST", **options)

    def put(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """``@table.put(path)``, like ``@router.put(path)``."""
        return self.route(path, "PUT", **options)

    def patch(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """``@table.patch(path)``, like ``@router.patch(path)``."""
        return self.route(path, "PATCH", **options)

    def delete(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """``@table.delete(path)``, like ``@router.delete(path)``."""
        return self.route(path, "DELETE", **options)

    def mount(self, router: APIRouter) -> None:
        """Add every route to ``router`` (with its route class) in declaration order."""
        for route in self._routes:
            router.add_api_route(route.path, route.endpoint, methods=list(route.methods), **route.options)


def bound_route_class(state: SandboxState) -> type[APIRoute]:
    """A route class that only binds ``state`` to each request, for routers without a guard of their own."""

    class BoundRoute(APIRoute):
        """Hands the router's state to the handler's StateDep parameters."""

        def get_route_handler(self) -> RouteHandler:
            handler = super().get_route_handler()

            async def bound(request: Request) -> Response:
                bind(request, state)
                return await handler(request)

            return bound

    return BoundRoute
