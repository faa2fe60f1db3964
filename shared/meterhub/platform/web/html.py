"""The HTML shell shared by every Connect page: document layout, URL hygiene, security headers, responses.

Why this shape: the pages are public and reached from links carrying refId/state, so everything here
assumes hostile input. Values are escaped where they are interpolated (``esc``), URLs that land in
``href``/``action`` are limited to relative paths and http(s) (``safe_url``), and every response carries a
CSP that allows nothing but one nonce'd ``<style>`` block -- no scripts, no external assets, no framing.
"""

from __future__ import annotations

import html as _html
import re
import secrets
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie

HTML_CONTENT_TYPE = "text/html; charset=utf-8"

# token_urlsafe output (and standard base64, in case a caller brings its own): anything else could break
# out of the CSP header value or the style attribute.
_NONCE_RE = re.compile(r"^[A-Za-z0-9_\-+/]{8,}={0,2}$")
# A CSP source expression for an origin: scheme, host (name, IPv4 or bracketed IPv6), optional port.
_ORIGIN_RE = re.compile(r"^https?://(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
# Browsers drop tabs/newlines inside URLs ("java\tscript:") and treat backslashes as slashes; reject them all.
# (Plain spaces inside a URL are harmless: the browser percent-encodes them.)
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def esc(value: object) -> str:
    """Escape any value for HTML text and quoted attributes; the one door every interpolated value goes through."""
    return _html.escape(str(value), quote=True)


def new_nonce() -> str:
    """A fresh per-response CSP nonce: unguessable, so injected markup cannot carry a valid one."""
    return secrets.token_urlsafe(16)


def safe_url(url: str) -> str:
    """``url`` if it is a relative path or an absolute http(s) URL, else ``"#"``.

    Why: URLs we place in ``href``/``action`` come partly from configuration and partner input; a
    ``javascript:`` or ``data:`` URL there would execute (or phish) even with every character escaped.
    Protocol-relative (``//host``) and backslash tricks are refused too, since browsers resolve them to
    another host in ways that are easy to misread. The result still needs ``esc`` when interpolated.
    """
    candidate = url.strip()
    if not candidate or _UNSAFE_URL_CHARS.search(candidate) or candidate.startswith("//"):
        return "#"
    try:
        parts = urlsplit(candidate)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return "#"
    if parts.scheme in ("http", "https"):
        return candidate if parts.netloc else "#"
    if not parts.scheme and not parts.netloc:
        return candidate
    return "#"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute http(s) URL, for the CSP ``form-action`` list.

    Why strict: the result goes into a response header, so a URL that is not plainly http(s) with a host
    raises ``ValueError`` rather than yielding something that could widen or break the policy.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal: urlsplit strips the brackets
        host = f"[{host}]"
    port = parts.port  # raises ValueError on a malformed port
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    if not _ORIGIN_RE.match(origin):
        raise ValueError(f"not a usable origin: {url[:200]!r}")
    return origin


def _check_nonce(nonce: str) -> str:
    """The nonce unchanged; refuse one that could escape the header or attribute it is placed in."""
    if not _NONCE_RE.match(nonce):
        raise ValueError("CSP nonce must be URL-safe base64 (use new_nonce())")
    return nonce


def security_headers(nonce: str, form_action: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers every Connect page is served with.

    ``form_action`` lists the origins a form post may end up at: Chrome enforces ``form-action`` on the
    redirects that follow a form submission, so the utility's authorize origin must be listed or the
    "Continue to my utility" post would be blocked. ``Referrer-Policy: no-referrer`` because our URLs
    carry refId/state that must not leak to the utility or to links; ``no-store`` because pages hold
    CSRF tokens and personal context.
    """
    sources = ["'self'"]
    for origin in form_action:
        if not _ORIGIN_RE.match(origin):
            raise ValueError(f"form-action entries must be origins (see origin_of): {origin[:200]!r}")
        if origin not in sources:
            sources.append(origin)
    policy = "; ".join(
        (
            "default-src 'none'",
            f"style-src 'nonce-{_check_nonce(nonce)}'",
            "img-src 'self' data:",
            "form-action " + " ".join(sources),
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Content-Type": HTML_CONTENT_TYPE,
    }


class _SetCookie(Cookie):
    """A ``Set-Cookie`` value the caller already serialized (attributes and all), passed through verbatim.

    Why: Powertools' ``Response`` takes ``Cookie`` objects and serializes them with ``str()``; handlers here
    build their cookie strings themselves (HttpOnly/Secure/SameSite/Path chosen per flow), so this adapter
    keeps them intact instead of re-parsing them into ``Cookie`` fields.
    """

    def __init__(self, header_value: str) -> None:
        if any(ch in header_value for ch in "\r\n"):
            raise ValueError("Set-Cookie value must not contain CR or LF")
        name, _, value = header_value.partition(";")[0].partition("=")
        super().__init__(name=name.strip(), value=value.strip())
        self._header_value = header_value

    def __str__(self) -> str:
        return self._header_value


def _cookies(cookies: list[str] | None) -> list[Cookie]:
    """Wrap serialized cookie strings for Powertools' ``Response``."""
    return [_SetCookie(c) for c in cookies or []]


def html_response(
    body: str,
    *,
    status: int = 200,
    nonce: str,
    form_action: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
) -> Response[str]:
    """A page response with the security headers for ``nonce``; ``headers`` add to or override them."""
    merged: dict[str, str] = security_headers(nonce, form_action)
    if headers:
        merged.update(headers)
    return Response(
        status_code=status,
        content_type=merged["Content-Type"],
        body=body,
        headers=merged,
        cookies=_cookies(cookies),
    )


def redirect_response(location: str, *, status: int = 303, cookies: list[str] | None = None) -> Response[str]:
    """A redirect (303 by default: after a POST the browser must GET the next page).

    ``location`` must be a relative path or an http(s) URL; anything else raises ``ValueError`` because a
    redirect to ``javascript:`` or a header-splitting value is a bug, never a page to show.
    ``no-referrer`` keeps the refId/state of the page we leave out of the utility's logs.
    """
    if safe_url(location) == "#" and location != "#":
        raise ValueError(f"refusing to redirect to {location[:200]!r}")
    return Response(
        status_code=status,
        body="",
        headers={
            "Location": location,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
        cookies=_cookies(cookies),
    )


# --- Layout -----------------------------------------------------------------------------------------------

# One stylesheet for the Connect pages. System fonts only (no external assets under the CSP); colors are
# chosen for WCAG AA contrast (ink #1b2733 15:1 on white, muted #4a5968 7:1, white on primary #0b6b5c 6.4:1,
# control borders #768594 at least 3:1). Selected/hover states use :has() as an enhancement only: the
# native radio and checkbox keep their own focus ring and checked mark everywhere.
CONNECT_CSS = """
:root{--ink:#1b2733;--muted:#4a5968;--line:#dde3e9;--bg:#f3f6f8;--card:#fff;--primary:#0b6b5c;
--primary-dark:#08564a;--primary-soft:#e7f3f0;--focus:#1d5fd1;--danger:#a4262c;--danger-soft:#fbeced;
--radius:14px}
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
display:flex;flex-direction:column;min-height:100vh}
a{color:var(--primary-dark);text-underline-offset:2px}
a:hover{color:var(--ink)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:8px;background:var(--card);padding:8px 12px;border-radius:8px;z-index:1}
.skip:focus{left:8px}
.site-header{background:var(--card);border-bottom:1px solid var(--line)}
.bar{max-width:640px;margin:0 auto;padding:14px 20px;display:flex;align-items:center;gap:10px}
.mark{display:inline-flex;width:30px;height:30px;border-radius:8px;background:var(--primary);
align-items:center;justify-content:center;flex:none}
.mark svg{width:18px;height:18px}
.brand{font-weight:650;font-size:1.02rem;letter-spacing:-.01em}
.brand small{display:block;font-weight:450;font-size:.78rem;color:var(--muted);letter-spacing:0}
main{flex:1;width:100%;max-width:640px;margin:0 auto;padding:32px 20px 24px}
.card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);
box-shadow:0 1px 2px rgba(16,24,40,.04),0 8px 24px rgba(16,24,40,.06);padding:36px 40px}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 12px;letter-spacing:-.02em}
h2{font-size:1rem;margin:28px 0 10px}
p{margin:0 0 14px}
.lead{font-size:1.06rem;color:var(--ink)}
.muted{color:var(--muted)}
.small{font-size:.88rem}
.eyebrow{font-size:.8rem;font-weight:650;text-transform:uppercase;letter-spacing:.06em;color:var(--primary);
margin:0 0 8px}
.steps{list-style:none;counter-reset:step;padding:0;margin:20px 0 4px;display:grid;gap:10px}
.steps li{counter-increment:step;display:flex;gap:12px;align-items:baseline;color:var(--muted)}
.steps li::before{content:counter(step);flex:none;width:24px;height:24px;border-radius:50%;
background:var(--primary-soft);color:var(--primary-dark);font-weight:650;font-size:.82rem;
display:inline-flex;align-items:center;justify-content:center;transform:translateY(-1px)}
fieldset{border:0;padding:0;margin:28px 0 0;min-width:0}
legend{font-weight:650;padding:0;margin:0 0 4px}
.hint{color:var(--muted);font-size:.92rem;margin:0 0 12px}
.choices{display:grid;gap:10px}
.choice{display:flex;align-items:center;gap:12px;padding:14px 16px;border:1.5px solid var(--line);
border-radius:10px;cursor:pointer;background:var(--card)}
.choice:hover{border-color:#768594}
.choice:has(input:checked){border-color:var(--primary);background:var(--primary-soft)}
input[type=radio],input[type=checkbox]{accent-color:var(--primary);width:20px;height:20px;margin:0;flex:none}
.choice span{font-weight:550}
.summary{margin:0;border:1px solid var(--line);border-radius:10px;background:#fafbfc;padding:6px 18px}
.summary div{display:grid;grid-template-columns:8.5rem 1fr;gap:12px;padding:12px 0;
border-top:1px solid var(--line)}
.summary div:first-child{border-top:0}
.summary dt{font-weight:650;font-size:.92rem}
.summary dd{margin:0;color:var(--muted);font-size:.95rem}
.consent{display:flex;gap:12px;align-items:flex-start;margin:20px 0 0;padding:16px;border-radius:10px;
background:var(--primary-soft);cursor:pointer}
.consent input{margin-top:3px}
.consent span{font-size:.95rem}
.actions{margin-top:24px;display:grid;gap:10px}
.btn{display:flex;align-items:center;justify-content:center;width:100%;min-height:50px;padding:12px 20px;
border-radius:10px;border:1.5px solid transparent;font:inherit;font-weight:650;font-size:1.02rem;
text-decoration:none;cursor:pointer}
.btn-primary{background:var(--primary);color:#fff}
.btn-primary:hover{background:var(--primary-dark);color:#fff}
.btn-secondary{background:var(--card);color:var(--ink);border-color:#768594;font-weight:550}
.btn-secondary:hover{background:var(--bg);color:var(--ink)}
.decline{margin:10px 0 0}
.notice+.decline{margin-top:20px}
.reassure{text-align:center;color:var(--muted);font-size:.88rem;margin:18px auto 0;max-width:30rem}
.reassure svg{width:14px;height:14px;vertical-align:-2px;margin-right:6px}
.status{width:56px;height:56px;border-radius:50%;display:flex;align-items:center;justify-content:center;
margin:0 0 20px;background:var(--primary-soft)}
.status svg{width:28px;height:28px}
.status-bad{background:var(--danger-soft)}
.status-neutral{background:#eef1f4}
.notice{border-left:4px solid #8a99a8;background:#eef1f4;border-radius:6px;padding:14px 16px;margin:24px 0 0}
.ref{margin:28px 0 0;padding-top:16px;border-top:1px solid var(--line);color:var(--muted);font-size:.82rem}
.ref code{font:inherit;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.site-footer{max-width:640px;margin:0 auto;padding:0 20px 32px;color:var(--muted);font-size:.84rem;
text-align:center}
.site-footer p{margin:0 auto;max-width:34rem}
@media (max-width:520px){
main{padding:16px 12px 20px}
.card{padding:26px 20px;border-radius:12px}
h1{font-size:1.38rem}
.summary{padding:4px 14px}
.summary div{grid-template-columns:1fr;gap:2px}
.bar{padding:12px 16px}
}
"""

# A small lightning-bolt mark drawn inline, so the header needs no image request.
_MARK_SVG = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">'
    '<path fill="#fff" d="M13.5 2 5 13.2h5.6L9.8 22 19 10.4h-5.7z"/></svg>'
)

_FOOTER = (
    "Your data is shared only with your permission, only with the company you chose, and only for the "
    "program you agreed to. You can withdraw your permission at any time."
)


def document(*, title: str, nonce: str, css: str, body_class: str, content: str) -> str:
    """The bare HTML document every page (Connect and the demo utility) is wrapped in.

    Why separate from ``layout``: the demo utility must look like a different site, so it brings its own
    stylesheet and chrome but shares the head (lang, charset, viewport, nonce'd style) with Connect.
    ``content`` is already-escaped markup.
    """
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{esc(title)}</title>\n"
        f'<style nonce="{esc(_check_nonce(nonce))}">{css}</style>\n'
        "</head>\n"
        f'<body class="{esc(body_class)}">\n'
        f"{content}\n"
        "</body>\n"
        "</html>\n"
    )


def brand_name(brand: str | None) -> str | None:
    """The partner's name from ``brand``, or None for our own mark.

    Callers may pass the partner name alone ("Acme Solar") or the full line ("Acme Solar · powered by
    meterhub"); either way the header shows the name once with "powered by meterhub Connect" beneath it,
    so the customer sees whose flow they are in and who operates it.
    """
    name = (brand or "").strip()
    for suffix in ("· powered by meterhub", "- powered by meterhub", "powered by meterhub"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)].strip()
            break
    return name or None


def _brand_markup(name: str | None) -> str:
    """The header wordmark: ours, or the partner's name with "powered by meterhub Connect" beneath it."""
    if name is None:
        return '<span class="brand">meterhub Connect</span>'
    return f'<span class="brand">{esc(name)}<small>powered by meterhub Connect</small></span>'


def layout(*, title: str, body: str, nonce: str, brand: str | None = None) -> str:
    """A complete Connect page: header with the product (or partner) mark, ``body`` in a card, privacy footer.

    ``body`` is already-escaped HTML from the page functions; ``title`` and ``brand`` are escaped here.
    """
    name = brand_name(brand)
    page_title = f"{title} · {name or 'meterhub Connect'}"
    content = (
        '<a class="skip" href="#main">Skip to content</a>\n'
        '<header class="site-header"><div class="bar">'
        f'<span class="mark">{_MARK_SVG}</span>{_brand_markup(name)}'
        "</div></header>\n"
        f'<main id="main"><div class="card">\n{body}\n</div></main>\n'
        f'<footer class="site-footer"><p>{esc(_FOOTER)}</p></footer>'
    )
    return document(title=page_title, nonce=nonce, css=CONNECT_CSS, body_class="connect", content=content)
