"""Plain fields answered without graphql-core's per-field machinery answer exactly as
graphql-core would, errors included (a small schema run through ``PlainFields``)."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from pintuan.graphql import plain as plain_module
from pintuan.graphql.plain import PlainFields


@strawberry.type
class Price:
    amount: int
    currency: str


@strawberry.type
class Item:
    sku: str
    price: Price
    count: int
    note: str | None


ROWS: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return list(ROWS)


plain = strawberry.Schema(Query, execution_context_class=PlainFields)
reference = strawberry.Schema(Query)
DOCUMENT = "{ items { __typename sku price { amount currency } count note } }"


def item(**changes: Any) -> Item:
    values: dict[str, Any] = {
        "sku": "A-1",
        "price": Price(amount=1200, currency="CNY"),
        "count": 3,
        "note": None,
    }
    return Item(**(values | changes))


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([item(), item(sku="B-2", note="gift")], id="plain values"),
        pytest.param([item(), item(sku=None)], id="a null where the type forbids it"),
        pytest.param([item(count=2**40)], id="an int the scalar refuses"),
        pytest.param([item(price=None)], id="a null object where the type forbids it"),
        pytest.param([item(price=Price(amount="x", currency="CNY"))], id="a nested refusal"),  # type: ignore[arg-type]
    ],
)
async def test_a_compiled_selection_answers_as_graphql_core_does(rows: list[Item]) -> None:
    ROWS[:] = rows

    ours = await plain.execute(DOCUMENT)
    theirs = await reference.execute(DOCUMENT)

    assert ours.data == theirs.data
    assert [(e.message, e.path) for e in ours.errors or []] == [
        (e.message, e.path) for e in theirs.errors or []
    ]


async def test_plain_values_are_answered_by_the_compiled_selection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The comparison above holds even if nothing is ever compiled: check it is."""
    ROWS[:] = [item()]
    answered: list[str] = []
    compiled = plain_module._answer

    def spy(plan: Any, source: Any, type_name: str) -> dict[str, Any]:
        answered.append(type_name)
        return compiled(plan, source, type_name)

    monkeypatch.setattr(plain_module, "_answer", spy)
    result = await plain.execute(DOCUMENT)

    assert result.errors is None
    assert answered == ["Item", "Price"]
