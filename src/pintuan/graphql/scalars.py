"""Scalars whose parsing the API tightens beyond Strawberry's defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import cast

from graphql import GraphQLError
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from pintuan.core.errors import ApiErrorCode
from pintuan.core.validation import in_utc

_strawberry_parse = cast(Callable[[object], object], DateTimeDefinition.parse_value)


def _parse_datetime(value: object) -> object:
    """Aware times arrive as UTC, so every input is a time the database can store.

    A naive time passes through for the field's own rule to name it.
    """
    parsed = _strawberry_parse(value)
    if not isinstance(parsed, datetime) or parsed.tzinfo is None:
        return parsed
    try:
        return in_utc(parsed)
    except ValueError as exc:
        message = f"Value cannot represent a DateTime: {value!r}: {exc}."
        raise GraphQLError(message, extensions={"code": ApiErrorCode.INVALID.value}) from None


UtcDateTime: ScalarDefinition = replace(DateTimeDefinition, parse_value=_parse_datetime)
