"""create_meter on the InMemory fakes: created, duplicate, update, and the catalog's refusals."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from meterhub.catalog.enums import ProvisionalAssetStatus, StatusDetailName
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.api_models.responses import ProvisionalAsset
from meterhub.meters.use_cases.create_meter import AssetRejected, ConnectLink, connect_link, create_meter
from meterhub.partners import use_cases as partners

from tests.emf import EmfCapture, point
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.partners import InMemoryPartnerRepository

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
VALID_ESIID_17 = "10443720001234567"
VALID_ESIID_22 = "1044372000123456789012"


class Clock:
    """A fixed clock that advances one minute per reading."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start

    def __call__(self) -> datetime:
        value = self.current
        self.current += timedelta(minutes=1)
        return value


@pytest.fixture
def partner_repo() -> InMemoryPartnerRepository:
    return InMemoryPartnerRepository()


@pytest.fixture
def partner_id(partner_repo: InMemoryPartnerRepository) -> str:
    return partners.create_partner(partner_repo, "Acme Solar").partner_id


@pytest.fixture
def repo() -> InMemoryMeterRepository:
    return InMemoryMeterRepository()


@pytest.fixture
def connect(partner_repo: InMemoryPartnerRepository, partner_id: str) -> ConnectLink:
    return connect_link(partner_repo, partner_id)


def create(
    repo: InMemoryMeterRepository,
    partner_id: str,
    document: dict[str, Any],
    connect: ConnectLink,
    *,
    update_existing: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> ProvisionalAsset:
    return create_meter(
        repo,
        partner_id,
        CreateMeter.model_validate(document),
        update_existing=update_existing,
        connect=connect,
        now=clock or Clock(),
    )


# ----- created / duplicate / updated -----------------------------------------------------------------------


def test_new_reference_creates_a_meter(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset
) -> None:
    # Given an ISONE device asset
    document = make_asset("site-001")

    # When it is created
    result = create(repo, partner_id, document, connect)

    # Then the outcome is COMPLETED / METER_CREATED and the meter is stored with the submitted data
    assert result.status is ProvisionalAssetStatus.COMPLETED
    assert result.status_detail.name is StatusDetailName.METER_CREATED
    assert result.status_detail.description == "A new meter was created."
    assert result.meter_id is not None
    stored = repo.get(partner_id, str(result.meter_id))
    assert stored is not None
    assert stored.partner_reference == "site-001"
    assert stored.data == CreateMeter.model_validate(document).model_dump(mode="json", exclude_none=True)
    assert (stored.version, stored.created_at, stored.updated_at) == (1, T0, T0)
    assert result.created_at == T0
    assert result.partner_reference == "site-001"


def test_same_reference_again_is_a_duplicate_naming_the_existing_meter_and_changes_nothing(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset
) -> None:
    # Given a meter created for reference site-001
    first = create(repo, partner_id, make_asset("site-001"), connect)
    before = repo.get(partner_id, str(first.meter_id))

    # When the same reference is sent again with other data
    changed = make_asset("site-001", customer={"city": "Worcester"})
    second = create(repo, partner_id, changed, connect)

    # Then it is a DUPLICATE / DUPLICATE_REF_ID naming the existing meter, and storage is untouched
    assert second.status is ProvisionalAssetStatus.DUPLICATE
    assert second.status_detail.name is StatusDetailName.DUPLICATE_REF_ID
    assert second.meter_id is None
    assert str(first.meter_id) in (second.status_detail.description or "")
    assert len(repo.meters) == 1
    assert repo.get(partner_id, str(first.meter_id)) == before


def test_update_existing_overwrites_the_meter_keeping_its_id_and_creation_time(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset
) -> None:
    # Given a meter with a device block
    clock = Clock()
    first = create(repo, partner_id, make_asset("site-001", device={"device_model": "PowerBox"}), connect, clock=clock)

    # When the same reference is sent with update_existing and different data
    replacement = make_asset("site-001", customer={"city": "Worcester"}, utility={"utility_name": "EVERSOURCE"})
    second = create(repo, partner_id, replacement, connect, update_existing=True, clock=clock)

    # Then the meter is overwritten in place: same id and created_at, new data (device dropped), version + 1
    assert second.status is ProvisionalAssetStatus.COMPLETED
    assert second.status_detail.name is StatusDetailName.METER_UPDATED
    assert second.meter_id == first.meter_id
    stored = repo.get(partner_id, str(first.meter_id))
    assert stored is not None
    assert stored.created_at == T0
    assert stored.updated_at > stored.created_at
    assert stored.version == 2
    assert stored.data["customer"]["city"] == "Worcester"
    assert stored.data["utility"] == {"utility_name": "EVERSOURCE"}
    assert "device" not in stored.data
    assert len(repo.meters) == 1


def test_update_existing_with_a_new_reference_creates_the_meter(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset
) -> None:
    # When a new reference is sent with update_existing
    result = create(repo, partner_id, make_asset("site-new"), connect, update_existing=True)

    # Then it is simply created
    assert result.status_detail.name is StatusDetailName.METER_CREATED
    assert len(repo.meters) == 1


def test_references_are_scoped_to_the_partner(
    repo: InMemoryMeterRepository,
    partner_repo: InMemoryPartnerRepository,
    partner_id: str,
    connect: ConnectLink,
    make_asset: MakeAsset,
) -> None:
    # Given another partner that already used reference site-001
    other = partners.create_partner(partner_repo, "Borealis Energy").partner_id
    create(repo, other, make_asset("site-001"), connect_link(partner_repo, other))

    # When this partner creates site-001
    result = create(repo, partner_id, make_asset("site-001"), connect)

    # Then it is a new meter, not a duplicate
    assert result.status_detail.name is StatusDetailName.METER_CREATED
    assert len(repo.meters) == 2


# ----- customer-authorized meters are refused --------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "programs"),
    [
        ("CAISO", "DRAM, CCA, ENERGY-ONLY, ELRP"),
        ("NYISO", "NYISO-SCR, CONED-DLRP, CONED-CSRP, PSEGLI-DLRP, PSEGLI-CSRP"),
    ],
)
def test_customer_authorized_utility_meter_is_refused_with_the_connect_route(
    repo: InMemoryMeterRepository,
    partner_id: str,
    connect: ConnectLink,
    make_asset: MakeAsset,
    region: str,
    programs: str,
) -> None:
    # Given a utility meter in a customer-authorized region
    document = make_asset("cust-42", region=region, meter_type="UTILITY_METER")

    # When it is created
    with pytest.raises(AssetRejected) as refused:
        create(repo, partner_id, document, connect)

    # Then it is refused on meter_type, naming the programs and the partner's Connect route, and nothing is stored
    [error] = refused.value.errors
    assert error.field == "meter_type"
    assert f"/connect?account=acme-solar&transmissionRegion={region}&refId=cust-42" in error.description
    assert programs in error.description
    assert repo.meters == {}


def test_connect_route_in_the_refusal_carries_the_reference_url_encoded(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset
) -> None:
    # Given a valid reference with characters that are special in query strings
    reference = "north+1 =x"
    document = make_asset(reference, region="NYISO", meter_type="UTILITY_METER")

    # When the refusal is produced
    with pytest.raises(AssetRejected) as refused:
        create(repo, partner_id, document, connect)

    # Then the Connect link decodes back to the exact reference
    match = re.search(r"/connect\?\S+", refused.value.errors[0].description)
    assert match is not None
    link = match.group(0)
    assert parse_qs(urlsplit(link).query)["refId"] == [reference]


def test_refusal_names_a_placeholder_account_when_the_partner_is_unknown(
    repo: InMemoryMeterRepository, make_asset: MakeAsset
) -> None:
    # Given a Connect link for a partner that is not stored
    connect = connect_link(InMemoryPartnerRepository(), "ghost")

    # When a CAISO utility meter is created
    with pytest.raises(AssetRejected) as refused:
        create(repo, "ghost", make_asset("cust-1", region="CAISO", meter_type="UTILITY_METER"), connect)

    # Then the link still names the route, with a placeholder account
    assert (
        "/connect?account=%3Cyour-account%3E&transmissionRegion=CAISO&refId=cust-1"
        in refused.value.errors[0].description
    )


# ----- ERCOT needs an ESIID --------------------------------------------------------------------------------


def test_ercot_utility_meter_without_esiid_is_refused(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset
) -> None:
    # Given an ERCOT utility meter without an account number
    document = make_asset("tx-1", region="ERCOT", meter_type="UTILITY_METER", customer={"state_or_province_code": "TX"})

    # When it is created
    with pytest.raises(AssetRejected) as refused:
        create(repo, partner_id, document, connect)

    # Then the ESIID field is named as required for ERCOT-ERS, and nothing is stored
    [error] = refused.value.errors
    assert error.field == "utility.electric_service_account_number"
    assert error.description.startswith("is required for ERCOT-ERS")
    assert repo.meters == {}


@pytest.mark.parametrize("esiid", ["1044372000123456", "104437200012345678", "1044372000ABCDEFG", "10443720001234-67"])
def test_ercot_utility_meter_with_malformed_esiid_is_refused(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset, esiid: str
) -> None:
    # Given an ERCOT utility meter with a malformed ESIID
    document = make_asset(
        "tx-1", region="ERCOT", meter_type="UTILITY_METER", utility={"electric_service_account_number": esiid}
    )

    # When it is created
    with pytest.raises(AssetRejected) as refused:
        create(repo, partner_id, document, connect)

    # Then the field is refused with the ESIID rule
    [error] = refused.value.errors
    assert error.field == "utility.electric_service_account_number"
    assert error.description.startswith("must be an ESIID of 17 or 22 digits")
    assert repo.meters == {}


@pytest.mark.parametrize("esiid", [VALID_ESIID_17, VALID_ESIID_22])
def test_ercot_utility_meter_with_valid_esiid_is_created(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset, esiid: str
) -> None:
    # Given an ERCOT utility meter with a valid ESIID
    document = make_asset(
        "tx-1", region="ERCOT", meter_type="UTILITY_METER", utility={"electric_service_account_number": esiid}
    )

    # When it is created
    result = create(repo, partner_id, document, connect)

    # Then the meter exists
    assert result.status_detail.name is StatusDetailName.METER_CREATED
    assert len(repo.meters) == 1


# ----- nothing else blocks creation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "meter_type"),
    [("CAISO", "DEVICE"), ("CAISO", "SUBMETER"), ("NYISO", "DEVICE"), ("ERCOT", "DEVICE"), ("SERC", "UTILITY_METER")],
)
def test_meters_no_program_fits_are_still_created(
    repo: InMemoryMeterRepository,
    partner_id: str,
    connect: ConnectLink,
    make_asset: MakeAsset,
    region: str,
    meter_type: str,
) -> None:
    # Given a meter that no catalog program takes
    document = make_asset("free-1", region=region, meter_type=meter_type)

    # When it is created
    result = create(repo, partner_id, document, connect)

    # Then it is created (eligibility is an enrollment question, not a creation one)
    assert result.status is ProvisionalAssetStatus.COMPLETED
    assert result.status_detail.name is StatusDetailName.METER_CREATED


@pytest.mark.parametrize("meter_type", ["DEVICE", "SUBMETER", "UTILITY_METER"])
def test_missing_program_fields_never_block_creation(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset, meter_type: str
) -> None:
    # Given an ISONE asset with none of the CPS / ConnectedSolutions fields
    document = make_asset("ma-1", meter_type=meter_type)

    # When it is created
    result = create(repo, partner_id, document, connect)

    # Then it is created anyway
    assert result.status_detail.name is StatusDetailName.METER_CREATED
    assert len(repo.meters) == 1


def test_refused_asset_does_not_consume_its_reference(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset
) -> None:
    # Given an ERCOT asset refused for its missing ESIID
    refused = make_asset("tx-7", region="ERCOT", meter_type="UTILITY_METER")
    with pytest.raises(AssetRejected):
        create(repo, partner_id, refused, connect)

    # When it is fixed and sent again
    fixed = make_asset(
        "tx-7", region="ERCOT", meter_type="UTILITY_METER", utility={"electric_service_account_number": VALID_ESIID_17}
    )
    result = create(repo, partner_id, fixed, connect)

    # Then it is created, not a duplicate
    assert result.status_detail.name is StatusDetailName.METER_CREATED


# ----- metrics ----------------------------------------------------------------------------------------------


def test_each_outcome_counts_in_meters_and_once_per_program_the_meter_falls_under(
    repo: InMemoryMeterRepository, partner_id: str, connect: ConnectLink, make_asset: MakeAsset, emf: EmfCapture
) -> None:
    # Given a new meter, the same reference again, then with update_existing, and a refused utility meter
    create(repo, partner_id, make_asset("ref-0001"), connect)
    create(repo, partner_id, make_asset("ref-0001"), connect)
    create(repo, partner_id, make_asset("ref-0001"), connect, update_existing=True)
    with pytest.raises(AssetRejected):
        create(repo, partner_id, make_asset("cust-42", region="CAISO", meter_type="UTILITY_METER"), connect)

    # Then each counts once in Meters by outcome, and once per program of its region and type in ProgramMeters
    totals = emf.totals()
    for outcome in ("created", "duplicate", "updated"):
        assert totals[point("Meters", Outcome=outcome)] == 1
        # (the metric counts the programs of the meter's region, type, class and utility, not its state: CT's ESS too)
        for program in ("MA_DOER-CPS", "EVERSOURCE-CS", "NATGRID-CS", "UNITIL-CS", "RIE-CS", "CT_GB-ESS"):
            assert totals[point("ProgramMeters", Program=program, Outcome=outcome)] == 1
    assert totals[point("Meters", Outcome="refused")] == 1
    for program in ("DRAM", "CCA", "ENERGY-ONLY", "ELRP"):
        assert totals[point("ProgramMeters", Program=program, Outcome="refused")] == 1
    assert len(totals) == 4 + 3 * 6 + 4
