"""The GraphQL schema: one Query, Subscription and set of limits for the whole API."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from pintuan.accounts.graphql.users import AccountMutation, AccountQuery
from pintuan.catalog.graphql.admin import CatalogAdminMutation
from pintuan.catalog.graphql.merchants import MerchantAdminMutation, MerchantAdminQuery
from pintuan.catalog.graphql.types import CatalogQuery
from pintuan.communities.graphql.comments import CommentMutation
from pintuan.communities.graphql.feeds import FeedQuery, FeedSubscription
from pintuan.communities.graphql.follows import FollowMutation
from pintuan.communities.graphql.moderation import ModerationMutation
from pintuan.communities.graphql.mutations import CommunityMutation
from pintuan.communities.graphql.reactions import ReactionMutation
from pintuan.communities.graphql.types import CommunityQuery
from pintuan.core.errors import ApiErrorCode
from pintuan.embed.schema import EmbedMutation, EmbedQuery
from pintuan.graphql import provided
from pintuan.graphql.cost import CostEstimator, QueryCost
from pintuan.graphql.errors import (
    ErrorCodes,
    SyntaxReportingParserCache,
    coded_rule,
    is_unexpected,
)
from pintuan.graphql.node import NodeQuery
from pintuan.graphql.operations import CodedExecutor, SpecExecutionContext
from pintuan.graphql.scalars import UtcDateTime
from pintuan.graphql.system import SystemQuery, SystemSubscription
from pintuan.graphql.text import (
    StorableTextLiterals,
    StorableTextVariables,
)
from pintuan.groupbuys.graphql.mutations import GroupBuyMutation
from pintuan.groupbuys.graphql.queries import GroupBuyQuery
from pintuan.groupbuys.graphql.subscriptions import LiveSubscription
from pintuan.referrals.graphql.earnings import (
    EarningsMutation,
    EarningsQuery,
    EarningsSubscription,
)
from pintuan.referrals.graphql.plans import CommissionPlanMutation, CommissionPlanQuery
from pintuan.referrals.graphql.shares import ShareMutation
from pintuan.referrals.graphql.tree import ReferralTreeMutation, ReferralTreeQuery
from pintuan.settings import Settings

Query = merge_types(
    "Query",
    (
        CatalogQuery,
        GroupBuyQuery,
        AccountQuery,
        MerchantAdminQuery,
        EarningsQuery,
        CommissionPlanQuery,
        ReferralTreeQuery,
        CommunityQuery,
        FeedQuery,
        EmbedQuery,
        NodeQuery,
        SystemQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountMutation,
        GroupBuyMutation,
        MerchantAdminMutation,
        CatalogAdminMutation,
        EarningsMutation,
        ReferralTreeMutation,
        ShareMutation,
        CommissionPlanMutation,
        CommentMutation,
        ReactionMutation,
        FollowMutation,
        ModerationMutation,
        CommunityMutation,
        EmbedMutation,
    ),
)
Subscription = merge_types(
    "Subscription", (LiveSubscription, EarningsSubscription, FeedSubscription, SystemSubscription)
)
if provided.missing():
    raise RuntimeError(f"fields declared but provided by no domain: {sorted(provided.missing())}")
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

    def _create_execution_context(
        self,
        query: str | None,
        allowed_operation_types: Iterable[OperationType],
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionContext:
        """Strawberry's, but choosing the operation as the spec does."""
        return SpecExecutionContext(
            query=query,
            schema=self,
            allowed_operations=allowed_operation_types,
            context=context_value,
            root_value=root_value,
            variables=variable_values,
            provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )


def _is_introspection(context: IgnoreContext) -> bool:
    return context.field_name.startswith("__")


def build_schema(settings: Settings) -> strawberry.Schema:
    # The rules are built once: the validation cache keys on them, so rules made
    # per request would make every request validate afresh.
    limits: list[type[ASTValidationRule]] = [
        coded_rule(
            depth_rule(settings.max_query_depth, _is_introspection), ApiErrorCode.QUERY_TOO_DEEP
        ),
        coded_rule(alias_rule(settings.max_aliases), ApiErrorCode.TOO_MANY_ALIASES),
        StorableTextLiterals,
    ]
    estimator = CostEstimator(settings.max_query_cost, settings.default_page_size)
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        ErrorCodes,
        lambda: QueryCost(estimator),
        lambda: MaxTokensLimiter(settings.max_tokens),
        lambda: AddValidationRules(limits),
        SyntaxReportingParserCache,
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
        execution_context_class=CodedExecutor,
        scalar_overrides={datetime: UtcDateTime},
    )


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
