"""The Connect flow's rules on in-memory storage: links, sessions, consent, state, PKCE, callback outcomes."""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from meterhub.dal.connect import InMemoryConnectRepository
from meterhub.dal.partners import InMemoryPartnerRepository
from meterhub.dal.token_vault import FakeTokenVault
from meterhub.domain.connect import AuthorizationStatus, FailureReason, SessionStatus
from meterhub.domain.partners import Partner
from meterhub.logic import connect_flow
from meterhub.logic.connect_flow import ConnectProblem, LinkParameters
from meterhub.utilities.adapter import IntervalReading, ServicePoint, TokenSet, UtilityAdapter, UtilityError
from meterhub.utilities.registry import UtilityConfig

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
        }
        params.update(link or {})
        parameters = LinkParameters(
            account=params["account"] or "",
            transmission_region=params["transmission_region"],
            ref_id=params["ref_id"],
            variant=params["variant"],
            utility_id=params["utility_id"],
        )
        return connect_flow.open_link(self.partners, self.repo, parameters, cookie, include_demo=True, now=now)

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


def test_the_demo_utility_is_not_offered_in_production(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def open_in_production() -> connect_flow.OpenedSession:
        return connect_flow.open_link(
            world.partners,
            world.repo,
            LinkParameters("acme-solar", "CAISO", "r", None),
            None,
            include_demo=False,
            now=NOW,
        )

    with pytest.raises(ConnectProblem) as problem:  # no real utility configured: a clear page, not an empty form
        open_in_production()
    assert problem.value.status == 503
    monkeypatch.setenv("UTILITY_PGE_CLIENT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x")
    opened = open_in_production()
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
    with pytest.raises(ConnectProblem):  # and the state is spent: the attacker cannot use it either
        world.callback({"code": "c", "state": state}, attacker.session.session_id)
    assert world.utility.exchanged == []


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


# ----- final redirect -------------------------------------------------------------------------------------


def test_the_final_redirect_is_the_partners_configured_url_with_the_outcome(world: World) -> None:
    partner = world.partner.model_copy(update={"connect_redirect_url": "https://acme.example/done?src=connect"})
    target = connect_flow.final_redirect(partner, "site 42&x=1", "completed", "DEMO")
    assert target == "https://acme.example/done?src=connect&refId=site+42%26x%3D1&outcome=completed&utility=DEMO"
    assert connect_flow.final_redirect(world.partner, "r", "completed", None) is None
