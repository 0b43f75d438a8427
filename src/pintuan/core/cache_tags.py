"""What a request read and wrote, as cache tags, so cached responses purge by entity.

A tag names one object (``Product:12``) or one kind of list (``Product:list``). The
objects a response is built from are recorded as it is computed, and stored with it;
a mutation records what it wrote, and those tags are purged once it has committed.
Work that changes rows outside a request (the expiry scheduler and sweep, payment
webhooks, the outbox consumer) runs inside ``purging``, which purges what it wrote
once the block's transactions have committed. Outside both, recording is a no-op, so
services need not know about caching. An answer that changes by the clock alone (an
offer that starts or ends) records when with ``changes_at``; its stored age stops
there. The records live in context variables and are mutated, never replaced, so
DataLoader batches (which run in tasks copying the request's context) record into
them too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from pintuan.core.ids import NodeType

# Purges the entries that carry any of the tags; never raises (a purge that fails must
# not fail the write it follows: ages bound the staleness).
Purge = Callable[[set[str]], Awaitable[None]]


def entity(node_type: NodeType, pk: int) -> str:
    return f"{node_type}:{pk}"


def listing(node_type: NodeType, kind: str = "list") -> str:
    """Lists of a type whose membership or order a write can change; ``kind`` narrows
    them, so a write that only changes what search matches spares the other lists."""
    return f"{node_type}:{kind}"


def read(tag: str) -> None:
    tracked = _tracked.get()
    if tracked is not None:
        tracked.reads.add(tag)


def wrote(*tags: str) -> None:
    tracked = _tracked.get()
    if tracked is not None:
        tracked.writes.update(tags)


def changes_at(moment: datetime) -> None:
    """What is being read changes by itself at ``moment`` (no write will purge it)."""
    tracked = _tracked.get()
    if tracked is not None and (tracked.changes_at is None or moment < tracked.changes_at):
        tracked.changes_at = moment


@dataclass(slots=True)
class Tracked:
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    changes_at: datetime | None = None


_tracked: ContextVar[Tracked | None] = ContextVar("pintuan_cache_tracked", default=None)


@contextmanager
def tracking() -> Iterator[Tracked]:
    tracked = Tracked()
    token = _tracked.set(tracked)
    try:
        yield tracked
    finally:
        _tracked.reset(token)


@asynccontextmanager
async def purging(purge: Purge | None) -> AsyncIterator[None]:
    """Writes made in the block are purged when it ends, even by an error (what
    committed before it stands). Wrap whole units of work, so the purge follows
    their commits. Inside a request or another such block, that one purges."""
    if _tracked.get() is not None or purge is None:
        yield
        return
    tracked = Tracked()
    token = _tracked.set(tracked)
    try:
        yield
    finally:
        _tracked.reset(token)
        if tracked.writes:
            await purge(tracked.writes)
