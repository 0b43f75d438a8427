"""The library's floor: a bare Strawberry schema answering the catalog bench's documents.

It serves the same page through the same HTTP stack as the real server (uvicorn,
Starlette, Strawberry's ASGI view with its parser and validation caches, orjson), with
the data read by the baseline's own SQL (``bench.catalog``), and nothing of ours: no
access middleware, no cache, no loaders, no extensions. Its ratio to the baseline is
the most any Strawberry server doing this work can reach on this machine, which
``bench.catalog --floor`` prints beside the real server's.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import Info

from bench import catalog

CACHED_DOCUMENTS = 1024


@strawberry.enum
class ProductSort(Enum):
    NEWEST = "NEWEST"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"
    TITLE = "TITLE"


@strawberry.input
class ProductFilter:
    merchant_id: strawberry.ID | None = None


@strawberry.input
class ProductUpdateInput:
    id: strawberry.ID
    description: str | None = None


@strawberry.type
class Money:
    amount: int
    currency: str
    formatted: str


@strawberry.type
class Variant:
    sku: str
    price: Money
    available: int


@strawberry.type
class Merchant:
    name: str
    handle: str


@strawberry.type
class Product:
    id: strawberry.ID
    title: str
    description: str | None
    merchant: Merchant
    variants: list[Variant]


@strawberry.type
class ProductEdge:
    node: Product


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    page_info: PageInfo


@strawberry.type
class UserError:
    code: str


@strawberry.type
class Written:
    id: strawberry.ID


@strawberry.type
class ProductPayload:
    product: Written | None
    user_errors: list[UserError]


def _product(node: dict[str, Any]) -> Product:
    return Product(
        id=strawberry.ID(node["id"]),
        title=node["title"],
        description=node.get("description"),
        merchant=Merchant(**node["merchant"]),
        variants=[
            Variant(sku=v["sku"], price=Money(**v["price"]), available=v["available"])
            for v in node["variants"]
        ],
    )


def _store(info: Info) -> catalog.Store:
    store: catalog.Store = info.context["request"].app.state.store
    return store


@strawberry.type
class Query:
    @strawberry.field
    async def products(
        self,
        info: Info,
        after: str | None = None,
        sort: ProductSort | None = None,
        filter: ProductFilter | None = None,
    ) -> ProductConnection:
        variables: dict[str, Any] = {"after": after, "sort": (sort or ProductSort.NEWEST).value}
        if filter is not None and filter.merchant_id:
            variables["filter"] = {"merchantId": filter.merchant_id}
        found = (await catalog.page(_store(info), variables))["products"]
        return ProductConnection(
            edges=[ProductEdge(node=_product(e["node"])) for e in found["edges"]],
            page_info=PageInfo(
                has_next_page=found["pageInfo"]["hasNextPage"],
                end_cursor=found["pageInfo"]["endCursor"],
            ),
        )

    @strawberry.field
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        found = (await catalog.detail(_store(info), {"id": id}))["product"]
        return _product(found) if found else None


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def product_update(self, info: Info, input: ProductUpdateInput) -> ProductPayload:
        change = {"id": input.id, "description": input.description}
        request: Request = info.context["request"]
        done = (await catalog.update(_store(info), request, {"input": change}))["productUpdate"]
        written = done["product"]
        return ProductPayload(
            product=Written(id=written["id"]) if written else None,
            user_errors=[UserError(code=e["code"]) for e in done["userErrors"]],
        )


class FloorGraphQL(GraphQL[Any, None]):
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def served(query: type, mutation: type | None = None) -> Starlette:
    """A bare Strawberry schema over ``catalog.served``'s store, with the parser and
    validation caches and orjson any tuned server would have, and nothing else."""
    schema = strawberry.Schema(
        query,
        mutation,
        extensions=[
            lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
            lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
        ],
    )
    return catalog.served(lambda _: [Route("/graphql", FloorGraphQL(schema))])


def floor_app() -> Starlette:
    """uvicorn factory; configured by the same PINTUAN_* variables as the real server."""
    return served(Query, Mutation)
