"""The group-buy runtime (gateway, live layer) as its resolvers reach it.

The app's lifespan opens one per process; the shared GraphQL context knows no
domain, so the resolvers that need it find it here.
"""

from __future__ import annotations

from pintuan.graphql.context import Info
from pintuan.groupbuys.runtime import Runtime


def runtime_of(info: Info) -> Runtime:
    runtime: Runtime = info.context.request.app.state.runtime
    return runtime
