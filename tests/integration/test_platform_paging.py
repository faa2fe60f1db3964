"""The one DynamoDB paginator, on moto: every page of a Query, and BatchGetItem past its 100-key limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.codec import key

from tests.conftest import TABLE_ENV

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

TABLE = TABLE_ENV["METERS_TABLE_NAME"]


def _put_meters(aws: DynamoDBClient, partner_id: str, count: int) -> None:
    for n in range(count):
        aws.put_item(
            TableName=TABLE, Item={**key(keys.partner(partner_id), keys.meter(f"m{n:03d}")), "n": {"N": str(n)}}
        )


def test_a_query_yields_every_page_and_leaves_the_request_as_it_was(aws: DynamoDBClient) -> None:
    # Given 7 items in one partition and a Query that answers 2 per page
    _put_meters(aws, "p1", 7)
    _put_meters(aws, "p2", 1)
    request: QueryInputTypeDef = {
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": keys.partner("p1")}},
        "Limit": 2,
    }

    items = list(paging.query(request))

    assert [item["sk"]["S"] for item in items] == [keys.meter(f"m{n:03d}") for n in range(7)]
    assert "ExclusiveStartKey" not in request  # the caller can run it again


def test_a_query_read_lazily_stops_at_the_page_it_needs(aws: DynamoDBClient) -> None:
    _put_meters(aws, "p1", 6)
    calls: list[str] = []
    aws_client = clients.dynamodb()
    aws_client.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append("query"))
    request: QueryInputTypeDef = {
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": keys.partner("p1")}},
        "Limit": 2,
    }

    first_three = [item for _, item in zip(range(3), paging.query(request), strict=False)]

    assert len(first_three) == 3 and calls == ["query", "query"]


def test_batch_get_takes_more_than_a_request_holds_asks_once_per_key_and_skips_missing_ones(
    aws: DynamoDBClient,
) -> None:
    # Given 150 stored items; asked for all of them, some twice, and for two that do not exist
    _put_meters(aws, "p1", 150)
    wanted = [key(keys.partner("p1"), keys.meter(f"m{n:03d}")) for n in range(150)]
    repeated = wanted[:10]
    missing = [key(keys.partner("p1"), keys.meter("nope")), key(keys.partner("p9"), keys.meter("m000"))]

    items = paging.batch_get(TABLE, wanted + repeated + missing)

    assert sorted(item["sk"]["S"] for item in items) == [keys.meter(f"m{n:03d}") for n in range(150)]
