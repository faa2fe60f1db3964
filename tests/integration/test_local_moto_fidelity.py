"""The local runner's moto acts as AWS where the product depends on it: complete S3 event records, atomic
DynamoDB requests under concurrency, and an API server that takes a burst of connections."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from meterhub.platform.adapters import clients
from meterhub_dev.local.api import ApiServer, LocalApiGateway
from meterhub_dev.local.aws import LocalAws
from meterhub_dev.local.intrinsics import LocalContext
from meterhub_dev.local.lambda_runtime import LocalLambda
from meterhub_dev.local.stack import load_template


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch, empty_moto: None) -> Iterator[LocalAws]:
    """A moto server in this process: it serves the backends `aws` provisions, so they start empty."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "restored-after-the-test")  # LocalAws.start() overwrites them
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws = LocalAws()
    aws.start()
    yield aws
    aws.stop()
    clients.reset()


def test_s3_notifications_carry_what_s3_sends(local_aws: LocalAws) -> None:
    # Given a versioned bucket that notifies a queue, as the data bucket does
    s3, sqs = local_aws.s3(), local_aws.sqs()
    s3.create_bucket(Bucket="drops")
    s3.put_bucket_versioning(Bucket="drops", VersioningConfiguration={"Status": "Enabled"})
    queue_url = sqs.create_queue(QueueName="drops-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket="drops",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    # When two versions of one key are uploaded
    versions = [s3.put_object(Bucket="drops", Key="a b.csv", Body=body)["VersionId"] for body in (b"one", b"three")]
    records = []
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            records += body.get("Records", [])
        if len(records) == 2:
            break
    # Then each event names its own version, size and eTag, and the sequencer orders them
    assert [r["s3"]["object"]["versionId"] for r in records] == versions
    assert [r["s3"]["object"]["size"] for r in records] == [3, 5]
    assert all(r["s3"]["object"]["key"] == "a+b.csv" and r["s3"]["object"]["eTag"] for r in records)
    sequencers = [r["s3"]["object"]["sequencer"] for r in records]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 2
    for record in records:
        assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
        assert record["s3"]["bucket"]["ownerIdentity"]["principalId"]


def test_concurrent_transactions_on_moto_are_atomic(local_aws: LocalAws) -> None:
    # Given a table of some size (moto copies it whole when a transaction starts, to roll a failure back)
    dynamodb = local_aws.dynamodb()
    dynamodb.create_table(
        TableName="race",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for start in range(0, 1000, 25):
        dynamodb.batch_write_item(
            RequestItems={
                "race": [{"PutRequest": {"Item": {"pk": {"S": f"old-{n}"}}}} for n in range(start, start + 25)]
            }
        )
    for round_no in range(3):
        # When 20 clients race to claim one key in a transaction, each also writing an item of its own
        barrier = threading.Barrier(20)

        def claim(n: int, key: str = f"claimed-{round_no}", barrier: threading.Barrier = barrier) -> bool:
            client = local_aws.dynamodb()
            barrier.wait(timeout=30)
            client.put_item(TableName="race", Item={"pk": {"S": f"own-{key}-{n}"}})
            try:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": "race",
                                "Item": {"pk": {"S": key}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {"Put": {"TableName": "race", "Item": {"pk": {"S": f"meter-{key}-{n}"}}}},
                    ]
                )
            except ClientError as error:
                assert error.response["Error"]["Code"] == "TransactionCanceledException"
                return False
            return True

        with ThreadPoolExecutor(max_workers=20) as pool:
            won = list(pool.map(claim, range(20)))
        # Then exactly one claimed it, its other write is there, and no other client's write was lost
        assert won.count(True) == 1, round_no
        key, winner = f"claimed-{round_no}", won.index(True)
        pages = dynamodb.get_paginator("scan").paginate(TableName="race")
        items = {
            i["pk"]["S"] for page in pages for i in page["Items"] if i["pk"]["S"].endswith(key) or key in i["pk"]["S"]
        }
        assert items == {key, f"meter-{key}-{winner}", *(f"own-{key}-{n}" for n in range(20))}, round_no


def test_the_api_server_takes_a_burst_of_connections_before_accepting_them(tmp_path: Path) -> None:
    # Given the local API listening, busy elsewhere (it accepts nothing yet)
    (tmp_path / "template.yaml").write_text("Resources: {}\n", encoding="utf-8")
    template = load_template(tmp_path / "template.yaml", LocalContext())
    server = ApiServer(LocalApiGateway(template, LocalLambda(template)), port=0)
    try:
        # When 20 clients connect at once
        connected = 0
        sockets = []
        for _ in range(20):
            client = socket.socket()
            client.settimeout(0.5)
            try:
                client.connect(server.server_address[:2])
                connected += 1
            except TimeoutError:
                pass
            sockets.append(client)
        # Then every connection was taken into the listen backlog, as API Gateway would take them
        assert connected == 20
    finally:
        for client in sockets:
            client.close()
        server.server_close()
