"""The books of group buys: rules that hold after any interleaving of purchases,
payments, lapses and refunds, checked over the models.

Conditional updates keep them true under contention; a read-check-write would break
them only when requests race, so the concurrency tests and the join benchmark run
``audit_books`` after their load. Each rule is named so a failure says which promise
was broken, and every violation is reported, not just the first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pintuan.catalog.models import Variant
from pintuan.groupbuys.models import Group, GroupBuy, GroupMember, GroupStatus, OfferAllowance
from pintuan.groupbuys.order_models import (
    Order,
    OrderKind,
    OrderStatus,
    PaymentTransaction,
    TransactionKind,
)

# Orders holding a slot, offer stock and allowance.
HOLDING = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.COMPLETED})
# Orders whose units left the shelf for good.
SOLD = frozenset({OrderStatus.PAID, OrderStatus.COMPLETED})
# Orders that were charged once.
CHARGED = frozenset({OrderStatus.PAID, OrderStatus.COMPLETED, OrderStatus.REFUNDED})


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


class BooksUnbalanced(AssertionError):
    """Every violation found, so one run shows all that went wrong."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("\n".join(str(v) for v in violations))


@dataclass
class Books:
    """Every row the rules read, loaded once."""

    groups: list[Group]
    members: list[GroupMember]
    offers: list[GroupBuy]
    allowances: list[OfferAllowance]
    orders: list[Order]
    transactions: list[PaymentTransaction]
    variants: list[Variant]

    @classmethod
    async def load(cls) -> Books:
        return cls(
            groups=await Group.all(),
            members=await GroupMember.all(),
            offers=await GroupBuy.all(),
            allowances=await OfferAllowance.all(),
            orders=await Order.all(),
            transactions=await PaymentTransaction.all(),
            variants=await Variant.all(),
        )


def group_counters_in_range(books: Books) -> list[Violation]:
    return [
        Violation(
            "group_counters_in_range",
            f"group {g.id}: {g.paid_count} paid, {g.slots_taken} slots taken of {g.size}",
        )
        for g in books.groups
        if not 0 <= g.paid_count <= g.slots_taken <= g.size
    ]


def group_counters_match_members(books: Books) -> list[Violation]:
    members: Counter[int] = Counter(m.group_id for m in books.members)
    paid: Counter[int] = Counter(m.group_id for m in books.members if m.paid)
    return [
        Violation(
            "group_counters_match_members",
            f"group {g.id}: slots_taken {g.slots_taken} vs {members[g.id]} members, "
            f"paid_count {g.paid_count} vs {paid[g.id]} paid members",
        )
        for g in books.groups
        if (g.slots_taken, g.paid_count) != (members[g.id], paid[g.id])
    ]


def filled_group_fully_paid(books: Books) -> list[Violation]:
    return [
        Violation("filled_group_fully_paid", f"group {g.id}: {g.paid_count} paid of {g.size}")
        for g in books.groups
        if g.status == GroupStatus.FILLED and g.paid_count != g.size
    ]


def open_group_not_fully_paid(books: Books) -> list[Violation]:
    return [
        Violation("open_group_not_fully_paid", f"group {g.id}: {g.paid_count} paid of {g.size}")
        for g in books.groups
        if g.status == GroupStatus.OPEN and g.paid_count >= g.size
    ]


def members_agree_with_orders(books: Books) -> list[Violation]:
    """A member's order is in the member's group, not cancelled (a lapse removes the
    member), and paid exactly when the member is."""
    orders = {o.id: o for o in books.orders}
    found = []
    for m in books.members:
        order = orders.get(m.order_id)
        group_id = m.group_id
        if order is None:
            found.append(Violation("members_agree_with_orders", f"member {m.id}: no order"))
        elif (
            order.group_id != group_id
            or order.status == OrderStatus.CANCELLED
            or m.paid != (order.status in CHARGED)
        ):
            found.append(
                Violation(
                    "members_agree_with_orders",
                    f"member {m.id} of group {group_id} (paid {m.paid}): order {order.id} "
                    f"{order.status} in group {order.group_id}",
                )
            )
    return found


def holding_group_orders_have_members(books: Books) -> list[Violation]:
    with_member = {m.order_id for m in books.members}
    return [
        Violation("holding_group_orders_have_members", f"order {o.id} {o.status}: no member")
        for o in books.orders
        if o.kind == OrderKind.GROUP and o.status in HOLDING and o.id not in with_member
    ]


def offer_stock_matches_orders(books: Books) -> list[Violation]:
    held: Counter[int] = Counter()
    for o in books.orders:
        if o.group_buy_id is not None and o.status in HOLDING:
            held[o.group_buy_id] += o.quantity
    return [
        Violation(
            "offer_stock_matches_orders",
            f"offer {b.id}: stock_taken {b.stock_taken} vs {held[b.id]} held by orders, "
            f"limit {b.stock_limit}",
        )
        for b in books.offers
        if not b.stock_taken == held[b.id] <= b.stock_limit
    ]


def allowances_match_orders(books: Books) -> list[Violation]:
    held: Counter[tuple[int, int]] = Counter()
    for o in books.orders:
        if o.group_buy_id is not None and o.status in HOLDING:
            held[o.group_buy_id, o.buyer_id] += o.quantity
    limits = {b.id: b.per_user_limit for b in books.offers}
    found = []
    seen = set()
    for a in books.allowances:
        key = (a.group_buy_id, a.user_id)
        seen.add(key)
        if not a.quantity == held[key] <= limits[key[0]]:
            found.append(
                Violation(
                    "allowances_match_orders",
                    f"offer {key[0]}, buyer {key[1]}: allowance {a.quantity} vs {held[key]} "
                    f"held by orders, limit {limits[key[0]]}",
                )
            )
    found += [
        Violation("allowances_match_orders", f"offer {k[0]}, buyer {k[1]}: {n} held, no allowance")
        for k, n in held.items()
        if k not in seen and n
    ]
    return found


def reserved_stock_matches_pending(books: Books) -> list[Violation]:
    pending: Counter[int] = Counter()
    for o in books.orders:
        if o.status == OrderStatus.PENDING_PAYMENT:
            pending[o.variant_id] += o.quantity
    return [
        Violation(
            "reserved_stock_matches_pending",
            f"variant {v.id}: stock_reserved {v.stock_reserved} vs {pending[v.id]} pending, "
            f"{v.stock_on_hand} on hand",
        )
        for v in books.variants
        if not 0 <= v.stock_reserved == pending[v.id] <= v.stock_on_hand
    ]


def one_charge_per_charged_order(books: Books) -> list[Violation]:
    return _money_rule(books, "one_charge_per_charged_order", TransactionKind.CHARGE, CHARGED)


def one_refund_per_refunded_order(books: Books) -> list[Violation]:
    """A refund returns what was charged, once, and only for a refunded order."""
    found = _money_rule(
        books, "one_refund_per_refunded_order", TransactionKind.REFUND, {OrderStatus.REFUNDED}
    )
    charged = {t.order_id: t.amount for t in books.transactions if t.kind == TransactionKind.CHARGE}
    found += [
        Violation(
            "one_refund_per_refunded_order",
            f"order {t.order_id}: refunded {t.amount}, charged {charged.get(t.order_id)}",
        )
        for t in books.transactions
        if t.kind == TransactionKind.REFUND and t.amount != charged.get(t.order_id)
    ]
    return found


def _money_rule(
    books: Books,
    rule: str,
    kind: TransactionKind,
    statuses: frozenset[OrderStatus] | set[OrderStatus],
) -> list[Violation]:
    rows: Counter[int] = Counter(t.order_id for t in books.transactions if t.kind == kind)
    return [
        Violation(rule, f"order {o.id} {o.status}: {rows[o.id]} {kind} row(s)")
        for o in books.orders
        if rows[o.id] != (1 if o.status in statuses else 0)
    ]


RULES: tuple[Callable[[Books], list[Violation]], ...] = (
    group_counters_in_range,
    group_counters_match_members,
    filled_group_fully_paid,
    open_group_not_fully_paid,
    members_agree_with_orders,
    holding_group_orders_have_members,
    offer_stock_matches_orders,
    allowances_match_orders,
    reserved_stock_matches_pending,
    one_charge_per_charged_order,
    one_refund_per_refunded_order,
)


def stock_on_hand_conserved(books: Books, initial: Mapping[int, int]) -> list[Violation]:
    """What was on the shelf is on it still or was sold: for variants whose starting
    stock is known and that no merchant has restocked since."""
    sold: defaultdict[int, int] = defaultdict(int)
    for o in books.orders:
        if o.status in SOLD:
            sold[o.variant_id] += o.quantity
    on_hand = {v.id: v.stock_on_hand for v in books.variants}
    return [
        Violation(
            "stock_on_hand_conserved",
            f"variant {vid}: started with {start}, {on_hand.get(vid)} on hand + {sold[vid]} sold",
        )
        for vid, start in initial.items()
        if on_hand.get(vid, 0) + sold[vid] != start
    ]


async def audit_books(initial_stock: Mapping[int, int] | None = None) -> list[Violation]:
    """Every violation of every rule; ``initial_stock`` (variant id -> units) adds
    ``stock_on_hand_conserved`` for those variants."""
    books = await Books.load()
    found = [v for rule in RULES for v in rule(books)]
    if initial_stock:
        found += stock_on_hand_conserved(books, initial_stock)
    return found


async def assert_books_balance(initial_stock: Mapping[int, int] | None = None) -> None:
    """``audit_books``, raising ``BooksUnbalanced`` with all violations if there are any."""
    if violations := await audit_books(initial_stock):
        raise BooksUnbalanced(violations)
