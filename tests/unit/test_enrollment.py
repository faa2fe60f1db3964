"""derive_enrollment: per-program status, required actions and participation, from the catalog and the data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from meterhub.catalog import programs as catalog
from meterhub.catalog.enums import ActionType, EnrollmentStatus, ParticipationPreference, ProgramIdentifier
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.api_models.responses import MeterEnrollmentResponse
from meterhub.meters.records import MeterRecord, ProgramStep, UtilityLink
from meterhub.meters.rules.enrollment import derive_enrollment

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
CREATED = datetime(2025, 2, 3, 10, 30, tzinfo=UTC)
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
# The ISONE programs open to a Massachusetts meter whose utility is not known yet (RIE-CS is Rhode Island's).
ISONE_PROGRAMS = ["MA_DOER-CPS", "EVERSOURCE-CS", "NATGRID-CS", "UNITIL-CS"]

# Every field CPS and ConnectedSolutions ask for.
ISONE_COMPLETE: dict[str, Any] = {
    "utility": {"utility_name": "EVERSOURCE", "electric_service_account_number": "51234567890"},
    "isone": {"in_connected_solutions": True},
    "customer": {"dispatch_option": "DAILY"},
    "device": {"device_type": "BATTERY", "battery_power_capacity_kw": 5.0, "battery_energy_capacity_kwh": 13.5},
}
NYISO_WITHOUT_COMPANY: dict[str, Any] = {
    "customer": {
        "street_1": "1 Old Country Road",
        "postal_code": "11501",
        "city": "Mineola",
        "state_or_province_code": "NY",
    },
    "utility": {"utility_name": "PSEGLI", "electric_service_account_number": "9876543210"},
    "nyiso": {"cbl_method": "AVERAGE_DAY"},
}


def meter(document: dict[str, Any]) -> MeterRecord:
    """A stored meter for a validated asset document."""
    data = CreateMeter.model_validate(document).model_dump(mode="json", exclude_none=True)
    return MeterRecord(
        meter_id="6f1c1f4e-2d0b-4c57-9a53-6a0c2b9f8e11",
        partner_id="partner-1",
        partner_reference=document["partner_reference"],
        data=data,
        created_at=CREATED,
        updated_at=CREATED,
    )


def registered(record: MeterRecord, *programs: str) -> MeterRecord:
    """The meter with its market registration recorded by the operator for these programs."""
    steps = [
        ProgramStep(program_identifier=program, action_type="HAS_MARKET_REGISTRATION", recorded_at=CREATED)
        for program in programs
    ]
    return record.model_copy(update={"program_steps": steps})


def statuses(result: MeterEnrollmentResponse) -> dict[str, EnrollmentStatus]:
    return {str(e.program_identifier): e.enrollment_status for e in result.program_enrollment}


def test_isone_device_with_every_program_field_is_eligible(make_asset: MakeAsset) -> None:
    # Given an ISONE device carrying every CPS / ConnectedSolutions field
    record = meter(make_asset("ma-1", **ISONE_COMPLETE))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then CPS and the customer's own utility's ConnectedSolutions are ELIGIBLE, globally too, and nothing is asked
    found = statuses(result)
    assert (found["MA_DOER-CPS"], found["EVERSOURCE-CS"]) == (EnrollmentStatus.ELIGIBLE, EnrollmentStatus.ELIGIBLE)
    assert result.global_enrollment_status is EnrollmentStatus.ELIGIBLE
    assert result.required_actions.partner == []
    assert result.required_actions.leap == []


def test_isone_device_without_program_fields_is_pending_with_one_action_per_program(make_asset: MakeAsset) -> None:
    # Given an ISONE device with only the globally required fields
    record = meter(make_asset("ma-1"))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then every program is PENDING and each has a NO_MISSING_FIELDS / SERV_0005 partner action
    assert statuses(result) == dict.fromkeys(ISONE_PROGRAMS, EnrollmentStatus.PENDING)
    assert result.global_enrollment_status is EnrollmentStatus.PENDING
    actions = result.required_actions.partner
    assert [str(a.program_identifier) for a in actions] == ISONE_PROGRAMS
    assert {(a.action_type, a.action_code) for a in actions} == {(ActionType.NO_MISSING_FIELDS, "SERV_0005")}


def test_missing_fields_action_names_each_missing_label_and_path(make_asset: MakeAsset) -> None:
    # Given an ISONE device with the utility block only
    record = meter(make_asset("ma-1", utility=ISONE_COMPLETE["utility"]))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then the CPS action names exactly the three missing fields, label and path
    cps = next(a for a in result.required_actions.partner if a.program_identifier == ProgramIdentifier.MA_DOER_CPS)
    assert cps.action_description == (
        "Missing fields: In ConnectedSolutions (isone.in_connected_solutions), "
        "Battery Power Capacity (device.battery_power_capacity_kw), "
        "Battery Energy Capacity (device.battery_energy_capacity_kwh). Update the meter with update_existing=true."
    )
    assert "utility.utility_name" not in cps.action_description


def test_required_action_carries_the_program_delivery_period_and_deadline(make_asset: MakeAsset) -> None:
    # Given an ISONE device missing fields
    record = meter(make_asset("ma-1"))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then each action points at the same period and deadline as its program enrollment
    for action, enrollment in zip(result.required_actions.partner, result.program_enrollment, strict=True):
        period = catalog.next_delivery_period(catalog.get_program(enrollment.program_identifier), NOW)
        assert action.delivery_period == enrollment.delivery_period == period.identifier
        assert action.enrollment_deadline_date_time == period.enrollment_deadline
        assert enrollment.delivery_period_start_date_time == period.start
        assert enrollment.delivery_period_end_date_time == period.end
        assert [(d.enrollment_deadline_date_time, d.activation_date_time) for d in enrollment.enrollment_deadlines] == [
            (period.enrollment_deadline, period.start)
        ]


def test_one_eligible_program_makes_the_meter_globally_eligible(make_asset: MakeAsset) -> None:
    # Given an ISONE device complete for CPS but without a ConnectedSolutions dispatch option
    document = make_asset("ma-1", **{**ISONE_COMPLETE, "customer": {}})
    record = meter(document)

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then CPS is ELIGIBLE, Eversource's ConnectedSolutions PENDING on the dispatch option, and the meter ELIGIBLE
    assert statuses(result)["MA_DOER-CPS"] is EnrollmentStatus.ELIGIBLE
    assert statuses(result)["EVERSOURCE-CS"] is EnrollmentStatus.PENDING
    assert result.global_enrollment_status is EnrollmentStatus.ELIGIBLE
    [action] = [a for a in result.required_actions.partner if a.program_identifier == ProgramIdentifier.EVERSOURCE_CS]
    assert action.action_description.startswith("Missing fields: Dispatch Option (customer.dispatch_option).")
    assert not [a for a in result.required_actions.partner if a.program_identifier == ProgramIdentifier.MA_DOER_CPS]


@pytest.mark.parametrize(
    ("region", "meter_type"),
    [("CAISO", "DEVICE"), ("ERCOT", "DEVICE"), ("NYISO", "SUBMETER"), ("SERC", "UTILITY_METER")],
)
def test_meter_no_program_accepts_is_ineligible_with_no_programs(
    make_asset: MakeAsset, region: str, meter_type: str
) -> None:
    # Given a meter no catalog program takes
    record = meter(make_asset("x-1", region=region, meter_type=meter_type))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then it is INELIGIBLE, with no program and no action
    assert result.global_enrollment_status is EnrollmentStatus.INELIGIBLE
    assert result.program_enrollment == []
    assert result.required_actions.partner == []


def test_participation_preference_is_participate_from_creation(make_asset: MakeAsset) -> None:
    # Given a meter created at CREATED
    record = meter(make_asset("ma-1"))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then it participates from its creation time, with no end in sight
    [preference] = result.participation_preferences
    assert preference.participation_preference is ParticipationPreference.PARTICIPATE
    assert preference.start_time == CREATED
    assert preference.end_time is not None and preference.end_time > NOW + timedelta(days=365 * 100)


def test_enrollment_echoes_the_meter_identifiers_and_audit(make_asset: MakeAsset) -> None:
    # Given a meter
    record = meter(make_asset("ma-1", load_types=["HVAC", "BATTERY_STORAGE"]))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then identifiers, load types and audit are the meter's
    assert str(result.meter_id) == record.meter_id
    assert result.partner_reference == "ma-1"
    assert [str(t) for t in result.load_types] == ["HVAC", "BATTERY_STORAGE"]
    assert (result.audit.created_at, result.audit.updated_at, str(result.audit.created_by)) == (
        CREATED,
        CREATED,
        "PARTNER",
    )


def test_psegli_programs_are_pending_without_the_company_type(make_asset: MakeAsset) -> None:
    # Given a PSEGLI utility meter with utility, account and CBL method but no company type
    record = meter(make_asset("ny-1", region="NYISO", meter_type="UTILITY_METER", **NYISO_WITHOUT_COMPANY))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then SCR waits on the operator's market registration only, and both PSEGLI programs are PENDING on
    # nyiso.company_type only
    found = statuses(result)
    assert found["NYISO-SCR"] is EnrollmentStatus.PENDING
    assert [(str(a.program_identifier), a.action_type, a.action_code) for a in result.required_actions.leap] == [
        ("NYISO-SCR", ActionType.HAS_MARKET_REGISTRATION, "LEAP_0002")
    ]
    assert (found["PSEGLI-DLRP"], found["PSEGLI-CSRP"]) == (EnrollmentStatus.PENDING, EnrollmentStatus.PENDING)
    psegli_actions = [
        (str(a.program_identifier), a.action_description)
        for a in result.required_actions.partner
        if str(a.program_identifier).startswith("PSEGLI-")
    ]
    assert psegli_actions == [
        (program, "Missing fields: Company Type (nyiso.company_type). Update the meter with update_existing=true.")
        for program in ("PSEGLI-DLRP", "PSEGLI-CSRP")
    ]
    assert not [a for a in result.required_actions.partner if a.program_identifier == ProgramIdentifier.NYISO_SCR]


def test_psegli_programs_are_eligible_with_the_company_type(make_asset: MakeAsset) -> None:
    # Given the same PSEGLI meter with a company type, registered for SCR by the operator
    nyiso = {**NYISO_WITHOUT_COMPANY["nyiso"], "company_type": "CORPORATION"}
    record = registered(
        meter(
            make_asset("ny-1", region="NYISO", meter_type="UTILITY_METER", **{**NYISO_WITHOUT_COMPANY, "nyiso": nyiso})
        ),
        "NYISO-SCR",
    )

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then SCR and both PSEGLI programs are ELIGIBLE and no PSEGLI action remains
    found = statuses(result)
    assert {found[p] for p in ("NYISO-SCR", "PSEGLI-DLRP", "PSEGLI-CSRP")} == {EnrollmentStatus.ELIGIBLE}
    assert not [a for a in result.required_actions.partner if str(a.program_identifier).startswith("PSEGLI-")]


def test_nyiso_scr_delivery_period_wraps_over_the_year(make_asset: MakeAsset) -> None:
    # Given a complete NYISO meter looked at in September 2024
    nyiso = {**NYISO_WITHOUT_COMPANY["nyiso"], "company_type": "CORPORATION"}
    record = registered(
        meter(
            make_asset("ny-1", region="NYISO", meter_type="UTILITY_METER", **{**NYISO_WITHOUT_COMPANY, "nyiso": nyiso})
        ),
        "NYISO-SCR",
    )

    # When its enrollment is derived
    result = derive_enrollment(record, datetime(2024, 9, 15, tzinfo=UTC))

    # Then SCR offers the winter capability period
    scr = next(e for e in result.program_enrollment if e.program_identifier == ProgramIdentifier.NYISO_SCR)
    assert scr.delivery_period == "NYISO-SCR_2024_NOV_2025_APR"


def test_utility_specific_program_is_not_eligible_for_another_utilitys_customer(make_asset: MakeAsset) -> None:
    # Given a complete ISONE device of an Eversource customer
    record = meter(make_asset("ma-1", **ISONE_COMPLETE))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then National Grid's ConnectedSolutions is not offered as ELIGIBLE
    assert statuses(result).get("NATGRID-CS") is not EnrollmentStatus.ELIGIBLE


@pytest.mark.parametrize("absent", ["street_1", "city", "state_or_province_code", "postal_code"])
def test_a_meter_missing_any_address_part_is_pending_with_the_address_action(
    make_asset: MakeAsset, absent: str
) -> None:
    # Given an otherwise complete ISONE meter whose stored customer lacks one address part (a Connect meter)
    complete = meter(make_asset("ma-addr", **ISONE_COMPLETE))
    assert derive_enrollment(complete, NOW).global_enrollment_status is EnrollmentStatus.ELIGIBLE
    customer = {k: v for k, v in complete.data["customer"].items() if k != absent}
    record = complete.model_copy(update={"data": {**complete.data, "customer": customer}})

    # Then every program is PENDING and asks the partner for the address, once per program; without a state the
    # meter may be in Connecticut, so Energy Storage Solutions is offered too, blocked by ConnectedSolutions
    result = derive_enrollment(record, NOW)
    blocked = {"CT_GB-ESS"} if absent == "state_or_province_code" else set()
    assert {p: s for p, s in statuses(result).items() if p not in blocked} == dict.fromkeys(
        [p for p in statuses(result) if p not in blocked], EnrollmentStatus.PENDING
    )
    assert result.global_enrollment_status is EnrollmentStatus.PENDING
    actions = [(str(a.program_identifier), a.action_type, a.action_code) for a in result.required_actions.partner]
    assert actions == [
        (program, ActionType.NOT_ENROLLED_IN_CONFLICTING_PROGRAM, "PROG_0001")
        if program in blocked
        else (program, ActionType.ADDRESS, "ADDR_0001")
        for program in statuses(result)
    ]
    assert len(actions) >= 2  # CPS and the utility's ConnectedSolutions


THERMOSTAT: dict[str, Any] = {
    "load_types": ["HVAC"],
    "utility": {"utility_name": "EVERSOURCE", "electric_service_account_number": "51234567890"},
    "device": {"device_type": "SMART_THERMOSTAT", "device_manufacturer": "ecobee", "device_model": "SmartThermostat"},
}


def test_connectedsolutions_thermostat_is_eligible_without_battery_fields(make_asset: MakeAsset) -> None:
    # Given an Eversource thermostat with its utility, account and thermostat make and model, but no battery data
    record = meter(make_asset("ma-t", **THERMOSTAT))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then Eversource's ConnectedSolutions is ELIGIBLE and nothing is asked of it
    assert statuses(result)["EVERSOURCE-CS"] is EnrollmentStatus.ELIGIBLE
    assert not [a for a in result.required_actions.partner if a.program_identifier == ProgramIdentifier.EVERSOURCE_CS]


def test_connectedsolutions_thermostat_is_asked_for_thermostat_fields_only(make_asset: MakeAsset) -> None:
    # Given an Eversource thermostat without its make and model
    record = meter(make_asset("ma-t", **{**THERMOSTAT, "device": {"device_type": "SMART_THERMOSTAT"}}))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then ConnectedSolutions asks for the thermostat's make and model, never for a battery or dispatch option
    [action] = [a for a in result.required_actions.partner if a.program_identifier == ProgramIdentifier.EVERSOURCE_CS]
    assert action.action_description == (
        "Missing fields: Device Manufacturer (device.device_manufacturer), Device Model (device.device_model). "
        "Update the meter with update_existing=true."
    )


def test_connectedsolutions_battery_is_offered_the_winter_season_and_a_thermostat_the_next_summer(
    make_asset: MakeAsset,
) -> None:
    # Given a complete Eversource battery and an Eversource thermostat, looked at in mid-October 2025
    october = datetime(2025, 10, 15, tzinfo=UTC)
    battery = derive_enrollment(meter(make_asset("ma-b", **ISONE_COMPLETE)), october)
    thermostat = derive_enrollment(meter(make_asset("ma-t", **THERMOSTAT)), october)

    # Then the battery's next ConnectedSolutions period is the winter one, the thermostat's next summer's
    def period(result: MeterEnrollmentResponse) -> str:
        [found] = [e for e in result.program_enrollment if e.program_identifier == ProgramIdentifier.EVERSOURCE_CS]
        return found.delivery_period

    assert period(battery) == "EVERSOURCE-CS_2025_DEC_2026_MAR"
    assert period(thermostat) == "EVERSOURCE-CS_2026_JUN_SEP"


@pytest.mark.parametrize(
    ("state", "city", "utility", "expected"),
    [
        ("MA", "Boston", "EVERSOURCE", ["MA_DOER-CPS", "EVERSOURCE-CS"]),
        ("CT", "Hartford", "EVERSOURCE", ["EVERSOURCE-CS", "CT_GB-ESS"]),
        ("NH", "Manchester", "EVERSOURCE", []),
        ("RI", "Providence", "RIE", ["RIE-CS"]),
        ("MA", "Worcester", "NATGRID", ["MA_DOER-CPS", "NATGRID-CS"]),
    ],
)
def test_state_bound_programs_are_offered_only_in_their_states(
    make_asset: MakeAsset, state: str, city: str, utility: str, expected: list[str]
) -> None:
    # Given a complete ISONE battery whose service address is in the state
    document = make_asset(
        "ne-1",
        **{
            **ISONE_COMPLETE,
            "customer": {**ISONE_COMPLETE["customer"], "city": city, "state_or_province_code": state},
            "utility": {**ISONE_COMPLETE["utility"], "utility_name": utility},
        },
    )

    # When its enrollment is derived
    result = derive_enrollment(meter(document), NOW)

    # Then only the programs of that state (and utility) are offered: Massachusetts' CPS nowhere else
    assert list(statuses(result)) == expected


CALIFORNIA: dict[str, Any] = {
    "customer": {
        "street_1": "77 Beale Street",
        "postal_code": "94105",
        "city": "San Francisco",
        "state_or_province_code": "CA",
    },
    "utility": {"utility_name": "PGE", "electric_service_account_number": "1234567890"},
}
CAISO_EXCLUSIVE = ["DRAM", "CCA", "ENERGY-ONLY", "ELRP"]


def connect_meter(document: dict[str, Any], link_status: str = "COMPLETED") -> MeterRecord:
    """A meter as Connect creates it: by the utility, fed by an authorization."""
    return meter(document).model_copy(
        update={
            "created_by": "UTILITY",
            "utility_link": UtilityLink(
                authorization_id="auth-1", utility_id="pge", usage_point_id="up-1", status=link_status
            ),
        }
    )


def test_connect_created_caiso_meter_is_placed_in_one_of_the_conflicting_programs(make_asset: MakeAsset) -> None:
    # Given a Connect-created PG&E meter with every field the CAISO programs need
    record = connect_meter(make_asset("ca-1", region="CAISO", meter_type="UTILITY_METER", **CALIFORNIA))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then it is placed in DRAM only (first in the default order), where it waits on the operator's CAISO
    # registration; CCA, ENERGY-ONLY and ELRP are blocked by it
    assert statuses(result) == {
        "DRAM": EnrollmentStatus.PENDING,
        "CCA": EnrollmentStatus.INELIGIBLE,
        "ENERGY-ONLY": EnrollmentStatus.INELIGIBLE,
        "ELRP": EnrollmentStatus.INELIGIBLE,
    }
    assert result.global_enrollment_status is EnrollmentStatus.PENDING
    assert [(str(a.program_identifier), a.action_type) for a in result.required_actions.leap] == [
        ("DRAM", ActionType.HAS_MARKET_REGISTRATION)
    ]
    assert statuses(derive_enrollment(registered(record, "DRAM"), NOW))["DRAM"] is EnrollmentStatus.ELIGIBLE
    assert [(str(a.program_identifier), a.action_type, a.action_code) for a in result.required_actions.partner] == [
        (program, ActionType.NOT_ENROLLED_IN_CONFLICTING_PROGRAM, "PROG_0001") for program in CAISO_EXCLUSIVE[1:]
    ]
    assert all("conflicting program DRAM" in a.action_description for a in result.required_actions.partner)


def test_conflicting_programs_place_the_meter_in_the_first_it_is_ready_for(
    make_asset: MakeAsset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a catalog where DRAM also needs a NEM type, and a complete PG&E meter without one
    dram = catalog.get_program(ProgramIdentifier.DRAM)
    nem = catalog.RequiredField(path="caiso.nem_type", label="NEM Type")
    stricter = dram.model_copy(update={"enrollment_fields": (*dram.enrollment_fields, nem)})
    monkeypatch.setattr(catalog, "PROGRAMS", tuple(stricter if p is dram else p for p in catalog.PROGRAMS))
    record = connect_meter(make_asset("ca-1", region="CAISO", meter_type="UTILITY_METER", **CALIFORNIA))

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then the meter goes to CCA, the next in order it is ready for, and DRAM is blocked by CCA (not asked for fields)
    found = statuses(result)
    assert found["CCA"] is EnrollmentStatus.PENDING
    assert [str(a.program_identifier) for a in result.required_actions.leap] == ["CCA"]
    assert {found[p] for p in ("DRAM", "ENERGY-ONLY", "ELRP")} == {EnrollmentStatus.INELIGIBLE}
    assert {a.action_type for a in result.required_actions.partner} == {ActionType.NOT_ENROLLED_IN_CONFLICTING_PROGRAM}


def test_revoked_caiso_meter_waits_on_reauthorization_in_its_placed_program_only(make_asset: MakeAsset) -> None:
    # Given a complete PG&E meter whose authorization was revoked
    record = connect_meter(make_asset("ca-1", region="CAISO", meter_type="UTILITY_METER", **CALIFORNIA), "REVOKED")

    # When its enrollment is derived
    result = derive_enrollment(record, NOW)

    # Then DRAM is PENDING on re-authorization and the others remain blocked by it
    assert statuses(result)["DRAM"] is EnrollmentStatus.PENDING
    assert result.global_enrollment_status is EnrollmentStatus.PENDING
    assert [(str(a.program_identifier), a.action_type) for a in result.required_actions.partner] == [
        ("DRAM", ActionType.IS_AUTHORIZED),
        *[(program, ActionType.NOT_ENROLLED_IN_CONFLICTING_PROGRAM) for program in CAISO_EXCLUSIVE[1:]],
    ]


def test_nyiso_scr_and_the_con_edison_programs_do_not_exclude_each_other(make_asset: MakeAsset) -> None:
    # Given a complete Con Edison meter in New York, registered for SCR
    document = make_asset(
        "ny-2",
        region="NYISO",
        meter_type="UTILITY_METER",
        customer={
            "street_1": "4 Irving Place",
            "postal_code": "10003",
            "city": "New York",
            "state_or_province_code": "NY",
        },
        utility={"utility_name": "CECONY", "electric_service_account_number": "123456789012345"},
        nyiso={"cbl_method": "AVERAGE_DAY"},
    )

    # When its enrollment is derived
    result = derive_enrollment(registered(meter(document), "NYISO-SCR"), NOW)

    # Then SCR, DLRP and CSRP are all ELIGIBLE: dual participation is allowed
    assert statuses(result) == dict.fromkeys(["NYISO-SCR", "CONED-DLRP", "CONED-CSRP"], EnrollmentStatus.ELIGIBLE)
    assert result.required_actions.partner == []


def test_california_battery_device_is_eligible_for_dsgs_with_its_sizes(make_asset: MakeAsset) -> None:
    # Given a partner-created battery at a California address with its sizes and device count
    document = make_asset(
        "ca-b",
        region="CAISO",
        customer=CALIFORNIA["customer"],
        utility={"utility_name": "PGE"},
        device={"device_type": "BATTERY", "battery_power_capacity_kw": 5.0, "battery_energy_capacity_kwh": 13.5},
        site={"number_of_devices": 1},
    )

    # When its enrollment is derived
    result = derive_enrollment(meter(document), NOW)

    # Then DSGS is ELIGIBLE for the coming May-October season
    [dsgs] = [e for e in result.program_enrollment if e.program_identifier == ProgramIdentifier.CEC_DSGS]
    assert (str(dsgs.program_identifier), dsgs.enrollment_status) == ("CEC-DSGS", EnrollmentStatus.ELIGIBLE)
    assert dsgs.delivery_period == "CEC-DSGS_2025_MAY_OCT"


def test_california_pge_battery_device_is_offered_elrp_a4_and_art_with_a4_yielding_to_dsgs(
    make_asset: MakeAsset,
) -> None:
    # Given a complete residential PG&E battery at a California address
    document = make_asset(
        "ca-b",
        region="CAISO",
        customer=CALIFORNIA["customer"],
        utility=CALIFORNIA["utility"],
        device={"device_type": "BATTERY", "battery_power_capacity_kw": 5.0, "battery_energy_capacity_kwh": 13.5},
        site={"number_of_devices": 1},
    )

    # When its enrollment is derived
    result = derive_enrollment(meter(document), NOW)

    # Then DSGS and ART are ELIGIBLE, and ELRP A.4 (paying for the same emergency discharge) yields to DSGS
    assert statuses(result) == {
        "CEC-DSGS": EnrollmentStatus.ELIGIBLE,
        "CAISO-ELRP-A4": EnrollmentStatus.INELIGIBLE,
        "PGE-ART": EnrollmentStatus.ELIGIBLE,
    }
    assert [(str(a.program_identifier), a.action_type) for a in result.required_actions.partner] == [
        ("CAISO-ELRP-A4", ActionType.NOT_ENROLLED_IN_CONFLICTING_PROGRAM)
    ]
    periods = {str(e.program_identifier): e.delivery_period for e in result.program_enrollment}
    assert (periods["CAISO-ELRP-A4"], periods["PGE-ART"]) == ("CAISO-ELRP-A4_2025_MAY", "PGE-ART_2025_APR")


def test_commercial_oncor_meter_is_offered_clm_which_yields_to_ers(make_asset: MakeAsset) -> None:
    # Given a commercial Oncor meter in Texas with its ESIID
    document = make_asset(
        "tx-c",
        region="ERCOT",
        meter_type="UTILITY_METER",
        classification="COMMERCIAL",
        customer={
            "street_1": "1 Congress Ave",
            "postal_code": "78701",
            "city": "Austin",
            "state_or_province_code": "TX",
        },
        utility={"utility_name": "ONCOR", "electric_service_account_number": "10443720000000001"},
    )

    # When its enrollment is derived
    result = derive_enrollment(meter(document), NOW)

    # Then ERS waits on the operator's registration and CLM is blocked by it (one reduction, one program)
    assert statuses(result) == {"ERCOT-ERS": EnrollmentStatus.PENDING, "ONCOR-CLM": EnrollmentStatus.INELIGIBLE}
    [action] = result.required_actions.partner
    assert (str(action.program_identifier), action.action_type) == (
        "ONCOR-CLM",
        ActionType.NOT_ENROLLED_IN_CONFLICTING_PROGRAM,
    )
    assert "conflicting program ERCOT-ERS" in action.action_description
