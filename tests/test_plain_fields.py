"""Plain fields answered without graphql-core's per-field machinery answer exactly as
graphql-core would, errors included (a small schema run through ``PlainFields``)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest
import strawberry

from pintuan.graphql.plain import PlainFields, plain_resolver


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


async def assert_answered_alike(
    ours: strawberry.Schema, theirs: strawberry.Schema, document: str
) -> None:
    """The same data and the same errors (message and path) from both schemas."""
    mine = await ours.execute(document, context_value={})
    reference_result = await theirs.execute(document, context_value={})

    assert mine.data == reference_result.data
    assert [(e.message, e.path) for e in mine.errors or []] == [
        (e.message, e.path) for e in reference_result.errors or []
    ]


async def compiled_types(
    monkeypatch: pytest.MonkeyPatch, schema: strawberry.Schema, document: str
) -> list[str]:
    """The types whose selections the compiled path answered, in order."""
    answered: list[str] = []
    compiled = PlainFields._answer

    def spy(self: PlainFields, plan: Any, source: Any, type_name: str) -> dict[str, Any]:
        answered.append(type_name)
        return compiled(self, plan, source, type_name)

    monkeypatch.setattr(PlainFields, "_answer", spy)
    result = await schema.execute(document, context_value={})
    assert result.errors is None
    return answered


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

    await assert_answered_alike(plain, reference, DOCUMENT)


async def test_plain_values_are_answered_by_the_compiled_selection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The comparison above holds even if nothing is ever compiled: check it is."""
    ROWS[:] = [item()]

    assert await compiled_types(monkeypatch, plain, DOCUMENT) == ["Item", "Price"]


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Author(Named):
    pass


@strawberry.type
class Card:
    title: str


@strawberry.type
class Share:
    code: str


async def _later(value: Author) -> Author:
    return value


@strawberry.type
class Note:
    text: str
    author_name: strawberry.Private[str | None]
    attached: strawberry.Private[Card | Share | None]
    how: strawberry.Private[str]

    @strawberry.field(graphql_type=Author)
    @plain_resolver
    def author(self, info: strawberry.Info) -> Author | Awaitable[Author]:
        found = Author(name=self.author_name) if self.author_name is not None else None
        if self.how == "raises":
            raise ValueError("no author")
        if self.how == "awaits":
            return _later(Author(name="later"))
        if self.how == "asks the field name":
            return Author(name=info.field_name)
        assert isinstance(info.context, dict)  # the context is there to read
        return found  # type: ignore[return-value]

    @strawberry.field
    @plain_resolver
    def attachment(self) -> Card | Share | None:
        return self.attached


NOTES: list[Note] = []


@strawberry.type
class NoteQuery:
    @strawberry.field
    def notes(self) -> list[Note]:
        return list(NOTES)


plain_notes = strawberry.Schema(NoteQuery, execution_context_class=PlainFields)
reference_notes = strawberry.Schema(NoteQuery)
NOTE_DOCUMENT = """{ notes { text author { name __typename }
  attachment { __typename ... on Card { title } ... on Share { code } } } }"""


def note(**changes: Any) -> Note:
    values: dict[str, Any] = {
        "text": "hello",
        "author_name": "Ann",
        "attached": Card(title="a card"),
        "how": "plainly",
    }
    return Note(**(values | changes))


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([note(), note(attached=Share(code="S1")), note(attached=None)], id="plain"),
        pytest.param([note(), note(how="raises")], id="a resolver that raises"),
        pytest.param([note(how="awaits")], id="a resolver that returns an awaitable"),
        pytest.param([note(how="asks the field name")], id="a resolver reading more of info"),
        pytest.param([note(author_name=None)], id="a null the type forbids"),
    ],
)
async def test_plain_resolvers_and_unions_answer_as_graphql_core_does(rows: list[Note]) -> None:
    NOTES[:] = rows

    await assert_answered_alike(plain_notes, reference_notes, NOTE_DOCUMENT)


async def test_plain_resolvers_unions_and_interface_types_are_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    NOTES[:] = [note(), note(attached=Share(code="S1"))]

    answered = await compiled_types(monkeypatch, plain_notes, NOTE_DOCUMENT)
    assert answered == ["Note", "Author", "Card", "Note", "Author", "Share"]
