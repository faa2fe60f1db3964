"""The demo utility's own sign-in page: deliberately a *different-looking* site from Connect.

Why: in the real flow the customer leaves the partner's pages for their utility's portal. The demo
utility stands in for that portal, so it has its own mark, palette and typography -- a person should see
they have left the partner's flow -- plus a clear notice that it is a demo that stores nothing.
"""

from __future__ import annotations

from meterhub.demo_utility.api_models import DemoAuthorizeView
from meterhub.platform.web.html import document, esc, safe_url

# A plain "utility portal" look: serif-free but boxier, navy and amber, square corners, denser layout.
DEMO_CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#e9edf2;color:#14213d;font:15px/1.5 Verdana,Tahoma,"DejaVu Sans",sans-serif;
display:flex;flex-direction:column;min-height:100vh}
a{color:#0b3d91}
:focus-visible{outline:3px solid #f0a202;outline-offset:2px}
.topbar{background:#0b2545;color:#fff;border-bottom:4px solid #f0a202}
.topbar .in{max-width:760px;margin:0 auto;padding:12px 20px;display:flex;align-items:center;gap:12px}
.logo{display:inline-flex;width:34px;height:34px;background:#f0a202;align-items:center;justify-content:center;
flex:none}
.logo svg{width:20px;height:20px}
.name{font-weight:700;font-size:1.15rem;letter-spacing:.01em}
.name small{display:block;font-weight:400;font-size:.75rem;color:#c9d3e0}
.demo-note{background:#fff4d6;border-bottom:1px solid #e7c66b;color:#5a4300;font-size:.9rem}
.demo-note p{max-width:760px;margin:0 auto;padding:10px 20px}
main{flex:1;width:100%;max-width:760px;margin:0 auto;padding:28px 20px}
.panel{background:#fff;border:1px solid #c5ceda;max-width:460px;margin:0 auto;padding:28px 30px}
h1{font-size:1.35rem;margin:0 0 6px;color:#0b2545}
p{margin:0 0 12px}
.request{background:#eef3fa;border:1px solid #c9d6ea;padding:12px 14px;margin:14px 0 20px;font-size:.92rem}
.field{margin:0 0 14px}
.field label{display:block;font-weight:700;font-size:.9rem;margin:0 0 4px}
.field input{width:100%;padding:9px 10px;border:1px solid #7d8aa0;border-radius:2px;font:inherit;color:inherit;
background:#fff}
fieldset{border:1px solid #c5ceda;padding:10px 14px 12px;margin:6px 0 18px;min-width:0}
legend{font-weight:700;font-size:.9rem;padding:0 6px}
.opt{display:flex;gap:8px;align-items:center;padding:4px 0;font-size:.92rem;cursor:pointer}
.opt input{accent-color:#0b2545;width:16px;height:16px;margin:0;flex:none}
button{width:100%;padding:11px 16px;background:#0b3d91;color:#fff;border:1px solid #082b66;border-radius:2px;
font:inherit;font-weight:700;cursor:pointer}
button:hover{background:#082b66}
.fine{color:#4b5870;font-size:.82rem;margin:14px 0 0}
footer{color:#4b5870;font-size:.8rem;text-align:center;padding:0 20px 24px}
@media (max-width:520px){main{padding:16px 10px}.panel{padding:22px 18px}}
"""


_LOGO_SVG = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">'
    '<path fill="#0b2545" d="M12 2 3 7v2h18V7zM5 10v8h2.5v-8zm5.75 0v8h2.5v-8zM16.5 10v8H19v-8zM3 19v3h18v-3z"/>'
    "</svg>"
)


def _demo_document(*, title: str, main: str, nonce: str) -> str:
    """The demo utility's chrome around ``main`` (already-escaped markup)."""
    content = (
        '<header class="topbar"><div class="in">'
        f'<span class="logo">{_LOGO_SVG}</span>'
        '<span class="name">Demo Utility<small>Customer account portal</small></span>'
        "</div></header>\n"
        '<div class="demo-note" role="note"><p><strong>Demo</strong> — any username and password work; '
        "nothing is stored.</p></div>\n"
        f'<main id="main"><div class="panel">\n{main}\n</div></main>\n'
        "<footer>Demo Utility is a test stand-in for an electric utility. It is not a real company.</footer>"
    )
    return document(title=f"{title} | Demo Utility", nonce=nonce, css=DEMO_CSS, body_class="demo", content=content)


def demo_authorize_page(view: DemoAuthorizeView, *, nonce: str) -> str:
    """Sign in at the demo utility and approve sharing; the scenario picks the outcome to simulate."""
    hidden = "".join(
        f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">' for name, value in view.hidden_fields
    )
    scenarios = "\n".join(
        f'<label class="opt" for="scenario-{index}"><input type="radio" id="scenario-{index}" name="scenario" '
        f'value="{esc(value)}"{" checked" if index == 0 else ""}>{esc(label)}</label>'
        for index, (value, label) in enumerate(view.scenarios)
    )
    tips = f'<p class="fine">{esc(view.tips)}</p>' if view.tips else ""
    scenario_block = (
        f"<fieldset><legend>Test scenario</legend>\n{scenarios}\n{tips}\n</fieldset>" if view.scenarios else ""
    )
    main = "\n".join(
        part
        for part in (
            "<h1>Sign in to your account</h1>",
            '<p class="request"><strong>'
            f"{esc(view.client_name)}</strong> is asking to access: {esc(view.scopes_description)}</p>",
            f'<form method="post" action="{esc(safe_url(view.action_url))}">',
            hidden,
            '<div class="field"><label for="username">Username</label>'
            '<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" '
            'spellcheck="false" required></div>',
            '<div class="field"><label for="password">Password</label>'
            '<input type="password" id="password" name="password" autocomplete="current-password" required>'
            "</div>",
            scenario_block,
            '<button type="submit" name="submit" value="approve">Sign in and share my data</button>',
            "</form>",
            '<p class="fine">In the success scenario, signing in approves sharing the data listed above; the '
            "other scenarios make the utility decline or fail instead. A real approval can be withdrawn at any "
            "time.</p>",
        )
        if part
    )
    return _demo_document(title="Sign in", main=main, nonce=nonce)


def demo_error_page(title: str, message: str, *, nonce: str) -> str:
    """An error shown by the demo utility itself (bad request to its authorize endpoint, unknown client)."""
    main = f"<h1>{esc(title)}</h1>\n<p>{esc(message)}</p>"
    return _demo_document(title=title, main=main, nonce=nonce)
