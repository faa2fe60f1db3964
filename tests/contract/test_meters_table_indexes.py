"""MetersTable's indexes as the MetersTableIndexes parameter steps them: CloudFormation adds one global secondary
index per stack update, so an older stack (gsi1 only) upgrades with 2, 3, then 4. Each step must add exactly one
index, and define exactly the key attributes its indexes use (DynamoDB refuses a definition no key uses)."""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import boto3
import pytest
from meterhub_dev.local.intrinsics import LocalContext
from meterhub_dev.local.stack import load_template
from moto import mock_aws

from tests.conftest import TEMPLATE

STEPS = ["1", "2", "3", "4"]


def meters_table(indexes: str) -> dict[str, Any]:
    return dict(_create_kwargs(indexes))


@cache
def _create_kwargs(indexes: str) -> Any:
    context = LocalContext(parameter_overrides={"StageName": "local", "MetersTableIndexes": indexes})
    return load_template(TEMPLATE, context).tables["MetersTable"].create_kwargs


def index_names(table: dict[str, Any]) -> list[str]:
    return [index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])]


def test_the_default_is_every_index_the_code_reads() -> None:
    assert index_names(meters_table("4")) == ["gsi1", "gsi2", "gsi3", "gsi4"]
    default = dict(load_template(TEMPLATE).tables["MetersTable"].create_kwargs)
    assert index_names(default) == ["gsi1", "gsi2", "gsi3", "gsi4"]


@pytest.mark.parametrize(("before", "after"), list(itertools.pairwise(STEPS)))
def test_each_upgrade_step_adds_exactly_one_index(before: str, after: str) -> None:
    added = set(index_names(meters_table(after))) - set(index_names(meters_table(before)))
    removed = set(index_names(meters_table(before))) - set(index_names(meters_table(after)))
    assert (len(added), removed) == (1, set())


@pytest.mark.parametrize("indexes", STEPS)
def test_each_step_defines_exactly_the_key_attributes_its_keys_use(indexes: str) -> None:
    table = meters_table(indexes)
    used = {key["AttributeName"] for key in table["KeySchema"]}
    for index in table.get("GlobalSecondaryIndexes", []):
        used |= {key["AttributeName"] for key in index["KeySchema"]}
    assert {definition["AttributeName"] for definition in table["AttributeDefinitions"]} == used
    with mock_aws():  # and DynamoDB (as moto models it) creates that table
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**table)
        described = client.describe_table(TableName=table["TableName"])["Table"]
        assert [index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])] == index_names(table)
