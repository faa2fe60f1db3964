"""Green Button (NAESB REQ.21 ESPI) Atom/XML: reading what utilities send, and writing it for the demo utility.

Why one module for both directions: the demo utility must speak exactly what the parser reads, so the
generator and the parser are kept side by side and tested against each other (and against hand-written
documents in the shapes real utilities send).

Safety: every document is parsed with defusedxml with DTDs forbidden outright, so entity expansion (the
"billion laughs"), external entities and external DTDs are refused before any expansion happens; the size is
capped before parsing. Anything hostile or malformed becomes a `UtilityError` whose reason is fixed text,
never an excerpt of the document.

What is read:
  * UsagePoint feeds (`parse_usage_points`): electricity UsagePoints (ServiceCategory kind 0) with, where
    present, `ServiceDeliveryPoint` (name, tariffProfile, customerAgreement) and the customer resources of the
    ESPI customer namespace (ServiceLocation/mainAddress, Customer kind and name, CustomerAccount, Meter).
    The bill identifiers come only from the customer resources that name them: CustomerAccount's accountId is
    the bill's customer account number, CustomerAgreement's agreementId its service agreement number (each an
    ESPI String256; a longer one, or one with a control character, is left out).
    A customer resource applies to the usage points its `related` links name; an unlinked one applies to all
    usage points when it is the only one of its kind in the document. A ServiceLocation may also sit in the
    UsagePoint entry's own content. A usage point without a complete service address is kept with
    `address=None` and logged by id: many feeds (the Green Button Alliance's samples among them) leave customer
    data to a separate scope, and dropping the point would leave a customer who authorized with no meter at
    all; the sync creates the meter and asks for the address (ADDRESS required action).
  * IntervalBlock feeds (`parse_interval_blocks`): each IntervalReading at the utility's own duration (never
    split), scaled by its ReadingType's powerOfTenMultiplier; only uom 72 (Wh) is accepted, converted to kWh;
    flowDirection 1 is consumption, 19 generation. The ReadingType is found through the block's MeterReading
    (its `related` link), else the document's only ReadingType, else the one passed in; with none,
    `MissingReadingType` is raised so the caller can fetch it.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET  # only to WRITE documents and for types; parsing goes through defusedxml
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as safe_fromstring

from meterhub.intervals.rules.numbers import parse_decimal
from meterhub.platform.observability import logger
from meterhub.utility_providers.records.errors import UtilityError
from meterhub.utility_providers.records.readings import IntervalReading, ServiceAddress, ServicePoint

ATOM_NS = "http://www.w3.org/2005/Atom"


ESPI_NS = "http://naesb.org/espi"


CUSTOMER_NS = "http://naesb.org/espi/customer"


MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # 31 days of 15-minute readings in both directions is ~2 MB


UOM_WH = 72


FLOW_FORWARD = 1  # delivered to the customer: consumption


FLOW_REVERSE = 19  # received from the customer: generation


SERVICE_KIND_ELECTRICITY = 0


MAX_INTERVAL_SECONDS = 31 * 86400


RESIDENTIAL = "RESIDENTIAL"


COMMERCIAL = "COMMERCIAL"


ET.register_namespace("atom", ATOM_NS)  # a prefix, not the default namespace: that would be process-wide


ET.register_namespace("espi", ESPI_NS)


ET.register_namespace("cust", CUSTOMER_NS)


_USAGE_POINT_IN_PATH = re.compile(r"/UsagePoint/([^/]+)$")


_METER_READING_IN_PATH = re.compile(r"^(.*/MeterReading/[^/]+)/IntervalBlock(?:/[^/]*)?$")


class MissingReadingType(UtilityError):
    """Interval blocks arrived without the ReadingType that says their unit and scale."""


@dataclass(frozen=True)
class ReadingType:
    """The part of an ESPI ReadingType that decides what a reading's value means."""

    uom: int = UOM_WH
    power_of_ten_multiplier: int = 0
    flow_direction: int = FLOW_FORWARD
    interval_length: int | None = None


def _a(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


def _e(tag: str) -> str:
    return f"{{{ESPI_NS}}}{tag}"


def _c(tag: str) -> str:
    return f"{{{CUSTOMER_NS}}}{tag}"


def _parse(xml: bytes) -> ET.Element:
    """The document's root, or UtilityError: too large, DTD/entities (hostile), or not well-formed."""
    if not isinstance(xml, bytes | bytearray):
        raise UtilityError("The utility's response is not an XML document")
    if len(xml) > MAX_DOCUMENT_BYTES:
        raise UtilityError("The utility's response is too large")
    try:
        root: ET.Element = safe_fromstring(bytes(xml), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise UtilityError("The utility's response declares a DTD or entities, which are refused") from None
    except ParseError:
        raise UtilityError("The utility's response is not well-formed XML") from None
    if root.tag not in (_a("feed"), _a("entry")):
        raise UtilityError("The utility's response is not a Green Button Atom document")
    return root


def _entries(root: ET.Element) -> list[ET.Element]:
    return [root] if root.tag == _a("entry") else root.findall(_a("entry"))


def _links(entry: ET.Element, rel: str) -> list[str]:
    return [
        link.get("href", "").strip()
        for link in entry.findall(_a("link"))
        if link.get("rel", "alternate") == rel and link.get("href")
    ]


def _path(href: str) -> str:
    return urlsplit(href).path.rstrip("/")


def _content(entry: ET.Element, tag: str) -> ET.Element | None:
    content = entry.find(_a("content"))
    return content.find(tag) if content is not None else None


def _text(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    value = element.findtext(path)
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def _integer(element: ET.Element | None, path: str, what: str) -> int | None:
    """An xs:integer/xs:long child, or None when absent; UtilityError when present but not an integer."""
    text = _text(element, path)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise UtilityError(f"The utility sent a {what} that is not a number") from None


def _usage_point_ids_linked(entry: ET.Element) -> set[str]:
    ids = set()
    for href in _links(entry, "related") + _links(entry, "up"):
        match = _USAGE_POINT_IN_PATH.search(_path(href))
        if match:
            ids.add(unquote(match.group(1)))
    return ids


def _usage_point_id(entry: ET.Element) -> str:
    for href in _links(entry, "self"):
        match = _USAGE_POINT_IN_PATH.search(_path(href))
        if match:
            return unquote(match.group(1))
    entry_id = _text(entry, _a("id"))
    if entry_id is None:
        raise UtilityError("The utility sent a UsagePoint without an identifier")
    return entry_id.removeprefix("urn:uuid:")


def _classification(kind: str | None) -> str | None:
    """ESPI CustomerKind (or a free-text location type) -> RESIDENTIAL | COMMERCIAL; None when unknown."""
    if not kind:
        return None
    lowered = kind.strip().lower()
    if lowered.startswith("residential") and "commercial" not in lowered:
        return RESIDENTIAL
    commercial_words = ("commercial", "industrial", "business", "pumping", "agricultur", "windmachine", "government")
    if any(word in lowered for word in commercial_words):
        return COMMERCIAL
    return None


def _address(location: ET.Element) -> ServiceAddress | None:
    main = location.find(_c("mainAddress"))
    if main is None:
        return None
    street = main.find(_c("streetDetail"))
    town = main.find(_c("townDetail"))
    general = _text(street, _c("addressGeneral"))
    parts = [_text(street, _c(tag)) for tag in ("number", "prefix", "name", "type", "suffix")]
    street_1 = general or " ".join(part for part in parts if part)
    city = _text(town, _c("name"))
    state = _text(town, _c("stateOrProvince"))
    postal_code = _text(main, _c("postalCode")) or _text(town, _c("code"))
    if not (street_1 and city and state and postal_code):
        return None
    country = (_text(town, _c("country")) or "US").upper()
    if country in ("USA", "UNITED STATES"):
        country = "US"
    return ServiceAddress(
        street_1=street_1,
        street_2=_text(street, _c("suiteNumber")),
        city=city,
        state_or_province_code=state.upper(),
        postal_code=postal_code,
        country_code=country,
    )


@dataclass
class _CustomerResources:
    """Customer-namespace resources of one document, by kind: (linked usage point ids, element)."""

    by_kind: dict[str, list[tuple[set[str], ET.Element]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: str, linked: set[str], element: ET.Element) -> None:
        self.by_kind[kind].append((linked, element))

    def for_point(self, kind: str, usage_point_id: str) -> ET.Element | None:
        resources = self.by_kind.get(kind, [])
        for linked, element in resources:
            if usage_point_id in linked:
                return element
        unlinked = [element for linked, element in resources if not linked]
        return unlinked[0] if len(unlinked) == 1 else None


_CUSTOMER_KINDS = ("ServiceLocation", "Customer", "CustomerAccount", "CustomerAgreement", "Meter")
IDENTIFIER_MAX = 256  # ESPI String256


def _identifier(element: ET.Element | None, path: str) -> str | None:
    """An identifier the utility sent, or None when absent, longer than ESPI allows or not one printable line
    (logged, not stored: it would be shown to partners as sent)."""
    value = _text(element, path)
    if value is not None and (len(value) > IDENTIFIER_MAX or not value.isprintable()):
        logger.info("Identifier that is not one printable line of 256 characters left out", extra={"element": path})
        return None
    return value


def parse_usage_points(xml: bytes) -> list[ServicePoint]:
    """The electricity service points of a UsagePoint feed (or single entry); see the module docstring."""
    entries = _entries(_parse(xml))
    customer = _CustomerResources()
    usage_points: list[tuple[ET.Element, ET.Element]] = []
    for entry in entries:
        point = _content(entry, _e("UsagePoint"))
        if point is not None:
            usage_points.append((entry, point))
            continue
        for kind in _CUSTOMER_KINDS:
            resource = _content(entry, _c(kind))
            if resource is not None:
                customer.add(kind, _usage_point_ids_linked(entry), resource)
    result: list[ServicePoint] = []
    for entry, point in usage_points:
        service_kind = _integer(point, f"{_e('ServiceCategory')}/{_e('kind')}", "service category")
        if service_kind is not None and service_kind != SERVICE_KIND_ELECTRICITY:
            continue  # gas, water, ...: not a meter this platform onboards
        usage_point_id = _usage_point_id(entry)
        nested = _content(entry, _c("ServiceLocation"))
        location = nested if nested is not None else customer.for_point("ServiceLocation", usage_point_id)
        address = _address(location) if location is not None else None
        if address is None:
            logger.info("Usage point without a complete service address", extra={"id": usage_point_id})
        delivery = point.find(_e("ServiceDeliveryPoint"))
        person = customer.for_point("Customer", usage_point_id)
        account = customer.for_point("CustomerAccount", usage_point_id)
        agreement = customer.for_point("CustomerAgreement", usage_point_id)
        meter = customer.for_point("Meter", usage_point_id)
        classification = (
            _classification(_text(person, _c("kind"))) or _classification(_text(location, _c("type"))) or RESIDENTIAL
        )
        result.append(
            ServicePoint(
                usage_point_id=usage_point_id,
                address=address,
                customer_classification=classification,
                account_number=_text(delivery, _e("customerAgreement")) or _text(account, _c("accountId")),
                meter_serial_number=_text(meter, _c("serialNumber")),
                tariff=_text(delivery, _e("tariffProfile")),
                customer_name=_text(person, f"{_c('Organisation')}/{_c('organisationName')}"),
                bill_customer_account_number=_identifier(account, _c("accountId")),
                bill_service_agreement_number=_identifier(agreement, _c("agreementId")),
            )
        )
    return result


def _reading_type(element: ET.Element) -> ReadingType:
    uom = _integer(element, _e("uom"), "unit of measure")
    multiplier = _integer(element, _e("powerOfTenMultiplier"), "power of ten multiplier")
    flow = _integer(element, _e("flowDirection"), "flow direction")
    interval_length = _integer(element, _e("intervalLength"), "interval length")
    return ReadingType(
        uom=uom if uom is not None else UOM_WH,
        power_of_ten_multiplier=multiplier if multiplier is not None else 0,
        flow_direction=flow if flow is not None else FLOW_FORWARD,
        interval_length=interval_length,
    )


def parse_reading_type(xml: bytes) -> ReadingType:
    """The ReadingType of a ReadingType entry or feed (the first one)."""
    for entry in _entries(_parse(xml)):
        element = _content(entry, _e("ReadingType"))
        if element is not None:
            return _reading_type(element)
    raise UtilityError("The utility's response contains no ReadingType")


def reading_type_links(xml: bytes) -> list[str]:
    """The ReadingType hrefs a MeterReading entry or feed points to (to fetch a missing ReadingType)."""
    hrefs: list[str] = []
    for entry in _entries(_parse(xml)):
        if _content(entry, _e("MeterReading")) is not None:
            hrefs.extend(href for href in _links(entry, "related") if "/ReadingType/" in _path(href))
    return hrefs


def _block_meter_reading(entry: ET.Element) -> str | None:
    for href in _links(entry, "self") + _links(entry, "up"):
        match = _METER_READING_IN_PATH.match(_path(href))
        if match:
            return match.group(1)
    return None


def _energy_kwh(value: float, reading_type: ReadingType) -> float:
    if reading_type.uom != UOM_WH:
        raise UtilityError(f"The utility sent interval data in an unsupported unit (uom {reading_type.uom})")
    if not -9 <= reading_type.power_of_ten_multiplier <= 9:
        raise UtilityError("The utility sent interval data with an implausible power of ten multiplier")
    return round(value * 10.0**reading_type.power_of_ten_multiplier / 1000.0, 9)


def _reading(element: ET.Element, reading_type: ReadingType, block_start: int | None, index: int) -> IntervalReading:
    period = element.find(_e("timePeriod"))
    start = _integer(period, _e("start"), "reading start")
    duration = _integer(period, _e("duration"), "reading duration")
    if period is None and block_start is not None and reading_type.interval_length:
        start = block_start + index * reading_type.interval_length
        duration = reading_type.interval_length
    if start is None or duration is None:
        raise UtilityError("The utility sent an interval reading without its time period")
    if start < 0 or not 0 < duration <= MAX_INTERVAL_SECONDS:
        raise UtilityError("The utility sent an interval reading with an implausible time period")
    raw = _text(element, _e("value"))
    if raw is None:
        raise UtilityError("The utility sent an interval reading without a value")
    value = parse_decimal(raw)  # ESPI values are integers; float() also reads 1_000, other scripts, 1e3, nan
    if value is None:
        raise UtilityError("The utility sent an interval reading value that is not a number")
    kwh = _energy_kwh(value, reading_type)
    if not math.isfinite(kwh):  # hundreds of digits, or a multiplier scaling a large value past a float
        raise UtilityError("The utility sent an interval reading value that is too large")
    begins = datetime.fromtimestamp(start, UTC)
    if reading_type.flow_direction == FLOW_FORWARD:
        return IntervalReading(start=begins, duration_seconds=duration, consumed_kwh=kwh)
    if reading_type.flow_direction == FLOW_REVERSE:
        return IntervalReading(start=begins, duration_seconds=duration, generated_kwh=kwh)
    raise UtilityError(
        f"The utility sent interval data with an unsupported flow direction ({reading_type.flow_direction})"
    )


def parse_interval_blocks(xml: bytes, *, reading_type: ReadingType | None = None) -> list[IntervalReading]:
    """Every IntervalReading of the document, sorted by start (consumption before generation at a start)."""
    entries = _entries(_parse(xml))
    reading_types: dict[str, ReadingType] = {}
    meter_reading_types: dict[str, str] = {}
    blocks: list[tuple[ET.Element, ET.Element]] = []
    for entry in entries:
        element = _content(entry, _e("ReadingType"))
        if element is not None:
            for href in _links(entry, "self") or [f"#{len(reading_types)}"]:
                reading_types[_path(href)] = _reading_type(element)
            continue
        if _content(entry, _e("MeterReading")) is not None:
            targets = [href for href in _links(entry, "related") if "/ReadingType/" in _path(href)]
            for href in _links(entry, "self"):
                if targets:
                    meter_reading_types[_path(href)] = _path(targets[0])
            continue
        block = _content(entry, _e("IntervalBlock"))
        if block is not None:
            blocks.append((entry, block))
    sole = next(iter(set(reading_types.values()))) if len(set(reading_types.values())) == 1 else None
    readings: list[IntervalReading] = []
    for entry, block in blocks:
        meter_reading = _block_meter_reading(entry)
        linked = reading_types.get(meter_reading_types.get(meter_reading or "", ""))
        resolved = linked or sole or reading_type
        if resolved is None:
            raise MissingReadingType("The utility's interval data does not say its unit (no ReadingType)")
        block_start = _integer(block.find(_e("interval")), _e("start"), "block start")
        for index, element in enumerate(block.findall(_e("IntervalReading"))):
            readings.append(_reading(element, resolved, block_start, index))
    readings.sort(key=lambda r: (r.start, r.consumed_kwh is None, r.duration_seconds))
    return readings
