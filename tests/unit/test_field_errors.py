"""field_errors: pydantic error details -> one partner-facing FieldError per failing field."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.platform.api.field_errors import MAX_ECHO, FieldError, describe, field_errors
from pydantic import BaseModel, ValidationError


def valid_asset() -> dict[str, Any]:
    return {
        "partner_reference": "ref-001",
        "transmission_region": "ISONE",
        "customer_classification": "RESIDENTIAL",
        "load_types": ["HVAC"],
        "meter_type": "UTILITY_METER",
        "customer": {
            "street_1": "1 Main St",
            "postal_code": "02108",
            "city": "Boston",
            "state_or_province_code": "MA",
        },
    }


def pydantic_errors(asset: Any) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        CreateMeter.model_validate(asset)
    return list(caught.value.errors())


@pytest.mark.parametrize(
    ("error", "description"),
    [
        ({"type": "missing", "loc": ("a",), "msg": "Field required", "input": {}}, "is required"),
        (
            {"type": "string_too_short", "loc": ("a",), "input": "", "ctx": {"min_length": 1}},
            "must be at least 1 character",
        ),
        (
            {"type": "string_too_long", "loc": ("a",), "input": "x" * 300, "ctx": {"max_length": 256}},
            "must be at most 256 characters",
        ),
        (
            {"type": "too_short", "loc": ("a",), "input": [], "ctx": {"field_type": "List", "min_length": 1}},
            "must contain at least 1 item",
        ),
        (
            {"type": "too_long", "loc": ("a",), "input": [1, 2, 3], "ctx": {"field_type": "List", "max_length": 2}},
            "must contain at most 2 items",
        ),
        (
            {"type": "too_long", "loc": ("a",), "input": "abcdef", "ctx": {"field_type": "Value", "max_length": 5}},
            "must be at most 5 characters",
        ),
        (
            {"type": "number_range", "loc": ("a",), "input": -1.0, "ctx": {"ge": 0.0, "le": 999999.0}},
            "must be between 0 and 999999",
        ),
        ({"type": "greater_than_equal", "loc": ("a",), "input": 1, "ctx": {"ge": 2}}, "must be at least 2"),
        ({"type": "less_than_equal", "loc": ("a",), "input": 101, "ctx": {"le": 100.5}}, "must be at most 100.5"),
        (
            {
                "type": "string_pattern_mismatch",
                "loc": ("a",),
                "input": "1",
                "ctx": {"pattern": "^[0-9]{5}(?:-[0-9]{4})?$"},
            },
            "must match ^[0-9]{5}(?:-[0-9]{4})?$ (a US ZIP or ZIP+4 code)",
        ),
        (
            {"type": "string_pattern_mismatch", "loc": ("a",), "input": "1", "ctx": {"pattern": "^x+$"}},
            "must match ^x+$",
        ),
        (
            {"type": "enum", "loc": ("a",), "input": "x", "ctx": {"expected": "'NEM2' or 'NEM3'"}},
            'must be one of: NEM2, NEM3 (got "x")',
        ),
        (
            {"type": "literal_error", "loc": ("a",), "input": 3, "ctx": {"expected": "'A', 'B' or 'C'"}},
            "must be one of: A, B, C (got number)",
        ),
        ({"type": "int_parsing", "loc": ("a",), "input": "x"}, "must be a whole number"),
        ({"type": "int_from_float", "loc": ("a",), "input": 1.5}, "must be a whole number"),
        ({"type": "float_parsing", "loc": ("a",), "input": "x"}, "must be a number"),
        ({"type": "bool_parsing", "loc": ("a",), "input": "maybe"}, "must be true or false"),
        ({"type": "bool_type", "loc": ("a",), "input": None}, "must be true or false (got null)"),
        ({"type": "date_parsing", "loc": ("a",), "input": "x"}, "must be a date in YYYY-MM-DD format"),
        (
            {"type": "date_from_datetime_parsing", "loc": ("a",), "input": "x", "ctx": {"error": "input is too short"}},
            "must be a date in YYYY-MM-DD format",
        ),
        (
            {"type": "model_type", "loc": ("a",), "input": [1], "ctx": {"class_name": "Site"}},
            "must be an object (got array)",
        ),
        ({"type": "dict_type", "loc": ("a",), "input": 5}, "must be an object (got number)"),
        ({"type": "list_type", "loc": ("a",), "input": "HVAC"}, "must be an array (got string)"),
        ({"type": "string_type", "loc": ("a",), "input": True}, "must be a string (got boolean)"),
        (
            {
                "type": "value_error",
                "loc": ("a",),
                "msg": "Value error, must be odd",
                "input": 2,
                "ctx": {"error": ValueError("must be odd")},
            },
            "must be odd",
        ),
        ({"type": "value_error", "loc": ("a",), "msg": "Value error, must be odd", "input": 2}, "must be odd"),
        (
            {
                "type": "value_error",
                "loc": ("a",),
                "msg": "value is not a valid email address: An email address must have an @-sign.",
                "input": "nope",
                "ctx": {"reason": "An email address must have an @-sign."},
            },
            "must be a valid email address: An email address must have an @-sign.",
        ),
        (
            {"type": "some_future_type", "loc": ("a",), "msg": "Input should be a valid colour", "input": "x"},
            "must be a valid colour",
        ),
    ],
)
def test_describe_names_the_rule(error: dict[str, Any], description: str) -> None:
    # Given one pydantic error detail
    # When it is described
    # Then the description names the rule
    assert describe(error) == description


def test_nested_locations_become_dot_paths_with_list_indexes() -> None:
    # Given an asset whose second site device lacks its type
    asset = valid_asset() | {"site": {"site_devices": [{"device_type": "EV"}, {"model": "M"}]}}

    # When its errors are converted
    result = field_errors(pydantic_errors(asset))

    # Then the path has the list index
    assert result == [FieldError("site.site_devices.1.device_type", "is required")]


def test_bad_item_in_load_types_is_reported_with_its_index() -> None:
    # Given a bad second load type
    asset = valid_asset() | {"load_types": ["HVAC", "SAUNA"]}

    # When its errors are converted
    result = field_errors(pydantic_errors(asset))

    # Then the item path is load_types.1
    assert [error.field for error in result] == ["load_types.1"]
    assert result[0].description.startswith("must be one of: HVAC, EV_CHARGING, ")


def test_every_missing_required_field_is_reported_in_schema_order() -> None:
    # Given an empty object
    # When its errors are converted
    result = field_errors(pydantic_errors({}))

    # Then the six required top-level fields are reported, in declaration order
    assert result == [
        FieldError("partner_reference", "is required"),
        FieldError("transmission_region", "is required"),
        FieldError("customer_classification", "is required"),
        FieldError("load_types", "is required"),
        FieldError("meter_type", "is required"),
        FieldError("customer", "is required"),
    ]


def test_several_bad_fields_are_all_reported_in_one_list() -> None:
    # Given an asset with a bad reference, region, ZIP, email and percentage
    asset = valid_asset() | {
        "partner_reference": "a&b",
        "transmission_region": "caiso",
        "device": {"battery_max_state_of_charge_percentage": 1},
    }
    asset["customer"] = asset["customer"] | {"postal_code": "2108", "end_customer_email": "x"}

    # When its errors are converted
    result = field_errors(pydantic_errors(asset))

    # Then all five are reported, each once
    assert [error.field for error in result] == [
        "partner_reference",
        "transmission_region",
        "customer.postal_code",
        "customer.end_customer_email",
        "device.battery_max_state_of_charge_percentage",
    ]
    descriptions = [error.description for error in result]
    assert descriptions[0].startswith("must match ")
    assert "(3 to 256 characters, none of " in descriptions[0]
    assert descriptions[1].startswith("must be one of: CAISO, ERCOT, ")
    assert descriptions[2].endswith("(a US ZIP or ZIP+4 code)")
    assert descriptions[3].startswith("must be a valid email address")
    assert descriptions[4] == "must be between 2 and 100"


def test_asset_that_is_not_an_object_is_reported_on_the_empty_path() -> None:
    # Given a JSON array instead of an asset
    # When its errors are converted
    result = field_errors(pydantic_errors([1, 2]))

    # Then the whole asset is named with the empty path
    assert result == [FieldError("", "must be an object (got array)")]


def test_strip_prefix_removes_the_powertools_body_location() -> None:
    # Given Powertools-style errors whose loc starts with body and provisional_asset
    errors = [
        {**error, "loc": ("body", "provisional_asset", *error["loc"])}
        for error in pydantic_errors(valid_asset() | {"meter_type": "METER"})
    ]

    # When converted with the prefix stripped
    result = field_errors(errors, strip_prefix=("body", "provisional_asset"))

    # Then the path is relative to the asset
    assert [error.field for error in result] == ["meter_type"]


def test_strip_prefix_keeps_fields_beside_the_asset() -> None:
    # Given errors on a sibling of the asset and on the asset itself
    errors: list[dict[str, Any]] = [
        {"type": "bool_parsing", "loc": ("body", "update_existing"), "msg": "", "input": "x"},
        {"type": "missing", "loc": ("body", "provisional_asset"), "msg": "Field required", "input": None},
    ]

    # When converted with the asset prefix stripped
    result = field_errors(errors, strip_prefix=("body", "provisional_asset"))

    # Then the matching part is removed but each error still names a field
    assert result == [
        FieldError("update_existing", "must be true or false"),
        FieldError("provisional_asset", "is required"),
    ]


def test_strip_prefix_leaves_other_locations_alone() -> None:
    # Given an error from the query string
    errors = [{"type": "missing", "loc": ("query", "page_size"), "msg": "Field required", "input": None}]

    # When converted with a body prefix
    result = field_errors(errors, strip_prefix=("body",))

    # Then the location is kept whole
    assert result == [FieldError("query.page_size", "is required")]


def test_powertools_json_invalid_has_empty_field_and_position() -> None:
    # Given the error Powertools raises for an unparsable body
    errors = [
        {
            "type": "json_invalid",
            "loc": ("body", 12),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": "Expecting ',' delimiter"},
        }
    ]

    # When converted with the body prefix
    result = field_errors(errors, strip_prefix=("body", "provisional_asset"))

    # Then the field is empty and the parser's reason is given
    assert result == [FieldError("", "request body is not valid JSON: Expecting ',' delimiter (at character 12)")]


def test_pydantic_json_invalid_has_empty_field() -> None:
    # Given a truncated JSON document
    with pytest.raises(ValidationError) as caught:
        CreateMeter.model_validate_json('{"partner_reference": ')

    # When its errors are converted
    result = field_errors(caught.value.errors())

    # Then one error with the empty field explains the JSON problem
    assert len(result) == 1
    assert result[0].field == ""
    assert result[0].description.startswith("request body is not valid JSON: EOF while parsing")


def test_errors_for_the_same_field_are_merged() -> None:
    # Given two identical errors for one field
    error = {"type": "missing", "loc": ("customer", "city"), "msg": "Field required", "input": {}}

    # When converted
    result = field_errors([error, dict(error)])

    # Then a single FieldError remains
    assert result == [FieldError("customer.city", "is required")]


class _UnionHolder(BaseModel):
    value: int | Literal[""] | None = None
    items: list[int | bool] = []


def test_union_member_errors_become_one_field_error() -> None:
    # Given a field typed int | "" that receives a word
    with pytest.raises(ValidationError) as caught:
        _UnionHolder.model_validate({"value": "many"})

    # When its errors are converted
    result = field_errors(caught.value.errors())

    # Then the union tags are dropped and the alternatives joined with "or"
    assert result == [FieldError("value", 'must be a whole number or must be one of: "" (got "many")')]


def test_union_inside_a_list_keeps_the_item_index() -> None:
    # Given a list of int | bool with one bad item
    with pytest.raises(ValidationError) as caught:
        _UnionHolder.model_validate({"items": [1, "x"]})

    # When its errors are converted
    result = field_errors(caught.value.errors())

    # Then one error names the item
    assert result == [FieldError("items.1", "must be a whole number or must be true or false")]


def test_rejected_input_is_quoted_at_most_64_characters() -> None:
    # Given an enum field receiving a very long string
    asset = valid_asset() | {"meter_type": "Z" * 500}

    # When its errors are converted
    (error,) = field_errors(pydantic_errors(asset))

    # Then only 64 characters of the input are echoed
    assert MAX_ECHO == 64
    assert "Z" * 64 + "…" in error.description
    assert "Z" * 65 not in error.description


def test_long_validator_message_is_clipped() -> None:
    # Given a value_error whose text is very long
    error = {"type": "value_error", "loc": ("a",), "msg": "Value error, " + "y" * 1000, "input": "y"}

    # When described
    description = describe(error)

    # Then the text is clipped
    assert len(description) < 200


def test_conversion_is_deterministic() -> None:
    # Given the errors of a badly broken asset
    errors = pydantic_errors({"load_types": [], "customer": {"postal_code": 1}, "utility": {"utility_name": 3}})

    # When they are converted twice
    first = field_errors(errors)
    second = field_errors(list(errors))

    # Then the results are identical
    assert first == second
    assert len(first) == 10
