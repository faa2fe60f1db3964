"""Green Button ESPI feeds written by the demo utility (the reader lives in utility_providers)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET  # only to WRITE documents and for types; parsing goes through defusedxml
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from urllib.parse import quote

from meterhub.utility_providers.records.readings import IntervalReading, ServiceAddress, ServicePoint
from meterhub.utility_providers.rules.greenbutton import (
    FLOW_FORWARD,
    FLOW_REVERSE,
    RESIDENTIAL,
    SERVICE_KIND_ELECTRICITY,
    UOM_WH,
    _a,
    _c,
    _e,
)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: ET.Element, tag: str, text: str | int | None = None, **attributes: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attributes)
    if text is not None:
        child.text = str(text)
    return child


def _entry(
    feed: ET.Element,
    *,
    key: str,
    title: str,
    moment: datetime,
    links: Iterable[tuple[str, str]],
) -> ET.Element:
    """An Atom entry with a stable urn:uuid id (derived from `key`, so the same resource keeps its id)."""
    entry = _sub(feed, _a("entry"))
    _sub(entry, _a("id"), f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}")
    for rel, href in links:
        _sub(entry, _a("link"), rel=rel, href=href)
    _sub(entry, _a("title"), title)
    _sub(entry, _a("published"), _rfc3339(moment))
    _sub(entry, _a("updated"), _rfc3339(moment))
    return _sub(entry, _a("content"))


def _feed(self_href: str, title: str, moment: datetime) -> ET.Element:
    feed = ET.Element(_a("feed"))
    _sub(feed, _a("id"), f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, self_href)}")
    _sub(feed, _a("title"), title)
    _sub(feed, _a("updated"), _rfc3339(moment))
    _sub(feed, _a("link"), rel="self", href=self_href)
    return feed


def _serialise(feed: ET.Element) -> bytes:
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _segment(value: str) -> str:
    return quote(value, safe="")


def _location(feed: ET.Element, own: str, where: ServiceAddress, classification: str, moment: datetime) -> None:
    """The ServiceLocation entry (mainAddress) linked to the usage point at `own`."""
    location = _sub(
        _entry(feed, key=f"{own}#location", title="Service location", moment=moment, links=(("related", own),)),
        _c("ServiceLocation"),
    )
    _sub(location, _c("type"), classification.lower())
    address = _sub(location, _c("mainAddress"))
    street = _sub(address, _c("streetDetail"))
    if where.street_2:
        _sub(street, _c("suiteNumber"), where.street_2)
    _sub(street, _c("addressGeneral"), where.street_1)
    town = _sub(address, _c("townDetail"))
    _sub(town, _c("name"), where.city)
    _sub(town, _c("stateOrProvince"), where.state_or_province_code)
    _sub(town, _c("country"), where.country_code)
    _sub(address, _c("postalCode"), where.postal_code)


def usage_points_feed(points: list[ServicePoint], base_url: str, *, updated: datetime | None = None) -> bytes:
    """A UsagePoint feed for the subscription at `base_url` (`…/Subscription/<id>`): per point its UsagePoint
    entry, then ServiceLocation, Customer, CustomerAccount, CustomerAgreement and Meter entries linked to it
    (ESPI customer namespace), each only when the point has what it carries."""
    moment = updated or datetime.now(UTC)
    base = base_url.rstrip("/")
    collection = f"{base}/UsagePoint"
    feed = _feed(collection, "Usage points", moment)
    for point in points:
        own = f"{collection}/{_segment(point.usage_point_id)}"
        content = _entry(
            feed,
            key=own,
            title=f"Service point {point.usage_point_id}",
            moment=moment,
            links=(("self", own), ("up", collection), ("related", f"{own}/MeterReading")),
        )
        usage_point = _sub(content, _e("UsagePoint"))
        _sub(_sub(usage_point, _e("ServiceCategory")), _e("kind"), SERVICE_KIND_ELECTRICITY)
        delivery = _sub(usage_point, _e("ServiceDeliveryPoint"))
        _sub(delivery, _e("name"), point.usage_point_id)
        if point.tariff:
            _sub(delivery, _e("tariffProfile"), point.tariff)
        if point.account_number:
            _sub(delivery, _e("customerAgreement"), point.account_number)

        if point.address is not None:  # none: the feed leaves customer data out, as many utilities' do
            _location(feed, own, point.address, point.customer_classification, moment)

        customer = _sub(
            _entry(feed, key=f"{own}#customer", title="Customer", moment=moment, links=(("related", own),)),
            _c("Customer"),
        )
        if point.customer_name:
            _sub(_sub(customer, _c("Organisation")), _c("organisationName"), point.customer_name)
        kind = "residential" if point.customer_classification == RESIDENTIAL else "commercialIndustrial"
        _sub(customer, _c("kind"), kind)
        for kind, identifier, value in (
            ("CustomerAccount", "accountId", point.bill_customer_account_number),
            ("CustomerAgreement", "agreementId", point.bill_service_agreement_number),
        ):
            if value:
                resource = _sub(
                    _entry(feed, key=f"{own}#{kind}", title=kind, moment=moment, links=(("related", own),)), _c(kind)
                )
                _sub(resource, _c(identifier), value)
        if point.meter_serial_number:
            meter = _sub(
                _entry(feed, key=f"{own}#meter", title="Meter", moment=moment, links=(("related", own),)),
                _c("Meter"),
            )
            _sub(meter, _c("serialNumber"), point.meter_serial_number)
    return _serialise(feed)


def _by_day(readings: Iterable[IntervalReading]) -> Iterator[list[IntervalReading]]:
    days: dict[int, list[IntervalReading]] = defaultdict(list)
    for reading in readings:
        days[int(reading.start.timestamp()) // 86400].append(reading)
    for day in sorted(days):
        yield sorted(days[day], key=lambda r: r.start)


def interval_block_feed(
    usage_point_id: str,
    readings: list[IntervalReading],
    *,
    base_url: str,
    updated: datetime | None = None,
) -> bytes:
    """An IntervalBlock feed for one usage point of the subscription at `base_url`.

    Consumption goes to MeterReading 01 (flowDirection 1), generation to MeterReading 02 (flowDirection 19),
    each with its ReadingType (uom 72 = Wh, powerOfTenMultiplier 0: values are whole Wh) and one IntervalBlock
    per UTC day; each reading keeps its own duration.
    """
    moment = updated or datetime.now(UTC)
    point = f"{base_url.rstrip('/')}/UsagePoint/{_segment(usage_point_id)}"
    feed = _feed(f"{point}/MeterReading/01/IntervalBlock", "Interval blocks", moment)
    directions = (
        ("01", FLOW_FORWARD, [r for r in readings if r.consumed_kwh is not None], "consumed_kwh"),
        ("02", FLOW_REVERSE, [r for r in readings if r.generated_kwh is not None], "generated_kwh"),
    )
    for meter_reading_id, flow, selected, attribute in directions:
        if not selected:
            continue
        meter_reading = f"{point}/MeterReading/{meter_reading_id}"
        reading_type = f"{meter_reading}/ReadingType/{meter_reading_id}"
        blocks = f"{meter_reading}/IntervalBlock"
        _sub(
            _entry(
                feed,
                key=meter_reading,
                title="Energy delivered" if flow == FLOW_FORWARD else "Energy received",
                moment=moment,
                links=(("self", meter_reading), ("related", blocks), ("related", reading_type)),
            ),
            _e("MeterReading"),
        )
        interval_length = Counter(r.duration_seconds for r in selected).most_common(1)[0][0]
        described = _sub(
            _entry(feed, key=reading_type, title="Reading type", moment=moment, links=(("self", reading_type),)),
            _e("ReadingType"),
        )
        for tag, value in (
            ("accumulationBehaviour", 4),
            ("commodity", 1),
            ("dataQualifier", 12),
            ("flowDirection", flow),
            ("intervalLength", interval_length),
            ("kind", 12),
            ("phase", 769),
            ("powerOfTenMultiplier", 0),
            ("timeAttribute", 0),
            ("uom", UOM_WH),
        ):
            _sub(described, _e(tag), value)
        for day in _by_day(selected):
            first = int(day[0].start.timestamp())
            last_end = max(int(r.start.timestamp()) + r.duration_seconds for r in day)
            own = f"{blocks}/{first}"
            block = _sub(
                _entry(feed, key=own, title="Interval block", moment=moment, links=(("self", own), ("up", blocks))),
                _e("IntervalBlock"),
            )
            interval = _sub(block, _e("interval"))
            _sub(interval, _e("duration"), last_end - first)
            _sub(interval, _e("start"), first)
            for reading in day:
                element = _sub(block, _e("IntervalReading"))
                period = _sub(element, _e("timePeriod"))
                _sub(period, _e("duration"), reading.duration_seconds)
                _sub(period, _e("start"), int(reading.start.timestamp()))
                kwh = getattr(reading, attribute)
                _sub(element, _e("value"), round(float(kwh) * 1000))
    return _serialise(feed)
