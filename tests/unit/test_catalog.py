"""The program catalog: which programs exist, how meters get in, what they need, when they deliver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from meterhub.catalog import exclusions
from meterhub.catalog import programs as catalog
from meterhub.catalog import sources as src
from meterhub.catalog.enums import CustomerClassification, MeterType, ProgramIdentifier, TransmissionRegion
from meterhub.catalog.programs import IntervalDataSource, OnboardingMethod, RequiredField

pytestmark = pytest.mark.usefixtures("no_network")

PARTNER = OnboardingMethod.PARTNER_CREATED
CUSTOMER = OnboardingMethod.CUSTOMER_AUTHORIZED

# program -> (region, onboarding, interval data source): the table of the issue.
EXPECTED_PROGRAMS: dict[str, tuple[TransmissionRegion, OnboardingMethod, IntervalDataSource]] = {
    "MA_DOER-CPS": (TransmissionRegion.ISONE, PARTNER, IntervalDataSource.PARTNER),
    "EVERSOURCE-CS": (TransmissionRegion.ISONE, PARTNER, IntervalDataSource.PARTNER),
    "NATGRID-CS": (TransmissionRegion.ISONE, PARTNER, IntervalDataSource.PARTNER),
    "UNITIL-CS": (TransmissionRegion.ISONE, PARTNER, IntervalDataSource.PARTNER),
    "RIE-CS": (TransmissionRegion.ISONE, PARTNER, IntervalDataSource.PARTNER),
    "ERCOT-ERS": (TransmissionRegion.ERCOT, PARTNER, IntervalDataSource.ISO),
    "DRAM": (TransmissionRegion.CAISO, CUSTOMER, IntervalDataSource.UTILITY),
    "CCA": (TransmissionRegion.CAISO, CUSTOMER, IntervalDataSource.UTILITY),
    "ENERGY-ONLY": (TransmissionRegion.CAISO, CUSTOMER, IntervalDataSource.UTILITY),
    "ELRP": (TransmissionRegion.CAISO, CUSTOMER, IntervalDataSource.UTILITY),
    "NYISO-SCR": (TransmissionRegion.NYISO, CUSTOMER, IntervalDataSource.UTILITY),
    "CONED-DLRP": (TransmissionRegion.NYISO, CUSTOMER, IntervalDataSource.UTILITY),
    "CONED-CSRP": (TransmissionRegion.NYISO, CUSTOMER, IntervalDataSource.UTILITY),
    "PSEGLI-DLRP": (TransmissionRegion.NYISO, CUSTOMER, IntervalDataSource.UTILITY),
    "PSEGLI-CSRP": (TransmissionRegion.NYISO, CUSTOMER, IntervalDataSource.UTILITY),
    # added from Leap's program_identifier enum where public program rules exist
    "CEC-DSGS": (TransmissionRegion.CAISO, PARTNER, IntervalDataSource.PARTNER),
    "PGE-CBP": (TransmissionRegion.CAISO, CUSTOMER, IntervalDataSource.UTILITY),
    "PJM-CAPACITY": (TransmissionRegion.PJM, CUSTOMER, IntervalDataSource.UTILITY),
    "CT_GB-ESS": (TransmissionRegion.ISONE, PARTNER, IntervalDataSource.PARTNER),
    "ONCOR-CLM": (TransmissionRegion.ERCOT, PARTNER, IntervalDataSource.UTILITY),
    "CAISO-ELRP-A4": (TransmissionRegion.CAISO, PARTNER, IntervalDataSource.PARTNER),
    "PGE-ART": (TransmissionRegion.CAISO, PARTNER, IntervalDataSource.PARTNER),
}
# Leap's identifiers whose program rules we found no public source for (see the README's Program catalog).
NOT_IN_CATALOG = [
    "CAISO-CCA-SC_ONLY",
    "CEC-DSGS-OPTION2",
    "CEC-DSGS-OPTION4",
    "NRG-REALTIME",
    "NRG-RED",
    "PSE-RPO",
    "SRP-RPO",
    "TVA-RPO",
    "ENERGYHUB-CS",
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ----- the programs ----------------------------------------------------------------------------------------


def test_catalog_holds_exactly_the_programs_of_the_issue_once_each() -> None:
    # Given the catalog
    identifiers = [str(program.program_identifier) for program in catalog.PROGRAMS]

    # Then every expected program is there, once, and nothing else
    assert sorted(identifiers) == sorted(EXPECTED_PROGRAMS)


def test_every_leap_program_identifier_is_in_the_catalog_or_listed_as_left_out() -> None:
    # Given Leap's whole program_identifier enum
    leap = {str(identifier) for identifier in ProgramIdentifier}

    # Then each identifier is either a catalog program or one we found no public rules for, never both
    assert set(EXPECTED_PROGRAMS) | set(NOT_IN_CATALOG) == leap
    assert not set(EXPECTED_PROGRAMS) & set(NOT_IN_CATALOG)


@pytest.mark.parametrize(("identifier", "expected"), sorted(EXPECTED_PROGRAMS.items()))
def test_program_has_its_region_onboarding_and_interval_data_source(
    identifier: str, expected: tuple[TransmissionRegion, OnboardingMethod, IntervalDataSource]
) -> None:
    # When the program is looked up by identifier
    program = catalog.get_program(ProgramIdentifier(identifier))

    # Then its region, onboarding method and interval source are the issue's
    assert (program.transmission_region, program.onboarding, program.interval_data_source) == expected


@pytest.mark.parametrize(
    ("region", "meter_type", "expected"),
    [
        (
            TransmissionRegion.ISONE,
            MeterType.DEVICE,
            ["MA_DOER-CPS", "EVERSOURCE-CS", "NATGRID-CS", "UNITIL-CS", "RIE-CS", "CT_GB-ESS"],
        ),
        (
            TransmissionRegion.ISONE,
            MeterType.UTILITY_METER,
            ["MA_DOER-CPS", "EVERSOURCE-CS", "NATGRID-CS", "UNITIL-CS", "RIE-CS"],
        ),
        (TransmissionRegion.ERCOT, MeterType.UTILITY_METER, ["ERCOT-ERS", "ONCOR-CLM"]),
        (TransmissionRegion.ERCOT, MeterType.DEVICE, []),
        (TransmissionRegion.CAISO, MeterType.UTILITY_METER, ["DRAM", "CCA", "ENERGY-ONLY", "ELRP", "PGE-CBP"]),
        (TransmissionRegion.CAISO, MeterType.DEVICE, ["CEC-DSGS", "CAISO-ELRP-A4", "PGE-ART"]),
        (TransmissionRegion.CAISO, MeterType.SUBMETER, ["CEC-DSGS", "CAISO-ELRP-A4"]),
        (
            TransmissionRegion.NYISO,
            MeterType.UTILITY_METER,
            ["NYISO-SCR", "CONED-DLRP", "CONED-CSRP", "PSEGLI-DLRP", "PSEGLI-CSRP"],
        ),
        (TransmissionRegion.PJM, MeterType.UTILITY_METER, ["PJM-CAPACITY"]),
        (TransmissionRegion.SERC, MeterType.UTILITY_METER, []),
    ],
)
def test_programs_for_lists_the_programs_open_to_a_region_and_meter_type(
    region: TransmissionRegion, meter_type: MeterType, expected: list[str]
) -> None:
    # When the catalog is asked which programs a meter can take part in
    programs = catalog.programs_for(region, meter_type)

    # Then exactly those programs answer, in catalog order
    assert [str(p.program_identifier) for p in programs] == expected


@pytest.mark.parametrize(
    ("region", "meter_type", "utility", "expected"),
    [
        (TransmissionRegion.ISONE, MeterType.DEVICE, "EVERSOURCE", ["MA_DOER-CPS", "EVERSOURCE-CS", "CT_GB-ESS"]),
        (TransmissionRegion.ISONE, MeterType.DEVICE, "UNITED_ILLUMINATED", ["MA_DOER-CPS", "CT_GB-ESS"]),
        (TransmissionRegion.ISONE, MeterType.DEVICE, "RIE", ["MA_DOER-CPS", "RIE-CS"]),
        (TransmissionRegion.NYISO, MeterType.UTILITY_METER, "CECONY", ["NYISO-SCR", "CONED-DLRP", "CONED-CSRP"]),
        (TransmissionRegion.NYISO, MeterType.UTILITY_METER, "PSEGLI", ["NYISO-SCR", "PSEGLI-DLRP", "PSEGLI-CSRP"]),
        (TransmissionRegion.NYISO, MeterType.UTILITY_METER, "NATGRID", ["NYISO-SCR"]),
        (TransmissionRegion.ERCOT, MeterType.UTILITY_METER, "ONCOR", ["ERCOT-ERS", "ONCOR-CLM"]),
        (TransmissionRegion.ERCOT, MeterType.UTILITY_METER, "CENTERPOINT", ["ERCOT-ERS"]),
        (TransmissionRegion.CAISO, MeterType.DEVICE, "PGE", ["CEC-DSGS", "CAISO-ELRP-A4", "PGE-ART"]),
        (TransmissionRegion.CAISO, MeterType.DEVICE, "SCE", ["CEC-DSGS", "CAISO-ELRP-A4"]),
        (TransmissionRegion.CAISO, MeterType.DEVICE, "SMUD", ["CEC-DSGS"]),
    ],
)
def test_programs_for_a_known_utility_keeps_only_that_utilitys_programs(
    region: TransmissionRegion, meter_type: MeterType, utility: str, expected: list[str]
) -> None:
    # When the catalog is asked for a meter whose utility is known
    programs = catalog.programs_for(region, meter_type, None, utility)

    # Then utility-specific programs of other utilities are left out
    assert [str(p.program_identifier) for p in programs] == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("MA", ["MA_DOER-CPS", "EVERSOURCE-CS", "NATGRID-CS", "UNITIL-CS"]),
        ("RI", ["RIE-CS"]),
        ("CT", ["EVERSOURCE-CS", "CT_GB-ESS"]),
        ("NH", []),
        (None, ["MA_DOER-CPS", "EVERSOURCE-CS", "NATGRID-CS", "UNITIL-CS", "RIE-CS", "CT_GB-ESS"]),
    ],
)
def test_programs_for_a_known_state_keeps_only_the_programs_of_that_state(
    state: str | None, expected: list[str]
) -> None:
    # When the catalog is asked for an ISONE device whose service address is in the state (or unknown)
    programs = catalog.programs_for(TransmissionRegion.ISONE, MeterType.DEVICE, state=state)

    # Then state-bound programs of other states are left out
    assert [str(p.program_identifier) for p in programs] == expected


def test_rhode_island_energy_connectedsolutions_runs_in_rhode_island() -> None:
    # Then RIE-CS is Rhode Island's, and region-wide ISO programs are bound to no state
    assert catalog.get_program(ProgramIdentifier.RIE_CS).states == ("RI",)
    assert catalog.get_program(ProgramIdentifier.ERCOT_ERS).states == ()
    assert catalog.get_program(ProgramIdentifier.NYISO_SCR).states == ()


def test_programs_for_filters_on_customer_classification_when_given(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a catalog where ERCOT-ERS is restricted to commercial customers
    restricted = catalog.get_program(ProgramIdentifier.ERCOT_ERS).model_copy(
        update={"customer_classifications": (CustomerClassification.COMMERCIAL,)}
    )
    programs = tuple(restricted if p.program_identifier == "ERCOT-ERS" else p for p in catalog.PROGRAMS)
    monkeypatch.setattr(catalog, "PROGRAMS", programs)

    # When residential and commercial meters are matched
    residential = catalog.programs_for(
        TransmissionRegion.ERCOT, MeterType.UTILITY_METER, CustomerClassification.RESIDENTIAL
    )
    commercial = catalog.programs_for(
        TransmissionRegion.ERCOT, MeterType.UTILITY_METER, CustomerClassification.COMMERCIAL
    )

    # Then only the commercial meter gets the program (and Oncor's CLM, commercial-only in the real catalog)
    assert residential == []
    assert [p.program_identifier for p in commercial] == [ProgramIdentifier.ERCOT_ERS, ProgramIdentifier.ONCOR_CLM]


# ----- derived rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "meter_type", "expected"),
    [
        (TransmissionRegion.ISONE, MeterType.DEVICE, False),
        (TransmissionRegion.ISONE, MeterType.SUBMETER, False),
        (TransmissionRegion.ISONE, MeterType.UTILITY_METER, False),
        (TransmissionRegion.ERCOT, MeterType.UTILITY_METER, False),
        (TransmissionRegion.ERCOT, MeterType.DEVICE, False),
        (TransmissionRegion.CAISO, MeterType.UTILITY_METER, True),
        (TransmissionRegion.CAISO, MeterType.DEVICE, False),
        (TransmissionRegion.CAISO, MeterType.SUBMETER, False),
        (TransmissionRegion.NYISO, MeterType.UTILITY_METER, True),
        (TransmissionRegion.NYISO, MeterType.DEVICE, False),
        (TransmissionRegion.PJM, MeterType.UTILITY_METER, True),
        (TransmissionRegion.PJM, MeterType.DEVICE, False),
    ],
)
def test_requires_customer_authorization_per_region_and_meter_type(
    region: TransmissionRegion, meter_type: MeterType, expected: bool
) -> None:
    # When / Then: only meters whose every program is customer-authorized need Connect
    assert catalog.requires_customer_authorization(region, meter_type) is expected


@pytest.mark.parametrize(
    ("region", "meter_type", "expected"),
    [
        (TransmissionRegion.ISONE, MeterType.DEVICE, True),
        (TransmissionRegion.ISONE, MeterType.SUBMETER, True),
        (TransmissionRegion.ISONE, MeterType.UTILITY_METER, True),
        (TransmissionRegion.ERCOT, MeterType.UTILITY_METER, False),
        (TransmissionRegion.CAISO, MeterType.UTILITY_METER, False),
        (TransmissionRegion.CAISO, MeterType.DEVICE, True),
        (TransmissionRegion.NYISO, MeterType.UTILITY_METER, False),
        (TransmissionRegion.PJM, MeterType.DEVICE, False),
    ],
)
def test_accepts_partner_interval_data_per_region_and_meter_type(
    region: TransmissionRegion, meter_type: MeterType, expected: bool
) -> None:
    # When / Then: partner data is accepted only where some program measures with it
    assert catalog.accepts_partner_interval_data(region, meter_type) is expected


# ----- unmet -----------------------------------------------------------------------------------------------

ACCOUNT = RequiredField(path="utility.electric_service_account_number", label="Account")
DEEP = RequiredField(path="site.devices.first.serial", label="Deep serial")
DIGITS = RequiredField(path="utility.esiid", label="ESIID", pattern=r"^\d{17}(\d{5})?$", rule="17 or 22 digits")
FLAG = RequiredField(path="isone.in_connected_solutions", label="Flag")


@pytest.mark.parametrize(
    ("document", "expected_unmet"),
    [
        ({}, ["Account", "Deep serial", "ESIID", "Flag"]),
        (
            {
                "utility": {"electric_service_account_number": "A-1", "esiid": "1" * 17},
                "site": {"devices": {"first": {"serial": "S-9"}}},
                "isone": {"in_connected_solutions": False},
            },
            [],
        ),
        ({"utility": {"electric_service_account_number": "", "esiid": "1" * 22}}, ["Account", "Deep serial", "Flag"]),
        ({"utility": "not-an-object", "isone": {"in_connected_solutions": True}}, ["Account", "Deep serial", "ESIID"]),
        ({"site": {"devices": {"first": []}}}, ["Account", "Deep serial", "ESIID", "Flag"]),
        ({"site": {"devices": {"first": {"serial": []}}}}, ["Account", "Deep serial", "ESIID", "Flag"]),
        ({"utility": {"electric_service_account_number": None}}, ["Account", "Deep serial", "ESIID", "Flag"]),
    ],
    ids=["empty", "all-present", "empty-string", "parent-not-object", "intermediate-list", "empty-list", "null"],
)
def test_unmet_reports_absent_nested_fields(document: dict[str, Any], expected_unmet: list[str]) -> None:
    # When the required fields are checked against the document
    failing = catalog.unmet((ACCOUNT, DEEP, DIGITS, FLAG), document)

    # Then exactly the absent or empty ones fail, in declaration order
    assert [field.label for field in failing] == expected_unmet


@pytest.mark.parametrize(
    ("value", "meets"),
    [
        ("1" * 17, True),
        ("1" * 22, True),
        ("1" * 16, False),
        ("1" * 18, False),
        ("1" * 23, False),
        ("1234567890123456A", False),
        (" " + "1" * 17, False),
        (10**16 + 1, True),
    ],
)
def test_unmet_applies_the_pattern_to_present_values(value: object, meets: bool) -> None:
    # Given a document with the value
    document = {"utility": {"esiid": value}}

    # When the patterned field is checked
    failing = catalog.unmet((DIGITS,), document)

    # Then it fails exactly when the value does not fully match
    assert (failing == []) is meets


def test_value_at_follows_dot_paths_and_answers_none_for_missing_steps() -> None:
    # Given a nested document
    document = {"customer": {"billing": {"city": "Salem"}}, "load_types": ["HVAC"]}

    # Then present paths answer their value and missing ones None
    assert catalog.value_at(document, "customer.billing.city") == "Salem"
    assert catalog.value_at(document, "load_types") == ["HVAC"]
    assert catalog.value_at(document, "customer.billing.street_1") is None
    assert catalog.value_at(document, "customer.billing.city.name") is None
    assert catalog.value_at(document, "site.load_zone") is None


def test_ercot_ers_requires_an_esiid_to_create_and_isone_requires_nothing() -> None:
    # Given the catalog's creation rules
    ers = catalog.get_program(ProgramIdentifier.ERCOT_ERS)
    isone = catalog.programs_for(TransmissionRegion.ISONE, MeterType.DEVICE)

    # Then ERS needs a 17/22-digit ESIID and ISONE programs need nothing up front
    assert [(f.path, f.pattern) for f in ers.creation_fields] == [
        ("utility.electric_service_account_number", r"^\d{17}(\d{5})?$")
    ]
    assert all(program.creation_fields == () for program in isone)


@pytest.mark.parametrize(
    ("identifier", "needs"),
    [
        ("PSEGLI-DLRP", "nyiso.company_type"),
        ("PSEGLI-CSRP", "nyiso.company_type"),
        ("NYISO-SCR", "nyiso.cbl_method"),
        ("MA_DOER-CPS", "isone.in_connected_solutions"),
        ("EVERSOURCE-CS", "customer.dispatch_option"),
    ],
)
def test_program_enrollment_fields_include_the_program_specific_field(identifier: str, needs: str) -> None:
    # When the program's enrollment needs of a battery are read
    program = catalog.get_program(ProgramIdentifier(identifier))
    paths = [field.path for field in catalog.enrollment_fields_for(program, ["BATTERY_STORAGE"])]

    # Then its program-specific field is among them
    assert needs in paths


@pytest.mark.parametrize("identifier", ["CONED-DLRP", "CONED-CSRP", "NYISO-SCR"])
def test_only_psegli_programs_need_the_company_type(identifier: str) -> None:
    # When a non-PSEGLI NYISO program's enrollment needs are read
    paths = [field.path for field in catalog.get_program(ProgramIdentifier(identifier)).enrollment_fields]

    # Then the company type is not among them
    assert "nyiso.company_type" not in paths


@pytest.mark.parametrize("identifier", ["EVERSOURCE-CS", "NATGRID-CS", "UNITIL-CS", "RIE-CS", "MA_DOER-CPS"])
@pytest.mark.parametrize(
    ("load_types", "asked", "not_asked"),
    [
        (["BATTERY_STORAGE"], {"device.battery_power_capacity_kw", "device.battery_energy_capacity_kwh"}, set()),
        (["HVAC"], set(), {"device.battery_power_capacity_kw", "device.battery_energy_capacity_kwh"}),
        (["LIGHTING"], set(), {"device.battery_power_capacity_kw", "customer.dispatch_option"}),
    ],
)
def test_battery_fields_are_asked_only_of_battery_load_types(
    identifier: str, load_types: list[str], asked: set[str], not_asked: set[str]
) -> None:
    # When the enrollment needs of a meter with these load types are read
    program = catalog.get_program(ProgramIdentifier(identifier))
    paths = {field.path for field in catalog.enrollment_fields_for(program, load_types)}

    # Then battery sizes are asked of batteries only, and the utility account of everyone
    assert asked <= paths and not (not_asked & paths)
    assert "utility.electric_service_account_number" in paths


@pytest.mark.parametrize("identifier", ["EVERSOURCE-CS", "NATGRID-CS", "UNITIL-CS", "RIE-CS"])
def test_connectedsolutions_asks_thermostats_for_make_and_model_and_batteries_for_a_dispatch_option(
    identifier: str,
) -> None:
    # When the needs of a thermostat and of a battery are read
    program = catalog.get_program(ProgramIdentifier(identifier))
    thermostat = [field.path for field in catalog.enrollment_fields_for(program, ["HVAC"])]
    battery = [field.path for field in catalog.enrollment_fields_for(program, ["BATTERY_STORAGE"])]

    # Then each is asked what its offer needs, and a meter with both load types is asked both, once each
    assert thermostat[-2:] == ["device.device_manufacturer", "device.device_model"]
    assert "customer.dispatch_option" in battery and "device.device_model" not in battery
    both = catalog.enrollment_fields_for(program, ["HVAC", "BATTERY_STORAGE"])
    assert len(both) == len({field.path for field in both}) == len(set(thermostat) | set(battery))


@pytest.mark.parametrize(
    ("load_types", "period"),
    [
        (["BATTERY_STORAGE"], "EVERSOURCE-CS_2024_DEC_2025_MAR"),
        (["HVAC"], "EVERSOURCE-CS_2025_JUN_SEP"),
        (["HVAC", "BATTERY_STORAGE"], "EVERSOURCE-CS_2024_DEC_2025_MAR"),
    ],
)
def test_connectedsolutions_winter_season_is_for_batteries_only(load_types: list[str], period: str) -> None:
    # Given ConnectedSolutions in July, after the summer deadline
    program = catalog.get_program(ProgramIdentifier.EVERSOURCE_CS)

    # When the next period of a meter with these load types is computed
    result = catalog.next_delivery_period(program, at("2024-07-01T00:00:00"), load_types)

    # Then a battery gets the winter season and a thermostat waits for next summer
    assert result.identifier == period


# ----- delivery periods ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "now", "period", "start", "end", "deadline"),
    [
        # monthly CAISO: the next month whose deadline (14 days before) is still ahead
        ("DRAM", "2024-10-10T12:00:00", "CAISO-DRAM_2024_NOV", "2024-11-01", "2024-12-01", "2024-10-18"),
        ("CCA", "2024-09-10T00:00:00", "CAISO-CCA_2024_OCT", "2024-10-01", "2024-11-01", "2024-09-17"),
        # monthly over the new year: December's deadline has passed, January next year is next
        ("DRAM", "2024-11-20T00:00:00", "CAISO-DRAM_2025_JAN", "2025-01-01", "2025-02-01", "2024-12-18"),
        ("DRAM", "2024-12-01T00:00:00", "CAISO-DRAM_2025_JAN", "2025-01-01", "2025-02-01", "2024-12-18"),
        # NYISO capability periods, the winter one wraps over the year
        (
            "NYISO-SCR",
            "2024-09-15T00:00:00",
            "NYISO-SCR_2024_NOV_2025_APR",
            "2024-11-01",
            "2025-05-01",
            "2024-10-02",
        ),
        ("NYISO-SCR", "2024-01-15T00:00:00", "NYISO-SCR_2024_MAY_OCT", "2024-05-01", "2024-11-01", "2024-04-01"),
        ("PSEGLI-CSRP", "2025-01-01T00:00:00", "PSEGLI-CSRP_2025_MAY_SEP", "2025-05-01", "2025-10-01", "2025-04-01"),
        ("CONED-DLRP", "2025-04-02T00:00:00", "CONED-DLRP_2026_MAY_SEP", "2026-05-01", "2026-10-01", "2026-04-01"),
        # ELRP: monthly periods within the May-October season, none from November to April
        ("ELRP", "2024-06-01T00:00:00", "CAISO-ELRP_2024_JUL", "2024-07-01", "2024-08-01", "2024-06-17"),
        ("ELRP", "2024-09-10T00:00:00", "CAISO-ELRP_2024_OCT", "2024-10-01", "2024-11-01", "2024-09-17"),
        ("ELRP", "2024-09-18T00:00:00", "CAISO-ELRP_2025_MAY", "2025-05-01", "2025-06-01", "2025-04-17"),
        # ERCOT ERS standard contract terms: Dec-Mar wraps over the year, then Apr-May, Jun-Sep, Oct-Nov
        ("ERCOT-ERS", "2024-11-01T00:00:00", "ERCOT-ERS_2024_DEC_2025_MAR", "2024-12-01", "2025-04-01", "2024-11-10"),
        ("ERCOT-ERS", "2024-11-11T00:00:00", "ERCOT-ERS_2025_APR_MAY", "2025-04-01", "2025-06-01", "2025-03-11"),
        ("ERCOT-ERS", "2025-03-12T00:00:00", "ERCOT-ERS_2025_JUN_SEP", "2025-06-01", "2025-10-01", "2025-05-11"),
        ("ERCOT-ERS", "2025-05-12T00:00:00", "ERCOT-ERS_2025_OCT_NOV", "2025-10-01", "2025-12-01", "2025-09-10"),
        # ConnectedSolutions: with no load type given every season counts, the battery winter one included
        (
            "EVERSOURCE-CS",
            "2024-07-01T00:00:00",
            "EVERSOURCE-CS_2024_DEC_2025_MAR",
            "2024-12-01",
            "2025-04-01",
            "2024-11-01",
        ),
    ],
)
def test_next_delivery_period(identifier: str, now: str, period: str, start: str, end: str, deadline: str) -> None:
    # Given a program and a fixed clock
    program = catalog.get_program(ProgramIdentifier(identifier))

    # When the next delivery period is computed
    result = catalog.next_delivery_period(program, at(now))

    # Then it is the first period still open for enrollment, with Leap-style identifiers
    assert result.identifier == period
    assert result.start == at(start + "T00:00:00")
    assert result.end == at(end + "T00:00:00")
    assert result.enrollment_deadline == at(deadline + "T00:00:00")


@pytest.mark.parametrize(
    ("identifier", "now", "period", "start", "end", "deadline"),
    [
        ("CEC-DSGS", "2026-01-15T00:00:00", "CEC-DSGS_2026_MAY_OCT", "2026-05-01", "2026-11-01", "2026-04-01"),
        ("PGE-CBP", "2025-06-20T00:00:00", "PGE-CBP_2025_AUG", "2025-08-01", "2025-09-01", "2025-07-18"),
        ("PGE-CBP", "2025-10-20T00:00:00", "PGE-CBP_2026_MAY", "2026-05-01", "2026-06-01", "2026-04-17"),
        (
            "PJM-CAPACITY",
            "2025-03-15T00:00:00",
            "PJM-CAPACITY_2025_JUN_2026_MAY",
            "2025-06-01",
            "2026-06-01",
            "2025-05-02",
        ),
        # Oncor CLM: the summer on-peak season, then the winter emergency season over the new year
        ("ONCOR-CLM", "2025-03-15T00:00:00", "ONCOR-CLM_2025_JUN_SEP", "2025-06-01", "2025-10-01", "2025-05-02"),
        (
            "ONCOR-CLM",
            "2025-10-01T00:00:00",
            "ONCOR-CLM_2025_DEC_2026_FEB",
            "2025-12-01",
            "2026-03-01",
            "2025-11-01",
        ),
        ("ONCOR-CLM", "2025-11-02T00:00:00", "ONCOR-CLM_2026_JUN_SEP", "2026-06-01", "2026-10-01", "2026-05-02"),
        # ELRP A.4: monthly within May-October, as ELRP
        ("CAISO-ELRP-A4", "2025-06-20T00:00:00", "CAISO-ELRP-A4_2025_AUG", "2025-08-01", "2025-09-01", "2025-07-18"),
        (
            "CAISO-ELRP-A4",
            "2025-09-18T00:00:00",
            "CAISO-ELRP-A4_2026_MAY",
            "2026-05-01",
            "2026-06-01",
            "2026-04-17",
        ),
        # ART: events at any time of year, so every month is a period
        ("PGE-ART", "2025-12-20T00:00:00", "PGE-ART_2026_FEB", "2026-02-01", "2026-03-01", "2026-01-18"),
        # ESS: summer June-September, winter November-March
        ("CT_GB-ESS", "2025-03-15T00:00:00", "CT_GB-ESS_2025_JUN_SEP", "2025-06-01", "2025-10-01", "2025-05-02"),
        (
            "CT_GB-ESS",
            "2025-07-01T00:00:00",
            "CT_GB-ESS_2025_NOV_2026_MAR",
            "2025-11-01",
            "2026-04-01",
            "2025-10-02",
        ),
    ],
)
def test_next_delivery_period_of_the_added_programs(
    identifier: str, now: str, period: str, start: str, end: str, deadline: str
) -> None:
    # When the next period of an added program is computed
    result = catalog.next_delivery_period(catalog.get_program(ProgramIdentifier(identifier)), at(now))

    # Then it follows the program's public season (DSGS and CBP May-Oct, PJM's June-May Delivery Year, ...)
    assert (result.identifier, result.start, result.end, result.enrollment_deadline) == (
        period,
        at(start + "T00:00:00"),
        at(end + "T00:00:00"),
        at(deadline + "T00:00:00"),
    )


def test_pge_cbp_is_for_pge_commercial_customers_in_california() -> None:
    # When the catalog is asked for CAISO utility meters of several customers
    def offered(classification: CustomerClassification, utility: str, state: str) -> bool:
        programs = catalog.programs_for(
            TransmissionRegion.CAISO, MeterType.UTILITY_METER, classification, utility, state
        )
        return ProgramIdentifier.PGE_CBP in [p.program_identifier for p in programs]

    # Then only PG&E's commercial customers get CBP
    assert offered(CustomerClassification.COMMERCIAL, "PGE", "CA")
    assert not offered(CustomerClassification.RESIDENTIAL, "PGE", "CA")
    assert not offered(CustomerClassification.COMMERCIAL, "SCE", "CA")


@pytest.mark.parametrize(
    ("identifier", "classification", "utility", "state", "offered"),
    [
        # Oncor CLM: commercial Oncor customers in Texas
        ("ONCOR-CLM", "COMMERCIAL", "ONCOR", "TX", True),
        ("ONCOR-CLM", "RESIDENTIAL", "ONCOR", "TX", False),
        ("ONCOR-CLM", "COMMERCIAL", "CENTERPOINT", "TX", False),
        # ELRP A.4: residential customers of PG&E, SCE and SDG&E
        ("CAISO-ELRP-A4", "RESIDENTIAL", "SDGE", "CA", True),
        ("CAISO-ELRP-A4", "RESIDENTIAL", "SCE", "CA", True),
        ("CAISO-ELRP-A4", "COMMERCIAL", "PGE", "CA", False),
        ("CAISO-ELRP-A4", "RESIDENTIAL", "LADWP", "CA", False),
        # ART: PG&E residential customers
        ("PGE-ART", "RESIDENTIAL", "PGE", "CA", True),
        ("PGE-ART", "COMMERCIAL", "PGE", "CA", False),
        ("PGE-ART", "RESIDENTIAL", "SDGE", "CA", False),
        # ESS: Eversource and UI customers in Connecticut, homes and businesses
        ("CT_GB-ESS", "RESIDENTIAL", "EVERSOURCE", "CT", True),
        ("CT_GB-ESS", "COMMERCIAL", "UNITED_ILLUMINATED", "CT", True),
        ("CT_GB-ESS", "RESIDENTIAL", "EVERSOURCE", "MA", False),
        ("CT_GB-ESS", "RESIDENTIAL", "NATGRID", "CT", False),
    ],
)
def test_added_programs_are_offered_only_to_their_customers(
    identifier: str, classification: str, utility: str, state: str, offered: bool
) -> None:
    # Given the program and a meter type it takes
    program = catalog.get_program(ProgramIdentifier(identifier))

    # When the catalog is asked for a meter of this customer class, utility and state
    programs = catalog.programs_for(
        program.transmission_region, program.meter_types[0], CustomerClassification(classification), utility, state
    )

    # Then the program is offered exactly to the customers its public rules name
    assert (program in programs) is offered


def test_oncor_clm_asks_for_the_esiid_at_enrollment_but_adds_no_creation_rule() -> None:
    # Given Oncor CLM and ERS, both open to a commercial Oncor meter
    clm = catalog.get_program(ProgramIdentifier.ONCOR_CLM)
    ers = catalog.get_program(ProgramIdentifier.ERCOT_ERS)

    # Then CLM checks the ESIID's form before enrollment, and creation is refused on ERS's rule alone (one error)
    assert [f.pattern for f in clm.enrollment_fields if f.path == "utility.electric_service_account_number"] == [
        r"^\d{17}(\d{5})?$"
    ]
    assert clm.creation_fields == () and ers.creation_fields


@pytest.mark.parametrize("load_types", [["BATTERY_STORAGE"], ["HVAC"]])
def test_energy_storage_solutions_asks_every_meter_for_its_battery_size(load_types: list[str]) -> None:
    # When ESS's needs of a meter are read
    program = catalog.get_program(ProgramIdentifier.CT_GB_ESS)
    paths = {field.path for field in catalog.enrollment_fields_for(program, load_types)}

    # Then the battery's power and energy and the Connecticut account are asked whatever the load type (ESS is for
    # batteries only: a meter without one stays PENDING)
    assert {
        "device.battery_power_capacity_kw",
        "device.battery_energy_capacity_kwh",
        "utility.electric_service_account_number",
    } <= paths


def test_cec_dsgs_needs_the_battery_sizes_and_device_count_leap_asks_for() -> None:
    # When DSGS's enrollment needs of a battery are read
    program = catalog.get_program(ProgramIdentifier.CEC_DSGS)
    paths = [field.path for field in catalog.enrollment_fields_for(program, ["BATTERY_STORAGE"])]

    # Then the battery's energy and power and the number of devices are among them, and the program is California's
    assert {"device.battery_energy_capacity_kwh", "device.battery_power_capacity_kw", "site.number_of_devices"} <= set(
        paths
    )
    assert program.states == ("CA",)


def test_next_delivery_period_on_the_deadline_instant_is_still_that_period() -> None:
    # Given NYISO-SCR, whose winter 2024 period closes for enrollment at 2024-10-02T00:00Z
    program = catalog.get_program(ProgramIdentifier.NYISO_SCR)

    # When asked exactly at the deadline
    result = catalog.next_delivery_period(program, at("2024-10-02T00:00:00"))

    # Then the winter period is still offered
    assert result.identifier == "NYISO-SCR_2024_NOV_2025_APR"


def test_next_delivery_period_just_after_the_deadline_moves_to_the_following_period() -> None:
    # Given NYISO-SCR and a clock one microsecond after the winter deadline
    program = catalog.get_program(ProgramIdentifier.NYISO_SCR)
    now = at("2024-10-02T00:00:00") + timedelta(microseconds=1)

    # When the next period is computed
    result = catalog.next_delivery_period(program, now)

    # Then the summer 2025 capability period is next
    assert result.identifier == "NYISO-SCR_2025_MAY_OCT"
    assert result.enrollment_deadline == at("2025-04-01T00:00:00")


@pytest.mark.parametrize("program", catalog.PROGRAMS, ids=lambda p: str(p.program_identifier))
def test_every_program_has_a_future_period_with_a_deadline_before_its_start(program: catalog.Program) -> None:
    # Given any moment of a year
    now = at("2025-03-15T08:30:00")

    # When the next period is computed
    result = catalog.next_delivery_period(program, now)

    # Then its deadline is ahead, precedes the start by the lead time, and the period is not empty
    assert result.enrollment_deadline >= now
    assert result.start - result.enrollment_deadline == timedelta(days=program.enrollment_lead_days)
    assert result.end > result.start
    assert result.identifier.startswith(program.period_prefix + "_")


# ----- sources ---------------------------------------------------------------------------------------------

LEAP_DOCUMENTS = {src.LEAP_ONBOARDING, src.LEAP_PROGRAM_IDENTIFIERS}


@pytest.mark.parametrize("program", catalog.PROGRAMS, ids=lambda p: str(p.program_identifier))
def test_every_program_cites_a_public_program_document_besides_leaps_own(program: catalog.Program) -> None:
    # Then its facts trace to at least one document of the program's operator or regulator, each cited once
    assert set(program.sources) - LEAP_DOCUMENTS
    assert len(program.sources) == len(set(program.sources))


@pytest.mark.parametrize(
    ("identifier", "document"),
    [
        ("ERCOT-ERS", src.ERCOT_PROTOCOLS_ERS),
        ("ELRP", src.CPUC_ELRP_DECISION),
        ("NYISO-SCR", src.NYISO_ICAP_MANUAL),
        ("EVERSOURCE-CS", src.MASS_SAVE_BATTERIES),
        ("EVERSOURCE-CS", src.ENERGIZE_CT_CONNECTED_SOLUTIONS),
        ("RIE-CS", src.RIE_CONNECTED_SOLUTIONS),
        ("MA_DOER-CPS", src.MA_CPS_REGULATION),
        ("CONED-DLRP", src.CONED_RIDER_T),
        ("ONCOR-CLM", src.ONCOR_CLM),
        ("CAISO-ELRP-A4", src.CPUC_ELRP_PHASE_II),
        ("CAISO-ELRP-A4", src.ELRP_A4_UTILITY_PAGES),
        ("PGE-ART", src.PGE_ART),
        ("CT_GB-ESS", src.CT_ESS_PROGRAM),
    ],
)
def test_program_cites_the_document_its_seasons_and_states_come_from(identifier: str, document: str) -> None:
    # Then the document behind the program's seasons, states and fields is among its sources
    assert document in catalog.get_program(ProgramIdentifier(identifier)).sources


# ----- programs that exclude each other --------------------------------------------------------------------

CAISO_GROUP = [
    ProgramIdentifier.DRAM,
    ProgramIdentifier.CCA,
    ProgramIdentifier.PGE_CBP,
    ProgramIdentifier.ENERGY_ONLY,
    ProgramIdentifier.ELRP,
]


def test_exclusion_groups_name_catalog_programs_each_in_one_group_with_a_source() -> None:
    # Then every grouped program is in the catalog, in one group only, and every group cites its rule
    grouped = [program for group in exclusions.EXCLUSIONS for program in group.programs]
    assert len(grouped) == len(set(grouped))
    assert all(catalog.get_program(program) for program in grouped)
    assert all(group.sources for group in exclusions.EXCLUSIONS)


def test_caiso_capacity_energy_and_elrp_programs_exclude_each_other_in_default_order() -> None:
    # When every CAISO program is open and ready
    blocked = exclusions.placements(CAISO_GROUP, CAISO_GROUP)

    # Then the meter is placed in DRAM and the others yield to it
    assert blocked == dict.fromkeys(CAISO_GROUP[1:], ProgramIdentifier.DRAM)


@pytest.mark.parametrize(
    ("ready", "placed"),
    [
        ([ProgramIdentifier.ELRP], ProgramIdentifier.ELRP),
        ([ProgramIdentifier.ENERGY_ONLY, ProgramIdentifier.ELRP], ProgramIdentifier.ENERGY_ONLY),
        ([], ProgramIdentifier.DRAM),
    ],
)
def test_placement_prefers_the_first_ready_program_else_the_first_open(
    ready: list[ProgramIdentifier], placed: ProgramIdentifier
) -> None:
    # When only some programs are ready
    blocked = exclusions.placements(CAISO_GROUP, ready)

    # Then the meter is placed in the first ready one in order (or the first open), the rest yield to it
    assert set(blocked) == set(CAISO_GROUP) - {placed}
    assert set(blocked.values()) == {placed}


def test_programs_outside_any_group_and_lone_group_members_are_never_blocked() -> None:
    # When NYISO programs, or a single CAISO program, are open
    nyiso = [ProgramIdentifier.NYISO_SCR, ProgramIdentifier.CONED_DLRP, ProgramIdentifier.CONED_CSRP]

    # Then nothing is blocked
    assert exclusions.placements(nyiso, nyiso) == {}
    assert exclusions.placements([ProgramIdentifier.ELRP], []) == {}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (ProgramIdentifier.ERCOT_ERS, ProgramIdentifier.ONCOR_CLM),
        (ProgramIdentifier.CEC_DSGS, ProgramIdentifier.CAISO_ELRP_A4),
        (ProgramIdentifier.EVERSOURCE_CS, ProgramIdentifier.CT_GB_ESS),
    ],
)
def test_added_programs_exclude_the_program_paying_for_the_same_reduction(
    first: ProgramIdentifier, second: ProgramIdentifier
) -> None:
    # When a meter is open to both and ready for both, or ready for the second only
    both_ready = exclusions.placements([first, second], [first, second])
    second_ready = exclusions.placements([first, second], [second])

    # Then it is placed in the first by default, and in the second when only that one can take it
    assert both_ready == {second: first}
    assert second_ready == {first: second}


def test_a_connecticut_thermostat_is_placed_in_connectedsolutions_not_blocked_by_storage_solutions() -> None:
    # Given a Connecticut Eversource thermostat: ESS is open to it (no program-level load type), never ready
    program = catalog.get_program(ProgramIdentifier.CT_GB_ESS)
    thermostat = {"utility": {"utility_name": "EVERSOURCE", "electric_service_account_number": "51234567890"}}
    assert catalog.unmet(catalog.enrollment_fields_for(program, ["HVAC"]), thermostat)

    # When neither program is ready yet, or ConnectedSolutions is
    open_programs = [ProgramIdentifier.EVERSOURCE_CS, ProgramIdentifier.CT_GB_ESS]
    nothing_ready = exclusions.placements(open_programs, [])
    cs_ready = exclusions.placements(open_programs, [ProgramIdentifier.EVERSOURCE_CS])

    # Then it is placed in ConnectedSolutions either way
    assert nothing_ready == cs_ready == {ProgramIdentifier.CT_GB_ESS: ProgramIdentifier.EVERSOURCE_CS}
