"""Leap's enumerations, with the exact wire values.

Member names equal the wire value, except that `-` becomes `_` (e.g. `ProgramIdentifier.MA_DOER_CPS`
is `"MA_DOER-CPS"`). Every class is a `StrEnum`, so members compare equal to their value and
serialise as plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class TransmissionRegion(StrEnum):
    """Grid operator (ISO/RTO) or regional area the meter belongs to."""

    CAISO = "CAISO"
    ERCOT = "ERCOT"
    NYISO = "NYISO"
    ISONE = "ISONE"
    PJM = "PJM"
    SERC = "SERC"
    WECC_SW = "WECC_SW"
    WECC_PC = "WECC_PC"


class CustomerClassification(StrEnum):
    """Home or business customer."""

    RESIDENTIAL = "RESIDENTIAL"
    COMMERCIAL = "COMMERCIAL"


class LoadType(StrEnum):
    """Kind of partner-controlled, curtailable load behind the meter."""

    HVAC = "HVAC"
    EV_CHARGING = "EV_CHARGING"
    BATTERY_STORAGE = "BATTERY_STORAGE"
    COLD_STORAGE = "COLD_STORAGE"
    PUMPING = "PUMPING"
    WATER_HEATING = "WATER_HEATING"
    BUILDING_AUTOMATION = "BUILDING_AUTOMATION"
    GENERATION = "GENERATION"
    MANUFACTURING = "MANUFACTURING"
    LIGHTING = "LIGHTING"
    OTHER = "OTHER"


class MeterType(StrEnum):
    """What the asset is: a utility revenue meter, a submeter, or a single device."""

    UTILITY_METER = "UTILITY_METER"
    SUBMETER = "SUBMETER"
    DEVICE = "DEVICE"


class DeviceType(StrEnum):
    """Kind of device at the premises."""

    BATTERY = "BATTERY"
    GENERATOR = "GENERATOR"
    EV = "EV"
    EV_CHARGER = "EV_CHARGER"
    BIDIRECTIONAL_EV_CHARGER = "BIDIRECTIONAL_EV_CHARGER"
    SMART_THERMOSTAT = "SMART_THERMOSTAT"
    AIR_CONDITIONER = "AIR_CONDITIONER"
    HEAT_PUMP = "HEAT_PUMP"


class FuelType(StrEnum):
    """Energy source of a generator."""

    DIESEL = "DIESEL"
    NATURAL_GAS = "NATURAL_GAS"
    DUAL_FUEL = "DUAL_FUEL"
    CO_GEN = "CO_GEN"
    ENERGY_STORAGE = "ENERGY_STORAGE"
    OTHER = "OTHER"


class VoltageLevel(StrEnum):
    """EV charger (EVSE) level."""

    EVSE_LEVEL_1 = "EVSE_LEVEL_1"
    EVSE_LEVEL_2 = "EVSE_LEVEL_2"


class DispatchOption(StrEnum):
    """ConnectedSolutions dispatch strategy."""

    DAILY = "DAILY"
    TARGETED = "TARGETED"


class NemType(StrEnum):
    """California net energy metering rules the battery falls under."""

    NEM2 = "NEM2"
    NEM3 = "NEM3"


class CblMethod(StrEnum):
    """NYISO Customer Baseline Load verification method."""

    AVERAGE_DAY = "AVERAGE_DAY"
    WEATHER_ADJUSTED = "WEATHER_ADJUSTED"


class CompanyType(StrEnum):
    """Legal form of the end customer (needed for PSEGLI CSRP/DLRP)."""

    INDIVIDUAL_OR_SOLE_PROPRIETOR = "INDIVIDUAL_OR_SOLE_PROPRIETOR"
    LIMITED_LIABILITY_COMPANY = "LIMITED_LIABILITY_COMPANY"
    PARTNERSHIP = "PARTNERSHIP"
    CORPORATION = "CORPORATION"
    OTHER = "OTHER"
    EXEMPT_PAYEE = "EXEMPT_PAYEE"


class UtilityName(StrEnum):
    """Utility (IOU or POU) whose territory the customer is in; order as in Leap's spec."""

    PGE = "PGE"
    SCE = "SCE"
    SDGE = "SDGE"
    SMUD = "SMUD"
    LADWP = "LADWP"
    SVP = "SVP"
    CECONY = "CECONY"
    ORU = "ORU"
    PSEGLI = "PSEGLI"
    NYS = "NYS"
    RIE = "RIE"
    EVERSOURCE = "EVERSOURCE"
    NATGRID = "NATGRID"
    UNITIL = "UNITIL"
    PPL = "PPL"
    CAPELIGHT = "CAPELIGHT"
    UPLIGHT = "UPLIGHT"
    UNITED_ILLUMINATED = "UNITED_ILLUMINATED"
    SMT = "SMT"
    AEP_CENTRAL = "AEP_CENTRAL"
    AEP_NORTH = "AEP_NORTH"
    NUECES_ELECTRIC = "NUECES_ELECTRIC"
    ONCOR = "ONCOR"
    CENTERPOINT = "CENTERPOINT"
    ENTERGY_GULF = "ENTERGY_GULF"
    SWEPCO = "SWEPCO"
    TNMP = "TNMP"
    DEMO = "DEMO"
    DEMO2 = "DEMO2"
    LEAP_TEST_CAISO = "LEAP_TEST_CAISO"
    LEAP_TEST_NYISO = "LEAP_TEST_NYISO"
    COMED = "COMED"
    BGE = "BGE"
    PECO = "PECO"
    METED = "METED"
    PENELEC = "PENELEC"
    PSEG = "PSEG"
    DOMINION = "DOMINION"
    WESTPENN = "WESTPENN"
    PENNPOWER = "PENNPOWER"
    PEPCO = "PEPCO"
    PJM_DEMO = "PJM_DEMO"
    OTHER = "OTHER"
    NES = "NES"
    MLGW = "MLGW"
    KUB = "KUB"
    NPU = "NPU"
    MTEMC = "MTEMC"
    PRECC = "PRECC"
    HSVU = "HSVU"
    SRP = "SRP"
    PSE = "PSE"
    TVA = "TVA"


class ProgramIdentifier(StrEnum):
    """Grid-services program a meter can be enrolled in; order as in Leap's spec."""

    CAISO_CCA_SC_ONLY = "CAISO-CCA-SC_ONLY"
    CCA = "CCA"
    CEC_DSGS_OPTION4 = "CEC-DSGS-OPTION4"
    CEC_DSGS = "CEC-DSGS"
    CONED_CSRP = "CONED-CSRP"
    CONED_DLRP = "CONED-DLRP"
    DRAM = "DRAM"
    ELRP = "ELRP"
    ENERGY_ONLY = "ENERGY-ONLY"
    ERCOT_ERS = "ERCOT-ERS"
    EVERSOURCE_CS = "EVERSOURCE-CS"
    MA_DOER_CPS = "MA_DOER-CPS"
    NATGRID_CS = "NATGRID-CS"
    NRG_REALTIME = "NRG-REALTIME"
    NRG_RED = "NRG-RED"
    NYISO_SCR = "NYISO-SCR"
    ONCOR_CLM = "ONCOR-CLM"
    PGE_ART = "PGE-ART"
    PGE_CBP = "PGE-CBP"
    PJM_CAPACITY = "PJM-CAPACITY"
    PSEGLI_CSRP = "PSEGLI-CSRP"
    PSEGLI_DLRP = "PSEGLI-DLRP"
    RIE_CS = "RIE-CS"
    UNITIL_CS = "UNITIL-CS"
    PSE_RPO = "PSE-RPO"
    SRP_RPO = "SRP-RPO"
    TVA_RPO = "TVA-RPO"
    CAISO_ELRP_A4 = "CAISO-ELRP-A4"
    CEC_DSGS_OPTION2 = "CEC-DSGS-OPTION2"
    ENERGYHUB_CS = "ENERGYHUB-CS"
    CT_GB_ESS = "CT_GB-ESS"


class EnrollmentStatus(StrEnum):
    """Enrollment state of a meter, globally or in one program delivery period."""

    ACTIVE = "ACTIVE"
    ELIGIBLE = "ELIGIBLE"
    INELIGIBLE = "INELIGIBLE"
    NOT_PARTICIPATING = "NOT_PARTICIPATING"
    PENDING = "PENDING"


class ActionType(StrEnum):
    """Category of an action required before a meter can participate."""

    IS_AUTHORIZED = "IS_AUTHORIZED"
    DOCUMENTS_SIGNED = "DOCUMENTS_SIGNED"
    HAS_AMI = "HAS_AMI"
    NOT_ENROLLED_IN_CONFLICTING_PROGRAM = "NOT_ENROLLED_IN_CONFLICTING_PROGRAM"
    PARTICIPATING = "PARTICIPATING"
    HAS_MARKET_REGISTRATION = "HAS_MARKET_REGISTRATION"
    NO_MISSING_FIELDS = "NO_MISSING_FIELDS"
    GENERATOR = "GENERATOR"
    ADDRESS = "ADDRESS"
    HAS_NOMINATIONS = "HAS_NOMINATIONS"
    HAS_BIDDING_STRATEGY = "HAS_BIDDING_STRATEGY"
    IS_ELIGIBLE = "IS_ELIGIBLE"
    IS_ASSIGNED_TO_A_RESOURCE = "IS_ASSIGNED_TO_A_RESOURCE"
    MEETS_EXTRA_PROGRAM_REQUIREMENTS = "MEETS_EXTRA_PROGRAM_REQUIREMENTS"


class ParticipationPreference(StrEnum):
    """Whether the partner wants the meter dispatched, paused, or withdrawn."""

    PARTICIPATE = "PARTICIPATE"
    IDLE = "IDLE"
    DISENROLL = "DISENROLL"


class CreatedBy(StrEnum):
    """Who created a meter: the partner (API/upload), Leap staff, or the utility via Leap Connect."""

    PARTNER = "PARTNER"
    LEAP = "LEAP"
    UTILITY = "UTILITY"


class ProvisionalAssetStatus(StrEnum):
    """Processing outcome of one submitted asset."""

    PROCESSING = "PROCESSING"
    FAILED = "FAILED"
    DUPLICATE = "DUPLICATE"
    COMPLETED = "COMPLETED"
    MULTIPLE_PARTNER_REFERENCE = "MULTIPLE_PARTNER_REFERENCE"


class StatusDetailName(StrEnum):
    """Machine-readable reason attached to a provisional asset's status."""

    ACCOUNT_MISMATCH = "ACCOUNT_MISMATCH"
    ADDRESS_INCOMPLETE = "ADDRESS_INCOMPLETE"
    ADDRESS_NOT_FOUND = "ADDRESS_NOT_FOUND"
    ADDRESS_NOT_REGISTERED_FOR_ESIID = "ADDRESS_NOT_REGISTERED_FOR_ESIID"
    DUPLICATE_METER = "DUPLICATE_METER"
    DUPLICATE_REF_ID = "DUPLICATE_REF_ID"
    METER_CREATED = "METER_CREATED"
    METER_UPDATED = "METER_UPDATED"
    MULTIPLE_ACCOUNTS = "MULTIPLE_ACCOUNTS"
    UNSUPPORTED_ADDRESS = "UNSUPPORTED_ADDRESS"
    UNSUPPORTED_ZIP_CODE = "UNSUPPORTED_ZIP_CODE"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    PROCESSING_ERROR = "PROCESSING_ERROR"
