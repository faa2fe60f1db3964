"""The API reference the API serves: its OpenAPI document (GET /openapi.json) and an interactive page (GET /docs).

Why package data: a function sees its own code and the layer, never the repository, so the layer ships the
document (`make openapi` writes the repository's openapi.json and this copy; a contract test holds them equal)
and Swagger UI, vendored from npm (`make swagger-ui`), so the page needs no CDN and works offline in `make run`.
Why Swagger UI and not Powertools' `enable_swagger`: that serves one resolver's own routes, while the reference is
the merged document of every API function. Files are read on first use: no other function pays for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from meterhub.platform.web.html import esc

OPENAPI_FILE = "openapi.json"
SWAGGER_UI = "swagger-ui"


@dataclass(frozen=True)
class Asset:
    """A static file of the page: what the route answers for it."""

    body: str
    content_type: str


_ASSETS = {
    # served name -> (path inside this package, content type)
    "swagger-ui-bundle.js": (f"{SWAGGER_UI}/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": (f"{SWAGGER_UI}/swagger-ui.css", "text/css; charset=utf-8"),
    "docs.js": ("docs.js", "text/javascript; charset=utf-8"),
}
ASSET_NAMES = frozenset(_ASSETS)

PAGE_TITLE = "meterhub partner API reference"


@cache
def _read(path: str) -> str:
    """A file of this package, read once per process (only the fixed paths above ever reach here)."""
    return resources.files(__package__).joinpath(path).read_text(encoding="utf-8")


def openapi_document() -> str:
    """The OpenAPI document, byte for byte what `make openapi` generated."""
    return _read(OPENAPI_FILE)


def asset(name: str) -> Asset | None:
    """The page's static file called `name`, or None: only the listed files are served, never a path."""
    entry = _ASSETS.get(name)
    if entry is None:
        return None
    path, content_type = entry
    return Asset(body=_read(path), content_type=content_type)


def docs_page() -> str:
    """The page: Swagger UI's stylesheet and script, and ours that starts it (no inline script or style, per CSP).

    Asset URLs are relative (`docs/...`), so the page works under a stage prefix (/dev/docs) and at a custom
    domain's root alike.
    """
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{esc(PAGE_TITLE)}</title>\n"
        '<link rel="stylesheet" href="docs/swagger-ui.css">\n'
        "</head>\n"
        "<body>\n"
        '<div id="swagger-ui"></div>\n'
        f'<noscript><p>This page needs JavaScript. The API document itself is at <a href="{OPENAPI_FILE}">'
        f"{OPENAPI_FILE}</a>.</p></noscript>\n"
        '<script src="docs/swagger-ui-bundle.js"></script>\n'
        '<script src="docs/docs.js"></script>\n'
        "</body>\n"
        "</html>\n"
    )


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        # "Try it out" calls this API from the page: same origin only.
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)


def page_headers() -> dict[str, str]:
    """What the page and its files are served with: scripts and styles from this origin only, no framing, no
    sniffing. Cacheable for a few minutes: nothing on it is personal (the API key a reader types in "Authorize"
    stays in the page's memory, never in a URL or storage)."""
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "public, max-age=300",
    }
