"""meterhub.meter_jobs.use_cases.payload: a batch request (JSON or CSV) becomes entries, or is refused as a whole.

Whole-request refusals carry Leap's ValidationError entries (`message`, `json_index` / `csv_row`,
`problem_field`); one asset's own validity is the worker's business, so nothing here checks the asset schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from meterhub.meter_jobs.use_cases import payload
from meterhub.meter_jobs.use_cases.payload import (
    MAX_ASSETS,
    MAX_BODY_BYTES,
    MAX_REPORTED_PROBLEMS,
    Entry,
    known_column,
    parse_csv,
    parse_json,
    unflatten,
)
from meterhub.platform.errors import DomainError, InvalidInput, PayloadTooLarge

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]

HEADER = (
    "partner_reference,transmission_region,customer_classification,load_types.0,meter_type,"
    "customer.street_1,customer.postal_code,customer.city,customer.state_or_province_code"
)


def row(reference: str, street: str = "1 Main St") -> str:
    return f"{reference},ISONE,RESIDENTIAL,BATTERY_STORAGE,DEVICE,{street},02110,Boston,MA"


def csv_body(*lines: str, newline: str = "\r\n") -> bytes:
    return (newline.join(lines) + newline).encode("utf-8")


def json_body(assets: Any) -> bytes:
    return json.dumps({"assets": assets}).encode("utf-8")


def details(error: DomainError) -> list[dict[str, Any]]:
    assert isinstance(error.details, list), error.details
    return error.details


# ----- JSON ------------------------------------------------------------------------------------------------


def test_json_assets_become_entries_with_their_index(make_asset: MakeAsset) -> None:
    # Given three valid assets
    assets = [make_asset(f"ref-{n}") for n in range(3)]
    # When the JSON body is parsed
    entries = parse_json(json_body(assets))
    # Then each is an entry carrying its position, unchanged
    assert [(e.index, e.json_index, e.csv_row) for e in entries] == [(0, 0, None), (1, 1, None), (2, 2, None)]
    assert [e.asset for e in entries] == assets
    assert not any(e.multiple_reference for e in entries)


def test_json_assets_are_kept_as_sent_even_when_invalid() -> None:
    # Given an object that is not a valid CreateMeter
    entries = parse_json(json_body([{"partner_reference": "x", "transmission_region": "MARS"}]))
    # Then the parser keeps it (the worker decides its fate)
    assert entries[0].asset == {"partner_reference": "x", "transmission_region": "MARS"}


@pytest.mark.parametrize(
    ("body", "title", "problem_field"),
    [
        pytest.param(b"{not json", "Request body is not valid JSON", None, id="not-json"),
        pytest.param(b"partner_reference\r\nref-1\r\n", "Request body is not valid JSON", None, id="csv-as-json"),
        pytest.param(b"\xff\xfe{}", "Request body is not valid JSON", None, id="not-utf8"),
        pytest.param(b"{}", "Missing assets", "assets", id="no-assets"),
        pytest.param(b'{"asset": []}', "Missing assets", "assets", id="misspelt-assets"),
        pytest.param(b"[]", "Missing assets", "assets", id="top-level-array"),
        pytest.param(b'{"assets": {"partner_reference": "x"}}', "Invalid assets", "assets", id="assets-object"),
        pytest.param(b'{"assets": "x"}', "Invalid assets", "assets", id="assets-string"),
        pytest.param(b'{"assets": null}', "Invalid assets", "assets", id="assets-null"),
        pytest.param(b'{"assets": []}', "No assets", "assets", id="assets-empty"),
        pytest.param(b"", "Request body is empty", None, id="empty-body"),
        pytest.param(b"  \r\n ", "Request body is empty", None, id="blank-body"),
    ],
)
def test_json_whole_request_problems_are_refused(body: bytes, title: str, problem_field: str | None) -> None:
    # When a body that is not a usable {"assets": [...]} is parsed
    with pytest.raises(InvalidInput) as refused:
        parse_json(body)
    # Then it is refused as a whole with a Leap ValidationError entry
    assert refused.value.status == 400
    assert refused.value.title == title
    (problem,) = details(refused.value)
    assert problem["message"]
    assert problem.get("problem_field") == problem_field
    assert "json_index" not in problem and "csv_row" not in problem


@pytest.mark.parametrize(
    ("elements", "bad_indexes"),
    [
        pytest.param(["ref-0", 5, "ref-2"], [1], id="number"),
        pytest.param(["ref-0", "ref-1", None], [2], id="null-last"),
        pytest.param([["x"], "ref-1", "just text"], [0, 2], id="list-and-string"),
    ],
)
def test_json_non_object_elements_are_named_by_json_index(
    make_asset: MakeAsset, elements: list[Any], bad_indexes: list[int]
) -> None:
    # Given assets where some elements are not JSON objects
    assets = [make_asset(e) if isinstance(e, str) and e.startswith("ref-") else e for e in elements]
    # When parsed
    with pytest.raises(InvalidInput) as refused:
        parse_json(json_body(assets))
    # Then each bad element is reported by its index in `assets`, and only those
    assert [p["json_index"] for p in details(refused.value)] == bad_indexes
    assert all(p["message"] for p in details(refused.value))


def test_json_over_the_size_limit_is_413() -> None:
    # Given a body one byte over the limit
    body = b'{"assets": ["' + b"x" * (MAX_BODY_BYTES - 15) + b'"]}'
    assert len(body) == MAX_BODY_BYTES + 1
    # When parsed
    with pytest.raises(PayloadTooLarge) as refused:
        parse_json(body)
    # Then it is a 413 that states the limit
    assert refused.value.status == 413
    assert str(MAX_BODY_BYTES) in details(refused.value)[0]["message"]


def test_json_at_the_size_limit_is_not_413() -> None:
    # Given a body exactly at the limit (not JSON assets, so the next check refuses it instead)
    body = b'{"assets": "' + b"x" * (MAX_BODY_BYTES - 14) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    # Then the size check lets it through
    with pytest.raises(InvalidInput) as refused:
        parse_json(body)
    assert not isinstance(refused.value, PayloadTooLarge)


@pytest.mark.parametrize(("count", "too_many"), [(MAX_ASSETS, False), (MAX_ASSETS + 1, True)])
def test_json_asset_count_limit(count: int, too_many: bool) -> None:
    # Given `count` (tiny) assets
    body = json_body([{"partner_reference": f"r{n}"} for n in range(count)])
    if too_many:
        # Then one over the limit is a 413 naming the limit
        with pytest.raises(PayloadTooLarge) as refused:
            parse_json(body)
        assert refused.value.status == 413
        assert str(MAX_ASSETS) in details(refused.value)[0]["message"]
    else:
        # And the limit itself is accepted
        assert len(parse_json(body)) == count


# ----- CSV -------------------------------------------------------------------------------------------------


def test_csv_with_bom_crlf_quotes_and_utf8() -> None:
    # Given an Excel-style export: BOM, CRLF, a quoted cell with a comma and quotes, accented names
    body = "\ufeff" + (
        "partner_reference,transmission_region,customer_classification,load_types.0,meter_type,"
        "customer.street_1,customer.postal_code,customer.city,customer.state_or_province_code,"
        "customer.end_customer_name\r\n"
        'ref-1,ISONE,RESIDENTIAL,HVAC,DEVICE,"12 Harbor St, Unit ""B""",02110,Boston,MA,Zoë Café\r\n'
    )
    # When parsed
    (entry,) = parse_csv(body.encode("utf-8"))
    # Then the BOM is not part of the first column, the quoted comma stays in the cell, UTF-8 is intact
    assert entry.asset == {
        "partner_reference": "ref-1",
        "transmission_region": "ISONE",
        "customer_classification": "RESIDENTIAL",
        "load_types": ["HVAC"],
        "meter_type": "DEVICE",
        "customer": {
            "street_1": '12 Harbor St, Unit "B"',
            "postal_code": "02110",
            "city": "Boston",
            "state_or_province_code": "MA",
            "end_customer_name": "Zoë Café",
        },
    }
    assert (entry.index, entry.csv_row, entry.json_index) == (0, 2, None)


@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_csv_empty_cells_are_absent_and_blank_lines_skipped(newline: str) -> None:
    # Given rows with empty cells (whole optional blocks empty) and blank lines between them
    body = csv_body(
        "partner_reference,meter_type,customer.city,customer.street_2,device.device_type",
        "",
        "ref-1,DEVICE,Boston,,",
        "",
        "",
        "ref-2,DEVICE,, ,BATTERY",
        ",,,,",
        newline=newline,
    )
    # When parsed
    entries = parse_csv(body)
    # Then empty (and blank) cells are absent, an empty block is not created, blank lines and empty rows vanish
    assert [e.asset for e in entries] == [
        {"partner_reference": "ref-1", "meter_type": "DEVICE", "customer": {"city": "Boston"}},
        {"partner_reference": "ref-2", "meter_type": "DEVICE", "device": {"device_type": "BATTERY"}},
    ]
    # And csv_row is the physical line the row is on
    assert [(e.index, e.csv_row) for e in entries] == [(0, 3), (1, 6)]


def test_csv_indexed_columns_become_arrays() -> None:
    # Given array columns, out of order and for a nested array of objects
    body = csv_body(
        "partner_reference,load_types.1,load_types.0,site.site_devices.0.device_type,"
        "site.site_devices.0.power_capacity_kw,site.site_devices.1.device_type,site.number_of_devices",
        "ref-1,EV_CHARGING,HVAC,BATTERY,5,EV_CHARGER,2",
    )
    # When parsed
    (entry,) = parse_csv(body)
    # Then they are unflattened into lists in index order
    assert entry.asset == {
        "partner_reference": "ref-1",
        "load_types": ["HVAC", "EV_CHARGING"],
        "site": {
            "site_devices": [{"device_type": "BATTERY", "power_capacity_kw": "5"}, {"device_type": "EV_CHARGER"}],
            "number_of_devices": "2",
        },
    }


def test_csv_multi_line_quoted_cell_keeps_the_start_line() -> None:
    # Given a cell spanning two lines, then another row
    body = csv_body(HEADER, '"ref-1",ISONE,RESIDENTIAL,HVAC,DEVICE,"1 Main St\nUnit 2",02110,Boston,MA', row("ref-2"))
    # When parsed
    entries = parse_csv(body)
    # Then the newline stays in the cell and each row is numbered by the line it starts on
    assert entries[0].asset["customer"]["street_1"] == "1 Main St\nUnit 2"
    assert [e.csv_row for e in entries] == [2, 4]


@pytest.mark.parametrize(
    ("columns", "unknown"),
    [
        pytest.param("partner_reference,customer.citty", ["customer.citty"], id="typo"),
        pytest.param("partner_reference,data.partner_reference", ["data.partner_reference"], id="export-prefix"),
        pytest.param("partner_reference,load_types", ["load_types"], id="array-without-index"),
        pytest.param("partner_reference,customer", ["customer"], id="object-column"),
        pytest.param("partner_reference,customer.city.name", ["customer.city.name"], id="below-a-leaf"),
        pytest.param("partner_reference,site.site_devices.x.model", ["site.site_devices.x.model"], id="bad-index"),
        pytest.param("partner_reference,colour,size", ["colour", "size"], id="two-unknown"),
    ],
)
def test_csv_unknown_columns_are_named(columns: str, unknown: list[str]) -> None:
    # When the header has columns that are not CreateMeter dot paths
    with pytest.raises(InvalidInput) as refused:
        parse_csv(csv_body(columns, "ref-1," + ",".join("x" for _ in unknown)))
    # Then each is reported on the header row by name
    assert refused.value.title == "Invalid CSV header"
    assert [(p["problem_field"], p["csv_row"]) for p in details(refused.value)] == [(name, 1) for name in unknown]


def test_csv_duplicate_column_is_refused() -> None:
    # When a column appears twice
    with pytest.raises(InvalidInput) as refused:
        parse_csv(csv_body("partner_reference,customer.city, customer.city", "ref-1,Boston,Salem"))
    # Then the duplicate is named
    (problem,) = details(refused.value)
    assert problem["problem_field"] == "customer.city"
    assert problem["csv_row"] == 1
    assert "more than once" in problem["message"]


@pytest.mark.parametrize(
    ("lines", "ragged_rows"),
    [
        pytest.param([HEADER, row("ref-1"), "ref-2,ISONE", row("ref-3")], [3], id="short"),
        pytest.param([HEADER, row("ref-1") + ",extra"], [2], id="long"),
        pytest.param([HEADER, "", row("ref-1"), "", "ref-2,ISONE"], [5], id="after-blank-lines"),
        pytest.param([HEADER, row("ref-1", '"1 Main\nSt"'), "ref-2"], [4], id="after-multi-line-cell"),
        pytest.param([HEADER, "ref-1", row("ref-2"), "ref-3"], [2, 4], id="two"),
    ],
)
def test_csv_ragged_rows_are_named_by_physical_line(lines: list[str], ragged_rows: list[int]) -> None:
    # When rows have a different number of cells than the header
    with pytest.raises(InvalidInput) as refused:
        parse_csv(csv_body(*lines))
    # Then each is reported with the line it is on in the file
    assert refused.value.title == "Invalid CSV rows"
    assert [p["csv_row"] for p in details(refused.value)] == ragged_rows


@pytest.mark.parametrize(
    ("body", "title"),
    [
        pytest.param(HEADER.encode() + b"\r\nref-\xe9,ISONE\r\n", "CSV is not UTF-8", id="latin-1"),
        pytest.param(b"\xff\xfe" + HEADER.encode("utf-16-le"), "CSV is not UTF-8", id="utf-16"),
        pytest.param(csv_body(HEADER, row("ref-\x001")), "CSV is not text", id="nul-byte"),
        pytest.param(csv_body(HEADER), "No assets", id="header-only"),
        pytest.param(csv_body(HEADER, "", ",,,,,,,,"), "No assets", id="header-and-empty-rows"),
        pytest.param(b"", "Request body is empty", id="empty"),
        pytest.param(b"\r\n\r\n", "Request body is empty", id="blank"),
    ],
)
def test_csv_unreadable_files_are_refused(body: bytes, title: str) -> None:
    # When the file is not usable CSV text
    with pytest.raises(InvalidInput) as refused:
        parse_csv(body)
    # Then it is refused as a whole, without a problem_field
    assert refused.value.status == 400
    assert refused.value.title == title
    (problem,) = details(refused.value)
    assert problem["message"] and "problem_field" not in problem


def test_csv_over_the_size_limit_is_413() -> None:
    # Given a CSV one byte over the limit
    head = (HEADER + "\r\n").encode()
    line = (row("ref-0000") + "\r\n").encode()
    body = head + line * ((MAX_BODY_BYTES - len(head)) // len(line) + 1)
    assert len(body) > MAX_BODY_BYTES
    # Then it is a 413
    with pytest.raises(PayloadTooLarge) as refused:
        parse_csv(body)
    assert refused.value.status == 413


def test_csv_more_rows_than_the_asset_limit_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a limit of 3 assets and a 4-row CSV
    monkeypatch.setattr(payload, "MAX_ASSETS", 3)
    # Then the CSV is refused as too large, while 3 rows pass
    with pytest.raises(PayloadTooLarge):
        parse_csv(csv_body(HEADER, *(row(f"ref-{n}") for n in range(4))))
    assert len(parse_csv(csv_body(HEADER, *(row(f"ref-{n}") for n in range(3))))) == 3


def test_many_problems_are_capped_with_a_count() -> None:
    # Given more ragged rows than are reported
    total = MAX_REPORTED_PROBLEMS + 7
    with pytest.raises(InvalidInput) as refused:
        parse_csv(csv_body(HEADER, *("ref" for _ in range(total))))
    # Then the first ones are listed and the rest counted
    problems = details(refused.value)
    assert len(problems) == MAX_REPORTED_PROBLEMS + 1
    assert problems[-1]["message"] == "... and 7 more problems"
    assert problems[0]["csv_row"] == 2


# ----- MULTIPLE_PARTNER_REFERENCE --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("references", "marked"),
    [
        pytest.param(["a-1", "b-1", "a-1"], [True, False, True], id="pair"),
        pytest.param(["a-1", "a-1", "a-1", "c-1"], [True, True, True, False], id="triple"),
        pytest.param(["a-1", "A-1", "a-1 "], [False, False, False], id="exact-match-only"),
        pytest.param(["a-1", "b-1"], [False, False], id="unique"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_repeated_references_are_all_marked(
    make_asset: MakeAsset, references: list[str], marked: list[bool], fmt: str
) -> None:
    # Given a job where some partner_reference appears more than once
    if fmt == "json":
        entries = parse_json(json_body([make_asset(r) for r in references]))
    else:
        entries = parse_csv(csv_body(HEADER, *(row(f'"{r}"') for r in references)))
    # Then every occurrence of a repeated reference is marked, the others not
    assert [e.multiple_reference for e in entries] == marked


def test_assets_without_a_string_reference_are_not_marked() -> None:
    # Given two assets with no reference and two with the same non-string reference
    entries = parse_json(json_body([{}, {}, {"partner_reference": 7}, {"partner_reference": 7}]))
    # Then none is marked (the worker reports them as invalid instead)
    assert [e.multiple_reference for e in entries] == [False, False, False, False]


# ----- column paths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column",
    [
        "partner_reference",
        "load_types.0",
        "load_types.12",
        "customer.billing.street_1",
        "customer.end_customer_name",
        "site.site_devices.0.device_type",
        "site.site_devices.3.max_energy_production_rate_kw",
        "site.site_devices.0.pv_connected",
        "utility.electric_service_account_number",
        "caiso.nem_type",
        "customer_group",
    ],
)
def test_known_columns(column: str) -> None:
    assert known_column(column)


@pytest.mark.parametrize(
    "column",
    [
        "",
        "load_types",
        "load_types.x",
        "load_types.0.name",
        "customer",
        "customer.0",
        "site.site_devices.device_type",
        "site.site_devices.0",
        "data.partner_reference",
        "job_id",
        "Partner_Reference",
    ],
)
def test_unknown_columns(column: str) -> None:
    assert not known_column(column)


def test_unflatten_builds_nested_objects_and_ordered_lists() -> None:
    # Given flat dot-path values with a gap in an index
    values = {"customer.city": "Boston", "load_types.2": "HVAC", "load_types.0": "OTHER", "site.site_devices.0.x": "1"}
    # Then objects nest and indexed keys become lists in index order, gaps closed
    assert unflatten(values) == {
        "customer": {"city": "Boston"},
        "load_types": ["OTHER", "HVAC"],
        "site": {"site_devices": [{"x": "1"}]},
    }


def test_entry_lines_round_trip_utf8_and_newlines() -> None:
    # Given an entry whose data holds non-ASCII text and a newline
    entry = Entry(
        index=4, asset={"customer": {"end_customer_name": "Zoë\nCafé ☕"}}, csv_row=9, multiple_reference=True
    )
    # When written as a line and read back
    line = entry.to_line()
    # Then it is one line, and the same entry
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert Entry.from_line(line.rstrip(b"\n")) == entry


def test_deeply_nested_json_is_refused_as_invalid_json() -> None:
    # Given a small body whose one asset nests arrays 5,000 deep
    body = b'{"assets": [{"partner_reference": ' + b"[" * 5000 + b"]" * 5000 + b"}]}"
    assert len(body) < 20_000
    # Then it is a whole-request 400, like any JSON that cannot be read
    with pytest.raises(InvalidInput) as refused:
        parse_json(body)
    assert refused.value.title == "Request body is not valid JSON"
