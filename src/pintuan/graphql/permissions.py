"""Permission checks: declared on fields, plus object-level checks per merchant."""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError


def unauthenticated() -> ApiError:
    return ApiError(ApiErrorCode.UNAUTHENTICATED, "Sign in to do this.")


def forbidden() -> ApiError:
    return ApiError(ApiErrorCode.FORBIDDEN, "You may not do this.")


class SignedIn(BasePermission):
    """A user is signed in."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.viewer.user is None:
            raise unauthenticated()
        return True


class Admin(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.user is None:
            raise unauthenticated()
        if not viewer.is_admin:
            raise forbidden()
        return True


class MerchantActor(BasePermission):
    """Someone who may act for some merchant: a signed-in user or a secret key.

    Which merchant is checked against the object with ``require_merchant``.
    """

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.viewer.is_anonymous:
            raise unauthenticated()
        return True


def allow(*permissions: BasePermission) -> list[FieldExtension]:
    return [PermissionExtension(permissions=list(permissions), use_directives=False)]


def require_merchant(info: Info, merchant_id: int) -> None:
    if not info.context.viewer.can_manage(merchant_id):
        raise forbidden()
