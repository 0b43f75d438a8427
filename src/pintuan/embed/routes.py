"""The widget's HTTP routes: its script (public, cacheable) and the sample storefront.

The script carries no data; the data it asks for is answered by /graphql only to
origins in the key's allow-list (``http.access``).
"""

from __future__ import annotations

import hashlib
from html import escape
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from pintuan.settings import Settings

SCRIPT_PATH = "/embed/v1/pintuan.js"
SCRIPT_MAX_AGE = 300
DEMO_ATTRIBUTES = ("key", "group-buy", "share-code", "locale", "theme", "ref")


def _asset(name: str) -> bytes:
    return resources.files("pintuan.embed").joinpath("static", name).read_bytes()


class Asset:
    """A packaged file served as it is, with a strong ETag, to any origin."""

    def __init__(self, name: str, media_type: str) -> None:
        self.body = _asset(name)
        self.media_type = media_type
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    async def serve(self, request: Request) -> Response:
        headers = {
            "cache-control": f"public, max-age={SCRIPT_MAX_AGE}",
            "etag": self.etag,
            "access-control-allow-origin": "*",
            "cross-origin-resource-policy": "cross-origin",
            "x-content-type-options": "nosniff",
        }
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def demo_policy(request: Request) -> str:
    """The strict policy the sample page runs under: the widget needs nothing looser."""
    host = request.url.netloc
    socket = "wss" if request.url.scheme == "https" else "ws"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src * data:; "
        f"connect-src 'self' {socket}://{host}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def demo_page(request: Request) -> str:
    """The sample storefront: the widget configured from the query string."""
    given = {a: request.query_params.get(a) for a in DEMO_ATTRIBUTES}
    attributes = "".join(f' {name}="{escape(value)}"' for name, value in given.items() if value)
    lang = "zh-CN" if given["locale"] == "zh-CN" else "en"
    missing = (
        ""
        if given["key"] and (given["group-buy"] or given["share-code"])
        else (
            "<p><strong>Give <code>?key=pk_...&amp;group-buy=&lt;offer ID&gt;</code> (or "
            "<code>share-code=</code>) in this page's URL; the key must allow this page's "
            "origin.</strong></p>"
        )
    )
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pintuan widget demo</title>
<link rel="stylesheet" href="/embed/demo.css">
<script src="{SCRIPT_PATH}" defer></script>
</head>
<body>
<header>Sample storefront</header>
<main>
<article>
<h1>A shop that sells through its customers' circles</h1>
<p>This page embeds a Pintuan group buy with two lines of HTML:</p>
<pre><code>&lt;script src="{SCRIPT_PATH}" defer&gt;&lt;/script&gt;
&lt;pintuan-group-buy key="pk_..." group-buy="..."&gt;&lt;/pintuan-group-buy&gt;</code></pre>
<p>It runs under this page's Content-Security-Policy, which allows no inline script
or style.</p>
{missing}
</article>
<aside><pintuan-group-buy{attributes}></pintuan-group-buy></aside>
</main>
</body>
</html>
"""


def embed_routes(settings: Settings) -> list[BaseRoute]:
    """The script always; the sample page in debug mode or when enabled."""
    routes: list[BaseRoute] = [
        Route(SCRIPT_PATH, Asset("pintuan.js", "text/javascript; charset=utf-8").serve)
    ]
    if settings.debug or settings.embed_demo:

        async def demo(request: Request) -> Response:
            return HTMLResponse(
                demo_page(request), headers={"content-security-policy": demo_policy(request)}
            )

        routes += [
            Route("/embed/demo", demo),
            Route("/embed/demo.css", Asset("demo.css", "text/css; charset=utf-8").serve),
        ]
    return routes
