"""Green Button ESPI Atom/XML: what we parse from utilities, what the demo utility writes, and hostile input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from meterhub.demo_utility.rules.feeds import interval_block_feed, usage_points_feed
from meterhub.utility_providers.records.errors import UtilityError
from meterhub.utility_providers.records.readings import IntervalReading, ServiceAddress, ServicePoint
from meterhub.utility_providers.rules.greenbutton import (
    MissingReadingType,
    ReadingType,
    parse_interval_blocks,
    parse_reading_type,
    parse_usage_points,
    reading_type_links,
)

SUBSCRIPTION = "https://utility.example/espi/1_1/resource/Subscription/5"
DAY = datetime(2026, 3, 2, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("no_network")


def _point(usage_point_id: str = "100001", **changes: object) -> ServicePoint:
    values: dict[str, object] = {
        "usage_point_id": usage_point_id,
        "address": ServiceAddress(
            street_1="12 Oak Street",
            city="Oakland",
            state_or_province_code="CA",
            postal_code="94610",
            street_2="Unit 3",
        ),
        "customer_classification": "RESIDENTIAL",
        "account_number": "4410-22",
        "meter_serial_number": "DM0001",
        "tariff": "E-TOU-C",
        "customer_name": "Ada <Lovelace> & Co",
        "bill_customer_account_number": "0077-4410",
        "bill_service_agreement_number": "SA-4410-22",
        **changes,
    }
    return ServicePoint(**values)  # type: ignore[arg-type]


# ----- usage points --------------------------------------------------------------------------------------------


def test_usage_points_round_trip_through_the_generator() -> None:
    # Given two service points, one commercial without optional fields (and markup in a name)
    points = [
        _point(),
        ServicePoint(
            usage_point_id="SA 100002/7",  # needs percent-encoding in its link
            address=ServiceAddress("1 Main St", "Brooklyn", "NY", "11215"),
            customer_classification="COMMERCIAL",
        ),
    ]
    # When written as a feed and read back
    document = usage_points_feed(points, SUBSCRIPTION)
    # Then nothing is lost and the document uses the real namespaces
    assert parse_usage_points(document) == points
    assert b"http://www.w3.org/2005/Atom" in document and b"http://naesb.org/espi" in document
    assert b"&lt;Lovelace&gt;" in document


# A UsagePoint feed in the shape utilities send: Atom as the default namespace, an electricity and a gas
# UsagePoint, customer resources in separate entries linked by `related` links.
REAL_SHAPED_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"
      xmlns:cust="http://naesb.org/espi/customer">
  <id>urn:uuid:1</id><title>UsagePoint</title><updated>2026-03-02T00:00:00Z</updated>
  <entry>
    <id>urn:uuid:2</id>
    <link rel="self" href="https://u.example/espi/1_1/resource/Subscription/9/UsagePoint/E-77"/>
    <link rel="up" href="https://u.example/espi/1_1/resource/Subscription/9/UsagePoint"/>
    <title>Electric</title>
    <content>
      <espi:UsagePoint>
        <espi:roleFlags>01</espi:roleFlags>
        <espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory>
        <espi:status>1</espi:status>
        <espi:ServiceDeliveryPoint>
          <espi:name>SDP 77</espi:name>
          <espi:tariffProfile>B-19</espi:tariffProfile>
        </espi:ServiceDeliveryPoint>
      </espi:UsagePoint>
    </content>
  </entry>
  <entry>
    <id>urn:uuid:3</id>
    <link rel="self" href="https://u.example/espi/1_1/resource/Subscription/9/UsagePoint/G-78"/>
    <content>
      <espi:UsagePoint><espi:ServiceCategory><espi:kind>1</espi:kind></espi:ServiceCategory></espi:UsagePoint>
    </content>
  </entry>
  <entry>
    <id>urn:uuid:4</id>
    <link rel="related" href="https://u.example/espi/1_1/resource/Subscription/9/UsagePoint/E-77"/>
    <content>
      <cust:ServiceLocation>
        <cust:mainAddress>
          <cust:streetDetail>
            <cust:number>450</cust:number><cust:name>MISSION ST</cust:name><cust:suiteNumber>FL 2</cust:suiteNumber>
          </cust:streetDetail>
          <cust:townDetail>
            <cust:name>SAN FRANCISCO</cust:name><cust:stateOrProvince>ca</cust:stateOrProvince>
            <cust:country>USA</cust:country>
          </cust:townDetail>
          <cust:postalCode>94105</cust:postalCode>
        </cust:mainAddress>
      </cust:ServiceLocation>
    </content>
  </entry>
  <entry>
    <id>urn:uuid:5</id>
    <content>
      <cust:Customer>
        <cust:Organisation><cust:organisationName>Mission Bakery LLC</cust:organisationName></cust:Organisation>
        <cust:kind>commercialIndustrial</cust:kind>
      </cust:Customer>
    </content>
  </entry>
  <entry>
    <id>urn:uuid:6</id>
    <content><cust:CustomerAccount><cust:accountId>0123456789</cust:accountId></cust:CustomerAccount></content>
  </entry>
  <entry>
    <id>urn:uuid:7</id>
    <link rel="related" href="https://u.example/espi/1_1/resource/Subscription/9/UsagePoint/E-77"/>
    <content><cust:CustomerAgreement><cust:agreementId> 8412-0077 </cust:agreementId></cust:CustomerAgreement></content>
  </entry>
</feed>
"""


def test_a_real_shaped_feed_yields_only_electricity_with_its_customer_data() -> None:
    points = parse_usage_points(REAL_SHAPED_FEED)
    assert points == [
        ServicePoint(
            usage_point_id="E-77",
            address=ServiceAddress(
                street_1="450 MISSION ST",
                street_2="FL 2",
                city="SAN FRANCISCO",
                state_or_province_code="CA",
                postal_code="94105",
                country_code="US",
            ),
            customer_classification="COMMERCIAL",
            account_number="0123456789",
            meter_serial_number=None,
            tariff="B-19",
            customer_name="Mission Bakery LLC",
            bill_customer_account_number="0123456789",
            bill_service_agreement_number="8412-0077",
        )
    ]


def test_bill_identifiers_come_only_from_the_customer_resources_that_name_them() -> None:
    # Given a point whose agreement is named only in its ServiceDeliveryPoint (no customer resources)
    document = usage_points_feed(
        [_point("1", bill_customer_account_number=None, bill_service_agreement_number=None)], SUBSCRIPTION
    )
    assert b"CustomerAccount" not in document and b"CustomerAgreement" not in document
    [point] = parse_usage_points(document)
    # Then the account number is kept as before, and no bill identifier is made up from it
    assert point.account_number == "4410-22"
    assert (point.bill_customer_account_number, point.bill_service_agreement_number) == (None, None)


@pytest.mark.parametrize(
    "agreement_id",
    ["A" * 257, "SA-1\nSA-2", "SA\t1"],
    ids=["longer than ESPI's String256", "two lines", "control character"],
)
def test_a_bill_identifier_that_is_not_one_printable_line_is_left_out(agreement_id: str) -> None:
    document = usage_points_feed([_point("1", bill_service_agreement_number="PLACEHOLDER")], SUBSCRIPTION)
    [point] = parse_usage_points(document.replace(b"PLACEHOLDER", agreement_id.encode()))
    assert point.bill_service_agreement_number is None
    assert point.bill_customer_account_number == "0077-4410"  # the rest of the point is read


def test_a_service_location_inside_the_usage_point_entry_is_used() -> None:
    document = b"""<entry xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"
        xmlns:cust="http://naesb.org/espi/customer">
      <id>urn:uuid:abc</id>
      <link rel="self" href="/espi/1_1/resource/Subscription/1/UsagePoint/42"/>
      <content>
        <espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory></espi:UsagePoint>
        <cust:ServiceLocation><cust:type>Residential</cust:type><cust:mainAddress>
          <cust:streetDetail><cust:addressGeneral>7 Elm Rd</cust:addressGeneral></cust:streetDetail>
          <cust:townDetail><cust:name>Hempstead</cust:name><cust:stateOrProvince>NY</cust:stateOrProvince></cust:townDetail>
          <cust:postalCode>11550</cust:postalCode></cust:mainAddress></cust:ServiceLocation>
      </content>
    </entry>"""
    [point] = parse_usage_points(document)
    assert point.usage_point_id == "42"
    assert point.address == ServiceAddress("7 Elm Rd", "Hempstead", "NY", "11550")
    assert point.customer_classification == "RESIDENTIAL"


def test_a_usage_point_without_a_complete_address_is_kept_without_one() -> None:
    # Given a feed whose first service location lacks its postal code
    document = usage_points_feed([_point("1"), _point("2")], SUBSCRIPTION).replace(b"94610", b"", 1)
    # Then both points are read, the first with no address (its meter will await one), the rest intact
    first, second = parse_usage_points(document)
    assert (first.usage_point_id, first.address) == ("1", None)
    assert first.account_number == "4410-22" and first.meter_serial_number == "DM0001"
    assert second.address is not None and second.address.postal_code == "94610"


def test_a_feed_without_customer_resources_round_trips_without_an_address() -> None:
    # Given a point the demo utility writes with no ServiceLocation at all (as the Green Button samples are)
    document = usage_points_feed([_point("1", address=None)], SUBSCRIPTION)
    assert b"ServiceLocation" not in document
    # Then it is read back as it was written
    assert parse_usage_points(document) == [_point("1", address=None)]


# ----- interval blocks -----------------------------------------------------------------------------------------


def _day(start: datetime, kwh: float = 0.25, **direction: float) -> list[IntervalReading]:
    return [
        IntervalReading(start=start + timedelta(minutes=15 * i), duration_seconds=900, consumed_kwh=kwh, **direction)
        for i in range(96)
    ]


def test_interval_blocks_round_trip_both_directions() -> None:
    # Given two days of consumption and three hours of generation (hourly, the utility's own length)
    consumed = _day(DAY, 0.25) + _day(DAY + timedelta(days=1), 0.5)
    generated = [
        IntervalReading(start=DAY + timedelta(hours=h), duration_seconds=3600, generated_kwh=1.234)
        for h in (10, 11, 12)
    ]
    # When written and read back
    readings = parse_interval_blocks(interval_block_feed("100001", consumed + generated, base_url=SUBSCRIPTION))
    # Then every reading keeps its start, its duration (hourly readings are not split) and its value
    assert [r for r in readings if r.consumed_kwh is not None] == consumed
    assert [r for r in readings if r.generated_kwh is not None] == generated
    assert len(readings) == 96 * 2 + 3


# An IntervalBlock feed as utilities send it: milli-Wh (powerOfTenMultiplier -3), hourly readings, the
# ReadingType and MeterReading entries in the same feed, one reading without its own timePeriod.
HOURLY_MILLI_WH = b"""<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">
  <entry>
    <link rel="self" href="https://u.example/espi/1_1/resource/Subscription/9/UsagePoint/1/MeterReading/7"/>
    <link rel="related" href="https://u.example/espi/1_1/resource/ReadingType/R7"/>
    <content><espi:MeterReading/></content>
  </entry>
  <entry>
    <link rel="self" href="https://u.example/espi/1_1/resource/ReadingType/R7"/>
    <content><espi:ReadingType>
      <espi:flowDirection>1</espi:flowDirection><espi:intervalLength>3600</espi:intervalLength>
      <espi:powerOfTenMultiplier>-3</espi:powerOfTenMultiplier><espi:uom>72</espi:uom>
    </espi:ReadingType></content>
  </entry>
  <entry>
    <link rel="self" href="https://u.example/espi/1_1/resource/ReadingType/R8"/>
    <content><espi:ReadingType><espi:flowDirection>19</espi:flowDirection><espi:uom>72</espi:uom></espi:ReadingType></content>
  </entry>
  <entry>
    <link rel="self" href="https://u.example/espi/1_1/resource/Subscription/9/UsagePoint/1/MeterReading/7/IntervalBlock/1"/>
    <content><espi:IntervalBlock>
      <espi:interval><espi:duration>7200</espi:duration><espi:start>1772409600</espi:start></espi:interval>
      <espi:IntervalReading>
        <espi:timePeriod><espi:duration>3600</espi:duration><espi:start>1772409600</espi:start></espi:timePeriod>
        <espi:value>1250000</espi:value>
      </espi:IntervalReading>
      <espi:IntervalReading><espi:value>750000</espi:value></espi:IntervalReading>
    </espi:IntervalBlock></content>
  </entry>
</feed>"""


def test_readings_are_scaled_by_their_reading_type_found_through_the_meter_reading() -> None:
    readings = parse_interval_blocks(HOURLY_MILLI_WH)
    start = datetime.fromtimestamp(1772409600, UTC)
    assert readings == [
        IntervalReading(start=start, duration_seconds=3600, consumed_kwh=1.25),
        IntervalReading(start=start + timedelta(hours=1), duration_seconds=3600, consumed_kwh=0.75),
    ]


def _block_only(value: str = "500", flow: str | None = None, uom: str = "72", multiplier: int = 0) -> bytes:
    reading_type = (
        f"<entry><content><espi:ReadingType><espi:flowDirection>{flow}</espi:flowDirection>"
        f"<espi:powerOfTenMultiplier>{multiplier}</espi:powerOfTenMultiplier>"
        f"<espi:uom>{uom}</espi:uom></espi:ReadingType></content></entry>"
        if flow is not None
        else ""
    )
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">'
        f"{reading_type}<entry><content><espi:IntervalBlock><espi:IntervalReading>"
        "<espi:timePeriod><espi:duration>900</espi:duration><espi:start>1772409600</espi:start></espi:timePeriod>"
        f"<espi:value>{value}</espi:value></espi:IntervalReading></espi:IntervalBlock></content></entry></feed>"
    ).encode()


def test_blocks_without_a_reading_type_need_one_passed_in() -> None:
    with pytest.raises(MissingReadingType):
        parse_interval_blocks(_block_only())
    [reading] = parse_interval_blocks(_block_only(), reading_type=ReadingType(flow_direction=19))
    assert reading.generated_kwh == 0.5 and reading.consumed_kwh is None


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (_block_only(flow="1", uom="38"), "unit"),  # W, not Wh
        (_block_only(flow="4"), "flow direction"),  # net: not supported
        (_block_only(value="abc", flow="1"), "not a number"),
        (_block_only(value="nan", flow="1"), "not a number"),
        (_block_only(value="Infinity", flow="1"), "not a number"),
        (_block_only(value="1_000", flow="1"), "not a number"),
        (_block_only(value="1e3", flow="1"), "not a number"),
        (_block_only(value="\u0661\u0662", flow="1"), "not a number"),  # Arabic-Indic digits
        (_block_only(value="9" * 300, flow="1", multiplier=9), "too large"),  # finite, infinite once scaled
        (_block_only(flow="x"), "not a number"),
    ],
    ids=["uom", "flow", "abc", "nan", "infinity", "separator", "exponent", "arabic-indic", "overflow", "flow-text"],
)
def test_unusable_readings_are_refused(document: bytes, fragment: str) -> None:
    with pytest.raises(UtilityError) as raised:
        parse_interval_blocks(document)
    assert fragment in raised.value.reason
    assert not raised.value.retryable


def test_reading_type_documents_and_links() -> None:
    assert parse_reading_type(HOURLY_MILLI_WH) == ReadingType(
        uom=72, power_of_ten_multiplier=-3, flow_direction=1, interval_length=3600
    )
    assert reading_type_links(HOURLY_MILLI_WH) == ["https://u.example/espi/1_1/resource/ReadingType/R7"]


# ----- hostile and malformed documents -----------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&secret;</title></feed>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE feed SYSTEM "http://attacker.example/evil.dtd">
<feed xmlns="http://www.w3.org/2005/Atom"></feed>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["laughs", "xxe", "dtd"])
@pytest.mark.parametrize("parse", [parse_usage_points, parse_interval_blocks, parse_reading_type])
def test_hostile_documents_are_refused_without_expansion(document: bytes, parse: object) -> None:
    with pytest.raises(UtilityError) as raised:
        parse(document)  # type: ignore[operator]
    assert "DTD or entities" in raised.value.reason
    assert "passwd" not in raised.value.reason and "lol" not in raised.value.reason


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", "not well-formed"),
        (b"", "not well-formed"),
        (b"<html><body>Service unavailable</body></html>", "not a Green Button"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'>" + b" " * (17 * 1024 * 1024) + b"</feed>", "too large"),
    ],
)
def test_malformed_documents_are_refused_with_a_safe_reason(document: bytes, fragment: str) -> None:
    with pytest.raises(UtilityError) as raised:
        parse_usage_points(document)
    assert fragment in raised.value.reason
