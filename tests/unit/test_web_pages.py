"""Connect and demo-utility HTML: escaping, URL hygiene, CSP/nonce, structure (one h1, labels, CSRF fields).

Every page is rendered with hostile values in every interpolated slot and then parsed with the standard
library's HTMLParser, so the assertions are about the document a browser would build, not substrings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from meterhub.connect.pages.views import (
    ChooseUtilityView,
    ErrorView,
    OutcomeView,
    UtilityChoice,
    choose_utility_page,
    error_page,
    outcome_page,
)
from meterhub.demo_utility.api_models import DemoAuthorizeView
from meterhub.demo_utility.pages import demo_authorize_page, demo_error_page
from meterhub.platform.web.html import (
    html_response,
    layout,
    new_nonce,
    origin_of,
    redirect_response,
    safe_url,
    security_headers,
)

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
EVIL = SCRIPT + BREAKOUT
JS_URL = "javascript:alert(1)"
NONCE = "n0nce-Abc_123xyz"

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# SVG shapes are written self-closing; HTMLParser reports them through handle_startendtag.
SELF_CLOSING_OK = {"path"}


@dataclass
class Form:
    """A parsed <form>: its attributes and its hidden fields."""

    attrs: dict[str, str]
    hidden: dict[str, str] = field(default_factory=dict)


class PageParser(HTMLParser):
    """Collects what the tests assert on and records structural errors (mismatched or unclosed tags)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.h1_count = 0
        self.tags: list[str] = []
        self.forms: list[Form] = []
        self.inputs: list[tuple[dict[str, str], bool]] = []  # (attrs, inside a <label>)
        self.label_for: set[str] = set()
        self.style_nonces: list[str] = []
        self.html_lang: str | None = None
        self.hrefs: list[str] = []
        self.event_handler_attrs: list[str] = []
        self.text: list[str] = []
        self.h1_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append(tag)
        self.event_handler_attrs += [name for name in values if name.startswith("on")]
        if tag == "html":
            self.html_lang = values.get("lang")
        elif tag == "h1":
            self.h1_count += 1
        elif tag == "style":
            self.style_nonces.append(values.get("nonce", ""))
        elif tag == "form":
            self.forms.append(Form(values))
        elif tag == "a":
            self.hrefs.append(values.get("href", ""))
        elif tag == "label" and "for" in values:
            self.label_for.add(values["for"])
        elif tag == "input":
            if values.get("type") == "hidden":
                if "form" in self.stack and self.forms:
                    self.forms[-1].hidden[values.get("name", "")] = values.get("value", "")
            else:
                self.inputs.append((values, "label" in self.stack))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID and tag not in SELF_CLOSING_OK:
            self.errors.append(f"self-closing <{tag}/>")
        saved = list(self.stack)
        self.handle_starttag(tag, attrs)
        self.stack = saved

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void <{tag}>")
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1:] or 'anything'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if "h1" in self.stack:
            self.h1_text.append(data)

    def close(self) -> None:
        super().close()
        if self.stack:
            self.errors.append(f"unclosed tags: {self.stack}")


def parse(page: str) -> PageParser:
    """Parse a rendered page and fail on structural errors."""
    parser = PageParser()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    return parser


def choose_view(**overrides: object) -> ChooseUtilityView:
    """A choose-utility view with hostile values everywhere a value is interpolated."""
    values: dict[str, object] = {
        "partner_name": EVIL,
        "region_label": EVIL,
        "ref_id": EVIL,
        "utilities": (UtilityChoice(EVIL, EVIL), UtilityChoice("sce", "Southern California " + SCRIPT)),
        "preselected_utility_id": "sce",
        "authorize_action": "/connect/authorize?x=" + BREAKOUT,
        "decline_action": "/connect/decline",
        "csrf_token": BREAKOUT,
    }
    values.update(overrides)
    return ChooseUtilityView(**values)  # type: ignore[arg-type]


def demo_view() -> DemoAuthorizeView:
    """A demo authorize view with hostile hidden fields, client name, scopes and scenarios."""
    return DemoAuthorizeView(
        action_url="/demo/authorize",
        hidden_fields=(("state", BREAKOUT), ("client_id", SCRIPT), (BREAKOUT, "x")),
        client_name=EVIL,
        scopes_description=EVIL,
        scenarios=(("approve", "Approve " + SCRIPT), (BREAKOUT, "Deny")),
    )


PAGES: dict[str, Callable[[], str]] = {
    "choose_utility": lambda: choose_utility_page(choose_view(), nonce=NONCE),
    "choose_no_utilities": lambda: choose_utility_page(choose_view(utilities=()), nonce=NONCE),
    "error": lambda: error_page(ErrorView(EVIL, EVIL, "/retry?ref=" + BREAKOUT), nonce=NONCE, brand=EVIL),
    "error_unbranded": lambda: error_page(ErrorView(EVIL, EVIL), nonce=NONCE),
    "outcome_completed": lambda: outcome_page(OutcomeView(EVIL, "completed", EVIL), nonce=NONCE),
    "outcome_failed": lambda: outcome_page(OutcomeView(EVIL, "failed", EVIL, EVIL, "/again"), nonce=NONCE),
    "outcome_declined": lambda: outcome_page(OutcomeView(EVIL, "declined", None, EVIL), nonce=NONCE),
    "outcome_unknown": lambda: outcome_page(OutcomeView(EVIL, EVIL, None), nonce=NONCE),
    "demo_authorize": lambda: demo_authorize_page(demo_view(), nonce=NONCE),
    "demo_error": lambda: demo_error_page(EVIL, EVIL, nonce=NONCE),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_is_well_formed_and_accessible(name: str) -> None:
    page = PAGES[name]()
    parsed = parse(page)
    assert page.startswith("<!doctype html>")
    assert parsed.html_lang == "en"
    assert parsed.h1_count == 1
    assert "title" in parsed.tags
    assert "main" in parsed.tags
    assert parsed.style_nonces == [NONCE]
    for attrs, inside_label in parsed.inputs:
        assert inside_label or attrs.get("id") in parsed.label_for, f"unlabelled input {attrs}"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_hostile_values_appear_only_escaped(name: str) -> None:
    page = PAGES[name]()
    parsed = parse(page)
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "script" not in parsed.tags
    assert "img" not in parsed.tags
    assert parsed.event_handler_attrs == []
    # The hostile text survives as text the customer could read, proving it was escaped, not dropped.
    assert SCRIPT in "".join(parsed.text) or name.startswith("demo_authorize")


def test_no_javascript_anywhere() -> None:
    for render in PAGES.values():
        page = render()
        assert "<script" not in page
        assert "javascript:" not in page.lower()


def test_choose_utility_forms_fields_and_csrf() -> None:
    parsed = parse(choose_utility_page(choose_view(), nonce=NONCE))
    authorize, decline = parsed.forms
    assert authorize.attrs["method"] == "post"
    assert authorize.attrs["action"] == "/connect/authorize?x=" + BREAKOUT
    assert decline.attrs["action"] == "/connect/decline"
    assert authorize.hidden == {"csrf_token": BREAKOUT}
    assert decline.hidden == {"csrf_token": BREAKOUT}
    radios = [attrs for attrs, _ in parsed.inputs if attrs["type"] == "radio"]
    assert {r["name"] for r in radios} == {"utility_id"}
    assert [r["value"] for r in radios] == [EVIL, "sce"]
    assert [("checked" in r) for r in radios] == [False, True]
    consent = [attrs for attrs, _ in parsed.inputs if attrs["type"] == "checkbox"]
    assert len(consent) == 1
    assert consent[0]["name"] == "consent"
    assert consent[0]["value"] == "yes"
    assert "required" in consent[0]


def test_choose_utility_copy_explains_what_who_why_and_revocation() -> None:
    view = choose_view(partner_name="Acme Solar", region_label="California")
    text = " ".join(parse(choose_utility_page(view, nonce=NONCE)).text)
    for phrase in (
        "Acme Solar",
        "service address",
        "account and meter numbers",
        "15-minute",
        "meterhub",
        "enrollment and settlement",
        "revoke",
        "Continue to my utility",
        "No thanks",
        "California",
    ):
        assert phrase in text


def test_single_utility_is_checked_and_unknown_preselection_is_ignored() -> None:
    single = choose_view(utilities=(UtilityChoice("pge", "PG&E"),), preselected_utility_id=None)
    radios = [a for a, _ in parse(choose_utility_page(single, nonce=NONCE)).inputs if a["type"] == "radio"]
    assert len(radios) == 1
    assert "checked" in radios[0]
    unknown = choose_view(preselected_utility_id="nope")
    radios = [a for a, _ in parse(choose_utility_page(unknown, nonce=NONCE)).inputs if a["type"] == "radio"]
    assert not any("checked" in r for r in radios)


def test_no_utilities_offers_only_the_decline_form() -> None:
    parsed = parse(choose_utility_page(choose_view(utilities=()), nonce=NONCE))
    assert len(parsed.forms) == 1
    assert parsed.forms[0].attrs["action"] == "/connect/decline"
    assert parsed.forms[0].hidden == {"csrf_token": BREAKOUT}


def test_unsafe_actions_and_retry_urls_become_hash() -> None:
    choose = parse(choose_utility_page(choose_view(authorize_action=JS_URL, decline_action="data:x"), nonce=NONCE))
    assert [f.attrs["action"] for f in choose.forms] == ["#", "#"]
    error = parse(error_page(ErrorView("t", "m", JS_URL), nonce=NONCE))
    failed = parse(outcome_page(OutcomeView("p", "failed", None, "m", JS_URL), nonce=NONCE))
    declined = parse(outcome_page(OutcomeView("p", "declined", None, None, JS_URL), nonce=NONCE))
    for parsed in (error, failed, declined):
        assert "#" in parsed.hrefs
        assert not any(h.lower().startswith("javascript") for h in parsed.hrefs)
    demo = DemoAuthorizeView(JS_URL, (), "c", "s", (("a", "A"),))
    assert parse(demo_authorize_page(demo, nonce=NONCE)).forms[0].attrs["action"] == "#"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/connect/start?ref=1", "/connect/start?ref=1"),
        ("start", "start"),
        ("?a=1", "?a=1"),
        ("https://utility.example/oauth?x=1", "https://utility.example/oauth?x=1"),
        ("http://localhost:3000/demo", "http://localhost:3000/demo"),
        (JS_URL, "#"),
        ("JaVaScRiPt:alert(1)", "#"),
        (" javascript:alert(1)", "#"),
        ("java\tscript:alert(1)", "#"),
        ("data:text/html,hi", "#"),
        ("vbscript:x", "#"),
        ("//evil.example/x", "#"),
        ("/\\evil.example", "#"),
        ("https:///nohost", "#"),
        ("", "#"),
        ("/a b", "/a b"),
        ("java\nscript:alert(1)", "#"),
        ("\x01javascript:alert(1)", "#"),
        ("https://[::1", "#"),
    ],
)
def test_safe_url(url: str, expected: str) -> None:
    assert safe_url(url) == expected


def test_outcome_copy() -> None:
    done = " ".join(parse(outcome_page(OutcomeView("Acme", "completed", "PG&E"), nonce=NONCE)).text)
    assert "You're all set" in done
    assert "PG&E will share" in done
    assert "close this window" in done
    failed = parse(
        outcome_page(OutcomeView("Acme", "failed", "PG&E", "You declined at your utility", "/r"), nonce=NONCE)
    )
    assert "You declined at your utility" in " ".join(failed.text)
    assert "Try again" in " ".join(failed.text)
    assert failed.hrefs == ["#main", "/r"]
    no_retry = parse(outcome_page(OutcomeView("Acme", "failed", None), nonce=NONCE))
    assert no_retry.hrefs == ["#main"]
    declined = parse(outcome_page(OutcomeView("Acme", "declined", None), nonce=NONCE))
    assert "".join(declined.h1_text) == "No data will be shared"


def test_brand_in_header() -> None:
    assert "meterhub Connect" in layout(title="t", body="", nonce=NONCE)
    for brand in ("Acme Solar", "Acme Solar · powered by meterhub"):
        page = layout(title="t", body="", nonce=NONCE, brand=brand)
        parse(page)
        assert "<title>t · Acme Solar</title>" in page
        body = page.split("<body", 1)[1]
        assert body.count("Acme Solar") == 1
        assert body.count("powered by meterhub") == 1


def test_demo_page_fields_and_identity() -> None:
    page = demo_authorize_page(demo_view(), nonce=NONCE)
    parsed = parse(page)
    (form,) = parsed.forms
    assert form.attrs["method"] == "post"
    assert form.hidden == {"state": BREAKOUT, "client_id": SCRIPT, BREAKOUT: "x"}
    by_name = {attrs["name"]: attrs for attrs, _ in parsed.inputs if attrs["type"] != "radio"}
    assert by_name["username"]["autocomplete"] == "username"
    assert by_name["password"]["type"] == "password"
    scenarios = [attrs for attrs, _ in parsed.inputs if attrs["type"] == "radio"]
    assert [s["name"] for s in scenarios] == ["scenario", "scenario"]
    assert [("checked" in s) for s in scenarios] == [True, False]
    text = " ".join(parsed.text)
    assert "Demo Utility" in text
    assert "any username and password work" in text
    assert "nothing is stored" in text
    assert "Test scenario" in text
    assert f"{EVIL} is asking to access: {EVIL}" in "".join(parsed.text)
    assert "Sign in and share my data" in text
    assert 'name="submit"' in page
    assert "meterhub Connect" not in text


def test_security_headers() -> None:
    nonce = new_nonce()
    headers = security_headers(nonce, ("https://utility.example", "http://localhost:3000", "https://utility.example"))
    csp = headers["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == f"'nonce-{nonce}'"
    assert directives["img-src"] == "'self' data:"
    assert directives["form-action"] == "'self' https://utility.example http://localhost:3000"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "script-src" not in directives
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("bad", ["https://x; script-src *", "https://x/path", "javascript:x", "'unsafe-inline'"])
def test_security_headers_refuse_non_origins(bad: str) -> None:
    with pytest.raises(ValueError):
        security_headers(new_nonce(), (bad,))


@pytest.mark.parametrize("bad", ["", "abc", "x'; script-src *", 'a"b<c>defgh'])
def test_bad_nonce_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        security_headers(bad)
    with pytest.raises(ValueError):
        layout(title="t", body="", nonce=bad)


def test_nonces_are_fresh_and_match_the_style_tag() -> None:
    nonces = {new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    nonce = nonces.pop()
    response = html_response(outcome_page(OutcomeView("p", "completed", None), nonce=nonce), nonce=nonce)
    csp = str(response.headers["Content-Security-Policy"])
    match = re.search(r"style-src 'nonce-([^']+)'", csp)
    assert match is not None
    assert match.group(1) == nonce
    assert parse(str(response.body)).style_nonces == [nonce]
    assert "frame-ancestors 'none'" in csp


def test_html_response_headers_and_cookies() -> None:
    nonce = new_nonce()
    cookie = "mh_connect=abc; Path=/connect; HttpOnly; Secure; SameSite=Lax"
    response = html_response(
        "<p>x</p>",
        status=400,
        nonce=nonce,
        form_action=(origin_of("https://utility.example/oauth/authorize?x=1"),),
        headers={"Cache-Control": "private, no-store", "X-Extra": "1"},
        cookies=[cookie],
    )
    assert response.status_code == 400
    assert response.body == "<p>x</p>"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Extra"] == "1"
    assert "form-action 'self' https://utility.example;" in str(response.headers["Content-Security-Policy"])
    assert [str(c) for c in response.cookies] == [cookie]


def test_redirect_response() -> None:
    cookie = "mh_connect=; Path=/connect; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
    response = redirect_response("https://utility.example/authorize?state=s", cookies=[cookie])
    assert response.status_code == 303
    assert response.headers["Location"] == "https://utility.example/authorize?state=s"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert [str(c) for c in response.cookies] == [cookie]
    assert redirect_response("/connect/done", status=302).status_code == 302


@pytest.mark.parametrize("bad", [JS_URL, "https://x\r\nSet-Cookie: a=b", "//evil.example"])
def test_redirect_refuses_unsafe_locations(bad: str) -> None:
    with pytest.raises(ValueError):
        redirect_response(bad)


def test_cookie_with_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        html_response("", nonce=new_nonce(), cookies=["a=b\r\nX-Evil: 1"])


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Utility.Example/oauth/authorize?x=1", "https://utility.example"),
        ("http://localhost:3000/demo/authorize", "http://localhost:3000"),
        ("https://user:pw@utility.example:8443/a", "https://utility.example:8443"),
        ("http://[::1]:8080/x", "http://[::1]:8080"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize("bad", ["/relative", JS_URL, "ftp://host/x", "https://", "https://host:99999/"])
def test_origin_of_refuses_non_http_urls(bad: str) -> None:
    with pytest.raises(ValueError):
        origin_of(bad)
