"""The fuzzing run's one rule: every answer is a success or a coded refusal.

Schemathesis' own GraphQL check fails on any `errors` entry, but refusing bad
input is what the API is for. What must never happen is a server error, or a
top-level error a client cannot act on because it carries no `extensions.code`.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def coded_errors(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = json.loads(response.text)
    except ValueError:
        raise AssertionError(f"HTTP {response.status_code} without a JSON body") from None
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        code = (error.get("extensions") or {}).get("code")
        if not isinstance(code, str) or not code:
            raise AssertionError(f"error without extensions.code: {json.dumps(error)[:500]}")
