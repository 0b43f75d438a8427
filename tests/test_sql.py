"""Hand-written statements on the hot paths build the same instances the ORM does.

They rely on Tortoise building instances from rows (``Model._init_from_db``), which
is not public API: these tests catch a Tortoise upgrade that changes it.
"""

from __future__ import annotations

from typing import Any

import pytest
from tortoise.models import Model

from pintuan.accounts import users
from pintuan.accounts.models import MerchantStaff, User
from pintuan.accounts.tokens import new_session_id
from pintuan.core import sql
from pintuan.graphql.ids import from_global_id
from pintuan.groupbuys.models import Group, GroupBuy, GroupStatus
from pintuan.groupbuys.order_models import Order, OrderKind, OrderStatus
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import start


def columns(row: Model) -> dict[str, Any]:
    return {name: getattr(row, name) for name in type(row)._meta.fields_db_projection}


async def test_rows_read_by_hand_equal_rows_read_by_the_orm(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer()
    buyer = await factories.user(admin=True)
    started = await start(gql, factories.bearer(buyer, settings), offer.id)
    group_pk = from_global_id(started["group"]["id"])[1]
    order_pk = from_global_id(started["order"]["id"])[1]

    for model, pk in ((Order, order_pk), (Group, group_pk), (GroupBuy, offer.id)):
        by_hand = await sql.by_id(model, pk)
        assert by_hand is not None
        assert columns(by_hand) == columns(await model.get(id=pk)), model.__name__
    assert await sql.by_id(Group, 987_654) is None

    order = await Order.get(id=order_pk)
    assert (order.kind, order.status, order.total) == (OrderKind.GROUP, OrderStatus.PAID, 800)
    assert (await Group.get(id=group_pk)).status == GroupStatus.OPEN


@pytest.mark.usefixtures("app")  # a started app holds the database
async def test_a_signed_in_user_is_read_with_every_merchant_they_staff() -> None:
    first, second = await factories.merchant(), await factories.merchant()
    member = await factories.user(staff_of=first)
    await MerchantStaff.create(merchant=second, user=member)
    outsider = await factories.user(admin=True)

    session = new_session_id()
    account = await users.signed_in(member.id, session)
    assert account.user is not None
    assert columns(account.user) == columns(await User.get(id=member.id))
    assert account.staff_of == {first.id, second.id}
    assert account.signed_out is False

    admin = await users.signed_in(outsider.id, session)
    assert admin.user is not None and admin.user.is_admin is True
    assert admin.staff_of == frozenset()
    assert await users.signed_in(987_654, session) == users.SignedIn(None, frozenset(), False)
