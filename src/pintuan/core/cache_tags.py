"""What a request read and wrote, as cache tags, so cached responses purge by entity.

A tag names one object (``Product:12``) or one kind of list (``Product:list``). The
objects a response is built from are recorded as it is computed, and stored with it;
a mutation records what it wrote, and those tags are purged once it has committed.
Outside a tracked request both are no-ops, so services need not know about caching.
The sets live in context variables and are mutated, never replaced, so DataLoader
batches (which run in tasks copying the request's context) record into them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from pintuan.core.ids import NodeType

_reads: ContextVar[set[str] | None] = ContextVar("pintuan_cache_reads", default=None)
_writes: ContextVar[set[str] | None] = ContextVar("pintuan_cache_writes", default=None)


def entity(node_type: NodeType, pk: int) -> str:
    return f"{node_type}:{pk}"


def listing(node_type: NodeType, kind: str = "list") -> str:
    """Lists of a type whose membership or order a write can change; ``kind`` narrows
    them, so a write that only changes what search matches spares the other lists."""
    return f"{node_type}:{kind}"


def read(tag: str) -> None:
    reads = _reads.get()
    if reads is not None:
        reads.add(tag)


def wrote(*tags: str) -> None:
    writes = _writes.get()
    if writes is not None:
        writes.update(tags)


@dataclass(slots=True)
class Tracked:
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)


@contextmanager
def tracking() -> Iterator[Tracked]:
    tracked = Tracked()
    reads, writes = _reads.set(tracked.reads), _writes.set(tracked.writes)
    try:
        yield tracked
    finally:
        _reads.reset(reads)
        _writes.reset(writes)
