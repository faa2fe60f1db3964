"""functions/programs_api/app.py: the read-only program catalog over the real handler."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from meterhub.catalog import programs as catalog

Invoke = Callable[..., tuple[int, Any]]


def test_programs_lists_every_catalog_program_with_its_fields(invoke_programs: Invoke) -> None:
    # When the catalog is read
    status, body = invoke_programs("GET", "/v1.1/programs")

    # Then every program comes back, in catalog order, field for field
    assert status == 200
    assert list(body) == ["programs"]
    expected = [json.loads(program.model_dump_json(exclude_none=True)) for program in catalog.PROGRAMS]
    assert body["programs"] == expected


@pytest.mark.parametrize(
    ("identifier", "onboarding", "interval_data_source", "region"),
    [
        ("MA_DOER-CPS", "PARTNER_CREATED", "PARTNER", "ISONE"),
        ("ERCOT-ERS", "PARTNER_CREATED", "ISO", "ERCOT"),
        ("DRAM", "CUSTOMER_AUTHORIZED", "UTILITY", "CAISO"),
        ("PSEGLI-CSRP", "CUSTOMER_AUTHORIZED", "UTILITY", "NYISO"),
    ],
)
def test_program_entry_tells_how_meters_get_in(
    invoke_programs: Invoke, identifier: str, onboarding: str, interval_data_source: str, region: str
) -> None:
    # When the catalog is read
    _, body = invoke_programs("GET", "/v1.1/programs")

    # Then the program says its region, onboarding method and interval data source
    [program] = [p for p in body["programs"] if p["program_identifier"] == identifier]
    assert (program["transmission_region"], program["onboarding"], program["interval_data_source"]) == (
        region,
        onboarding,
        interval_data_source,
    )


def test_ercot_entry_publishes_the_esiid_rule_and_psegli_the_company_type(invoke_programs: Invoke) -> None:
    # When the catalog is read
    _, body = invoke_programs("GET", "/v1.1/programs")
    by_id = {p["program_identifier"]: p for p in body["programs"]}

    # Then the creation rule and the enrollment needs are visible to partners before they send data
    assert by_id["ERCOT-ERS"]["creation_fields"] == [
        {
            "path": "utility.electric_service_account_number",
            "label": "ESIID (Electric Service Identifier)",
            "pattern": r"^\d{17}(\d{5})?$",
            "rule": "an ESIID of 17 or 22 digits",
        }
    ]
    assert "nyiso.company_type" in [f["path"] for f in by_id["PSEGLI-DLRP"]["enrollment_fields"]]
    assert "pattern" not in by_id["PSEGLI-DLRP"]["enrollment_fields"][0]


def test_unexpected_query_parameters_are_ignored(invoke_programs: Invoke) -> None:
    # When the catalog is read with a query parameter it does not know
    status, body = invoke_programs("GET", "/v1.1/programs", query={"x": "1"})

    # Then the whole catalog still answers
    assert status == 200
    assert len(body["programs"]) == len(catalog.PROGRAMS)
