"""The referral tree: who is above whom, team sizes and sales, and binding a user
to an inviter without ever making a cycle.

``app_user.inviter_id`` is the truth; nodes and counters follow it. Everything
that changes a chain (a bind) takes the tree lock exclusively; everything that
reads a chain to count on it (a registration, a sale) takes it shared, so a
count always lands on the chain as it is when the count commits, and a bind
moves counts that no concurrent count is changing. SQLite serialises
transactions, so the lock is PostgreSQL's advisory lock and a no-op there.

Counters move with a subtree: when a user is bound elsewhere, what they and
their first two levels contribute to each old ancestor is taken off and put on
the new ones, so a counter always equals the sum over the current team.

``backfill`` repairs what the events never told: users from before the tree have
no node, and orders from before the outbox were never counted. It makes the
missing nodes and recounts every counter from the truth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise import connections
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from pintuan.accounts.models import User
from pintuan.core import outbox, sql, validation
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.groupbuys.events import ORDER_PAID, ORDER_REFUNDED
from pintuan.groupbuys.order_models import OrderStatus
from pintuan.referrals.models import TREE_DEPTH, BindSource, Rebind, ReferralNode, TeamCounter
from pintuan.referrals.plan_models import PlanMember
from pintuan.referrals.quotas import InviteQuotas

TREE_LOCK = 0x70696E74  # the advisory lock key every tree change shares
MAX_REASON = 500

Chain = list[int | None]  # ancestor ids, nearest first, TREE_DEPTH long


def check_depth(depth: int) -> int:
    if not 1 <= depth <= TREE_DEPTH:
        raise DomainError(ErrorCode.INVALID, f"Depth runs from 1 to {TREE_DEPTH}.", "depth")
    return depth


async def lock_tree(*, exclusive: bool) -> None:
    """Hold the tree lock until the current transaction ends."""
    if connections.get("default").capabilities.dialect != "postgres":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await sql.rows(f"SELECT {function}($1)", TREE_LOCK)


async def chain(user_id: int) -> Chain:
    """The user's ancestors from the truth, in one statement of primary-key reads."""
    rows = await sql.rows(
        'SELECT "u1"."inviter_id" AS "a1", "u2"."inviter_id" AS "a2", "u3"."inviter_id" AS "a3" '
        'FROM "app_user" AS "u1" LEFT JOIN "app_user" AS "u2" ON "u2"."id" = "u1"."inviter_id" '
        'LEFT JOIN "app_user" AS "u3" ON "u3"."id" = "u2"."inviter_id" WHERE "u1"."id" = $1',
        user_id,
    )
    if not rows:
        return [None] * TREE_DEPTH
    return [rows[0]["a1"], rows[0]["a2"], rows[0]["a3"]]


async def upline_ids(user_id: int, depth: int) -> list[int]:
    """Ancestor ids, nearest first, up to ``depth`` levels: by the node's columns, or
    from the truth while the user's registration is still being consumed."""
    rows = await sql.rows(
        'SELECT "ancestor_1_id" AS "a1", "ancestor_2_id" AS "a2", "ancestor_3_id" AS "a3" '
        'FROM "referral_node" WHERE "user_id" = $1',
        user_id,
    )
    ancestors = [rows[0]["a1"], rows[0]["a2"], rows[0]["a3"]] if rows else await chain(user_id)
    return [a for a in ancestors[:depth] if a is not None]


async def upline(user_id: int, depth: int) -> list[User]:
    """The ancestors themselves, nearest first, up to ``depth`` levels."""
    wanted = await upline_ids(user_id, depth)
    if not wanted:
        return []
    marks = ", ".join(f"${n}" for n in range(1, len(wanted) + 1))
    found = await sql.instances(User, f'SELECT * FROM "app_user" WHERE "id" IN ({marks})', *wanted)
    by_id = {user.id: user for user in found}
    return [by_id[a] for a in wanted if a in by_id]


@dataclass(frozen=True, slots=True)
class TeamLevel:
    level: int
    members: int
    sales: int


async def team_summary(user_id: int, depth: int) -> list[TeamLevel]:
    """Members and sales at each level below the user, to ``depth``: one indexed read."""
    rows = await sql.rows(
        'SELECT "level", "members", "sales" FROM "team_counter" '
        'WHERE "ancestor_id" = $1 AND "level" BETWEEN 1 AND $2',
        user_id,
        depth,
    )
    found = {int(row["level"]): (int(row["members"]), int(row["sales"])) for row in rows}
    return [TeamLevel(level, *found.get(level, (0, 0))) for level in range(1, depth + 1)]


def team(user_id: int, depth: int) -> QuerySet[ReferralNode]:
    """Nodes of the users within ``depth`` levels below ``user_id``."""
    levels = [
        Q(ancestor_1_id=user_id),
        Q(ancestor_2_id=user_id),
        Q(ancestor_3_id=user_id),
    ]
    return ReferralNode.filter(Q(*levels[:depth], join_type=Q.OR))


def level_below(user_id: int, level: int, merchant_id: int | None = None) -> QuerySet[ReferralNode]:
    """Nodes of the users exactly ``level`` levels below ``user_id`` (one indexed range
    of ``(ancestor_<level>_id, user_id)``); with ``merchant_id``, only that merchant's
    plan members."""
    query = ReferralNode.filter(**{f"ancestor_{check_depth(level)}_id": user_id})
    if merchant_id is not None:
        members = PlanMember.filter(merchant_id=merchant_id).values("user_id")
        query = query.filter(user_id__in=Subquery(members))
    return query


async def in_plan_of(user_id: int, merchant_id: int) -> bool:
    """Whether the user is a member of any plan of the merchant's."""
    return await PlanMember.exists(user_id=user_id, merchant_id=merchant_id)


async def direct_invitees(user_ids: Iterable[int]) -> dict[int, int]:
    """How many counted users each of ``user_ids`` invited (their level-1 counters)."""
    rows = await TeamCounter.filter(ancestor_id__in=list(user_ids), level=1)
    return {row.ancestor_id: row.members for row in rows}


async def _add(counts: Iterable[tuple[int | None, int, int, int]]) -> None:
    """Add (members, sales) to each (ancestor, level) counter, making those it lacks."""
    totals: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for ancestor, level, members, sales in counts:
        if ancestor is not None and (members or sales):
            totals[(ancestor, level)][0] += members
            totals[(ancestor, level)][1] += sales
    if not totals:
        return
    values: list[object] = []
    rows = []
    for n, ((ancestor, level), (members, sales)) in enumerate(sorted(totals.items())):
        rows.append(f"(${4 * n + 1}, ${4 * n + 2}, ${4 * n + 3}, ${4 * n + 4})")
        values += [ancestor, level, members, sales]
    await sql.execute(
        'INSERT INTO "team_counter" ("ancestor_id", "level", "members", "sales") VALUES '
        + ", ".join(rows)
        + ' ON CONFLICT ("ancestor_id", "level") DO UPDATE SET '
        '"members" = "team_counter"."members" + "excluded"."members", '
        '"sales" = "team_counter"."sales" + "excluded"."sales"',
        *values,
    )


async def count_registration(user_id: int) -> None:
    """A registered user joins the team of each ancestor (once: the node marks it)."""
    async with in_transaction():
        await lock_tree(exclusive=False)
        if await ReferralNode.get_or_none(user_id=user_id) is not None:
            return
        ancestors = await chain(user_id)
        bound = ancestors[0] is not None
        await ReferralNode.create(
            user_id=user_id,
            ancestor_1_id=ancestors[0],
            ancestor_2_id=ancestors[1],
            ancestor_3_id=ancestors[2],
            bound_via=BindSource.REGISTRATION if bound else None,
            bound_at=now_utc() if bound else None,
        )
        await _add((a, level, 1, 0) for level, a in enumerate(ancestors, 1))


async def count_sale(buyer_id: int, amount: int) -> list[int]:
    """A buyer's paid (positive) or refunded (negative) total, on them and their upline;
    returns that upline, nearest first."""
    async with in_transaction():
        await lock_tree(exclusive=False)
        ancestors = await chain(buyer_id)
        await _add(
            [(buyer_id, 0, 0, amount)]
            + [(a, level, 0, amount) for level, a in enumerate(ancestors, 1)]
        )
    return [a for a in ancestors if a is not None]


async def _refuse_cycle(user_id: int, inviter_id: int) -> None:
    """Walk the whole chain above the new inviter, three levels per statement."""
    if inviter_id == user_id:
        raise DomainError(ErrorCode.SELF_REFERRAL, "No one can be their own inviter.", "inviterId")
    current: int | None = inviter_id
    while current is not None:
        above = await chain(current)
        if user_id in above:
            raise DomainError(
                ErrorCode.REFERRAL_CYCLE,
                "That inviter is in the user's own team: binding would make a cycle.",
                "inviterId",
            )
        current = above[-1]


async def _subtree_counts(user_id: int) -> list[tuple[int, int]]:
    """(members, sales) the user's branch holds at distance 0, 1, ... below the user."""
    counted = await ReferralNode.exists(user_id=user_id)
    found = {
        c.level: c for c in await TeamCounter.filter(ancestor_id=user_id, level__lt=TREE_DEPTH)
    }
    own = found.get(0)
    counts = [(1 if counted else 0, own.sales if own else 0)]
    for level in range(1, TREE_DEPTH):
        row = found.get(level)
        counts.append((row.members, row.sales) if row else (0, 0))
    return counts


def _contributions(
    ancestors: Chain, branch: list[tuple[int, int]], sign: int
) -> list[tuple[int | None, int, int, int]]:
    moves: list[tuple[int | None, int, int, int]] = []
    for distance, ancestor in enumerate(ancestors, 1):
        for below, (members, sales) in enumerate(branch[: TREE_DEPTH - distance + 1]):
            moves.append((ancestor, distance + below, sign * members, sign * sales))
    return moves


@dataclass(frozen=True, slots=True)
class _Record:
    admin_id: int
    reason: str


async def bind_first(user_id: int, inviter_id: int) -> bool:
    """Bind an unbound user (first buying through a share); a bound one is left alone.
    Returns whether the user was bound."""
    return await _bind(user_id, inviter_id, BindSource.FIRST_SHARE, None)


async def rebind(user_id: int, inviter_id: int, admin_id: int, reason: str) -> None:
    """An admin moves a user, with their team, under another inviter, recording why."""
    why = validation.text(reason, "reason", max_length=MAX_REASON)
    if not await _bind(user_id, inviter_id, BindSource.ADMIN, _Record(admin_id, why)):
        raise DomainError(
            ErrorCode.ALREADY_BOUND, "That is already the user's inviter.", "inviterId"
        )


async def _bind(user_id: int, inviter_id: int, source: BindSource, record: _Record | None) -> bool:
    """Make ``inviter_id`` the user's inviter; returns whether anything changed.

    The chain above the new inviter is checked under the exclusive lock, so two
    binds at once cannot close a loop.
    """
    async with in_transaction():
        await lock_tree(exclusive=True)
        found = {u.id: u.inviter_id for u in await User.filter(id__in=[user_id, inviter_id])}
        if user_id not in found:
            raise DomainError(ErrorCode.NOT_FOUND, "No such user.", "userId")
        if inviter_id not in found:
            raise DomainError(ErrorCode.NOT_FOUND, "No such inviter.", "inviterId")
        await _refuse_cycle(user_id, inviter_id)
        old = found[user_id]
        if old == inviter_id or (record is None and old is not None):
            return False
        await InviteQuotas().admit(inviter_id, "inviterId")
        old_chain = await chain(user_id)
        new_chain = [inviter_id, *(await chain(inviter_id))[: TREE_DEPTH - 1]]
        branch = await _subtree_counts(user_id)
        now = now_utc()
        await User.filter(id=user_id).update(inviter_id=inviter_id)
        await ReferralNode.filter(user_id=user_id).update(
            ancestor_1_id=new_chain[0],
            ancestor_2_id=new_chain[1],
            ancestor_3_id=new_chain[2],
            bound_via=source,
            bound_at=now,
        )
        await ReferralNode.filter(ancestor_1_id=user_id).update(
            ancestor_2_id=new_chain[0], ancestor_3_id=new_chain[1]
        )
        await ReferralNode.filter(ancestor_2_id=user_id).update(ancestor_3_id=new_chain[0])
        await _add(_contributions(old_chain, branch, -1) + _contributions(new_chain, branch, 1))
        if record is not None:
            await Rebind.create(
                user_id=user_id,
                old_inviter_id=old,
                new_inviter_id=inviter_id,
                admin_id=record.admin_id,
                reason=record.reason,
                created_at=now,
            )
    return True


# Each paid or completed order's total, per buyer: what the team-sales counters hold
# once every paid and refunded event has been counted (a refunded order nets to 0).
_SOLD = (
    'SELECT "buyer_id", SUM("unit_price" * "quantity") AS "sales" FROM "customer_order" '
    f"WHERE \"status\" IN ('{OrderStatus.PAID.value}', '{OrderStatus.COMPLETED.value}') "
    'GROUP BY "buyer_id"'
)
_RECOUNT = (
    'INSERT INTO "team_counter" ("ancestor_id", "level", "members", "sales") '
    'SELECT "ancestor_id", "level", SUM("members"), SUM("sales") FROM ('
    + " UNION ALL ".join(
        [
            f'SELECT "ancestor_{n}_id" AS "ancestor_id", {n} AS "level", 1 AS "members", '
            f'0 AS "sales" FROM "referral_node" WHERE "ancestor_{n}_id" IS NOT NULL'
            for n in range(1, TREE_DEPTH + 1)
        ]
        + [f'SELECT s."buyer_id", 0, 0, s."sales" FROM ({_SOLD}) AS s']
        + [
            f'SELECT n."ancestor_{n}_id", {n}, 0, s."sales" FROM ({_SOLD}) AS s '
            f'JOIN "referral_node" n ON n."user_id" = s."buyer_id" '
            f'WHERE n."ancestor_{n}_id" IS NOT NULL'
            for n in range(1, TREE_DEPTH + 1)
        ]
    )
    + ') AS "c" GROUP BY "ancestor_id", "level"'
)


@dataclass(frozen=True, slots=True)
class Backfill:
    nodes_created: int
    counters: int


async def backfill(team_sales_handler: str) -> Backfill:
    """Give every user without one a node (their chain read from the truth) and
    recount every counter; running it again changes nothing.

    It holds the tree lock exclusively, so no registration, sale or bind is
    counted meanwhile. Sales whose events ``team_sales_handler`` has yet to apply
    are left for it to add: the recount takes their effect off, so nothing is
    counted twice when they are consumed.
    """
    async with in_transaction():
        await lock_tree(exclusive=True)
        before = await ReferralNode.all().count()
        await sql.execute(
            'INSERT INTO "referral_node" ("user_id", "ancestor_1_id", "ancestor_2_id", '
            '"ancestor_3_id", "bound_via", "bound_at") '
            'SELECT u1."id", u1."inviter_id", u2."inviter_id", u3."inviter_id", '
            f"CASE WHEN u1.\"inviter_id\" IS NULL THEN NULL ELSE '{BindSource.REGISTRATION.value}' "
            'END, CASE WHEN u1."inviter_id" IS NULL THEN NULL ELSE u1."created_at" END '
            'FROM "app_user" u1 LEFT JOIN "app_user" u2 ON u2."id" = u1."inviter_id" '
            'LEFT JOIN "app_user" u3 ON u3."id" = u2."inviter_id" '
            'WHERE NOT EXISTS (SELECT 1 FROM "referral_node" n WHERE n."user_id" = u1."id")'
        )
        created = await ReferralNode.all().count() - before
        await sql.execute('DELETE FROM "team_counter"')
        await sql.execute(_RECOUNT)
        for event in await outbox.unapplied(team_sales_handler, [ORDER_PAID, ORDER_REFUNDED]):
            sign = 1 if event.topic == ORDER_REFUNDED else -1  # undo what it will add
            buyer, amount = int(event.payload["buyer_id"]), sign * int(event.payload["total"])
            ancestors = await chain(buyer)
            await _add(
                [(buyer, 0, 0, amount)]
                + [(a, level, 0, amount) for level, a in enumerate(ancestors, 1)]
            )
        counters = await TeamCounter.all().count()
    return Backfill(created, counters)
