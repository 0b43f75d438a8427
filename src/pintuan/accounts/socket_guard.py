"""Closes signed-in WebSockets once their access token expires, their sign-in is
revoked, or their user loses a right they connected with.

A WebSocket is authenticated once, at ``connection_init``, but may stream for
hours. Every few seconds one task per process closes, with code 4401, the
sockets whose token has expired and those whose session (refresh-token
family) the database says was revoked, and with 4403 those whose user is no
longer staff of a merchant they were staff of. That is a query or two per
process per round, however many sockets it holds, and the database stays the
only truth, so a change made on any process, or a flushed Redis, is seen alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from starlette.websockets import WebSocket, WebSocketState

from pintuan.accounts import users
from pintuan.accounts.tokens import AccessClaims
from pintuan.accounts.viewer import Viewer
from pintuan.core.clock import now_utc

log = logging.getLogger("pintuan.auth")
UNAUTHENTICATED_CLOSE = 4401
FORBIDDEN_CLOSE = 4403


@dataclass(frozen=True, slots=True, eq=False)
class _Guarded:
    socket: WebSocket
    token: AccessClaims
    user_id: int
    staff_of: frozenset[int]


def _open(socket: WebSocket) -> bool:
    return WebSocketState.DISCONNECTED not in (socket.client_state, socket.application_state)


class SocketGuard:
    def __init__(self, check_seconds: float) -> None:
        self.check_seconds = check_seconds
        self._guarded: list[_Guarded] = []

    def guard(self, socket: WebSocket, viewer: Viewer) -> None:
        """Watch a socket signed in as ``viewer``; sockets without a user need no watch."""
        if viewer.token is not None and viewer.user is not None:
            self._guarded.append(_Guarded(socket, viewer.token, viewer.user.id, viewer.staff_of))

    @classmethod
    @asynccontextmanager
    async def running(cls, check_seconds: float) -> AsyncIterator[SocketGuard]:
        guard = cls(check_seconds)
        task = asyncio.create_task(guard._run(), name="socket-guard")
        try:
            yield guard
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                await self.check()
            except Exception:  # a failed round is retried next round; the sockets stay guarded
                log.warning("could not check the sessions of open WebSockets", exc_info=True)

    async def check(self) -> None:
        """One round: forget closed sockets, close the expired and the signed out."""
        self._guarded = [g for g in self._guarded if _open(g.socket)]
        this_round = list(self._guarded)
        if not this_round:
            return
        signed_out = await users.signed_out_sessions(g.token.session for g in this_round)
        staff = [g for g in this_round if g.staff_of]
        staff_now = await users.staff_merchant_ids_by_users([g.user_id for g in staff])
        lost_right = {g for g, now_of in zip(staff, staff_now, strict=True) if g.staff_of - now_of}
        now = now_utc()
        ended: dict[_Guarded, tuple[int, str]] = {}
        for guarded in this_round:
            if guarded.token.expires_at <= now:
                ended[guarded] = (UNAUTHENTICATED_CLOSE, "The access token expired; sign in again.")
            elif guarded.token.session in signed_out:
                ended[guarded] = (UNAUTHENTICATED_CLOSE, "This session was signed out.")
            elif guarded in lost_right:
                ended[guarded] = (FORBIDDEN_CLOSE, "You are no longer staff of a merchant.")
        self._guarded = [g for g in self._guarded if g not in ended]
        for guarded, (code, reason) in ended.items():
            await _close(guarded.socket, code, reason)


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    with suppress(RuntimeError):  # closed meanwhile by its client or its handler
        await socket.close(code=code, reason=reason)
