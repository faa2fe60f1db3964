"""The Connect flow's rules on in-memory storage: links, sessions, consent, state, PKCE, callback outcomes."""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from meterhub.connect.records import AuthorizationStatus, FailureReason, SessionStatus
from meterhub.connect.use_cases import flow as connect_flow
from meterhub.connect.use_cases import links as connect_links
from meterhub.connect.use_cases.flow import ConnectProblem, LinkParameters
from meterhub.connect.use_cases.links import ConnectLinkRequest
from meterhub.partners.records import Partner
from meterhub.platform.errors import InvalidInput
from meterhub.utility_providers.ports import UtilityAdapter
from meterhub.utility_providers.records.errors import UtilityError
from meterhub.utility_providers.records.readings import IntervalReading, ServicePoint, TokenSet
from meterhub.utility_providers.records.registry import UtilityConfig, UtilityRegistry
from pydantic import ValidationError

from tests.emf import EmfCapture, point, totals
from tests.fakes.connect import FakeTokenVault, InMemoryConnectRepository
from tests.fakes.partners import InMemoryPartnerRepository

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BASE = "https://api.example.com/dev"


@dataclass
class FakeUtility:
    """Records what the flow asked and answers like an OAuth server that checks PKCE."""

    challenges: dict[str, str] = field(default_factory=dict)  # state -> code_challenge
    fail_exchange: str | None = None
    exchanged: list[tuple[str, str, str]] = field(default_factory=list)

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        self.challenges[state] = code_challenge
        return f"https://utility.example.com/authorize?state={state}&redirect_uri={redirect_uri}"

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        self.exchanged.append((code, code_verifier, redirect_uri))
        if self.fail_exchange:
            raise UtilityError(self.fail_exchange)
        digest = urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
        if digest not in self.challenges.values():
            raise UtilityError("invalid_grant: PKCE verification failed")
        return TokenSet(
            access_token="access-SECRET",
            refresh_token="refresh-SECRET",
            expires_at=NOW + timedelta(hours=1),
            scope="FB=1",
        )

    def refresh(self, tokens: TokenSet) -> TokenSet:
        return tokens

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        return []

    def interval_data(
        self, tokens: TokenSet, usage_point_id: str, start: datetime, end: datetime
    ) -> list[IntervalReading]:
        return []

    def revoke(self, tokens: TokenSet) -> None:
        return None


class World:
    def __init__(self) -> None:
        self.partners = InMemoryPartnerRepository()
        self.partner = Partner(partner_id="p1", name="Acme Solar", account="acme-solar", created_at=NOW)
        self.partners.create_partner(self.partner)
        self.partners.create_partner(Partner(partner_id="p2", name="Other", account="other", created_at=NOW))
        self.repo = InMemoryConnectRepository()
        self.vault = FakeTokenVault()
        self.utility = FakeUtility()
        self.utilities = UtilityRegistry()  # no real utility configured: the demo only

    def adapter_for(self, config: UtilityConfig, base_url: str) -> UtilityAdapter:
        return self.utility

    def open(
        self, cookie: str | None = None, now: datetime = NOW, link: dict[str, str | None] | None = None
    ) -> connect_flow.OpenedSession:
        params: dict[str, str | None] = {
            "account": "acme-solar",
            "transmission_region": "CAISO",
            "ref_id": "site-42",
            "variant": None,
            "utility_id": None,
            "link_token": None,
        }
        params.update(link or {})
        parameters = LinkParameters(
            account=params["account"] or "",
            transmission_region=params["transmission_region"],
            ref_id=params["ref_id"],
            variant=params["variant"],
            utility_id=params["utility_id"],
            link_token=params["link_token"],
        )
        return connect_flow.open_link(
            self.partners, self.repo, parameters, cookie, utilities=self.utilities, include_demo=True, now=now
        )

    def issue(self, request: dict[str, str] | None = None, now: datetime = NOW) -> tuple[str, str]:
        """A partner-issued link for site-42 in CAISO: (its token, its link_id)."""
        fields = {"ref_id": "site-42", "transmission_region": "CAISO", **(request or {})}
        issued = connect_links.issue_link(
            self.partners,
            self.repo,
            "p1",
            ConnectLinkRequest.model_validate(fields),
            base_url=BASE,
            utilities=self.utilities,
            include_demo=True,
            now=now,
        )
        return parse_qs(urlsplit(issued.url).query)["linkToken"][0], issued.link_id

    def authorize(self, opened: connect_flow.OpenedSession, **form: str) -> str:
        fields = {"csrf_token": opened.session.csrf_token, "consent": "yes", "utility_id": "demo", **form}
        return connect_flow.start_authorization(
            self.partners,
            self.repo,
            account="acme-solar",
            session_id=opened.session.session_id,
            cookie_session_id=opened.session.session_id,
            form=fields,
            base_url=BASE,
            utilities=self.utilities,
            include_demo=True,
            adapter_for=self.adapter_for,
            now=NOW,
        )

    def callback(self, params: dict[str, str], cookie: str | None, now: datetime = NOW) -> connect_flow.CallbackOutcome:
        return connect_flow.handle_callback(
            self.partners,
            self.repo,
            self.vault,
            params=params,
            cookie_session_id=cookie,
            utilities=self.utilities,
            adapter_for=self.adapter_for,
            now=now,
        )


def _state(location: str) -> str:
    return parse_qs(urlsplit(location).query)["state"][0]


@pytest.fixture
def world() -> World:
    return World()


# ----- links and sessions ---------------------------------------------------------------------------------


def test_a_link_creates_a_session_and_offers_the_regions_utilities(world: World) -> None:
    opened = world.open()
    assert opened.is_new and opened.session.status is SessionStatus.CREATED
    assert opened.session.ref_id == "site-42"
    assert "demo" in {u.utility_id for u in opened.utilities}
    assert opened.partner.name == "Acme Solar"


def test_the_same_browser_resumes_its_session_and_a_new_one_starts_after_24h_idle(world: World) -> None:
    first = world.open()
    again = world.open(cookie=first.session.session_id, now=NOW + timedelta(hours=23))
    assert not again.is_new and again.session.session_id == first.session.session_id
    later = world.open(cookie=first.session.session_id, now=NOW + timedelta(hours=23) + timedelta(hours=24, seconds=1))
    assert later.is_new and later.session.session_id != first.session.session_id


def test_another_reference_or_no_cookie_starts_a_new_session(world: World) -> None:
    first = world.open()
    assert world.open(cookie=first.session.session_id, link={"ref_id": "site-43"}).is_new
    assert world.open(cookie=None).is_new


@pytest.mark.parametrize(
    ("link", "status"),
    [
        ({"account": "nobody"}, 404),
        ({"account": "../../etc"}, 404),
        ({"transmission_region": None}, 400),
        ({"transmission_region": "MARS"}, 400),
        ({"transmission_region": "ERCOT"}, 400),
        ({"variant": "RESIDENTIAL_AGREEMENTS_ONLY"}, 400),
        ({"ref_id": "x" * 129}, 400),
    ],
)
def test_bad_links_are_clear_problems_not_crashes(world: World, link: dict[str, str | None], status: int) -> None:
    with pytest.raises(ConnectProblem) as problem:
        world.open(link=link)
    assert problem.value.status == status
    assert problem.value.message


def test_direct_link_offers_only_its_utility_and_unknown_utilities_are_refused(world: World) -> None:
    opened = world.open(link={"transmission_region": None, "utility_id": "demo"})
    assert [u.utility_id for u in opened.utilities] == ["demo"]
    assert opened.session.direct_utility_id == "demo"
    with pytest.raises(ConnectProblem) as problem:
        world.open(link={"transmission_region": None, "utility_id": "no-such-utility"})
    assert problem.value.status == 404


def test_the_demo_utility_is_not_offered_in_production(world: World) -> None:
    def open_in_production(utilities: UtilityRegistry) -> connect_flow.OpenedSession:
        return connect_flow.open_link(
            world.partners,
            world.repo,
            LinkParameters("acme-solar", "CAISO", "r", None),
            None,
            utilities=utilities,
            include_demo=False,
            now=NOW,
        )

    with pytest.raises(ConnectProblem) as problem:  # no real utility configured: a clear page, not an empty form
        open_in_production(UtilityRegistry())
    assert problem.value.status == 503
    pge = {"UTILITY_PGE_CLIENT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}
    opened = open_in_production(UtilityRegistry(pge))
    assert [u.utility_id for u in opened.utilities] == ["pge"]
    assert "demo" not in {u.utility_id for u in opened.utilities}


# ----- authorization request ------------------------------------------------------------------------------


def test_consenting_records_initiated_and_sends_a_pkce_s256_request(world: World) -> None:
    opened = world.open()
    location = world.authorize(opened)
    state = _state(location)
    assert len(state) >= 43  # 256 bits
    session = world.repo.get_session("p1", opened.session.session_id)
    assert session is not None and session.status is SessionStatus.UPDATED
    [authorization] = list(world.repo.authorizations("p1"))
    assert authorization.status is AuthorizationStatus.INITIATED and authorization.ref_id == "site-42"
    [(stored_hash, (request, used))] = world.repo.requests.items()
    assert stored_hash == hashlib.sha256(state.encode()).hexdigest() and state not in request.model_dump_json()
    assert used is None and request.redirect_uri == f"{BASE}/connect/callback"
    assert world.utility.challenges[state] != request.code_verifier  # the verifier never leaves storage


@pytest.mark.parametrize(
    "form",
    [{"consent": ""}, {"utility_id": "pge-not-offered"}, {"csrf_token": "forged"}, {"csrf_token": ""}],
)
def test_no_consent_wrong_utility_or_bad_csrf_is_refused_and_records_nothing(
    world: World, form: dict[str, str]
) -> None:
    opened = world.open()
    with pytest.raises(ConnectProblem):
        world.authorize(opened, **form)
    assert list(world.repo.authorizations("p1")) == [] and world.repo.requests == {}


def test_a_form_posted_without_the_session_cookie_is_refused(world: World) -> None:
    opened = world.open()
    with pytest.raises(ConnectProblem) as problem:
        connect_flow.start_authorization(
            world.partners,
            world.repo,
            account="acme-solar",
            session_id=opened.session.session_id,
            cookie_session_id="someone-elses-session",
            form={"csrf_token": opened.session.csrf_token, "consent": "yes", "utility_id": "demo"},
            base_url=BASE,
            utilities=world.utilities,
            include_demo=True,
            adapter_for=world.adapter_for,
            now=NOW,
        )
    assert problem.value.status == 403


def test_declining_closes_the_session(world: World) -> None:
    opened = world.open()
    connect_flow.decline(
        world.partners,
        world.repo,
        account="acme-solar",
        session_id=opened.session.session_id,
        cookie_session_id=opened.session.session_id,
        form={"csrf_token": opened.session.csrf_token},
        now=NOW,
    )
    session = world.repo.get_session("p1", opened.session.session_id)
    assert session is not None and session.status is SessionStatus.CLOSED
    assert world.open(cookie=opened.session.session_id).is_new  # a closed session is not resumed


# ----- callback -------------------------------------------------------------------------------------------


def test_a_code_completes_the_authorization_with_encrypted_tokens(world: World) -> None:
    opened = world.open()
    state = _state(world.authorize(opened))
    outcome = world.callback({"code": "c-1", "state": state}, opened.session.session_id)
    assert outcome.outcome == "completed"
    authorization = outcome.authorization
    assert authorization.status is AuthorizationStatus.COMPLETED and authorization.scope == "FB=1"
    sealed = world.repo.get_tokens("p1", authorization.authorization_id)
    assert sealed is not None and b"SECRET" not in sealed and b"TERCES" not in sealed
    assert "SECRET" not in authorization.model_dump_json()
    opened_tokens = world.vault.open(sealed, connect_flow.token_context(authorization))
    assert opened_tokens.access_token == "access-SECRET"
    session = world.repo.get_session("p1", opened.session.session_id)
    assert session is not None and session.status is SessionStatus.COMPLETED


def test_replaying_a_state_is_refused_and_changes_nothing(world: World) -> None:
    opened = world.open()
    state = _state(world.authorize(opened))
    world.callback({"code": "c-1", "state": state}, opened.session.session_id)
    [before] = list(world.repo.authorizations("p1"))
    with pytest.raises(ConnectProblem):
        world.callback({"code": "c-2", "state": state}, opened.session.session_id)
    [after] = list(world.repo.authorizations("p1"))
    assert after == before and len(world.utility.exchanged) == 1


@pytest.mark.parametrize(
    "params",
    [{"code": "c"}, {"code": "c", "state": ""}, {"code": "c", "state": "tampered-state"}],
)
def test_missing_unknown_or_tampered_state_is_refused_and_records_nothing(world: World, params: dict[str, str]) -> None:
    opened = world.open()
    world.authorize(opened)
    with pytest.raises(ConnectProblem):
        world.callback(params, opened.session.session_id)
    [authorization] = list(world.repo.authorizations("p1"))
    assert authorization.status is AuthorizationStatus.INITIATED and world.utility.exchanged == []


def test_an_expired_state_is_refused_and_records_nothing(world: World) -> None:
    opened = world.open()
    state = _state(world.authorize(opened))
    with pytest.raises(ConnectProblem) as problem:
        world.callback({"code": "c", "state": state}, opened.session.session_id, now=NOW + timedelta(minutes=11))
    assert "expired" in problem.value.message
    [authorization] = list(world.repo.authorizations("p1"))
    assert authorization.status is AuthorizationStatus.INITIATED and world.utility.exchanged == []


def test_a_state_from_another_browser_session_is_refused(world: World) -> None:
    victim, attacker = world.open(), world.open()
    state = _state(world.authorize(attacker))
    with pytest.raises(ConnectProblem):
        world.callback({"code": "c", "state": state}, victim.session.session_id)
    assert world.utility.exchanged == []
    [authorization] = list(world.repo.authorizations("p1"))
    assert authorization.session_id == attacker.session.session_id
    assert authorization.status is AuthorizationStatus.INITIATED  # nothing recorded in anyone's name


@pytest.mark.parametrize("cookie", [None, "", "someone-elses-session"])
def test_a_callback_without_the_customers_cookie_leaves_the_state_usable_by_the_customer(
    world: World, cookie: str | None
) -> None:
    customer = world.open()
    state = _state(world.authorize(customer))
    with pytest.raises(ConnectProblem):  # whoever holds a copy of the callback URL, without the cookie
        world.callback({"code": "stolen", "state": state}, cookie)
    assert world.utility.exchanged == []
    outcome = world.callback({"code": "c-1", "state": state}, customer.session.session_id)
    assert outcome.outcome == "completed" and [e[0] for e in world.utility.exchanged] == ["c-1"]


def test_a_pkce_mismatch_fails_the_authorization_at_the_utility(world: World) -> None:
    opened = world.open()
    state = _state(world.authorize(opened))
    world.utility.challenges.clear()  # the utility knows another challenge: the verifier no longer matches
    world.utility.challenges["x"] = "not-the-challenge"
    outcome = world.callback({"code": "c", "state": state}, opened.session.session_id)
    assert outcome.outcome == "failed"
    assert outcome.authorization.status is AuthorizationStatus.FAILED
    assert outcome.authorization.failure_reason is FailureReason.UTILITY_ERROR
    assert "PKCE" in (outcome.authorization.failure_detail or "")
    assert world.repo.get_tokens("p1", outcome.authorization.authorization_id) is None


@pytest.mark.parametrize(
    ("error", "reason"), [("access_denied", FailureReason.DENIED), ("server_error", FailureReason.UTILITY_ERROR)]
)
def test_utility_errors_fail_the_authorization_with_the_reason(world: World, error: str, reason: FailureReason) -> None:
    opened = world.open()
    state = _state(world.authorize(opened))
    outcome = world.callback(
        {"error": error, "error_description": "<script>alert(1)</script>\nmore", "state": state},
        opened.session.session_id,
    )
    assert outcome.outcome == "failed" and outcome.authorization.failure_reason is reason
    assert "\n" not in (outcome.authorization.failure_detail or "")
    session = world.repo.get_session("p1", opened.session.session_id)
    assert session is not None and session.status is SessionStatus.UPDATED  # the customer may try again


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"error": "access_denied", "error_description": "<b>Access</b> denied<script>alert(1)</script>"}, None),
        ({"error": "server_error", "error_description": "bad\x00\x1b[31m\u202egateway\r\n<img src=x onerror=y>"}, None),
        ({"error": "server_error", "error_description": "x" * 100_000}, "x" * connect_flow.MAX_DETAIL_LENGTH),
        ({"error": "<svg/onload=alert(1)>" + "e" * 5000}, "e" * connect_flow.MAX_DETAIL_LENGTH),
        ({"error": "server_error", "error_description": "<<<>>>"}, "UTILITY_ERROR"),
    ],
)
def test_what_the_callback_says_about_an_error_is_stored_as_short_plain_text(
    world: World, params: dict[str, str], expected: str | None
) -> None:
    opened = world.open()
    state = _state(world.authorize(opened))
    outcome = world.callback({**params, "state": state}, opened.session.session_id)
    detail = outcome.authorization.failure_detail
    assert outcome.outcome == "failed" and detail
    assert len(detail) <= connect_flow.MAX_DETAIL_LENGTH
    assert "<" not in detail and ">" not in detail
    assert all(ch.isprintable() for ch in detail)
    assert detail == detail.strip() and "  " not in detail
    if expected is not None:
        assert detail == expected
    stored = world.repo.get_authorization("p1", outcome.authorization.authorization_id)
    assert stored is not None and stored.failure_detail == detail
    if "Access" in params.get("error_description", ""):
        assert detail == "Access denied alert(1)"


# ----- partner-issued links -------------------------------------------------------------------------------


def test_an_issued_link_opens_a_session_that_carries_it_to_the_authorization(world: World) -> None:
    token, link_id = world.issue()
    assert len(token) >= 43  # 256 bits
    stored = list(world.repo.links.values())
    assert [link.link_id for link in stored] == [link_id]
    assert token not in stored[0].model_dump_json()  # only its SHA-256 is kept
    assert stored[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored[0].expires_at == NOW + timedelta(hours=72)
    opened = world.open(link={"link_token": token})
    assert opened.is_new and opened.session.link_id == link_id
    world.authorize(opened)
    [authorization] = list(world.repo.authorizations("p1"))
    assert authorization.link_id == link_id


def test_a_plain_link_carries_no_issued_link(world: World) -> None:
    opened = world.open()
    world.authorize(opened)
    [authorization] = list(world.repo.authorizations("p1"))
    assert opened.session.link_id is None and authorization.link_id is None


def test_an_issued_link_belongs_to_the_first_browser_that_opens_it(world: World) -> None:
    token, link_id = world.issue()
    customer = world.open(link={"link_token": token})
    with pytest.raises(ConnectProblem) as problem:  # another browser (no cookie, or a cookie of its own)
        world.open(link={"link_token": token})
    assert problem.value.status == 410 and "Acme Solar" in problem.value.message
    stranger = world.open()
    with pytest.raises(ConnectProblem):
        world.open(cookie=stranger.session.session_id, link={"link_token": token})
    again = world.open(cookie=customer.session.session_id, link={"link_token": token})
    assert not again.is_new and again.session.session_id == customer.session.session_id
    # "Try again" is the plain link: the customer's browser resumes its session, the issued link included
    retried = world.open(cookie=customer.session.session_id)
    assert not retried.is_new and retried.session.link_id == link_id
    # after our page's "No thanks" the same browser may open its link again (a new session claims it)
    connect_flow.decline(
        world.partners,
        world.repo,
        account="acme-solar",
        session_id=customer.session.session_id,
        cookie_session_id=customer.session.session_id,
        form={"csrf_token": customer.session.csrf_token},
        now=NOW,
    )
    reopened = world.open(cookie=customer.session.session_id, link={"link_token": token})
    assert reopened.is_new and reopened.session.link_id == link_id


def test_a_plain_session_is_not_resumed_by_an_issued_link(world: World) -> None:
    token, link_id = world.issue()
    plain = world.open()
    opened = world.open(cookie=plain.session.session_id, link={"link_token": token})
    assert opened.is_new and opened.session.link_id == link_id


@pytest.mark.parametrize(
    ("link", "status"),
    [
        ({"link_token": "not-a-token-we-issued"}, 404),
        ({"link_token": "bad token!"}, 404),
        ({"link_token": "x" * 500}, 404),
        ({"ref_id": "site-43"}, 400),  # the token with another refId
        ({"transmission_region": "NYISO"}, 400),
        ({"variant": "COMMERCIAL"}, 400),
    ],
)
def test_a_wrong_or_tampered_issued_link_is_refused(world: World, link: dict[str, str | None], status: int) -> None:
    token, _ = world.issue()
    with pytest.raises(ConnectProblem) as problem:
        world.open(link={"link_token": token, **link})
    assert problem.value.status == status
    assert world.repo.sessions_by_key == {} and [x.claimed_by for x in world.repo.links.values()] == [None]


def test_an_issued_link_expires_and_works_only_for_its_partner(world: World) -> None:
    token, _ = world.issue()
    with pytest.raises(ConnectProblem) as problem:
        world.open(link={"link_token": token}, now=NOW + timedelta(hours=72))
    assert problem.value.status == 410
    with pytest.raises(ConnectProblem) as problem:  # another partner's account with this partner's token
        world.open(link={"link_token": token, "account": "other"})
    assert problem.value.status == 404
    assert world.open(link={"link_token": token}, now=NOW + timedelta(hours=71)).session.link_id


def test_an_issued_link_opened_while_no_utility_is_available_stays_unclaimed(world: World) -> None:
    token, link_id = world.issue()
    link = LinkParameters("acme-solar", "CAISO", "site-42", None, link_token=token)
    with pytest.raises(ConnectProblem) as problem:  # production, no real utility configured yet
        connect_flow.open_link(
            world.partners, world.repo, link, None, utilities=world.utilities, include_demo=False, now=NOW
        )
    assert problem.value.status == 503
    assert world.repo.sessions_by_key == {} and [x.claimed_by for x in world.repo.links.values()] == [None]
    assert world.open(link={"link_token": token}).session.link_id == link_id  # the customer can come back


def test_an_issued_direct_link_names_its_utility_and_opens_it() -> None:
    world = World()
    token, link_id = world.issue({"utility_id": "demo"})
    opened = world.open(link={"link_token": token, "utility_id": "demo", "transmission_region": "CAISO"})
    assert opened.session.link_id == link_id and [u.utility_id for u in opened.utilities] == ["demo"]


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"utility_id": "no-such-utility"}, "utility_id"),
        ({"utility_id": "pge", "transmission_region": "NYISO"}, "utility_id"),
    ],
)
def test_issuing_a_link_for_a_utility_we_do_not_serve_names_the_field(
    world: World, request_fields: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as problem:
        world.issue(request_fields)
    assert field in problem.value.details and world.repo.links == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"ref_id": "", "transmission_region": "CAISO"},
        {"ref_id": "x" * 129, "transmission_region": "CAISO"},
        {"ref_id": "a\nb", "transmission_region": "CAISO"},
        {"ref_id": "r", "transmission_region": "ERCOT"},
        {"ref_id": "r", "transmission_region": "CAISO", "variant": "RESIDENTIAL_AGREEMENTS_ONLY"},
    ],
)
def test_a_link_request_is_validated(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        ConnectLinkRequest.model_validate(fields)


# ----- final redirect -------------------------------------------------------------------------------------


def test_the_final_redirect_is_the_partners_configured_url_with_the_outcome(world: World) -> None:
    partner = world.partner.model_copy(update={"connect_redirect_url": "https://acme.example/done?src=connect"})
    target = connect_flow.final_redirect(partner, "site 42&x=1", "completed", "DEMO")
    assert target == "https://acme.example/done?src=connect&refId=site+42%26x%3D1&outcome=completed&utility=DEMO"
    assert connect_flow.final_redirect(world.partner, "r", "completed", None) is None


# ----- metrics ----------------------------------------------------------------------------------------------


def test_callbacks_count_sessions_by_outcome_and_utility_and_refusals_not_at_all(world: World, emf: EmfCapture) -> None:
    # Given a completed authorization, a customer who said no, and a replayed state (refused)
    opened = world.open()
    completed = world.callback({"code": "c-1", "state": _state(world.authorize(opened))}, opened.session.session_id)
    denied = world.open(cookie="another browser")
    state = _state(world.authorize(denied))
    world.callback({"error": "access_denied", "state": state}, denied.session.session_id)
    with pytest.raises(ConnectProblem):
        world.callback({"code": "c-2", "state": state}, denied.session.session_id)
    # Then each outcome counts once under the authorization's utility
    utility = completed.authorization.utility_name.value
    assert totals(emf()) == {
        point("ConnectSessions", Outcome="completed", Utility=utility): 1,
        point("ConnectSessions", Outcome="failed", Utility=utility): 1,
    }
