"""The customer-facing Connect pages: choose your utility and consent, then the outcome or an error.

Why pure functions over frozen views: handlers decide *what* to show (partner, utilities, URLs, tokens)
and these functions only decide *how*, so the markup is testable without AWS and every interpolated
value is escaped in one place. Copy is plain language: a customer should understand what is shared,
with whom, why, and how to take it back, before they leave for their utility's site.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterhub.platform.web.html import brand_name, esc, layout, safe_url


@dataclass(frozen=True)
class UtilityChoice:
    """One utility the customer can pick; ``utility_id`` is the posted value, ``display_name`` what they read."""

    utility_id: str
    display_name: str


@dataclass(frozen=True)
class ChooseUtilityView:
    """Everything the choose-utility page shows; ``authorize_action``/``decline_action`` are POST targets."""

    partner_name: str
    region_label: str
    ref_id: str | None
    utilities: tuple[UtilityChoice, ...]
    preselected_utility_id: str | None
    authorize_action: str
    decline_action: str
    csrf_token: str


@dataclass(frozen=True)
class ErrorView:
    """A problem explained to a customer: what happened (``message``) and, when possible, a way to retry."""

    title: str
    message: str
    retry_url: str | None = None


@dataclass(frozen=True)
class OutcomeView:
    """The end of the flow; ``outcome`` is "completed", "failed" or "declined"."""

    partner_name: str
    outcome: str
    utility_name: str | None
    message: str | None = None
    retry_url: str | None = None


# Inline icons (aria-hidden): no image requests, and they are decoration -- the headings carry the meaning.
_ICON_CHECK = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="none" stroke="#0b6b5c" '
    'stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round" d="M5 12.5l4.5 4.5L19 7.5"/></svg>'
)
_ICON_ALERT = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="none" stroke="#a4262c" '
    'stroke-width="2.5" stroke-linecap="round" d="M12 7v6.5M12 17.2v.1"/></svg>'
)
_ICON_STOP = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="none" stroke="#4a5968" '
    'stroke-width="2.5" stroke-linecap="round" d="M7 12h10"/></svg>'
)
_ICON_LOCK = (
    '<svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path fill="#4a5968" d="M8 1a3.5 3.5 0 0 '
    "0-3.5 3.5V6H4a1.5 1.5 0 0 0-1.5 1.5v6A1.5 1.5 0 0 0 4 15h8a1.5 1.5 0 0 0 1.5-1.5v-6A1.5 1.5 0 0 0 12 "
    '6h-.5V4.5A3.5 3.5 0 0 0 8 1zm-2 5V4.5a2 2 0 1 1 4 0V6z"/></svg>'
)


def _hidden(name: str, value: str) -> str:
    """A hidden form field, escaped."""
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


def _utility_choices(view: ChooseUtilityView) -> str:
    """The radio list; the preselected utility (or the only one offered) starts checked."""
    ids = {u.utility_id for u in view.utilities}
    checked_id = view.preselected_utility_id if view.preselected_utility_id in ids else None
    if checked_id is None and len(view.utilities) == 1:
        checked_id = view.utilities[0].utility_id
    rows = []
    for index, utility in enumerate(view.utilities):
        input_id = f"utility-{index}"
        checked = " checked" if utility.utility_id == checked_id else ""
        rows.append(
            f'<label class="choice" for="{input_id}">'
            f'<input type="radio" id="{input_id}" name="utility_id" value="{esc(utility.utility_id)}" required'
            f"{checked}><span>{esc(utility.display_name)}</span></label>"
        )
    return "\n".join(rows)


def _summary(partner: str) -> str:
    """What is shared, with whom, why, and how to stop -- the four things consent must make clear."""
    items = (
        ("What is shared", "Your service address, account and meter numbers, and your electricity usage history "
         "in 15-minute intervals."),
        ("With whom", f"{partner}, through meterhub, the service that connects {partner} to your utility."),
        ("Why", f"To enroll you in {partner}'s grid-services program and to measure your participation "
         "(settlement)."),
        ("How to stop", f"Tell {partner} or your utility at any time, and sharing will end."),
    )  # fmt: skip
    rows = "".join(f"<div><dt>{esc(term)}</dt><dd>{esc(text)}</dd></div>" for term, text in items)
    return f'<dl class="summary" aria-label="Data sharing summary">{rows}</dl>'


def choose_utility_page(view: ChooseUtilityView, *, nonce: str) -> str:
    """Step one of Connect: explain the request, pick a utility, give informed consent, go to the utility.

    Two forms because they do different things: the main one (utility, consent, CSRF token) continues to
    the utility; a separate small one records "No thanks" without requiring a choice or consent.
    """
    partner = view.partner_name
    region = view.region_label.strip()
    lead = (
        f"{partner} is asking to receive your electricity usage data from your utility, so it can enroll you "
        "in its grid-services program, which helps keep the power grid reliable when demand peaks."
    )
    steps = (
        "Choose your utility and agree to share your data.",
        "Sign in on your utility's website and approve the request.",
        f"You come back here, and {partner} takes it from there.",
    )
    steps_html = "".join(f"<li>{esc(step)}</li>" for step in steps)
    hint = f"Utilities serving {region}" if region else "Choose the company that sends your electricity bill."

    parts = [
        '<p class="eyebrow">Connect your utility</p>',
        f"<h1>Share your electricity data with {esc(partner)}</h1>",
        f'<p class="lead">{esc(lead)}</p>',
    ]
    if view.utilities:
        parts += [
            f'<ol class="steps" aria-label="How it works">{steps_html}</ol>',
            f'<form method="post" action="{esc(safe_url(view.authorize_action))}">',
            _hidden("csrf_token", view.csrf_token),
            '<fieldset aria-describedby="utility-hint">',
            "<legend>Your electric utility</legend>",
            f'<p class="hint" id="utility-hint">{esc(hint)}</p>',
            f'<div class="choices">{_utility_choices(view)}</div>',
            "</fieldset>",
            "<h2>What you're agreeing to</h2>",
            _summary(partner),
            '<label class="consent" for="consent">'
            '<input type="checkbox" id="consent" name="consent" value="yes" required>'
            f"<span>I authorize my utility to share the data described above with {esc(partner)} through "
            "meterhub, for program enrollment and settlement. I can revoke this at any time by telling "
            f"{esc(partner)} or my utility.</span></label>",
            '<div class="actions">',
            '<button type="submit" class="btn btn-primary">Continue to my utility</button>',
            "</div>",
            "</form>",
        ]
    else:
        # Nothing to connect: say so plainly, and still let the customer tell the partner "no thanks".
        where = f" in {region}" if region else ""
        parts.append(
            f'<p class="notice" role="status">We couldn\'t find a participating utility{esc(where)} right now, '
            f"so no data will be shared. You can close this window, or let {esc(partner)} know.</p>"
        )
    parts += [
        f'<form class="decline" method="post" action="{esc(safe_url(view.decline_action))}">',
        _hidden("csrf_token", view.csrf_token),
        '<button type="submit" class="btn btn-secondary">No thanks</button>',
        "</form>",
    ]
    if view.utilities:
        parts.append(
            f"<p class=\"reassure\">{_ICON_LOCK}<span>You'll sign in on your utility's own website. "
            f"Your utility password is never shared with {esc(partner)} or meterhub.</span></p>"
        )
    if view.ref_id:
        parts.append(f'<p class="ref">Reference: <code>{esc(view.ref_id)}</code></p>')
    return layout(
        title="Share your electricity data",
        body="\n".join(parts),
        nonce=nonce,
        brand=partner,
    )


def _retry_link(url: str | None, label: str = "Try again") -> str:
    """A primary "Try again" button-link when there is somewhere safe to go, else nothing."""
    if not url:
        return ""
    return f'<div class="actions"><a class="btn btn-primary" href="{esc(safe_url(url))}">{esc(label)}</a></div>'


def error_page(view: ErrorView, *, nonce: str, brand: str | None = None) -> str:
    """A friendly error: what happened and what to do next -- never internals or a stack trace."""
    sender = brand_name(brand) or "the company that sent you here"
    next_step = (
        f"You can try again below. If it keeps happening, please contact {sender}."
        if view.retry_url
        else f"Please go back to {sender} and start again."
    )
    body = "\n".join(
        (
            f'<div class="status status-bad">{_ICON_ALERT}</div>',
            f"<h1>{esc(view.title)}</h1>",
            f'<p class="lead">{esc(view.message)}</p>',
            f'<p class="muted">{esc(next_step)}</p>',
            _retry_link(view.retry_url),
        )
    )
    return layout(title=view.title, body=body, nonce=nonce, brand=brand)


def outcome_page(view: OutcomeView, *, nonce: str) -> str:
    """The last page: all set, something went wrong, or nothing shared.

    An unrecognized ``outcome`` renders as "failed": telling a customer "something went wrong" is honest,
    whereas claiming success we cannot confirm is not.
    """
    partner = view.partner_name
    utility = view.utility_name or "Your utility"
    if view.outcome == "completed":
        title = "You're all set"
        parts = [
            f'<div class="status">{_ICON_CHECK}</div>',
            f"<h1>{esc(title)}</h1>",
            f'<p class="lead">{esc(utility)} will share your electricity data with {esc(partner)}.</p>',
            f"<p>{esc(partner)} will be in touch about next steps. There's nothing else you need to do.</p>",
            '<p class="muted">You can close this window.</p>',
        ]
    elif view.outcome == "declined":
        title = "No data will be shared"
        parts = [
            f'<div class="status status-neutral">{_ICON_STOP}</div>',
            f"<h1>{esc(title)}</h1>",
            f'<p class="lead">You chose not to connect your utility, so {esc(partner)} will not receive your '
            "electricity data.</p>",
            f'<p class="muted">You can close this window. If you change your mind, start again from '
            f"{esc(partner)}.</p>",
            _retry_link(view.retry_url, "Start again"),
        ]
    else:
        title = "We couldn't connect your utility"
        message = view.message or "Something went wrong while connecting to your utility."
        follow_up = (
            "No data was shared. You can try again now."
            if view.retry_url
            else f"No data was shared. You can close this window and start again from {partner}."
        )
        parts = [
            f'<div class="status status-bad">{_ICON_ALERT}</div>',
            f"<h1>{esc(title)}</h1>",
            f'<p class="lead">{esc(message)}</p>',
            f'<p class="muted">{esc(follow_up)}</p>',
            _retry_link(view.retry_url),
        ]
    return layout(title=title, body="\n".join(p for p in parts if p), nonce=nonce, brand=partner)
