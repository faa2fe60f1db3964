"""The partner-supplied meter asset (`CreateMeter`), field for field compatible with Leap's schema.

Validation rules follow Leap's Create Meters spec: lengths, patterns, numeric ranges, enums.
Unknown fields are ignored, as Leap does not reject them. Older device field names are accepted
on input (`DeviceInfo`), but models always serialise under the current names.

Implementation notes:
- pydantic's default regex engine has no look-around, so the customer-name rule (no `?`, no-break
  space or U+FFFD) is an after-validator that raises a `ValueError`; the spec pattern is still
  published in the JSON schema.
- Numeric ranges use `Between`, which reports one `number_range` error naming both bounds
  (ctx `ge`, `le`) and publishes `minimum`/`maximum` in the JSON schema.
- Numbers and integers refuse JSON booleans (pydantic's lax mode would read `true` as 1).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, PydanticKnownError, core_schema

from meterhub.catalog.enums import (
    CblMethod,
    CompanyType,
    CustomerClassification,
    DeviceType,
    DispatchOption,
    FuelType,
    LoadType,
    MeterType,
    NemType,
    TransmissionRegion,
    UtilityName,
    VoltageLevel,
)
from meterhub.platform.api.field_errors import explain_patterns

# --- Patterns (Leap's, written with escapes so the source stays ASCII; each compiles with the Rust engine)

PARTNER_REFERENCE_PATTERN = r"^[^\/\\?\]\[{}!#$%^&*()<>|]{3,256}$"
"""3-256 characters, none of / \\ ? [ ] { } ! # $ % ^ & * ( ) < > |"""

POSTAL_CODE_PATTERN = r"^[0-9]{5}(?:-[0-9]{4})?$"
"""US ZIP (12345) or ZIP+4 (12345-6789)."""

STREET_PATTERN = "^[\u2019'+#\"@()/&.,;\\sA-Za-z\u00c0-\u024f\u1e00-\u1eff0-9\\-|\\\\]{1,128}$"
"""Street lines: Latin letters (with accents), digits, whitespace, U+2019 and '+#"@()/&.,;-|\\ ."""

NAME_PATTERN = "^[\u2019'+#\"@()/&.,;\\sA-Za-z\u00c0-\u024f\u1e00-\u1eff0-9\\-]{1,128}$"
"""City, title and company name: as the street pattern, without | and \\ ."""

CUSTOMER_GROUP_PATTERN = "^[\u2019'+#\"@()/&.,;A-Za-z\u00c0-\u024f\u1e00-\u1eff0-9\\s_\\-]{0,128}$"
"""Customer group: as the name pattern plus underscore, may be empty."""

END_CUSTOMER_NAME_PATTERN = "^(?!.*[\ufffd\\u00A0\\uFFFD?])[\\s\\S]{1,128}$"
"""Leap's (look-ahead) pattern for the customer name; enforced by `_check_end_customer_name`."""

END_CUSTOMER_NAME_FORBIDDEN = frozenset({"?", "\u00a0", "\ufffd"})

END_CUSTOMER_NAME_RULE = "must not contain '?', a no-break space (U+00A0) or the replacement character (U+FFFD)"

PATTERN_HINTS: Mapping[str, str] = {
    PARTNER_REFERENCE_PATTERN: "3 to 256 characters, none of / \\ ? [ ] { } ! # $ % ^ & * ( ) < > |",
    POSTAL_CODE_PATTERN: "a US ZIP or ZIP+4 code",
    STREET_PATTERN: "letters, digits, spaces and \u2019 ' + # \" @ ( ) / & . , ; - | \\ only",
    NAME_PATTERN: "letters, digits, spaces and \u2019 ' + # \" @ ( ) / & . , ; - only",
    CUSTOMER_GROUP_PATTERN: "letters, digits, spaces and \u2019 ' + # \" @ ( ) / & . , ; _ - only",
}
"""Plain-language reading of each pattern, appended to pattern errors by `field_errors`."""
explain_patterns(PATTERN_HINTS)


# --- Reusable constrained types

MAX_SITE_DEVICES = 100
"""Devices listed on one site; a site with more is several sites (and the asset stays well under 64 KiB)."""


def _distinct(values: list[LoadType]) -> list[LoadType]:
    """Repeats carry no meaning in a set-like list (`["HVAC", "HVAC"]`); keep the first of each, in order."""
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class Between:
    """Inclusive numeric range: one error (`number_range`, ctx `ge`/`le`) that names both bounds.

    Use as `Annotated[float, Between(0, 100)]`; the JSON schema gets `minimum` and `maximum`.
    NaN and infinities fail the check.
    """

    ge: int | float
    le: int | float

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["minimum"] = self.ge
        json_schema["maximum"] = self.le
        return json_schema

    def _check(self, value: float) -> float:
        if not (self.ge <= value <= self.le) or math.isnan(value):
            raise PydanticCustomError(
                "number_range",
                "Input should be between {ge} and {le}",
                {"ge": self.ge, "le": self.le},
            )
        return value


def _refuse_bool_for_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticKnownError("int_type")
    return value


def _refuse_bool_for_float(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticKnownError("float_type")
    return value


def _empty_string_as_none(value: Any) -> Any:
    return None if value == "" else value


EMAIL_PATTERN = re.compile(r"^[^@\s\x00-\x1f]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def _check_email(value: object) -> object:
    """A syntax check (local part, '@', a dotted domain with a TLD): enough to catch typos without pulling
    email-validator into the Lambda layer, whose import alone costs ~30 ms of every cold start."""
    if not isinstance(value, str):
        return value  # the str schema reports the wrong type
    if value.count("@") != 1:
        raise ValueError("must be a valid email address: it must contain exactly one @ sign")
    if not EMAIL_PATTERN.fullmatch(value):
        raise ValueError("must be a valid email address: expected name@domain.tld")
    return value


def _check_end_customer_name(value: str) -> str:
    if any(char in END_CUSTOMER_NAME_FORBIDDEN for char in value):
        raise ValueError(END_CUSTOMER_NAME_RULE)
    return value


def _single_line(value: str) -> str:
    """Identifiers, names and addresses are one line of text: a control character or line break in one is a
    corrupted export or an injection attempt, and it would be stored, searched and written into CSVs as sent."""
    if value.isprintable():  # the common case, in C: no Cc, Zl or Zp character can be in a printable string
        return value
    for position, char in enumerate(value):
        if unicodedata.category(char) in {"Cc", "Zl", "Zp"}:
            raise ValueError(f"must not contain control characters or line breaks (U+{ord(char):04X} at {position})")
    return value


SingleLine = AfterValidator(_single_line)

PartnerReference = Annotated[
    str, StringConstraints(min_length=3, max_length=256, pattern=PARTNER_REFERENCE_PATTERN), SingleLine
]
"""Partner-chosen identifier (asset, customer, Connect refId): 3-256 characters, Leap's pattern."""

PostalCode = Annotated[str, StringConstraints(pattern=POSTAL_CODE_PATTERN), SingleLine]
Street = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=STREET_PATTERN), SingleLine]
City = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NAME_PATTERN), SingleLine]
TwoLetterCode = Annotated[str, StringConstraints(min_length=2, max_length=2), SingleLine]
Title = Annotated[str, StringConstraints(min_length=1, max_length=15, pattern=NAME_PATTERN), SingleLine]
CustomerName = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_check_end_customer_name), SingleLine
]
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=128),
    BeforeValidator(_check_email),
    SingleLine,
    WithJsonSchema({"type": "string", "format": "email", "minLength": 3, "maxLength": 128}),
]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=32), SingleLine]
Text128 = Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine]
Text256 = Annotated[str, StringConstraints(min_length=1, max_length=256), SingleLine]

Kilowatts = Annotated[float, BeforeValidator(_refuse_bool_for_float), Between(0, 999_999)]
"""Power or energy quantity (kW or kWh), 0-999999."""
Percentage = Annotated[float, BeforeValidator(_refuse_bool_for_float), Between(0, 100)]
MaxChargePercentage = Annotated[float, BeforeValidator(_refuse_bool_for_float), Between(2, 100)]
"""2-100: the floor of 2 catches fractions (0.95) sent where a percentage (95) is meant."""
DurationHours = Annotated[int, BeforeValidator(_refuse_bool_for_int), Between(0, 100)]
ModelYear = Annotated[int, BeforeValidator(_refuse_bool_for_int), Between(1900, 2100)]
DeviceCount = Annotated[int, BeforeValidator(_refuse_bool_for_int), Between(0, 99)]


_DEPRECATED: dict[str, Any] = {"deprecated": True}
"""JSON-schema marker only: pydantic's own `deprecated=` would warn on every attribute read."""


class PartnerModel(BaseModel):
    """Base of every partner-supplied block: unknown fields are ignored, strings kept as sent.

    Validators are built on first use (defer_build): several functions import these models only for a route
    or two that need them, and should not pay for them at every cold start.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, populate_by_name=True, defer_build=True)


# --- Blocks


class CustomerBilling(PartnerModel):
    """Billing address, when it differs from the service address."""

    street_1: Street = Field(description="Billing street and number; put unit or apartment in street_2.")
    street_2: Street | None = Field(None, description="Second billing address line (unit, apartment).")
    postal_code: PostalCode = Field(description="Billing ZIP or ZIP+4 code.")
    city: City = Field(description="Billing city.")
    state_or_province_code: TwoLetterCode = Field(description="Two-letter billing state code, e.g. CA.")
    country_code: TwoLetterCode = Field("US", description="ISO 3166-1 alpha-2 country code; US if omitted.")


class Customer(PartnerModel):
    """Service address and end-customer contact details."""

    street_1: Street = Field(description="Street and number where the asset is; put unit or apartment in street_2.")
    street_2: Street | None = Field(None, description="Second address line (unit, apartment, suite).")
    postal_code: PostalCode = Field(description="ZIP or ZIP+4 code of the asset's address.")
    city: City = Field(description="City of the asset's address.")
    state_or_province_code: TwoLetterCode = Field(description="Two-letter state code, e.g. NY.")
    country_code: TwoLetterCode = Field("US", description="ISO 3166-1 alpha-2 country code; US if omitted.")
    end_customer_name: CustomerName | None = Field(
        None,
        description="Name of the end customer or of the contact person; no '?' characters.",
        json_schema_extra={"pattern": END_CUSTOMER_NAME_PATTERN},
    )
    end_customer_title: Title | None = Field(
        None, description="Job title of the customer contact (commercial customers)."
    )
    end_customer_email: Email | None = Field(None, description="Email address of the end customer.")
    end_customer_phone_number: Phone | None = Field(
        None,
        description=(
            "Phone number the utility has on file for the customer, without a leading 1 "
            "or special characters; program administrators may use it to verify the customer."
        ),
    )
    end_customer_company_name: City | None = Field(
        None, description="Legal name of the customer's company (commercial customers)."
    )
    partner_offering_name: Text128 | None = Field(
        None, description="Name of the partner's product or program the customer signed up for."
    )
    partner_offering_date: date | None = Field(
        None, description="Date (YYYY-MM-DD) the customer signed up for the partner's offering."
    )
    is_in_wholesale_capacity_market: bool | None = Field(
        None, description="Whether the asset takes part in ISO-NE's Forward Capacity Market."
    )
    dispatch_option: DispatchOption | None = Field(
        None, description="ConnectedSolutions dispatch strategy (daily or targeted events)."
    )
    billing: CustomerBilling | None = Field(None, description="Billing address, if different.")
    partner_customer_reference: PartnerReference | None = Field(
        None,
        description=(
            "The partner's own id for this customer or site; must equal the Leap Connect refId "
            "to merge Connect data with this asset."
        ),
    )


class Device(PartnerModel):
    """The single controllable device of a DEVICE-type asset."""

    device_type: DeviceType | None = Field(None, description="Kind of device.")
    device_serial_number: Text256 | None = Field(None, description="Serial number of the device.")
    device_model: Text128 | None = Field(None, description="Model name of the device.")
    device_manufacturer: Text128 | None = Field(None, description="Maker of the device.")
    install_date: date | None = Field(None, description="Installation or activation date (YYYY-MM-DD).")
    battery_power_capacity_kw: Kilowatts | None = Field(
        None,
        description="Battery output in kW: the lower of the inverter's and the battery's rated maximum.",
    )
    battery_energy_capacity_kwh: Kilowatts | None = Field(None, description="Rated battery energy capacity in kWh.")
    battery_duration_hours: DurationHours | None = Field(
        None, description="Discharge duration in whole hours; derived from the capacities when omitted."
    )
    permission_to_operate_date: date | None = Field(
        None, description="Date on the utility's permission-to-operate (PTO) letter (YYYY-MM-DD)."
    )
    battery_max_discharge_rate_kw: Kilowatts | None = Field(
        None, description="Highest discharge rate configured on the battery, in kW."
    )
    battery_max_charge_rate_kw: Kilowatts | None = Field(
        None, description="Highest charge rate configured on the battery, in kW."
    )
    battery_max_state_of_charge_percentage: MaxChargePercentage | None = Field(
        None, description="Configured upper state-of-charge limit, in percent (95 means 95%)."
    )
    battery_min_state_of_charge_percentage: Percentage | None = Field(
        None, description="Configured lower state-of-charge limit, in percent (10 means 10%)."
    )
    installer: Text256 | None = Field(None, description="Company or person who installed the device.")
    is_connected_to_solar: bool | None = Field(None, description="Whether solar panels feed the device.")


class DeviceInfo(PartnerModel):
    """One device at the site. Older field names are accepted on input, never written out."""

    device_type: DeviceType = Field(description="Kind of device.")
    model: Text128 | None = Field(None, description="Model name of the device.")
    manufacturer: Text128 | None = Field(None, description="Maker of the device.")
    serial_number: Text256 | None = Field(None, description="Serial number of the device.")
    energy_capacity_kwh: Kilowatts | None = Field(None, description="Rated energy capacity in kWh.")
    power_capacity_kw: Kilowatts | None = Field(
        None, description="Output in kW: the lower of the inverter's and the device's rated maximum."
    )
    energy_capacity_duration_hours: DurationHours | None = Field(
        None, description="Discharge duration in whole hours; derived from the capacities when omitted."
    )
    voltage_level: VoltageLevel | None = Field(None, description="EV charger level.")
    model_year: ModelYear | None = Field(None, description="Year the device was made.")
    fuel_type: FuelType | None = Field(None, description="Energy source, for generators.")
    battery_max_discharge_rate_kw: Kilowatts | None = Field(
        None,
        validation_alias=AliasChoices("battery_max_discharge_rate_kw", "max_energy_production_rate_kw"),
        description="Highest discharge rate configured on the battery, in kW (formerly max_energy_production_rate_kw).",
    )
    battery_max_charge_rate_kw: Kilowatts | None = Field(
        None,
        validation_alias=AliasChoices("battery_max_charge_rate_kw", "max_energy_consumption_rate_kw"),
        description="Highest charge rate configured on the battery, in kW (formerly max_energy_consumption_rate_kw).",
    )
    battery_max_state_of_charge_percentage: MaxChargePercentage | None = Field(
        None, description="Configured upper state-of-charge limit, in percent (95 means 95%)."
    )
    battery_min_state_of_charge_percentage: Percentage | None = Field(
        None, description="Configured lower state-of-charge limit, in percent (10 means 10%)."
    )
    installer: Text256 | None = Field(None, description="Company or person who installed the device.")
    is_connected_to_solar: bool | None = Field(
        None,
        validation_alias=AliasChoices("is_connected_to_solar", "pv_connected"),
        description="Whether solar panels feed the device (formerly pv_connected).",
    )


class Site(PartnerModel):
    """The premises behind the meter and the devices there."""

    load_zone: Text128 | None = Field(None, description="Load zone (sub-region of the transmission region).")
    number_of_devices: DeviceCount | None = Field(
        None,
        description="How many dispatchable devices sit behind this meter (e.g. batteries stacked behind one inverter).",
    )
    on_site_fossil_generator: bool | None = Field(None, description="Whether a fossil-fuel generator is on site.")
    renewable_generator: bool | None = Field(
        None, description="Whether a renewable generator is on site, behind the meter."
    )
    generator_capacity_kw: Kilowatts | None = Field(
        None, json_schema_extra=_DEPRECATED, description="Deprecated; send site_devices[].power_capacity_kw."
    )
    generator_model_year: ModelYear | None = Field(
        None, json_schema_extra=_DEPRECATED, description="Deprecated; send site_devices[].model_year."
    )
    generator_manufacturer: Text128 | None = Field(
        None, json_schema_extra=_DEPRECATED, description="Deprecated; send site_devices[].manufacturer."
    )
    generator_fuel_type: Annotated[FuelType | None, BeforeValidator(_empty_string_as_none)] = Field(
        None,
        json_schema_extra=_DEPRECATED,
        description="Deprecated; send site_devices[].fuel_type. An empty string counts as absent.",
    )
    generator_serial_number: Text256 | None = Field(
        None, json_schema_extra=_DEPRECATED, description="Deprecated; send site_devices[].serial_number."
    )
    site_devices: list[DeviceInfo] | None = Field(
        None, max_length=MAX_SITE_DEVICES, description=f"Devices at the site (at most {MAX_SITE_DEVICES})."
    )


class Caiso(PartnerModel):
    """CAISO-specific details."""

    is_receiving_sgip_funding: bool | None = Field(
        None,
        description="Whether the battery receives SGIP funding; needed for batteries installed after 2023-06-30.",
    )
    nem_type: NemType | None = Field(None, description="Net energy metering rules (NEM2 or NEM3).")


class Isone(PartnerModel):
    """ISO-NE-specific details."""

    in_connected_solutions: bool | None = Field(
        None, description="Whether the meter is also in ConnectedSolutions (used for Clean Peak)."
    )


class Nyiso(PartnerModel):
    """NYISO-specific details."""

    cbl_method: CblMethod | None = Field(None, description="Customer Baseline Load verification method.")
    company_type: CompanyType | None = Field(
        None, description="Legal form of the customer (needed for PSEGLI CSRP and DLRP)."
    )
    existing_nyiso_resource_id: Annotated[str, StringConstraints(max_length=256), SingleLine] | None = Field(
        None, description="Resource id NYISO assigned if the meter was enrolled in SCR before."
    )
    partner_nyiso_resource_name: Annotated[str, StringConstraints(max_length=256), SingleLine] | None = Field(
        None, description="Resource name the partner used if the meter was enrolled in SCR before."
    )


class CommonUtility(PartnerModel):
    """Utility account details."""

    utility_name: UtilityName | None = Field(None, description="Utility whose territory the customer is in.")
    load_serving_entity: Text128 | None = Field(
        None, description="Utility or community choice aggregator that sells the customer electricity."
    )
    electric_service_account_number: Text128 | None = Field(
        None,
        description="The customer's utility account id (service agreement id in CAISO, "
        "ESIID in ERCOT, electric account number in ISO-NE, TO account number in NYISO).",
    )
    tariff: Text128 | None = Field(
        None, description="Rate code from the electric bill (VNEM for virtual NEM storage in CA DSGS)."
    )
    voltage: Text128 | None = Field(
        None, description="Service voltage level or range, e.g. '>= 600 V' (used for NYISO SCR)."
    )
    utility_meter_serial_number: Text256 | None = Field(
        None, description="Serial number of the utility's electricity meter."
    )


class CreateMeter(PartnerModel):
    """One meter asset as a partner submits it (single create or one entry of a batch)."""

    partner_reference: PartnerReference = Field(
        description="The partner's own unique id for this asset (3-256 characters)."
    )
    transmission_region: TransmissionRegion = Field(description="Transmission region of the meter.")
    customer_classification: CustomerClassification = Field(description="Residential or commercial.")
    load_types: Annotated[list[LoadType], AfterValidator(_distinct)] = Field(
        min_length=1,
        max_length=len(LoadType),
        description="Controllable loads behind the meter; at least one, each at most once (repeats are merged).",
    )
    meter_type: MeterType = Field(description="Utility meter, submeter or single device.")
    customer: Customer = Field(description="Service address and customer contact.")
    device: Device | None = Field(None, description="The controllable device, for DEVICE assets.")
    site: Site | None = Field(None, description="Site details and devices on the premises.")
    caiso: Caiso | None = Field(None, description="CAISO-specific details.")
    isone: Isone | None = Field(None, description="ISO-NE-specific details.")
    nyiso: Nyiso | None = Field(None, description="NYISO-specific details.")
    utility: CommonUtility | None = Field(None, description="Utility account details.")
    customer_group: Annotated[str, StringConstraints(pattern=CUSTOMER_GROUP_PATTERN), SingleLine] | None = Field(
        None, description="Partner-defined group label for the meter (up to 128 characters)."
    )
