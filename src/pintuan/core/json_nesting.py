"""How deeply a JSON text nests, measured before anything decodes it.

Python's json decoder and everything that walks decoded values (graphql-core's
input coercion, the text checks) recurse once per level, so a body of a few
thousand brackets ended in RecursionError: a 500 for a request of a few kB.
Counting brackets first is cheap and refuses such text with a clear code.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

MAX_DEPTH = 64
MESSAGE = f"JSON may nest at most {MAX_DEPTH} levels deep."

# A string literal, or an unterminated one running to the end: either way its
# brackets are text, and matching can never backtrack.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.|\\\Z)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TooDeep(json.JSONDecodeError):
    """A decode error, so that every caller that handles bad JSON handles this too."""

    def __init__(self, document: str) -> None:
        super().__init__(MESSAGE, document, 0)


def too_deep(data: str | bytes) -> bool:
    """Whether brackets outside string literals nest deeper than MAX_DEPTH."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:  # the usual request, in C
        return False
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH


def decode(data: str | bytes) -> object:
    """``json.loads``, refusing text nested deeper than MAX_DEPTH with TooDeep."""
    if too_deep(data):
        raise TooDeep(data if isinstance(data, str) else "")
    return json.loads(data)
