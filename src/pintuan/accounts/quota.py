"""Which rate-limit bucket a request spends from, over HTTP and WebSocket alike."""

from __future__ import annotations

from pintuan.accounts.viewer import Viewer
from pintuan.settings import Settings


def rate_bucket(viewer: Viewer, client_ip: str, settings: Settings) -> tuple[str, int]:
    """The bucket and its refill per minute: an API key's, else a user's, else the IP's."""
    if viewer.api_key is not None:
        return f"key:{viewer.api_key.id}", settings.rate_limit_key_per_minute
    if viewer.user is not None:
        return f"user:{viewer.user.id}", settings.rate_limit_ip_per_minute
    return f"ip:{client_ip}", settings.rate_limit_ip_per_minute
