"""The GraphQL schema: one Query, Subscription and set of limits for the whole API."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from pintuan.schema.accounts import AccountMutation, AccountQuery
from pintuan.schema.catalog import CatalogQuery
from pintuan.schema.catalog_admin import CatalogAdminMutation
from pintuan.schema.errors import is_unexpected
from pintuan.schema.fanout import EventExecutor
from pintuan.schema.groupbuy_mutations import GroupBuyMutation
from pintuan.schema.groupbuys import GroupBuyQuery
from pintuan.schema.live import LiveSubscription
from pintuan.schema.merchant_admin import MerchantAdminMutation, MerchantAdminQuery
from pintuan.schema.node import NodeQuery
from pintuan.schema.scalars import UtcDateTime
from pintuan.schema.system import SystemQuery, SystemSubscription
from pintuan.schema.text import StorableTextLiterals, StorableTextVariables
from pintuan.settings import Settings

Query = merge_types(
    "Query",
    (CatalogQuery, GroupBuyQuery, AccountQuery, MerchantAdminQuery, NodeQuery, SystemQuery),
)
Mutation = merge_types(
    "Mutation", (AccountMutation, GroupBuyMutation, MerchantAdminMutation, CatalogAdminMutation)
)
Subscription = merge_types("Subscription", (LiveSubscription, SystemSubscription))
log = logging.getLogger("pintuan.graphql")


class PintuanSchema(strawberry.Schema):
    """Logs as errors only the failures no client caused.

    A refusal with its code (bad input, a missing right, an unknown cursor) is the
    API working as documented; logged at ERROR with a traceback, as Strawberry
    does by default, every bad request would page an operator.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = []
        for error in errors:
            if is_unexpected(error):
                unexpected.append(error)
            else:
                log.debug("refused: %s", error.message)
        if unexpected:
            super().process_errors(unexpected, execution_context)


def _is_introspection(context: IgnoreContext) -> bool:
    return context.field_name.startswith("__")


def build_schema(settings: Settings) -> strawberry.Schema:
    # The rules are built once: the validation cache keys on them, so rules made
    # per request would make every request validate afresh.
    limits: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, _is_introspection),
        alias_rule(settings.max_aliases),
        StorableTextLiterals,
    ]
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: MaxTokensLimiter(settings.max_tokens),
        lambda: AddValidationRules(limits),
        ParserCache,
        ValidationCache,
        StorableTextVariables,
    ]
    if not settings.debug:
        extensions.append(lambda: MaskErrors(should_mask_error=is_unexpected))
    return PintuanSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=EventExecutor,
        scalar_overrides={datetime: UtcDateTime},
    )


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
