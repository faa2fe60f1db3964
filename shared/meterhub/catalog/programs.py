"""The program catalog: which programs exist, how meters get into them and what each one needs.

This table is the heart of the domain and lives here once, as data. Every rule elsewhere is derived from it:
which meters a partner may create directly, which need a customer authorization first, whose interval data
a partner may upload, and which fields each program needs before a meter becomes eligible. Adding a program
(PJM Capacity, CEC-DSGS, ...) is one more `Program(...)` entry plus tests, not a new code path.

Delivery seasons and enrollment lead times are our configuration, not published Leap values: adjust them per
program year here, against the public documents each program cites in `sources` (see `sources.py`).

A meter joins a delivery period only at its enrollment deadline (`enrollment_lead_days` before the period
starts): one that becomes ready later waits for the next period, never joins the running one. That is the
rule for every program here; a program whose published rules let a resource join mid-period would need a
field saying so, with its source, and the enrollment rules to read it (no entry has one today).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from meterhub.catalog import sources as src
from meterhub.catalog.enums import (
    ActionType,
    CustomerClassification,
    LoadType,
    MeterType,
    ProgramIdentifier,
    TransmissionRegion,
    UtilityName,
)

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


class OnboardingMethod(StrEnum):
    PARTNER_CREATED = "PARTNER_CREATED"
    CUSTOMER_AUTHORIZED = "CUSTOMER_AUTHORIZED"


class PerformanceBasis(StrEnum):
    DEVICE = "DEVICE"
    UTILITY_METER = "UTILITY_METER"


class IntervalDataSource(StrEnum):
    PARTNER = "PARTNER"
    ISO = "ISO"
    UTILITY = "UTILITY"


class RequiredField(BaseModel):
    """A field a program needs, as a dot path into the CreateMeter document."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="Dot path in the meter data, e.g. utility.electric_service_account_number")
    label: str = Field(description="Human name used in required actions and error messages")
    pattern: str | None = Field(default=None, description="Regex the value must match, when the program has a rule")
    rule: str | None = Field(default=None, description="The pattern explained in words")


class Season(BaseModel):
    """A delivery period: months `start_month`..`end_month` inclusive (may wrap over the new year)."""

    model_config = ConfigDict(frozen=True)

    start_month: int = Field(ge=1, le=12)
    end_month: int = Field(ge=1, le=12)
    load_types: tuple[LoadType, ...] = Field(
        default=(), description="Only meters with one of these load types deliver in it; empty means every meter"
    )

    def open_to(self, load_types: Collection[str] | None) -> bool:
        return not self.load_types or load_types is None or any(t in self.load_types for t in load_types)


class LoadTypeFields(BaseModel):
    """Fields a program needs only of meters with one of these load types: a thermostat has no battery to size."""

    model_config = ConfigDict(frozen=True)

    load_types: tuple[LoadType, ...]
    fields: tuple[RequiredField, ...]


class Program(BaseModel):
    model_config = ConfigDict(frozen=True)

    program_identifier: ProgramIdentifier
    name: str
    transmission_region: TransmissionRegion
    states: tuple[str, ...] = Field(
        default=(),
        description="US states a state-run or utility program is bound to (the meter's service address must be in "
        "one); empty for ISO-wide market programs, bound by the region alone",
    )
    onboarding: OnboardingMethod
    meter_types: tuple[MeterType, ...] = Field(description="Meter types that can take part")
    customer_classifications: tuple[CustomerClassification, ...] = (
        CustomerClassification.RESIDENTIAL,
        CustomerClassification.COMMERCIAL,
    )
    utilities: tuple[UtilityName, ...] = Field(
        default=(), description="Utilities whose customers the program is open to; empty means any in the region"
    )
    performance_basis: tuple[PerformanceBasis, ...]
    interval_data_source: IntervalDataSource = Field(description="Who supplies the interval data used for M&V")
    creation_fields: tuple[RequiredField, ...] = Field(
        default=(), description="Fields a partner must send to create a meter for this program (else 400)"
    )
    enrollment_fields: tuple[RequiredField, ...] = Field(
        default=(), description="Fields a meter needs to become ELIGIBLE; missing ones never block creation"
    )
    load_type_fields: tuple[LoadTypeFields, ...] = Field(
        default=(), description="Further enrollment fields asked only of meters with the given load types"
    )
    period_prefix: str = Field(description="Prefix of the delivery period identifiers, e.g. NYISO-SCR")
    seasons: tuple[Season, ...]
    enrollment_lead_days: int = Field(ge=0, description="Days before a delivery period that enrollment closes")
    operator_steps: tuple[ActionType, ...] = Field(
        default=(),
        description="Program-side steps the operator performs for each meter before it can be enrolled (e.g. its "
        "market registration); recorded through the operator command, shown as required_actions.leap until then",
    )
    grouping_keys: tuple[str, ...] = Field(
        default=("utility.utility_name",),
        description="Dot paths in the meter data whose values put enrolled meters in one market group, the way the "
        "program aggregates resources (e.g. one utility, load-serving entity and load zone per CAISO aggregation)",
    )
    sources: tuple[str, ...] = Field(
        min_length=1,
        description="Public documents (publisher, title, URL where stable) behind the program's seasons, "
        "deadlines, lead times, states and required fields",
    )


# ----- the fields programs ask for -------------------------------------------------------------------------
ESIID = RequiredField(
    path="utility.electric_service_account_number",
    label="ESIID (Electric Service Identifier)",
    pattern=r"^\d{17}(\d{5})?$",
    rule="an ESIID of 17 or 22 digits",
)
ACCOUNT_NUMBER = RequiredField(path="utility.electric_service_account_number", label="Electric Service Account Number")
UTILITY_NAME = RequiredField(path="utility.utility_name", label="Utility Name")
IN_CONNECTED_SOLUTIONS = RequiredField(path="isone.in_connected_solutions", label="In ConnectedSolutions")
DISPATCH_OPTION = RequiredField(path="customer.dispatch_option", label="Dispatch Option")
BATTERY_POWER = RequiredField(path="device.battery_power_capacity_kw", label="Battery Power Capacity")
BATTERY_ENERGY = RequiredField(path="device.battery_energy_capacity_kwh", label="Battery Energy Capacity")
NUMBER_OF_DEVICES = RequiredField(path="site.number_of_devices", label="Number Of Devices")
DEVICE_MANUFACTURER = RequiredField(path="device.device_manufacturer", label="Device Manufacturer")
DEVICE_MODEL = RequiredField(path="device.device_model", label="Device Model")
CBL_METHOD = RequiredField(path="nyiso.cbl_method", label="CBL Method")
COMPANY_TYPE = RequiredField(path="nyiso.company_type", label="Company Type")

CON_EDISON = (UtilityName.CECONY,)
PSEG_LI = (UtilityName.PSEGLI,)

_SUMMER = (Season(start_month=6, end_month=9),)
_BATTERY = (LoadType.BATTERY_STORAGE,)
_THERMOSTAT = (LoadType.HVAC,)
# A battery's size is what it is paid on; a thermostat is enrolled through its (participating) maker and model.
_BATTERY_SIZE = LoadTypeFields(load_types=_BATTERY, fields=(BATTERY_POWER, BATTERY_ENERGY))
_THERMOSTAT_MAKE = LoadTypeFields(load_types=_THERMOSTAT, fields=(DEVICE_MANUFACTURER, DEVICE_MODEL))
_MAY_SEP = (Season(start_month=5, end_month=9),)
_NYISO_CAPABILITY = (Season(start_month=5, end_month=10), Season(start_month=11, end_month=4))
_MONTHLY = tuple(Season(start_month=m, end_month=m) for m in range(1, 13))
# ELRP events run May 1 - October 31 (CPUC D.21-03-056); Leap names ELRP periods by month (CAISO-ELRP_2024_OCT).
# PG&E's CBP takes monthly nominations for the same May-October operating months.
_MAY_OCT_MONTHLY = tuple(Season(start_month=m, end_month=m) for m in range(5, 11))
_MAY_OCT = (Season(start_month=5, end_month=10),)


def _connected_solutions(
    identifier: ProgramIdentifier,
    utility: UtilityName,
    label: str,
    states: tuple[str, ...],
    sources: tuple[str, ...],
) -> Program:
    return Program(
        program_identifier=identifier,
        name=f"ConnectedSolutions ({label})",
        utilities=(utility,),
        transmission_region=TransmissionRegion.ISONE,
        states=states,
        onboarding=OnboardingMethod.PARTNER_CREATED,
        meter_types=(MeterType.DEVICE, MeterType.SUBMETER, MeterType.UTILITY_METER),
        performance_basis=(PerformanceBasis.DEVICE, PerformanceBasis.UTILITY_METER),
        interval_data_source=IntervalDataSource.PARTNER,
        enrollment_fields=(UTILITY_NAME, ACCOUNT_NUMBER),
        # Daily or targeted dispatch is a choice of the battery offer only.
        load_type_fields=(
            LoadTypeFields(load_types=_BATTERY, fields=(DISPATCH_OPTION, BATTERY_POWER, BATTERY_ENERGY)),
            _THERMOSTAT_MAKE,
        ),
        period_prefix=str(identifier),
        # Every device delivers in summer (Jun-Sep); the battery offer also has a winter season (Dec-Mar).
        seasons=(*_SUMMER, Season(start_month=12, end_month=3, load_types=_BATTERY)),
        enrollment_lead_days=30,
        sources=(*sources, src.MASS_SAVE_BATTERIES, src.MASS_SAVE_THERMOSTATS, src.LEAP_ONBOARDING),
    )


def _caiso(
    identifier: ProgramIdentifier,
    name: str,
    prefix: str,
    seasons: tuple[Season, ...],
    states: tuple[str, ...],
    sources: tuple[str, ...],
    utilities: tuple[UtilityName, ...] = (),
    classifications: tuple[CustomerClassification, ...] = (
        CustomerClassification.RESIDENTIAL,
        CustomerClassification.COMMERCIAL,
    ),
    market: bool = True,
) -> Program:
    """`market`: the program bids the meters into CAISO's market as a Proxy Demand Resource, so each location is
    registered with CAISO (the operator's step) and aggregated within one utility, load-serving entity and load
    zone (sub-LAP), as CAISO's Demand Response BPM requires; a utility-run program (ELRP, CBP) does neither."""
    return Program(
        operator_steps=(ActionType.HAS_MARKET_REGISTRATION,) if market else (),
        grouping_keys=(
            ("utility.utility_name", "utility.load_serving_entity", "site.load_zone")
            if market
            else ("utility.utility_name",)
        ),
        program_identifier=identifier,
        name=name,
        transmission_region=TransmissionRegion.CAISO,
        states=states,
        utilities=utilities,
        customer_classifications=classifications,
        onboarding=OnboardingMethod.CUSTOMER_AUTHORIZED,
        meter_types=(MeterType.UTILITY_METER,),
        performance_basis=(PerformanceBasis.UTILITY_METER,),
        interval_data_source=IntervalDataSource.UTILITY,
        enrollment_fields=(UTILITY_NAME, ACCOUNT_NUMBER),
        period_prefix=prefix,
        seasons=seasons,
        # CAISO reviews a registration before it takes effect; Leap quotes up to two weeks.
        enrollment_lead_days=14,
        sources=(*sources, src.CAISO_DR_BPM, src.LEAP_ONBOARDING, src.LEAP_PROGRAM_IDENTIFIERS),
    )


def _nyiso(
    identifier: ProgramIdentifier,
    name: str,
    extra: tuple[RequiredField, ...],
    sources: tuple[str, ...],
    utilities: tuple[UtilityName, ...] = (),
) -> Program:
    return Program(
        program_identifier=identifier,
        name=name,
        utilities=utilities,
        transmission_region=TransmissionRegion.NYISO,
        # The utilities' own programs are New York tariffs; SCR is NYISO's, bound by the region.
        states=("NY",) if utilities else (),
        onboarding=OnboardingMethod.CUSTOMER_AUTHORIZED,
        meter_types=(MeterType.UTILITY_METER,),
        performance_basis=(PerformanceBasis.UTILITY_METER,),
        interval_data_source=IntervalDataSource.UTILITY,
        enrollment_fields=(UTILITY_NAME, ACCOUNT_NUMBER, *extra),
        period_prefix=str(identifier),
        seasons=_MAY_SEP if identifier != ProgramIdentifier.NYISO_SCR else _NYISO_CAPABILITY,
        enrollment_lead_days=30,
        # SCR resources are enrolled with NYISO by their Responsible Interface Party and aggregated per load zone
        # (NYISO ICAP Manual); the utilities' own programs enroll customers directly, per utility.
        operator_steps=(ActionType.HAS_MARKET_REGISTRATION,) if identifier == ProgramIdentifier.NYISO_SCR else (),
        grouping_keys=(
            ("utility.utility_name", "site.load_zone")
            if identifier == ProgramIdentifier.NYISO_SCR
            else ("utility.utility_name",)
        ),
        sources=(*sources, src.LEAP_ONBOARDING, src.LEAP_PROGRAM_IDENTIFIERS),
    )


PROGRAMS: tuple[Program, ...] = (
    # ISONE (MA): partner-created, device or utility-meter M&V, partner-supplied interval data.
    Program(
        program_identifier=ProgramIdentifier.MA_DOER_CPS,
        name="Massachusetts Clean Peak Standard",
        transmission_region=TransmissionRegion.ISONE,
        states=("MA",),
        onboarding=OnboardingMethod.PARTNER_CREATED,
        meter_types=(MeterType.DEVICE, MeterType.SUBMETER, MeterType.UTILITY_METER),
        performance_basis=(PerformanceBasis.DEVICE, PerformanceBasis.UTILITY_METER),
        interval_data_source=IntervalDataSource.PARTNER,
        enrollment_fields=(UTILITY_NAME, ACCOUNT_NUMBER, IN_CONNECTED_SOLUTIONS),
        load_type_fields=(_BATTERY_SIZE,),
        period_prefix="MA_DOER-CPS",
        seasons=(Season(start_month=1, end_month=12),),
        enrollment_lead_days=30,
        sources=(src.MA_CPS_REGULATION, src.MA_CPS_GUIDELINE, src.LEAP_ONBOARDING),
    ),
    # Mass Save (MA) for the three MA utilities, Energize CT for Eversource CT, Rhode Island Energy for RI.
    _connected_solutions(
        ProgramIdentifier.EVERSOURCE_CS,
        UtilityName.EVERSOURCE,
        "Eversource",
        ("MA", "CT"),
        (src.MA_THREE_YEAR_PLAN, src.ENERGIZE_CT_CONNECTED_SOLUTIONS),
    ),
    _connected_solutions(
        ProgramIdentifier.NATGRID_CS, UtilityName.NATGRID, "National Grid", ("MA",), (src.MA_THREE_YEAR_PLAN,)
    ),
    _connected_solutions(ProgramIdentifier.UNITIL_CS, UtilityName.UNITIL, "Unitil", ("MA",), (src.MA_THREE_YEAR_PLAN,)),
    _connected_solutions(
        ProgramIdentifier.RIE_CS, UtilityName.RIE, "Rhode Island Energy", ("RI",), (src.RIE_CONNECTED_SOLUTIONS,)
    ),
    # Connecticut's Energy Storage Solutions: batteries only, so every meter is asked its battery size (what the
    # performance incentive is paid on); Eversource and UI run its summer and winter dispatch seasons.
    Program(
        program_identifier=ProgramIdentifier.CT_GB_ESS,
        name="Connecticut Energy Storage Solutions",
        transmission_region=TransmissionRegion.ISONE,
        states=("CT",),
        utilities=(UtilityName.EVERSOURCE, UtilityName.UNITED_ILLUMINATED),
        onboarding=OnboardingMethod.PARTNER_CREATED,
        meter_types=(MeterType.DEVICE, MeterType.SUBMETER),
        performance_basis=(PerformanceBasis.DEVICE,),
        interval_data_source=IntervalDataSource.PARTNER,
        enrollment_fields=(UTILITY_NAME, ACCOUNT_NUMBER, BATTERY_POWER, BATTERY_ENERGY),
        period_prefix="CT_GB-ESS",
        seasons=(Season(start_month=6, end_month=9), Season(start_month=11, end_month=3)),
        enrollment_lead_days=30,
        sources=(src.CT_ESS_PROGRAM, src.EVERSOURCE_CT_BATTERY_OPTIONS, src.LEAP_PROGRAM_IDENTIFIERS),
    ),
    # ERCOT (TX): partner-created utility meters; ERCOT supplies the interval data.
    Program(
        program_identifier=ProgramIdentifier.ERCOT_ERS,
        name="ERCOT Emergency Response Service",
        transmission_region=TransmissionRegion.ERCOT,
        onboarding=OnboardingMethod.PARTNER_CREATED,
        meter_types=(MeterType.UTILITY_METER,),
        performance_basis=(PerformanceBasis.UTILITY_METER,),
        interval_data_source=IntervalDataSource.ISO,
        creation_fields=(ESIID,),
        enrollment_fields=(UTILITY_NAME,),
        period_prefix="ERCOT-ERS",
        # ERS Standard Contract Terms (ERCOT Nodal Protocols 3.14.3): Dec-Mar, Apr-May, Jun-Sep, Oct-Nov.
        seasons=(
            Season(start_month=12, end_month=3),
            Season(start_month=4, end_month=5),
            Season(start_month=6, end_month=9),
            Season(start_month=10, end_month=11),
        ),
        # Offers for a term close weeks before it starts (the procurement schedule gives each term's dates).
        enrollment_lead_days=21,
        # The QSE offers each ERS resource to ERCOT for a contract term (Nodal Protocols 3.14.3).
        operator_steps=(ActionType.HAS_MARKET_REGISTRATION,),
        grouping_keys=("utility.utility_name", "site.load_zone"),
        sources=(
            src.ERCOT_PROTOCOLS_ERS,
            src.ERCOT_ERS_PROCUREMENT,
            src.ERCOT_RETAIL_MARKET_GUIDE,
            src.LEAP_ONBOARDING,
        ),
    ),
    # Oncor's Commercial Load Management: commercial Oncor meters through service providers (partner-created, as
    # every ERCOT meter is); Oncor verifies the reduction on its own interval data. The ESIID is already required to
    # create any ERCOT utility meter (ERS), so here it is only an enrollment field: no second creation error.
    Program(
        program_identifier=ProgramIdentifier.ONCOR_CLM,
        name="Oncor Commercial Load Management",
        transmission_region=TransmissionRegion.ERCOT,
        states=("TX",),
        utilities=(UtilityName.ONCOR,),
        customer_classifications=(CustomerClassification.COMMERCIAL,),
        onboarding=OnboardingMethod.PARTNER_CREATED,
        meter_types=(MeterType.UTILITY_METER,),
        performance_basis=(PerformanceBasis.UTILITY_METER,),
        interval_data_source=IntervalDataSource.UTILITY,
        enrollment_fields=(UTILITY_NAME, ESIID),
        period_prefix="ONCOR-CLM",
        # Summer on-peak season June-September, winter emergency season December-February.
        seasons=(Season(start_month=6, end_month=9), Season(start_month=12, end_month=2)),
        enrollment_lead_days=30,
        sources=(src.ONCOR_CLM, src.ERCOT_RETAIL_MARKET_GUIDE, src.LEAP_PROGRAM_IDENTIFIERS),
    ),
    # CAISO (CA): customer-authorized through Connect; the utility supplies the interval data.
    # DRAM, CCA capacity and ELRP are California (CPUC / CCA) programs; energy-only is the CAISO market itself.
    _caiso(
        ProgramIdentifier.DRAM, "Demand Response Auction Mechanism", "CAISO-DRAM", _MONTHLY, ("CA",), (src.CPUC_DRAM,)
    ),
    _caiso(
        ProgramIdentifier.CCA,
        "Community Choice Aggregator capacity",
        "CAISO-CCA",
        _MONTHLY,
        ("CA",),
        (src.CPUC_RESOURCE_ADEQUACY,),
    ),
    _caiso(ProgramIdentifier.ENERGY_ONLY, "CAISO energy-only", "CAISO-ENERGY-ONLY", _MONTHLY, (), ()),
    _caiso(
        ProgramIdentifier.ELRP,
        "Emergency Load Reduction Program",
        "CAISO-ELRP",
        _MAY_OCT_MONTHLY,
        ("CA",),
        (src.CPUC_ELRP_DECISION, src.PGE_ELRP_SCHEDULE),
        market=False,
    ),
    _caiso(
        ProgramIdentifier.PGE_CBP,
        "PG&E Capacity Bidding Program",
        "PGE-CBP",
        _MAY_OCT_MONTHLY,
        ("CA",),
        (src.PGE_CBP_SCHEDULE,),
        utilities=(UtilityName.PGE,),
        classifications=(CustomerClassification.COMMERCIAL,),
        market=False,
    ),
    # CEC DSGS (Option 3): partner-created batteries, measured at the device with partner-supplied data.
    Program(
        program_identifier=ProgramIdentifier.CEC_DSGS,
        name="CEC Demand Side Grid Support (storage virtual power plant)",
        transmission_region=TransmissionRegion.CAISO,
        states=("CA",),
        onboarding=OnboardingMethod.PARTNER_CREATED,
        meter_types=(MeterType.DEVICE, MeterType.SUBMETER),
        performance_basis=(PerformanceBasis.DEVICE,),
        interval_data_source=IntervalDataSource.PARTNER,
        enrollment_fields=(UTILITY_NAME, BATTERY_ENERGY, BATTERY_POWER, NUMBER_OF_DEVICES),
        period_prefix="CEC-DSGS",
        seasons=_MAY_OCT,
        enrollment_lead_days=30,
        sources=(src.CEC_DSGS_GUIDELINES, src.LEAP_DSGS_REQUIRED_ACTION, src.LEAP_PROGRAM_IDENTIFIERS),
    ),
    # ELRP sub-group A.4: virtual power plant aggregations of the three utilities' residential customers, measured
    # on sub-metered (device) data the aggregator supplies, unlike ELRP's Connect-created utility meters. Monthly
    # periods over the May-October season, as ELRP's.
    Program(
        program_identifier=ProgramIdentifier.CAISO_ELRP_A4,
        name="Emergency Load Reduction Program, virtual power plant aggregations (A.4)",
        transmission_region=TransmissionRegion.CAISO,
        states=("CA",),
        utilities=(UtilityName.PGE, UtilityName.SCE, UtilityName.SDGE),
        customer_classifications=(CustomerClassification.RESIDENTIAL,),
        onboarding=OnboardingMethod.PARTNER_CREATED,
        meter_types=(MeterType.DEVICE, MeterType.SUBMETER),
        performance_basis=(PerformanceBasis.DEVICE,),
        interval_data_source=IntervalDataSource.PARTNER,
        enrollment_fields=(UTILITY_NAME, ACCOUNT_NUMBER),
        period_prefix="CAISO-ELRP-A4",
        seasons=_MAY_OCT_MONTHLY,
        enrollment_lead_days=14,
        sources=(
            src.CPUC_ELRP_PHASE_II,
            src.ELRP_A4_UTILITY_PAGES,
            src.CPUC_ELRP_DECISION,
            src.LEAP_PROGRAM_IDENTIFIERS,
        ),
    ),
    # PG&E's Automated Response Technology: PG&E residential customers' smart devices, enrolled through a provider
    # (the partner) and counted on the consumption the registered device controls. Events come at any time of year,
    # so a device joins at the next month rather than waiting for a season.
    Program(
        program_identifier=ProgramIdentifier.PGE_ART,
        name="PG&E Automated Response Technology",
        transmission_region=TransmissionRegion.CAISO,
        states=("CA",),
        utilities=(UtilityName.PGE,),
        customer_classifications=(CustomerClassification.RESIDENTIAL,),
        onboarding=OnboardingMethod.PARTNER_CREATED,
        meter_types=(MeterType.DEVICE,),
        performance_basis=(PerformanceBasis.DEVICE,),
        interval_data_source=IntervalDataSource.PARTNER,
        enrollment_fields=(UTILITY_NAME,),
        period_prefix="PGE-ART",
        seasons=_MONTHLY,
        enrollment_lead_days=14,
        sources=(src.PGE_ART, src.LEAP_PROGRAM_IDENTIFIERS),
    ),
    # NYISO (NY): customer-authorized through Connect; the utility supplies the interval data.
    _nyiso(
        ProgramIdentifier.NYISO_SCR,
        "NYISO Special Case Resources",
        (CBL_METHOD,),
        (src.NYISO_ICAP_MANUAL, src.NYISO_ICAP_CALENDAR),
    ),
    _nyiso(
        ProgramIdentifier.CONED_DLRP,
        "Con Edison Distribution Load Relief Program",
        (),
        (src.CONED_RIDER_T,),
        CON_EDISON,
    ),
    _nyiso(
        ProgramIdentifier.CONED_CSRP,
        "Con Edison Commercial System Relief Program",
        (),
        (src.CONED_RIDER_T,),
        CON_EDISON,
    ),
    _nyiso(
        ProgramIdentifier.PSEGLI_DLRP,
        "PSEG Long Island Distribution Load Relief Program",
        (COMPANY_TYPE,),
        (src.PSEGLI_DR_TARIFF,),
        PSEG_LI,
    ),
    _nyiso(
        ProgramIdentifier.PSEGLI_CSRP,
        "PSEG Long Island Commercial System Relief Program",
        (COMPANY_TYPE,),
        (src.PSEGLI_DR_TARIFF,),
        PSEG_LI,
    ),
    # PJM: customer-authorized through Connect (Leap recommends Connect for PJM); the utility supplies the data.
    Program(
        program_identifier=ProgramIdentifier.PJM_CAPACITY,
        name="PJM Capacity (Demand Resource)",
        transmission_region=TransmissionRegion.PJM,
        onboarding=OnboardingMethod.CUSTOMER_AUTHORIZED,
        meter_types=(MeterType.UTILITY_METER,),
        performance_basis=(PerformanceBasis.UTILITY_METER,),
        interval_data_source=IntervalDataSource.UTILITY,
        enrollment_fields=(UTILITY_NAME, ACCOUNT_NUMBER),
        period_prefix="PJM-CAPACITY",
        # One Delivery Year, June 1 - May 31.
        seasons=(Season(start_month=6, end_month=5),),
        enrollment_lead_days=30,
        # The Curtailment Service Provider registers each location in PJM's DR Hub, per utility and zone (M11).
        operator_steps=(ActionType.HAS_MARKET_REGISTRATION,),
        grouping_keys=("utility.utility_name", "site.load_zone"),
        sources=(src.PJM_MANUAL_18, src.PJM_MANUAL_11, src.LEAP_ONBOARDING),
    ),
)


@cache
def _by_identifier() -> dict[ProgramIdentifier, Program]:
    return {program.program_identifier: program for program in PROGRAMS}


def get_program(identifier: ProgramIdentifier) -> Program:
    return _by_identifier()[identifier]


def programs_for(
    region: TransmissionRegion,
    meter_type: MeterType,
    classification: CustomerClassification | None = None,
    utility: str | None = None,
    state: str | None = None,
) -> list[Program]:
    """The programs a meter of this region, type, customer class, utility and service-address state can take
    part in.

    An unknown utility or state (None) keeps utility- or state-bound programs: the meter may still turn out to
    be theirs.
    """
    return [
        program
        for program in PROGRAMS
        if program.transmission_region == region
        and meter_type in program.meter_types
        and (classification is None or classification in program.customer_classifications)
        and (utility is None or not program.utilities or utility in program.utilities)
        and (state is None or not program.states or state.upper() in program.states)
    ]


def requires_customer_authorization(region: TransmissionRegion, meter_type: MeterType) -> bool:
    """True when every program open to this meter onboards through a customer authorization (Connect)."""
    programs = programs_for(region, meter_type)
    return bool(programs) and all(p.onboarding is OnboardingMethod.CUSTOMER_AUTHORIZED for p in programs)


def accepts_partner_interval_data(region: TransmissionRegion, meter_type: MeterType) -> bool:
    """Whether a partner may upload interval data for such a meter (some program uses partner data)."""
    return any(p.interval_data_source is IntervalDataSource.PARTNER for p in programs_for(region, meter_type))


def value_at(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dot path of a meter document, or None when any step is absent."""
    current: Any = document
    for step in path.split("."):
        if not isinstance(current, Mapping) or current.get(step) is None:
            return None
        current = current[step]
    return current


def _is_present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def enrollment_fields_for(program: Program, load_types: Collection[str]) -> tuple[RequiredField, ...]:
    """Every field the program needs of a meter with these load types, each once, in declaration order."""
    wanted = [*program.enrollment_fields]
    for extra in program.load_type_fields:
        if any(t in extra.load_types for t in load_types):
            wanted.extend(field for field in extra.fields if field not in wanted)
    return tuple(wanted)


def unmet(fields: tuple[RequiredField, ...], document: Mapping[str, Any]) -> list[RequiredField]:
    """The fields that are absent from the document, or present but failing the program's pattern."""
    failing: list[RequiredField] = []
    for field in fields:
        value = value_at(document, field.path)
        if not _is_present(value) or (field.pattern and not re.fullmatch(field.pattern, str(value))):
            failing.append(field)
    return failing


# ----- delivery periods --------------------------------------------------------------------------------------
class DeliveryPeriod(BaseModel):
    model_config = ConfigDict(frozen=True)

    identifier: str
    start: datetime
    end: datetime
    enrollment_deadline: datetime


def _season_period(program: Program, season: Season, start_year: int) -> DeliveryPeriod:
    end_year = start_year if season.end_month >= season.start_month else start_year + 1
    start = datetime(start_year, season.start_month, 1, tzinfo=UTC)
    next_month = date(end_year + (season.end_month == 12), season.end_month % 12 + 1, 1)
    end = datetime(next_month.year, next_month.month, 1, tzinfo=UTC)
    if season.start_month == season.end_month:
        label = f"{start_year}_{_MONTHS[season.start_month - 1]}"
    elif end_year == start_year:
        label = f"{start_year}_{_MONTHS[season.start_month - 1]}_{_MONTHS[season.end_month - 1]}"
    else:
        label = f"{start_year}_{_MONTHS[season.start_month - 1]}_{end_year}_{_MONTHS[season.end_month - 1]}"
    return DeliveryPeriod(
        identifier=f"{program.period_prefix}_{label}",
        start=start,
        end=end,
        enrollment_deadline=start - timedelta(days=program.enrollment_lead_days),
    )


def next_delivery_period(program: Program, now: datetime, load_types: Collection[str] | None = None) -> DeliveryPeriod:
    """The first delivery period whose enrollment deadline has not passed yet, among the seasons open to a meter
    with these load types (None: every season)."""
    candidates = [
        _season_period(program, season, year)
        for year in (now.year - 1, now.year, now.year + 1, now.year + 2)
        for season in program.seasons
        if season.open_to(load_types)
    ]
    return min((p for p in candidates if p.enrollment_deadline >= now), key=lambda p: p.start)
