"""The GraphQL schema: one Query, Subscription and set of limits for the whole API."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.tools import merge_types

from pintuan.schema.accounts import AccountMutation, AccountQuery
from pintuan.schema.catalog import CatalogQuery
from pintuan.schema.catalog_admin import CatalogAdminMutation
from pintuan.schema.errors import is_unexpected
from pintuan.schema.merchant_admin import MerchantAdminMutation, MerchantAdminQuery
from pintuan.schema.node import NodeQuery
from pintuan.schema.system import SystemQuery, SystemSubscription
from pintuan.settings import Settings

Query = merge_types(
    "Query", (CatalogQuery, AccountQuery, MerchantAdminQuery, NodeQuery, SystemQuery)
)
Mutation = merge_types("Mutation", (AccountMutation, MerchantAdminMutation, CatalogAdminMutation))
Subscription = merge_types("Subscription", (SystemSubscription,))


def _is_introspection(context: IgnoreContext) -> bool:
    return context.field_name.startswith("__")


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: QueryDepthLimiter(settings.max_query_depth, should_ignore=_is_introspection),
        lambda: MaxTokensLimiter(settings.max_tokens),
        lambda: MaxAliasesLimiter(settings.max_aliases),
        ParserCache,
        ValidationCache,
    ]
    if not settings.debug:
        extensions.append(lambda: MaskErrors(should_mask_error=is_unexpected))
    return strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
