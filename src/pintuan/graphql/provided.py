"""Fields of a lower domain's type that a domain above it answers.

Imports run one way between domains, so a type cannot call into a domain above
its own. It declares the field (typing the answer with ``strawberry.lazy``) and
resolves it through a named provider, which the higher domain registers when it
is imported. The schema assembly imports every domain and then checks that each
declared provider exists, so a missing one stops the server at start-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

Provider = Callable[..., Awaitable[Any]]
P = TypeVar("P", bound=Provider)

_providers: dict[str, Provider] = {}
_declared: set[str] = set()


def declare(name: str) -> Provider:
    """A stand-in for the provider of ``name``, for the declaring type to call."""
    _declared.add(name)

    async def call(*args: Any, **kwargs: Any) -> Any:
        return await _providers[name](*args, **kwargs)

    return call


def provide(name: str) -> Callable[[P], P]:
    def register(provider: P) -> P:
        _providers[name] = provider
        return provider

    return register


def missing() -> set[str]:
    """Declared fields no imported domain provides."""
    return _declared - _providers.keys()
