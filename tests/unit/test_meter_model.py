"""CreateMeter and its blocks: every rule of Leap's asset schema, checked through the field errors."""

from __future__ import annotations

import copy
from datetime import date
from enum import StrEnum
from typing import Any

import pytest
from meterhub.catalog import enums
from meterhub.meters.api_models.meter import (
    CUSTOMER_GROUP_PATTERN,
    NAME_PATTERN,
    PARTNER_REFERENCE_PATTERN,
    STREET_PATTERN,
    CreateMeter,
    DeviceInfo,
)
from meterhub.platform.api.field_errors import field_errors
from pydantic import ValidationError


def full_asset() -> dict[str, Any]:
    """An asset with every block and every field filled with a valid value."""
    device_info = {
        "device_type": "BATTERY",
        "model": "PowerBox 13",
        "manufacturer": "Voltwerk",
        "serial_number": "VW-13-000042",
        "energy_capacity_kwh": 13.5,
        "power_capacity_kw": 5.0,
        "energy_capacity_duration_hours": 3,
        "voltage_level": "EVSE_LEVEL_2",
        "model_year": 2023,
        "fuel_type": "ENERGY_STORAGE",
        "battery_max_discharge_rate_kw": 5.0,
        "battery_max_charge_rate_kw": 3.3,
        "battery_max_state_of_charge_percentage": 95,
        "battery_min_state_of_charge_percentage": 10,
        "installer": "Sunny Installs LLC",
        "is_connected_to_solar": True,
    }
    return {
        "partner_reference": "site-7781_a.b",
        "transmission_region": "CAISO",
        "customer_classification": "COMMERCIAL",
        "load_types": ["BATTERY_STORAGE", "HVAC"],
        "meter_type": "DEVICE",
        "customer": {
            "street_1": "77 Orchard Lane",
            "street_2": "Suite 4",
            "postal_code": "94105-1234",
            "city": "San Francisco",
            "state_or_province_code": "CA",
            "country_code": "US",
            "end_customer_name": "Dana Whitfield",
            "end_customer_title": "Facilities Mgr",
            "end_customer_email": "dana@example.com",
            "end_customer_phone_number": "4155550134",
            "end_customer_company_name": "Orchard Foods, Inc.",
            "partner_offering_name": "Grid Rewards",
            "partner_offering_date": "2024-05-01",
            "is_in_wholesale_capacity_market": False,
            "dispatch_option": "TARGETED",
            "billing": {
                "street_1": "PO Box 12",
                "street_2": "Attn Accounts",
                "postal_code": "94016",
                "city": "Daly City",
                "state_or_province_code": "CA",
                "country_code": "US",
            },
            "partner_customer_reference": "cust-0042",
        },
        "device": {
            "device_type": "BATTERY",
            "device_serial_number": "VW-13-000042",
            "device_model": "PowerBox 13",
            "device_manufacturer": "Voltwerk",
            "install_date": "2024-03-15",
            "battery_power_capacity_kw": 5.0,
            "battery_energy_capacity_kwh": 13.5,
            "battery_duration_hours": 3,
            "permission_to_operate_date": "2024-04-02",
            "battery_max_discharge_rate_kw": 5.0,
            "battery_max_charge_rate_kw": 3.3,
            "battery_max_state_of_charge_percentage": 95,
            "battery_min_state_of_charge_percentage": 10,
            "installer": "Sunny Installs LLC",
            "is_connected_to_solar": True,
        },
        "site": {
            "load_zone": "SP15",
            "number_of_devices": 2,
            "on_site_fossil_generator": False,
            "renewable_generator": True,
            "generator_capacity_kw": 20.0,
            "generator_model_year": 2015,
            "generator_manufacturer": "Gensetco",
            "generator_fuel_type": "DIESEL",
            "generator_serial_number": "GS-15-9",
            "site_devices": [device_info, {**device_info, "serial_number": "VW-13-000043"}],
        },
        "caiso": {"is_receiving_sgip_funding": True, "nem_type": "NEM3"},
        "isone": {"in_connected_solutions": False},
        "nyiso": {
            "cbl_method": "WEATHER_ADJUSTED",
            "company_type": "CORPORATION",
            "existing_nyiso_resource_id": "123456",
            "partner_nyiso_resource_name": "orchard-foods-1",
        },
        "utility": {
            "utility_name": "PGE",
            "load_serving_entity": "CleanPowerSF",
            "electric_service_account_number": "0123456789-1",
            "tariff": "B-19",
            "voltage": "< 35 kV",
            "utility_meter_serial_number": "1009876543",
        },
        "customer_group": "Bay Area_West (2024)",
    }


def minimal_asset() -> dict[str, Any]:
    return {
        "partner_reference": "ref-001",
        "transmission_region": "NYISO",
        "customer_classification": "RESIDENTIAL",
        "load_types": ["HVAC"],
        "meter_type": "UTILITY_METER",
        "customer": {
            "street_1": "1 Main St",
            "postal_code": "10001",
            "city": "New York",
            "state_or_province_code": "NY",
        },
    }


def with_value(asset: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `asset` with the dotted `path` set to `value` (list indexes are numbers)."""
    result = copy.deepcopy(asset)
    *parents, last = path.split(".")
    node: Any = result
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return result


def without(asset: dict[str, Any], path: str) -> dict[str, Any]:
    result = copy.deepcopy(asset)
    *parents, last = path.split(".")
    node: Any = result
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    del node[last]
    return result


def errors_of(asset: dict[str, Any]) -> dict[str, str]:
    """field -> description for an asset that must fail validation."""
    with pytest.raises(ValidationError) as caught:
        CreateMeter.model_validate(asset)
    return {error.field: error.description for error in field_errors(caught.value.errors())}


def test_repeated_load_types_are_merged_in_order() -> None:
    asset = with_value(minimal_asset(), "load_types", ["HVAC", "LIGHTING", "HVAC", "LIGHTING"])
    assert CreateMeter.model_validate(asset).load_types == [enums.LoadType.HVAC, enums.LoadType.LIGHTING]


def test_load_types_are_bounded_by_the_number_of_types() -> None:
    # 10,000 copies of one value is not a meter, it is a payload: refused before anything is stored.
    asset = with_value(minimal_asset(), "load_types", ["HVAC"] * 10_000)
    assert errors_of(asset) == {"load_types": f"must contain at most {len(enums.LoadType)} items"}


def test_site_devices_are_bounded() -> None:
    asset = with_value(minimal_asset(), "site", {"site_devices": [{"device_type": "BATTERY"}] * 101})
    assert errors_of(asset) == {"site.site_devices": "must contain at most 100 items"}


@pytest.mark.parametrize(
    "path",
    [
        "partner_reference",
        "customer.city",
        "customer.street_1",
        "customer.end_customer_name",
        "customer.end_customer_email",
    ],
)
@pytest.mark.parametrize("control", ["\u0000", "\n", "\t", "\u001b", "\u2028"])
def test_identifiers_names_and_addresses_are_one_line_of_text(path: str, control: str) -> None:
    # The batch CSV and JSON jobs reach the model without the API's body decoder, so the model says it too.
    asset = with_value(full_asset(), path, f"abc{control}def@example.com")
    refusal = errors_of(asset)[path]
    if path in {"partner_reference", "customer.end_customer_name"}:  # no pattern of Leap's says it first
        assert refusal == f"must not contain control characters or line breaks (U+{ord(control):04X} at 3)"


def test_complete_asset_round_trips_through_json_dump() -> None:
    # Given an asset with every block filled
    asset = full_asset()

    # When it is validated and dumped as JSON without nulls
    dumped = CreateMeter.model_validate(asset).model_dump(mode="json", exclude_none=True)

    # Then the dump equals the input
    assert dumped == asset


def test_dates_are_parsed_as_dates() -> None:
    # Given an asset with an offering date
    asset = full_asset()

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then the date is a datetime.date
    assert meter.customer.partner_offering_date == date(2024, 5, 1)


def test_country_code_defaults_to_us() -> None:
    # Given a customer and a billing address without country_code
    asset = with_value(
        minimal_asset(),
        "customer.billing",
        {"street_1": "2 Side St", "postal_code": "10002", "city": "New York", "state_or_province_code": "NY"},
    )

    # When the asset is validated
    meter = CreateMeter.model_validate(asset)

    # Then both country codes are US
    assert meter.customer.country_code == "US"
    assert meter.customer.billing is not None
    assert meter.customer.billing.country_code == "US"


@pytest.mark.parametrize(
    "path",
    [
        "partner_reference",
        "transmission_region",
        "customer_classification",
        "load_types",
        "meter_type",
        "customer",
        "customer.street_1",
        "customer.postal_code",
        "customer.city",
        "customer.state_or_province_code",
        "customer.billing.street_1",
        "customer.billing.postal_code",
        "customer.billing.city",
        "customer.billing.state_or_province_code",
        "site.site_devices.0.device_type",
    ],
)
def test_missing_required_field_is_reported_with_its_path(path: str) -> None:
    # Given a complete asset without one required field
    asset = without(full_asset(), path)

    # When it is validated
    errors = errors_of(asset)

    # Then exactly that field is reported as required
    assert errors == {path: "is required"}


def test_missing_device_type_of_second_site_device_names_the_index() -> None:
    # Given two site devices, the second without device_type
    asset = with_value(minimal_asset(), "site", {"site_devices": [{"device_type": "EV"}, {"model": "X1"}]})

    # When it is validated
    errors = errors_of(asset)

    # Then the path points at the second device
    assert errors == {"site.site_devices.1.device_type": "is required"}


@pytest.mark.parametrize(
    ("path", "a_valid_value"),
    [
        ("transmission_region", "WECC_PC"),
        ("customer_classification", "RESIDENTIAL"),
        ("load_types.1", "WATER_HEATING"),
        ("meter_type", "SUBMETER"),
        ("customer.dispatch_option", "DAILY"),
        ("device.device_type", "HEAT_PUMP"),
        ("site.generator_fuel_type", "CO_GEN"),
        ("site.site_devices.0.device_type", "BIDIRECTIONAL_EV_CHARGER"),
        ("site.site_devices.0.voltage_level", "EVSE_LEVEL_1"),
        ("site.site_devices.1.fuel_type", "NATURAL_GAS"),
        ("caiso.nem_type", "NEM2"),
        ("nyiso.cbl_method", "AVERAGE_DAY"),
        ("nyiso.company_type", "EXEMPT_PAYEE"),
        ("utility.utility_name", "TVA"),
    ],
)
def test_enum_field_rejects_unknown_value(path: str, a_valid_value: str) -> None:
    # Given an enum field with a lower-case (unknown) value
    asset = with_value(full_asset(), path, a_valid_value.lower())

    # When it is validated
    errors = errors_of(asset)

    # Then only that field fails, listing the allowed values and echoing the rejected one
    assert list(errors) == [path]
    assert errors[path].startswith("must be one of: ")
    assert a_valid_value in errors[path]
    assert f'(got "{a_valid_value.lower()}")' in errors[path]


@pytest.mark.parametrize(
    ("enum_class", "count"),
    [
        (enums.TransmissionRegion, 8),
        (enums.LoadType, 11),
        (enums.DeviceType, 8),
        (enums.FuelType, 6),
        (enums.CompanyType, 6),
        (enums.UtilityName, 53),
        (enums.ProgramIdentifier, 31),
        (enums.ActionType, 14),
        (enums.StatusDetailName, 13),
        (enums.ProvisionalAssetStatus, 5),
        (enums.CreatedBy, 3),
        (enums.EnrollmentStatus, 5),
    ],
)
def test_enum_has_all_leap_values(enum_class: type[StrEnum], count: int) -> None:
    # Given one of Leap's enums
    # When its members are counted
    # Then the count matches Leap's spec
    assert len(enum_class) == count


def test_enum_member_names_are_values_with_dashes_as_underscores() -> None:
    # Given every StrEnum of the enums module
    classes = [value for value in vars(enums).values() if isinstance(value, type) and issubclass(value, StrEnum)]

    # When names are compared with values
    mismatches = [
        (cls.__name__, member.name)
        for cls in classes
        if cls is not StrEnum
        for member in cls
        if member.name != member.value.replace("-", "_")
    ]

    # Then every name is derived from its value
    assert len(classes) > 15
    assert mismatches == []


def test_program_identifier_keeps_leap_spelling() -> None:
    # Given program identifiers with mixed separators
    # When looked up by member name
    # Then the value keeps Leap's spelling
    assert enums.ProgramIdentifier.MA_DOER_CPS.value == "MA_DOER-CPS"
    assert enums.ProgramIdentifier.CT_GB_ESS.value == "CT_GB-ESS"
    assert enums.ProgramIdentifier.CAISO_CCA_SC_ONLY.value == "CAISO-CCA-SC_ONLY"


@pytest.mark.parametrize("char", list("/\\?[]{}!#$%^&*()<>|"))
def test_partner_reference_rejects_forbidden_character(char: str) -> None:
    # Given a partner reference containing a forbidden character
    asset = with_value(minimal_asset(), "partner_reference", f"ref{char}001")

    # When it is validated
    errors = errors_of(asset)

    # Then the pattern rule is named
    assert list(errors) == ["partner_reference"]
    assert errors["partner_reference"].startswith(f"must match {PARTNER_REFERENCE_PATTERN}")


@pytest.mark.parametrize("reference", ["abc", "x" * 256, "ref with spaces", "ümlaut-ref", "a.b_c-d:e@f"])
def test_partner_reference_accepts_allowed_values(reference: str) -> None:
    # Given a partner reference within the rules
    asset = with_value(minimal_asset(), "partner_reference", reference)

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then it is kept as sent
    assert meter.partner_reference == reference


@pytest.mark.parametrize(
    ("reference", "description"),
    [("ab", "must be at least 3 characters"), ("x" * 257, "must be at most 256 characters")],
)
def test_partner_reference_length_bounds(reference: str, description: str) -> None:
    # Given a partner reference that is too short or too long
    asset = with_value(minimal_asset(), "partner_reference", reference)

    # When it is validated
    errors = errors_of(asset)

    # Then the length rule is named
    assert errors == {"partner_reference": description}


def test_partner_customer_reference_uses_the_partner_reference_rules() -> None:
    # Given a partner customer reference with a forbidden character
    asset = with_value(full_asset(), "customer.partner_customer_reference", "cust#1")

    # When it is validated
    errors = errors_of(asset)

    # Then the partner-reference pattern is named
    assert errors["customer.partner_customer_reference"].startswith(f"must match {PARTNER_REFERENCE_PATTERN}")


@pytest.mark.parametrize("postal_code", ["10001", "10001-0001", "00501"])
def test_postal_code_accepts_zip_and_zip_plus_4(postal_code: str) -> None:
    # Given a ZIP or ZIP+4 code
    asset = with_value(minimal_asset(), "customer.postal_code", postal_code)

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then it is kept
    assert meter.customer.postal_code == postal_code


@pytest.mark.parametrize(
    ("path", "postal_code"),
    [
        ("customer.postal_code", "1000"),
        ("customer.postal_code", "100011"),
        ("customer.postal_code", "10001-123"),
        ("customer.postal_code", "10001 1234"),
        ("customer.postal_code", "ABCDE"),
        ("customer.postal_code", "10001\n"),
        ("customer.postal_code", "SW1A 1AA"),
        ("customer.billing.postal_code", "9021"),
    ],
)
def test_postal_code_rejects_non_zip(path: str, postal_code: str) -> None:
    # Given a postal code that is not a US ZIP or ZIP+4
    asset = with_value(full_asset(), path, postal_code)

    # When it is validated
    errors = errors_of(asset)

    # Then the ZIP rule is named
    assert errors == {path: "must match ^[0-9]{5}(?:-[0-9]{4})?$ (a US ZIP or ZIP+4 code)"}


def test_postal_code_as_json_number_is_rejected() -> None:
    # Given a postal code sent as a number
    asset = with_value(minimal_asset(), "customer.postal_code", 10001)

    # When it is validated
    errors = errors_of(asset)

    # Then a string is asked for
    assert errors == {"customer.postal_code": "must be a string (got number)"}


@pytest.mark.parametrize(
    ("path", "value", "description"),
    [
        ("customer.state_or_province_code", "N", "must be at least 2 characters"),
        ("customer.state_or_province_code", "NYC", "must be at most 2 characters"),
        ("customer.country_code", "USA", "must be at most 2 characters"),
        ("customer.country_code", "", "must be at least 2 characters"),
        ("customer.billing.state_or_province_code", "California", "must be at most 2 characters"),
    ],
)
def test_state_and_country_codes_have_two_characters(path: str, value: str, description: str) -> None:
    # Given a state or country code of the wrong length
    asset = with_value(full_asset(), path, value)

    # When it is validated
    errors = errors_of(asset)

    # Then the length rule is named
    assert errors == {path: description}


@pytest.mark.parametrize("email", ["nope", "a@", "@example.com", "two@@example.com", "a b@example.com"])
def test_end_customer_email_must_be_an_email_address(email: str) -> None:
    # Given an invalid email address
    asset = with_value(full_asset(), "customer.end_customer_email", email)

    # When it is validated
    errors = errors_of(asset)

    # Then the email rule is named
    assert list(errors) == ["customer.end_customer_email"]
    assert errors["customer.end_customer_email"].startswith("must be a valid email address")


def test_end_customer_email_longer_than_128_is_rejected() -> None:
    # Given a syntactically valid but 129-character email address
    email = "a" * 64 + "@" + "b" * 60 + ".com"

    # When it is validated
    errors = errors_of(with_value(full_asset(), "customer.end_customer_email", email))

    # Then the length rule is named
    assert errors == {"customer.end_customer_email": "must be at most 128 characters"}


@pytest.mark.parametrize("name", ["Who?", "Dana\u00a0Whitfield", "Dana \ufffd"])
def test_end_customer_name_rejects_question_mark_nbsp_and_replacement_char(name: str) -> None:
    # Given a customer name with a forbidden character
    asset = with_value(full_asset(), "customer.end_customer_name", name)

    # When it is validated
    errors = errors_of(asset)

    # Then the rule names the forbidden characters
    assert errors == {
        "customer.end_customer_name": "must not contain '?', a no-break space (U+00A0) "
        "or the replacement character (U+FFFD)"
    }


@pytest.mark.parametrize("name", ["O'Brien & Sons #2 (Ltd.)", "Zoë Æsir-Łukasz", "x" * 128, "名前"])
def test_end_customer_name_accepts_other_characters(name: str) -> None:
    # Given a customer name without forbidden characters
    asset = with_value(full_asset(), "customer.end_customer_name", name)

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then it is kept as sent
    assert meter.customer.end_customer_name == name


def test_end_customer_name_longer_than_128_is_rejected() -> None:
    # Given a 129-character name
    asset = with_value(full_asset(), "customer.end_customer_name", "x" * 129)

    # When it is validated
    errors = errors_of(asset)

    # Then the length rule is named
    assert errors == {"customer.end_customer_name": "must be at most 128 characters"}


def test_end_customer_title_is_limited_to_15_characters() -> None:
    # Given a 16-character title
    asset = with_value(full_asset(), "customer.end_customer_title", "Chief Energy Off")

    # When it is validated
    errors = errors_of(asset)

    # Then the length rule is named
    assert errors == {"customer.end_customer_title": "must be at most 15 characters"}


@pytest.mark.parametrize(
    "street", ["132 My Street", "Rue de l\u2019Église 5", "Unit 3 | Bldg \\ A", 'P.O. Box #12; c/o "Ana" @ HQ']
)
def test_street_pattern_accepts_addresses(street: str) -> None:
    # Given a street line made of allowed characters
    asset = with_value(minimal_asset(), "customer.street_1", street)

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then it is kept
    assert meter.customer.street_1 == street


@pytest.mark.parametrize(
    ("path", "value", "pattern"),
    [
        ("customer.street_1", "Main St {1}", STREET_PATTERN),
        ("customer.street_2", "Apt 5 \U0001f3e0", STREET_PATTERN),
        ("customer.billing.street_1", "Main St [rear]", STREET_PATTERN),
        ("customer.city", "New|York", NAME_PATTERN),
        ("customer.end_customer_company_name", "Acme * Inc", NAME_PATTERN),
        ("customer.end_customer_title", "Boss!", NAME_PATTERN),
        ("customer_group", "group{1}", CUSTOMER_GROUP_PATTERN),
    ],
)
def test_text_patterns_reject_disallowed_characters(path: str, value: str, pattern: str) -> None:
    # Given a text field with a character outside its pattern
    asset = with_value(full_asset(), path, value)

    # When it is validated
    errors = errors_of(asset)

    # Then that field's pattern is named with a plain-language hint
    assert list(errors) == [path]
    assert errors[path].startswith(f"must match {pattern} (")
    assert "only)" in errors[path]


def test_customer_group_may_be_empty() -> None:
    # Given an empty customer group
    asset = with_value(minimal_asset(), "customer_group", "")

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then it is accepted
    assert meter.customer_group == ""


@pytest.mark.parametrize(
    ("path", "value", "description"),
    [
        ("device.battery_max_state_of_charge_percentage", 1.99, "must be between 2 and 100"),
        ("device.battery_max_state_of_charge_percentage", 0.95, "must be between 2 and 100"),
        ("site.site_devices.0.battery_max_state_of_charge_percentage", 100.5, "must be between 2 and 100"),
        ("device.battery_min_state_of_charge_percentage", -1, "must be between 0 and 100"),
        ("device.battery_power_capacity_kw", -0.1, "must be between 0 and 999999"),
        ("site.site_devices.1.energy_capacity_kwh", 1_000_000, "must be between 0 and 999999"),
        ("device.battery_duration_hours", 101, "must be between 0 and 100"),
        ("site.site_devices.0.model_year", 1899, "must be between 1900 and 2100"),
        ("site.generator_model_year", 2101, "must be between 1900 and 2100"),
        ("site.number_of_devices", 100, "must be between 0 and 99"),
        ("device.battery_energy_capacity_kwh", float("nan"), "must be between 0 and 999999"),
        ("device.battery_energy_capacity_kwh", float("inf"), "must be between 0 and 999999"),
    ],
)
def test_numbers_outside_their_range_are_rejected(path: str, value: float, description: str) -> None:
    # Given a number outside its allowed range
    asset = with_value(full_asset(), path, value)

    # When it is validated
    errors = errors_of(asset)

    # Then the range is named
    assert errors == {path: description}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("device.battery_max_state_of_charge_percentage", 2),
        ("device.battery_max_state_of_charge_percentage", 100),
        ("device.battery_min_state_of_charge_percentage", 0),
        ("device.battery_power_capacity_kw", 999_999),
        ("site.site_devices.0.model_year", 1900),
        ("site.number_of_devices", 99),
    ],
)
def test_numbers_on_their_bounds_are_accepted(path: str, value: float) -> None:
    # Given a number exactly on a bound
    asset = with_value(full_asset(), path, value)

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then the asset is valid
    assert meter.partner_reference == "site-7781_a.b"


@pytest.mark.parametrize(
    ("path", "value", "description"),
    [
        ("device.battery_duration_hours", 2.5, "must be a whole number"),
        ("device.battery_duration_hours", "four", "must be a whole number"),
        ("device.battery_duration_hours", True, "must be a whole number (got boolean)"),
        ("site.number_of_devices", False, "must be a whole number (got boolean)"),
        ("device.battery_power_capacity_kw", True, "must be a number (got boolean)"),
        ("device.battery_power_capacity_kw", "lots", "must be a number"),
        ("device.is_connected_to_solar", "maybe", "must be true or false"),
        ("caiso.is_receiving_sgip_funding", 2, "must be true or false"),
        ("customer.partner_offering_date", "23/01/2024", "must be a date in YYYY-MM-DD format"),
        ("device.install_date", "2024-02-30", "must be a date in YYYY-MM-DD format"),
        ("customer", "1 Main St", "must be an object (got string)"),
        ("site.site_devices", {"device_type": "EV"}, "must be an array (got object)"),
        ("load_types", "HVAC", "must be an array (got string)"),
    ],
)
def test_wrong_json_types_are_rejected(path: str, value: Any, description: str) -> None:
    # Given a value of the wrong type
    asset = with_value(full_asset(), path, value)

    # When it is validated
    errors = errors_of(asset)

    # Then the expected type is named
    assert errors == {path: description}


def test_whole_number_given_as_float_or_string_is_accepted() -> None:
    # Given integers written as 3.0 and "2" (as CSV uploads produce)
    asset = with_value(with_value(full_asset(), "device.battery_duration_hours", 3.0), "site.number_of_devices", "2")

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then they become ints
    assert meter.device is not None
    assert meter.site is not None
    assert (meter.device.battery_duration_hours, meter.site.number_of_devices) == (3, 2)


def test_empty_load_types_is_reported_on_the_list() -> None:
    # Given an empty load_types list
    asset = with_value(minimal_asset(), "load_types", [])

    # When it is validated
    errors = errors_of(asset)

    # Then the list itself is reported
    assert errors == {"load_types": "must contain at least 1 item"}


def test_older_device_field_names_are_accepted_and_dumped_under_new_names() -> None:
    # Given a site device using the older harvest's names
    old = {
        "device_type": "BATTERY",
        "max_energy_production_rate_kw": 7.5,
        "max_energy_consumption_rate_kw": 5.0,
        "pv_connected": True,
    }

    # When it is validated and dumped
    dumped = DeviceInfo.model_validate(old).model_dump(mode="json", exclude_none=True)

    # Then only the current names appear
    assert dumped == {
        "device_type": "BATTERY",
        "battery_max_discharge_rate_kw": 7.5,
        "battery_max_charge_rate_kw": 5.0,
        "is_connected_to_solar": True,
    }


def test_older_name_error_is_reported_under_the_name_sent() -> None:
    # Given an out-of-range value under an older name
    asset = with_value(minimal_asset(), "site", {"site_devices": [{"device_type": "BATTERY", "pv_connected": "x"}]})

    # When it is validated
    errors = errors_of(asset)

    # Then the error names the field as the partner sent it
    assert errors == {"site.site_devices.0.pv_connected": "must be true or false"}


def test_generator_fuel_type_empty_string_counts_as_absent() -> None:
    # Given the deprecated generator_fuel_type sent as "" (as Leap's examples do)
    asset = with_value(minimal_asset(), "site", {"generator_fuel_type": ""})

    # When it is validated and dumped
    meter = CreateMeter.model_validate(asset)

    # Then the field is None and left out of the dump
    assert meter.site is not None
    assert meter.site.generator_fuel_type is None
    assert meter.model_dump(mode="json", exclude_none=True)["site"] == {}


def test_unknown_fields_are_ignored_at_every_level() -> None:
    # Given unknown fields at the top level, in customer and in a site device
    asset = with_value(full_asset(), "surprise", 1)
    asset["customer"]["favourite_colour"] = "green"
    asset["site"]["site_devices"][0]["firmware"] = "1.2.3"

    # When it is validated and dumped
    dumped = CreateMeter.model_validate(asset).model_dump(mode="json", exclude_none=True)

    # Then the unknown fields are gone and nothing else changed
    assert dumped == full_asset()


def test_strings_are_not_stripped() -> None:
    # Given a load zone with surrounding spaces
    asset = with_value(full_asset(), "site.load_zone", "  SP15 ")

    # When it is validated
    meter = CreateMeter.model_validate(asset)

    # Then the spaces are kept
    assert meter.site is not None
    assert meter.site.load_zone == "  SP15 "


def test_several_bad_fields_are_all_reported() -> None:
    # Given an asset with problems in four places
    asset = with_value(full_asset(), "transmission_region", "MARS")
    asset = without(asset, "customer.city")
    asset = with_value(asset, "device.battery_max_state_of_charge_percentage", 0.9)
    asset = with_value(asset, "site.site_devices.1.device_type", None)

    # When it is validated
    errors = errors_of(asset)

    # Then each problem is reported once, in schema order
    assert list(errors) == [
        "transmission_region",
        "customer.city",
        "device.battery_max_state_of_charge_percentage",
        "site.site_devices.1.device_type",
    ]
    assert errors["customer.city"] == "is required"
    assert errors["site.site_devices.1.device_type"].endswith("(got null)")


def test_json_schema_publishes_the_rules() -> None:
    # Given the generated JSON schema
    schema = CreateMeter.model_json_schema()
    device_info = schema["$defs"]["DeviceInfo"]["properties"]

    # When the rules of a few fields are read
    soc = device_info["battery_max_state_of_charge_percentage"]["anyOf"][0]
    charge = device_info["battery_max_charge_rate_kw"]

    # Then ranges, required fields and new names are present
    assert (soc["minimum"], soc["maximum"]) == (2, 100)
    assert "description" in charge
    assert schema["required"] == [
        "partner_reference",
        "transmission_region",
        "customer_classification",
        "load_types",
        "meter_type",
        "customer",
    ]
    assert schema["properties"]["partner_reference"]["pattern"] == PARTNER_REFERENCE_PATTERN


def test_every_field_has_a_description() -> None:
    # Given every model reachable from CreateMeter
    schema = CreateMeter.model_json_schema()
    blocks = [schema, *schema["$defs"].values()]

    # When fields without a description are collected
    missing = [
        (block.get("title"), name)
        for block in blocks
        for name, field in block.get("properties", {}).items()
        if not field.get("description")
    ]

    # Then there are none
    assert missing == []
