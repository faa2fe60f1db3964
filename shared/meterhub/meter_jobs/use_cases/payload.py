"""A batch request (JSON or CSV) -> the normalised list of assets a worker processes.

Only whole-request problems are refused here (not JSON, not CSV, empty, unknown columns, ragged rows, too
big); each asset's own validity is decided by the worker with the same rules as a single create, so one bad
asset never sinks the others. Refusals carry Leap's `ValidationError` entries (`message`, `json_index` or
`csv_row`, `problem_field`).

CSV columns are dot paths without the `data.` prefix (`customer.street_1`, `load_types.0`,
`site.site_devices.0.device_type`); an empty cell means absent.

MULTIPLE_PARTNER_REFERENCE (our rule): when one `partner_reference` appears more than once in a job, every
occurrence is reported MULTIPLE_PARTNER_REFERENCE and none is applied - we cannot know which one the partner
meant, and applying the first or the last would silently drop the others.
"""

from __future__ import annotations

import csv
import io
import json
import types
import typing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Union

from pydantic import AliasChoices, BaseModel

from meterhub.meters.api_models.meter import CreateMeter
from meterhub.platform import bounded_json
from meterhub.platform.errors import InvalidInput, PayloadTooLarge
from meterhub.platform.object_store import partner_key

MAX_BODY_BYTES = 5 * 1024 * 1024
"""API Gateway hands Lambda at most 6 MB including the event envelope; 5 MB of body leaves room for it."""
MAX_ASSETS = 25_000
MAX_ASSET_BYTES = 64 * 1024
"""One asset's JSON. A larger asset fails on its own (the worker keeps only its reference), which keeps every
provisional-asset record far below DynamoDB's 400 KB item limit."""
MAX_REPORTED_PROBLEMS = 100


def assets_key(partner_id: str, job_id: str) -> str:
    """Where a job's normalised assets live (one JSON line per asset), under the partner's prefix."""
    return partner_key(partner_id, "meter-jobs", job_id, "assets.jsonl")


@dataclass(frozen=True)
class Entry:
    """One submitted asset, where it came from, and whether its reference is ambiguous in the job."""

    index: int
    asset: Any
    json_index: int | None = None
    csv_row: int | None = None
    multiple_reference: bool = False
    size: int = field(default=0, compare=False)
    """Bytes of the stored line (set when read back): the worker refuses assets over MAX_ASSET_BYTES."""

    def to_line(self) -> bytes:
        document = {
            "index": self.index,
            "json_index": self.json_index,
            "csv_row": self.csv_row,
            "multiple_reference": self.multiple_reference,
            "asset": self.asset,
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"

    @staticmethod
    def from_line(line: bytes) -> Entry:
        document = json.loads(line)
        return Entry(
            index=document["index"],
            asset=document["asset"],
            json_index=document.get("json_index"),
            csv_row=document.get("csv_row"),
            multiple_reference=document.get("multiple_reference", False),
            size=len(line),
        )


def _problem(message: str, **where: Any) -> dict[str, Any]:
    return {"message": message, **{k: v for k, v in where.items() if v is not None}}


def _refuse(title: str, problems: list[dict[str, Any]]) -> InvalidInput:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    if len(problems) > MAX_REPORTED_PROBLEMS:
        shown.append(_problem(f"... and {len(problems) - MAX_REPORTED_PROBLEMS} more problems"))
    return InvalidInput(title, shown)


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            "Request body too large",
            [_problem(f"the body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes (split the job)")],
        )
    if not body.strip():
        raise InvalidInput("Request body is empty", [_problem('send {"assets": [...]} or a CSV with a header')])


def parse_json(body: bytes) -> list[Entry]:
    check_size(body)
    try:
        document = bounded_json.loads(body)
    except bounded_json.TooDeep as error:
        raise InvalidInput("Request body is not valid JSON", [_problem(f"the JSON body is {error}")]) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidInput("Request body is not valid JSON", [_problem(f"not valid JSON: {error}")]) from None
    if not isinstance(document, dict) or "assets" not in document:
        raise InvalidInput(
            "Missing assets", [_problem("the body must be an object with an `assets` array", problem_field="assets")]
        )
    assets = document["assets"]
    if not isinstance(assets, list):
        raise InvalidInput("Invalid assets", [_problem("`assets` must be an array", problem_field="assets")])
    if not assets:
        raise InvalidInput("No assets", [_problem("`assets` is empty", problem_field="assets")])
    _check_count(len(assets))
    problems = [
        _problem("each asset must be a JSON object", json_index=i)
        for i, a in enumerate(assets)
        if not isinstance(a, dict)
    ]
    if problems:
        raise _refuse("Invalid assets", problems)
    return _with_references([Entry(index=i, asset=a, json_index=i) for i, a in enumerate(assets)])


def parse_csv(body: bytes) -> list[Entry]:
    check_size(body)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput("CSV is not UTF-8", [_problem(f"the file is not UTF-8 text: {error}")]) from None
    if "\x00" in text:
        raise InvalidInput("CSV is not text", [_problem("the file contains NUL bytes")])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("CSV is empty", [_problem("the file has no header row")]) from None
    except csv.Error as error:
        raise InvalidInput("CSV is malformed", [_problem(f"unreadable CSV: {error}", csv_row=1)]) from None
    columns = [name.strip() for name in header]
    problems = [
        _problem(
            "unknown column (columns are CreateMeter dot paths, e.g. customer.street_1, load_types.0)",
            csv_row=1,
            problem_field=name,
        )
        for name in columns
        if not known_column(name)
    ]
    problems += [
        _problem("column appears more than once", csv_row=1, problem_field=name)
        for name, count in Counter(columns).items()
        if count > 1
    ]
    if problems:
        raise _refuse("Invalid CSV header", problems)
    entries: list[Entry] = []
    try:
        for row_number, cells in _rows(reader):
            if len(cells) != len(columns):
                problems.append(
                    _problem(f"row has {len(cells)} cells; the header has {len(columns)}", csv_row=row_number)
                )
                continue
            values = {name: cell for name, cell in zip(columns, cells, strict=True) if cell.strip() != ""}
            if values:
                entries.append(Entry(index=len(entries), asset=unflatten(values), csv_row=row_number))
    except csv.Error as error:
        problems.append(_problem(f"unreadable CSV: {error}", csv_row=reader.line_num))
    if problems:
        raise _refuse("Invalid CSV rows", problems)
    if not entries:
        raise InvalidInput("No assets", [_problem("the CSV has a header but no rows")])
    _check_count(len(entries))
    return _with_references(entries)


def _rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, cells); blank lines are skipped."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        if cells:
            yield start, cells


def _check_count(count: int) -> None:
    if count > MAX_ASSETS:
        raise PayloadTooLarge(
            "Too many assets", [_problem(f"{count} assets; a job takes at most {MAX_ASSETS} (split the job)")]
        )


def _with_references(entries: list[Entry]) -> list[Entry]:
    def reference(entry: Entry) -> str | None:
        value = entry.asset.get("partner_reference") if isinstance(entry.asset, dict) else None
        return value if isinstance(value, str) else None

    counts = Counter(ref for ref in map(reference, entries) if ref is not None)
    return [
        Entry(e.index, e.asset, e.json_index, e.csv_row, multiple_reference=counts.get(reference(e) or "", 0) > 1)
        for e in entries
    ]


# ----- CSV column paths ----------------------------------------------------------------------------------
def unflatten(values: dict[str, str]) -> dict[str, Any]:
    """{"customer.city": "Boston", "load_types.0": "HVAC"} -> {"customer": {"city": ...}, "load_types": [...]}"""
    root: dict[str, Any] = {}
    for path, value in values.items():
        node: Any = root
        segments = path.split(".")
        for segment in segments[:-1]:
            node = node.setdefault(segment, {})
        node[segments[-1]] = value
    converted: dict[str, Any] = _lists(root)
    return converted


def _lists(node: Any) -> Any:
    """Dicts whose keys are all indexes become lists, ordered by index (gaps closed)."""
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def known_column(path: str) -> bool:
    return _known(CreateMeter, tuple(path.split(".")))


def _names(model: type[BaseModel]) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        names[name] = info.annotation
        if isinstance(info.validation_alias, AliasChoices):
            for choice in info.validation_alias.choices:
                if isinstance(choice, str):
                    names[choice] = info.annotation
    return names


@cache
def _known(model: type[BaseModel], segments: tuple[str, ...]) -> bool:
    annotation = _names(model).get(segments[0])
    if annotation is None:
        return False
    return _fits(annotation, segments[1:])


def _fits(annotation: Any, rest: tuple[str, ...]) -> bool:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is list:
        if not rest or not rest[0].isdigit():
            return False
        return _fits(typing.get_args(annotation)[0], rest[1:])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return bool(rest) and _known(annotation, rest)
    return not rest


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the real type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                return annotation
        else:
            return annotation
