"""The utilities customers can authorize, as configuration.

Real utilities (PG&E, SCE, SDG&E, Con Edison, PSEG Long Island) are entries with their Green Button
endpoints and a Secrets Manager secret holding the client credentials we were registered with; they are
listed here so a deployment only has to fill in the secret. Only the demo utility is exercised in this
repository (tests and `make run`); it is served by this same API under `/demo-utility` and never offered in
production.

A real utility is offered only when its secret is configured: `UTILITY_<ID>_CLIENT_SECRET_ARN` (e.g.
`UTILITY_PGE_CLIENT_SECRET_ARN`) names a Secrets Manager secret `{"client_id": ..., "client_secret": ...}`.
Because the endpoints below could only partly be checked against public documentation, every field can be
overridden per deployment without a code change: `UTILITY_<ID>_AUTHORIZE_URL`, `_TOKEN_URL`,
`_RESOURCE_BASE_URL`, `_REVOKE_URL` (empty string: none), `_SCOPE`, `_CLIENT_ID`, `_METER_READING_ID`.
These variables reach `UtilityRegistry` from the calling function's settings (no module here reads the
environment), so tests build a registry with whatever variables they need.

Endpoint provenance (re-check all of them when registering as a third party):
  * PG&E "Share My Data": token endpoint and resource server as used by PG&E's published SDK samples and
    many open-source clients (api.pge.com/datacustodian/oauth/v2/token, api.pge.com/GreenButtonConnect/espi);
    the customer-facing authorization page is sharemydata.pge.com/myAuthorization. PG&E requires mutual TLS
    (a client certificate) on every api.pge.com call, which `Urllib3HttpClient` does not present yet.
  * SCE, SDG&E, Con Edison, PSEG Long Island: no public endpoint list was found; the URLs are plausible
    placeholders marked "verify at registration" (the New York utilities may be reached through the NY IEDR
    platform instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from meterhub.catalog.enums import TransmissionRegion, UtilityName

DEMO_UTILITY_ID = "demo"


DEMO_CLIENT_ID = "meterhub-demo-client"


DEMO_PATH_PREFIX = "/demo-utility"


# The ESPI scope most utilities accept for 15-minute electricity interval data with customer information;
# real utilities assign their own scope strings at registration (override with UTILITY_<ID>_SCOPE).
_ESPI_INTERVAL_SCOPE = "FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=34128000"


@dataclass(frozen=True)
class UtilityConfig:
    """One utility. `utility_id` is the URL id (`/connect/<account>/<utility_id>/getting-started`)."""

    utility_id: str
    utility_name: UtilityName  # Leap's utility enum, used in events and on the meters created
    display_name: str
    transmission_regions: tuple[TransmissionRegion, ...]
    authorize_url: str  # absolute for real utilities; a path under the API's own base URL for the demo
    token_url: str
    resource_base_url: str  # every data request must lie under it (SSRF guard for resourceURI)
    revoke_url: str | None
    client_id: str
    client_secret_arn: str | None  # Secrets Manager: {"client_id": ..., "client_secret": ...}
    scope: str
    is_demo: bool = False
    # The MeterReading whose IntervalBlocks hold the electricity interval data (ESPI path segment).
    meter_reading_id: str = "01"


DEMO_UTILITY = UtilityConfig(
    utility_id=DEMO_UTILITY_ID,
    utility_name=UtilityName.DEMO,
    display_name="Demo Utility",
    transmission_regions=(TransmissionRegion.CAISO, TransmissionRegion.NYISO),
    authorize_url=f"{DEMO_PATH_PREFIX}/oauth/authorize",
    token_url=f"{DEMO_PATH_PREFIX}/oauth/token",
    resource_base_url=f"{DEMO_PATH_PREFIX}/espi/1_1/resource",
    revoke_url=f"{DEMO_PATH_PREFIX}/oauth/revoke",
    client_id=DEMO_CLIENT_ID,
    client_secret_arn=None,
    scope="FB=1_3_4_5_13_14_15_19_32_35_37_38_39_40;IntervalDuration=900;BlockDuration=daily;HistoryLength=34128000",
    is_demo=True,
)


# Real utilities as shipped; `client_id` and `client_secret_arn` come from the deployment (see the docstring).
REAL_UTILITIES: tuple[UtilityConfig, ...] = (
    UtilityConfig(
        utility_id="pge",
        utility_name=UtilityName.PGE,
        display_name="PG&E",
        transmission_regions=(TransmissionRegion.CAISO,),
        authorize_url="https://sharemydata.pge.com/myAuthorization",
        token_url="https://api.pge.com/datacustodian/oauth/v2/token",  # noqa: S106 - an endpoint URL, not a secret
        resource_base_url="https://api.pge.com/GreenButtonConnect/espi/1_1/resource",
        revoke_url=None,  # PG&E: revocation through the customer portal / the Authorization resource
        client_id="",
        client_secret_arn=None,
        scope=_ESPI_INTERVAL_SCOPE,
    ),
    UtilityConfig(
        utility_id="sce",
        utility_name=UtilityName.SCE,
        display_name="Southern California Edison",
        transmission_regions=(TransmissionRegion.CAISO,),
        # verify at registration: placeholders, no public endpoint list found
        authorize_url="https://greenbutton.sce.com/oauth/authorize",
        token_url="https://greenbutton.sce.com/oauth/token",  # noqa: S106 - an endpoint URL, not a secret
        resource_base_url="https://greenbutton.sce.com/espi/1_1/resource",
        revoke_url="https://greenbutton.sce.com/oauth/revoke",
        client_id="",
        client_secret_arn=None,
        scope=_ESPI_INTERVAL_SCOPE,
    ),
    UtilityConfig(
        utility_id="sdge",
        utility_name=UtilityName.SDGE,
        display_name="San Diego Gas & Electric",
        transmission_regions=(TransmissionRegion.CAISO,),
        # verify at registration: placeholders, no public endpoint list found
        authorize_url="https://greenbutton.sdge.com/oauth/authorize",
        token_url="https://greenbutton.sdge.com/oauth/token",  # noqa: S106 - an endpoint URL, not a secret
        resource_base_url="https://greenbutton.sdge.com/espi/1_1/resource",
        revoke_url="https://greenbutton.sdge.com/oauth/revoke",
        client_id="",
        client_secret_arn=None,
        scope=_ESPI_INTERVAL_SCOPE,
    ),
    UtilityConfig(
        utility_id="cecony",
        utility_name=UtilityName.CECONY,
        display_name="Con Edison",
        transmission_regions=(TransmissionRegion.NYISO,),
        # verify at registration: placeholders, no public endpoint list found ("Share My Data" program)
        authorize_url="https://greenbutton.coned.com/oauth/authorize",
        token_url="https://greenbutton.coned.com/oauth/token",  # noqa: S106 - an endpoint URL, not a secret
        resource_base_url="https://greenbutton.coned.com/espi/1_1/resource",
        revoke_url="https://greenbutton.coned.com/oauth/revoke",
        client_id="",
        client_secret_arn=None,
        scope=_ESPI_INTERVAL_SCOPE,
    ),
    UtilityConfig(
        utility_id="psegli",
        utility_name=UtilityName.PSEGLI,
        display_name="PSEG Long Island",
        transmission_regions=(TransmissionRegion.NYISO,),
        # verify at registration: placeholders, no public endpoint list found
        authorize_url="https://greenbutton.psegliny.com/oauth/authorize",
        token_url="https://greenbutton.psegliny.com/oauth/token",  # noqa: S106 - an endpoint URL, not a secret
        resource_base_url="https://greenbutton.psegliny.com/espi/1_1/resource",
        revoke_url="https://greenbutton.psegliny.com/oauth/revoke",
        client_id="",
        client_secret_arn=None,
        scope=_ESPI_INTERVAL_SCOPE,
    ),
)


_VARIABLE_NAMES = (
    "CLIENT_SECRET_ARN",
    "CLIENT_ID",
    "AUTHORIZE_URL",
    "TOKEN_URL",
    "RESOURCE_BASE_URL",
    "REVOKE_URL",
    "SCOPE",
    "METER_READING_ID",
)


def utility_variable_names() -> frozenset[str]:
    """Every UTILITY_<ID>_<NAME> variable the registry reads (a deployment sets those it needs)."""
    return frozenset(
        f"UTILITY_{entry.utility_id.upper()}_{name}" for entry in REAL_UTILITIES for name in _VARIABLE_NAMES
    )


@dataclass(frozen=True)
class UtilityRegistry:
    """The utilities this deployment offers, given its UTILITY_<ID>_<NAME> variables by full name (the settings
    of the functions that offer or call utilities carry them: `UtilityProviderSettings.utility_variables`)."""

    variables: Mapping[str, str] = field(default_factory=dict)

    def _env(self, utility_id: str, name: str) -> str | None:
        return self.variables.get(f"UTILITY_{utility_id.upper()}_{name}")

    def _configured(self, entry: UtilityConfig) -> UtilityConfig | None:
        """The entry with this deployment's settings, or None when its client secret is not configured."""
        secret_arn = self._env(entry.utility_id, "CLIENT_SECRET_ARN")
        if not secret_arn:
            return None
        revoke = self._env(entry.utility_id, "REVOKE_URL")
        return replace(
            entry,
            client_secret_arn=secret_arn,
            client_id=self._env(entry.utility_id, "CLIENT_ID") or entry.client_id,
            authorize_url=self._env(entry.utility_id, "AUTHORIZE_URL") or entry.authorize_url,
            token_url=self._env(entry.utility_id, "TOKEN_URL") or entry.token_url,
            resource_base_url=self._env(entry.utility_id, "RESOURCE_BASE_URL") or entry.resource_base_url,
            revoke_url=(revoke or None) if revoke is not None else entry.revoke_url,
            scope=self._env(entry.utility_id, "SCOPE") or entry.scope,
            meter_reading_id=self._env(entry.utility_id, "METER_READING_ID") or entry.meter_reading_id,
        )

    def configured_utilities(self, *, include_demo: bool) -> list[UtilityConfig]:
        """Every utility this deployment can offer: real ones with their secret configured, then the demo."""
        offered = [config for entry in REAL_UTILITIES if (config := self._configured(entry)) is not None]
        if include_demo:
            offered.append(DEMO_UTILITY)
        return offered

    def utilities_for(self, region: TransmissionRegion, *, include_demo: bool) -> list[UtilityConfig]:
        """The utilities a customer in `region` can choose, in display order (the demo, when included, last)."""
        return [
            config
            for config in self.configured_utilities(include_demo=include_demo)
            if region in config.transmission_regions
        ]

    def utility_by_id(self, utility_id: str) -> UtilityConfig | None:
        """A configured utility by its URL id (the demo included: callers refuse it in production themselves)."""
        return next((c for c in self.configured_utilities(include_demo=True) if c.utility_id == utility_id), None)
