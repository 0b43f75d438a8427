"""The shared response cache for public reads, keyed by what can change an answer.

A query's key is its document, operation, variables and audience. The audience is
who may see what: every viewer with the public's rights shares one (the anonymous,
customers, publishable keys); merchant staff, secret keys and admins each share only
with viewers of the same rights; a PRIVATE response is its one viewer's, and is not
cached for the anonymous at all. A stored response carries the tags of the objects it
was built from (``core.cache_tags``); a mutation's writes are purged once it returns,
so the next read, on any process sharing the store, computes afresh (work outside
requests purges through the runtime's ``purge``, on the same store). A purge that
fails is logged and the write still succeeds: the entries' ages bound the staleness.
An answer that changes by the clock is kept no longer than until it does. Only
answers without errors are stored.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import orjson
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from pintuan.accounts.viewer import Viewer
from pintuan.core import cache_tags
from pintuan.graphql.cache_hints import CacheScope
from pintuan.graphql.cache_policy import Policies, Policy
from pintuan.live.response_store import ResponseStore, purge_quietly

log = logging.getLogger("pintuan.cache")


class CacheStatus(StrEnum):
    HIT = "HIT"
    MISS = "MISS"
    BYPASS = "BYPASS"  # not cacheable: a mutation, an uncacheable field, or the cache is off


@dataclass(frozen=True, slots=True)
class Outcome:
    status: CacheStatus
    policy: Policy | None = None
    shared: bool = False  # the public's answer, which a CDN may keep for everyone
    age: int = 0
    etag: str | None = None
    data: bytes | None = None  # the answer's ``data``, encoded: a hit is never decoded

    def report(self) -> dict[str, object]:
        """For a debug response's ``extensions``."""
        report: dict[str, object] = {"status": self.status.value, "age": self.age}
        if self.policy is not None:
            report["maxAge"] = self.policy.max_age
            report["scope"] = self.policy.scope.value
        return report


BYPASS = Outcome(CacheStatus.BYPASS)
PUBLIC = "public"
# In every key: entries another version stored (a rolling deploy shares Redis) in
# another layout are never read.
ENTRY_FORMAT = 2


def audience(viewer: Viewer, scope: CacheScope) -> str | None:
    """Whose answer this is; None when it must not be cached."""
    if scope is CacheScope.PRIVATE:
        if viewer.user is not None:
            return f"user:{viewer.user.id}"
        if viewer.api_key is not None:
            return f"key:{viewer.api_key.id}"
        return None
    if viewer.is_admin:
        return "admin"
    manages = sorted(viewer.staff_of)
    if viewer.is_secret_key and viewer.api_key is not None:
        manages = sorted({*manages, viewer.api_key.merchant_id or 0})
    return PUBLIC if not manages else "manages:" + ",".join(map(str, manages))


def etag_of(body: bytes) -> str:
    return f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


@dataclass(frozen=True, slots=True)
class _Plan:
    key: str
    policy: Policy
    shared: bool


class ResponseCache:
    def __init__(self, store: ResponseStore | None, policies: Policies) -> None:
        self.store = store  # None: the cache is off
        self.policies = policies

    def _plan(self, data: GraphQLRequestData, viewer: Viewer) -> _Plan | None:
        if self.store is None or data.query is None:
            return None
        policy = self.policies.of(data.query, data.operation_name)
        if policy is None:
            return None
        who = audience(viewer, policy.scope)
        if who is None:
            return None
        try:
            raw = orjson.dumps(
                [ENTRY_FORMAT, data.query, data.operation_name, data.variables or {}, who],
                option=orjson.OPT_SORT_KEYS,
            )
        except orjson.JSONEncodeError:  # text no answer may hold; execution refuses it
            return None
        return _Plan(hashlib.sha256(raw).hexdigest(), policy, who == PUBLIC)

    async def serve(
        self,
        data: GraphQLRequestData,
        viewer: Viewer,
        execute: Callable[[], Awaitable[ExecutionResult]],
    ) -> tuple[ExecutionResult, Outcome]:
        plan = self._plan(data, viewer)
        if plan is None or self.store is None:
            result, _ = await self._computed(execute)
            return result, BYPASS
        try:
            lookup = await self.store.get(plan.key)
        except Exception:  # a store that is down costs a computed answer, never a request
            log.warning("response cache lookup failed", exc_info=True)
            return await execute(), BYPASS
        if lookup.value is not None:
            stored_at, stored_age, stored_etag, stored = lookup.value.split(b"\n", 3)
            age = max(0, int(time.time() - float(stored_at)))
            log.debug("response cache HIT age=%d", age)
            policy = _within(plan.policy, int(stored_age))
            outcome = Outcome(
                CacheStatus.HIT, policy, plan.shared, age, stored_etag.decode(), stored
            )
            return ExecutionResult(data=None, errors=None), outcome
        result, tracked = await self._computed(execute)
        if result.errors or result.data is None:
            return result, BYPASS
        now = time.time()
        policy = _within(plan.policy, _seconds_until(tracked.changes_at, now))
        if policy.max_age <= 0:  # it changes by the clock within the second
            return result, BYPASS
        body = orjson.dumps(result.data)
        etag = etag_of(body)
        value = b"%.3f\n%d\n%s\n%s" % (now, policy.max_age, etag.encode(), body)
        try:
            kept = await self.store.put(
                plan.key, value, policy.max_age, tracked.reads, lookup.clock_ms
            )
        except Exception:
            log.warning("response cache store failed", exc_info=True)
            kept = False
        log.debug("response cache MISS stored=%s tags=%d", kept, len(tracked.reads))
        return result, Outcome(CacheStatus.MISS, policy, plan.shared, 0, etag, body)

    async def _computed(
        self, execute: Callable[[], Awaitable[ExecutionResult]]
    ) -> tuple[ExecutionResult, cache_tags.Tracked]:
        """The answer computed afresh, what it read, and what it wrote purged."""
        with cache_tags.tracking() as tracked:
            result = await execute()
        await self.purge(tracked.writes)
        return result, tracked

    async def purge(self, tags: set[str]) -> None:
        await purge_quietly(self.store, tags)


def _seconds_until(moment: datetime | None, now: float) -> int | None:
    return None if moment is None else int(moment.timestamp() - now)


def _within(policy: Policy, seconds: int | None) -> Policy:
    """The policy, its age cut to ``seconds`` when those are fewer."""
    if seconds is None or seconds >= policy.max_age:
        return policy
    return replace(policy, max_age=max(0, seconds))


def headers(outcome: Outcome) -> dict[str, str]:
    """What tells browsers and CDNs how long to keep the answer, and on what it varies."""
    values = {"Vary": "Accept, Authorization, Origin, X-Pintuan-Key", "X-Cache": outcome.status}
    policy = outcome.policy
    if policy is None:
        values["Cache-Control"] = "no-store"
        return values
    scope = "public" if outcome.shared else "private"
    values["Cache-Control"] = f"{scope}, max-age={policy.max_age}"
    values["Age"] = str(outcome.age)
    if outcome.etag is not None:
        values["ETag"] = outcome.etag
    return values
